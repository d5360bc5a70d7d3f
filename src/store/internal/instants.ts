/**
 * Time bounds of filters and cutoffs, the same for both stores.
 *
 * Stored instants are all within 1970–9999 (`Timestamp`), so any bound a
 * caller gives can be clamped to just outside that range without changing
 * which rows it selects — and it must be: SQLite compares fixed-width text,
 * which a year beyond 9999 (or before 0) breaks, and PostgreSQL refuses such
 * years in `timestamptz` input. The clamp makes far-past bounds and huge
 * thresholds work, identically, on both.
 *
 * (The one instant this cannot tell apart is 9999-12-31T23:59:59.999Z itself:
 * a `< bound` beyond year 9999 excludes a row stamped exactly then, on both stores.)
 */
import * as DateTime from "effect/DateTime"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"

const LOWEST_MS = TIMESTAMP_RANGE_MS.min - 1
const HIGHEST_MS = TIMESTAMP_RANGE_MS.max

const clampMillis = (ms: number): number => Math.min(HIGHEST_MS, Math.max(LOWEST_MS, ms))

/** A filter bound clamped to the stored range's edges. */
export const clampBound = (instant: DateTime.Utc): DateTime.Utc =>
  DateTime.unsafeMake(clampMillis(DateTime.toEpochMillis(instant)))
