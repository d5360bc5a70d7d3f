/**
 * What recovery (R9, HSK-WF-003) writes about a stalled run, as the
 * reference does (workflows.rs `mark_stalled_workflows`): the job's
 * `status_reason` is "stalled"; its `error_message`, the run's and the
 * `workflow_recovery` event's `reason` are the reference's recovery reason,
 * naming the pass that found the run (the reference has only startup's),
 * the stale heartbeat and the threshold.
 */

import * as Duration from "effect/Duration"

/** The stalled job's `status_reason`. */
export const STALLED_STATUS_REASON = "stalled"

/**
 * Which recovery pass found a stale run, as its reason says: the startup
 * gate's scan (`Recovery.layerStartup`, its retries and second look), a scan
 * run on demand (`Recovery.recoverStalledRuns`, `ai-jobs recover`), or a
 * periodic sweep (`layerStartup`'s `sweepEvery`).
 */
export type RecoveryPass = typeof RECOVERY_PASSES[number]

/** Every recovery pass. */
export const RECOVERY_PASSES = ["startup", "on demand", "sweep"] as const

/** Each pass as its reason names it; startup's in the reference's own words. */
const PASS_NAMES: Record<RecoveryPass, string> = {
  startup: "startup recovery",
  "on demand": "on-demand recovery",
  sweep: "recovery sweep"
}

/** The recovery reason of a pass: the reference's for startup. */
export const stallReason = (pass: RecoveryPass): string => `stalled (${PASS_NAMES[pass]}: heartbeat timeout)`

/** The reference's recovery reason. */
export const STALL_REASON = stallReason("startup")

/** Why a run stalled: the pass that found it, its last heartbeat (RFC 3339) and the threshold in seconds. */
export const stallMessage = (lastHeartbeat: string, thresholdSecs: number, pass: RecoveryPass = "startup"): string =>
  `${stallReason(pass)}: last heartbeat ${lastHeartbeat}, threshold ${thresholdSecs}s`

/**
 * `stallMessage` split around the heartbeat, for SQL that fills in each
 * row's own heartbeat: `before || heartbeat || after`.
 */
export const stallMessageAround = (thresholdSecs: number, pass: RecoveryPass = "startup"): { readonly before: string; readonly after: string } => {
  const marker = "\u0000"
  const [before = "", after = ""] = stallMessage(marker, thresholdSecs, pass).split(marker)
  return { before, after }
}

/** A threshold as the reason names it: in seconds. */
export const thresholdSecs = (threshold: Duration.Duration): number => Duration.toMillis(threshold) / 1000
