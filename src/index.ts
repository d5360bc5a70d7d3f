/**
 * @handshake/ai-job-model — durable, auditable AI jobs on Effect.
 *
 * Domain values are exported by name; services are exported as modules.
 */
export * from "./domain/AiJob.js"
export * from "./domain/decode.js"
export * from "./domain/Errors.js"
export * from "./domain/Ids.js"
export * from "./domain/JobKind.js"
export * from "./domain/JobMetrics.js"
export * from "./domain/JobState.js"
export * from "./domain/Json.js"
export * as Lifecycle from "./domain/Lifecycle.js"
export * from "./domain/Timestamp.js"
export * from "./domain/WorkflowRun.js"
