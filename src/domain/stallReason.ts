/**
 * What startup recovery (R9, HSK-WF-003) writes about a stalled run, as the
 * reference does (workflows.rs `mark_stalled_workflows`): the job's
 * `status_reason` is "stalled"; its `error_message`, the run's and the
 * `workflow_recovery` event's `reason` are the reference's recovery reason,
 * naming the stale heartbeat and the threshold.
 */

import * as Duration from "effect/Duration"

/** The stalled job's `status_reason`. */
export const STALLED_STATUS_REASON = "stalled"

/** The reference's recovery reason. */
export const STALL_REASON = "stalled (startup recovery: heartbeat timeout)"

/** Why a run stalled: its last heartbeat (RFC 3339) and the threshold in seconds. */
export const stallMessage = (lastHeartbeat: string, thresholdSecs: number): string =>
  `${STALL_REASON}: last heartbeat ${lastHeartbeat}, threshold ${thresholdSecs}s`

/**
 * `stallMessage` split around the heartbeat, for SQL that fills in each
 * row's own heartbeat: `before || heartbeat || after`.
 */
export const stallMessageAround = (thresholdSecs: number): { readonly before: string; readonly after: string } => {
  const marker = "\u0000"
  const [before = "", after = ""] = stallMessage(marker, thresholdSecs).split(marker)
  return { before, after }
}

/** A threshold as the reason names it: in seconds. */
export const thresholdSecs = (threshold: Duration.Duration): number => Duration.toMillis(threshold) / 1000
