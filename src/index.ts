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
export * from "./domain/EventRecord.js"
export * from "./domain/FlightEvent.js"
export * from "./domain/LegacyFlightEvent.js"
export * from "./domain/RetentionHorizon.js"

// Services, each a module: `Jobs.Jobs` is the tag, `Jobs.layer()` its layer.
export * as Capabilities from "./Capabilities.js"
export * as FlightRecorder from "./FlightRecorder.js"
export * as Redactor from "./internal/flight/Redactor.js"
export * as Janitor from "./Janitor.js"
export * as Jobs from "./Jobs.js"
export * as Recovery from "./Recovery.js"
export * as WakeUp from "./WakeUp.js"
export * as RetryPolicy from "./domain/RetryPolicy.js"

// Every error a caller catches, by name from the root (the README's error
// table). Each also stays reachable through its service module
// (`Jobs.RunLost`, `Capabilities.CapabilityDenied`, ...). The domain's
// `DecodeFailure` and `IllegalTransition` come with `domain/Errors.js` above,
// the store's with `store/StoreErrors.js` below.
export { CapabilityDenied, EscalationDenied, UnknownCapability, UnknownProfile } from "./Capabilities.js"
export { EventTooLarge, InvalidEvent } from "./FlightRecorder.js"
export { AwaitTimeout, JobNotRunning, RunLost, SecurityViolation } from "./Jobs.js"
export { RecoveryFailed } from "./Recovery.js"
export { UnsupportedDatabaseUrl } from "./store/Storage.js"
export {
  ConsoleAssetMissing,
  InvalidToken,
  LengthRequired,
  MalformedBody,
  MethodNotAllowed,
  PayloadTooLarge,
  RequestHeaderFieldsTooLarge,
  RouteNotFound,
  Unauthorized,
  Unhealthy
} from "./http/JobsApi.js"

// Storage: the port, its errors, and the two implementations.
export * as JobStore from "./store/JobStore.js"
export * from "./store/StoreErrors.js"
export * as PgJobStore from "./store/PgJobStore.js"
export * as SqliteJobStore from "./store/SqliteJobStore.js"
export * as DatabaseUrl from "./store/DatabaseUrl.js"
/** @deprecated Renamed `PgJobStore`; this alias goes in the next release. */
export * as PgStore from "./store/PgStore.js"
/** @deprecated Renamed `SqliteJobStore`; this alias goes in the next release. */
export * as SqliteStore from "./store/SqliteStore.js"
/** @deprecated Renamed `DatabaseUrl`; this alias goes in the next release. */
export * as Storage from "./store/Storage.js"

// HTTP: the API definition, its server Layer and typed client, and the web console.
export * as JobsApi from "./http/JobsApi.js"
