/** Job states (R2) and the access and safety modes a job runs under (R3). */
import * as Schema from "effect/Schema"

/** The ten job states. */
export const JobStates = [
  "queued",
  "running",
  "stalled",
  "awaiting_validation",
  "awaiting_user",
  "completed",
  "completed_with_issues",
  "failed",
  "cancelled",
  "poisoned"
] as const

/** One of the ten job states. Also the status of a workflow run. */
export const JobState = Schema.Literal(...JobStates).annotations({
  identifier: "JobState",
  message: () => ({ message: `Expected one of the job states ${JobStates.join(", ")}`, override: true })
})
export type JobState = typeof JobState.Type

/** How far a job may touch its entities (R3). */
export const AccessModes = ["analysis_only", "preview_only", "apply_scoped"] as const
export const AccessMode = Schema.Literal(...AccessModes).annotations({
  identifier: "AccessMode",
  message: () => ({ message: `Expected one of the access modes ${AccessModes.join(", ")}`, override: true })
})
export type AccessMode = typeof AccessMode.Type

/** How cautiously a job runs (R3). */
export const SafetyModes = ["strict", "normal", "experimental"] as const
export const SafetyMode = Schema.Literal(...SafetyModes).annotations({
  identifier: "SafetyMode",
  message: () => ({ message: `Expected one of the safety modes ${SafetyModes.join(", ")}`, override: true })
})
export type SafetyMode = typeof SafetyMode.Type
