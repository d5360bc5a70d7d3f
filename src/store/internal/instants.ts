/**
 * Time bounds of filters and cutoffs, the same for both stores.
 *
 * Stored instants are all whole milliseconds within 1970–9999 (`Timestamp`),
 * so any bound a caller gives can be clamped to one millisecond outside that
 * range, on either side, without changing which rows it selects, whatever
 * its comparison (`>=`, `>`, `<`, `<=`) — and it must be: SQLite compares
 * fixed-width text, which a year beyond 9999 (or before 0) breaks, and
 * PostgreSQL refuses such years in `timestamptz` input. The clamp makes
 * far-past bounds and huge thresholds work, identically, on both.
 *
 * The upper edge is one millisecond past 9999-12-31T23:59:59.999Z, not that
 * instant itself: clamped there, a `< bound` (an `until`, a `created_before`
 * rounded up past it) left out a row stamped exactly then (found by an
 * outside probe). Its text is `9999-12-31T24:00:00.000Z`, ISO 8601's end of
 * that day: of the stored text's width, after every stored instant as text,
 * and read by PostgreSQL as 10000-01-01.
 */
import * as DateTime from "effect/DateTime"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"

const LOWEST_MS = TIMESTAMP_RANGE_MS.min - 1
const HIGHEST_MS = TIMESTAMP_RANGE_MS.max + 1

/** The upper edge's text: `DateTime.formatIso` would write +010000-01-01T00:00:00.000Z. */
const HIGHEST_TEXT = "9999-12-31T24:00:00.000Z"

const clampMillis = (ms: number): number => Math.min(HIGHEST_MS, Math.max(LOWEST_MS, ms))

/**
 * A listing's filter bound (`since`, `until`, `created_after`, `created_before`) as ISO text both
 * stores compare as time: clamped to one millisecond outside the stored range, on either side;
 * the upper edge as `HIGHEST_TEXT`.
 */
export const filterBoundText = (instant: DateTime.Utc): string => {
  const ms = clampMillis(DateTime.toEpochMillis(instant))
  return ms === HIGHEST_MS ? HIGHEST_TEXT : DateTime.formatIso(DateTime.unsafeMake(ms))
}

/**
 * A cutoff (a stale scan's, a retention's) as ISO text: clamped to the stored range's last
 * instant at the top, as before, since a retention's cutoff is also stored (its grant), in the
 * stored instants' form. A cutoff past year 9999 spares a row stamped at that last instant.
 */
export const cutoffText = (instant: DateTime.Utc): string =>
  DateTime.formatIso(DateTime.unsafeMake(Math.min(TIMESTAMP_RANGE_MS.max, clampMillis(DateTime.toEpochMillis(instant)))))
