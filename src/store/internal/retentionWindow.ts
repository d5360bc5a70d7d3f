/**
 * The retention window a purge batch records with the horizon (migration
 * 0033): whole milliseconds, or NULL when its caller named none.
 */
import * as Duration from "effect/Duration"

/** `window` in whole milliseconds for the `window_ms` column (at most 2^53 − 1: it reads back exactly); null when not given. */
export const windowMillis = (window: Duration.Duration | undefined): number | null =>
  window === undefined ? null : Math.min(Math.floor(Duration.toMillis(window)), Number.MAX_SAFE_INTEGER)
