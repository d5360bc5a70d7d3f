/**
 * Evidence missing due to retention (FR-EVT-004; spec §11.5: "If evidence is
 * missing due to retention, the UI MUST show that evidence is missing").
 *
 * The store remembers how far retention has purged: the newest cutoff of a
 * purge batch that deleted events, and when (`RetentionHorizon`). A job that
 * started before that cutoff may have lost events to it, and its views say
 * so (`EvidenceMissing`); a job started after it, or any job of a database
 * that never purged, lost nothing to retention.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { Timestamp } from "./Timestamp.js"

/** How far retention has purged the Flight Recorder: events before `cutoff` were deleted by the purge at `purged_at`. */
export const RetentionHorizon = Schema.Struct({
  cutoff: Timestamp,
  purged_at: Timestamp,
  /**
   * The window the purge was asked to apply, in milliseconds: its caller's now minus the cutoff it
   * asked for. Null when not known (a purge before migration 0033, or a store caller that gave none).
   */
  window_ms: Schema.NullOr(Schema.NonNegativeInt),
  /** The cutoff the purge asked for: later than `cutoff` when the database's clock capped it. Null when not known. */
  requested_cutoff: Schema.NullOr(Timestamp)
}).annotations({ identifier: "RetentionHorizon" })
export type RetentionHorizon = typeof RetentionHorizon.Type

/** Why part of a job's Flight Recorder trail may be gone: the retention policy purged it. */
export const EvidenceMissing = Schema.Struct({
  reason: Schema.Literal("retention"),
  /** Events before this instant were removed. */
  cutoff: Timestamp,
  /** When the purge that applied `cutoff` ran. */
  purged_at: Timestamp,
  /** The retention window that purge was asked to apply, in whole seconds (`7d`). */
  window: Schema.String,
  /**
   * The cutoff that purge asked for, when the database's clock capped it to the earlier `cutoff`
   * (the clock of the host that ran it was ahead of the database's); null otherwise.
   */
  requested_cutoff: Schema.NullOr(Timestamp),
  /** The reason, as the CLI and the console show it after "evidence may be missing:". */
  message: Schema.String
}).annotations({
  identifier: "EvidenceMissing",
  description: "Set when the job started before the newest cutoff the Flight Recorder's retention applied: its events before then may have been removed"
})
export type EvidenceMissing = typeof EvidenceMissing.Type

/**
 * The window a purge was asked to apply, in whole seconds (cut, not rounded —
 * a cutoff taken from the window a moment before the purge still reads `7d`).
 * Not recorded (before migration 0033): from the cutoff to the purge's run by
 * the database's clock, which is that window only when the clocks agree.
 */
const windowOf = (horizon: RetentionHorizon): string => {
  const millis = horizon.window_ms ?? DateTime.toEpochMillis(horizon.purged_at) - DateTime.toEpochMillis(horizon.cutoff)
  return Duration.format(Duration.seconds(Math.max(0, Math.floor(millis / 1000))))
}

/** The cutoff the purge asked for when the database's clock capped it, or null. */
const cappedFrom = (horizon: RetentionHorizon): DateTime.Utc | null =>
  horizon.requested_cutoff !== null && DateTime.greaterThan(horizon.requested_cutoff, horizon.cutoff) ? horizon.requested_cutoff : null

/**
 * What a job's view says of its evidence: missing when the job, or one of
 * its runs, started before the horizon's cutoff; `null` otherwise, and when
 * retention never purged (`horizon` null).
 */
export const evidenceMissing = (
  horizon: RetentionHorizon | null,
  started: ReadonlyArray<DateTime.Utc>
): EvidenceMissing | null => {
  if (horizon === null || !started.some((at) => DateTime.lessThan(at, horizon.cutoff))) return null
  const cutoff = DateTime.formatIso(horizon.cutoff)
  const window = windowOf(horizon)
  const requested = cappedFrom(horizon)
  const capped = requested === null
    ? ""
    : `; it asked for events before ${DateTime.formatIso(requested)}, past the database's clock, which capped the cutoff`
  return {
    reason: "retention",
    cutoff: horizon.cutoff,
    purged_at: horizon.purged_at,
    window,
    requested_cutoff: requested,
    message: `events before ${cutoff} were removed by the retention policy (${window}${capped})`
  }
}
