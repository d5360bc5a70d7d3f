/**
 * The Flight Recorder (R10–R14): a validated, privacy-filtered, append-only
 * event log on top of the `JobStore` sink. The service, its layers and its
 * event builders; the implementation lives in `internal/flight/recorder.ts`,
 * beside the parts it is made of (prepare, redaction, privacy), so the Jobs
 * internals that build audit records reach it without an import back up.
 */
export * from "./internal/flight/recorder.js"
