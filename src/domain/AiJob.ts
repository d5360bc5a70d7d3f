/**
 * The AI job (R5) and what a caller gives to create one.
 */
import * as DateTime from "effect/DateTime"
import * as Schema from "effect/Schema"
import { JobId, TraceId, WorkflowRunId } from "./Ids.js"
import { JobKind } from "./JobKind.js"
import { JobMetrics } from "./JobMetrics.js"
import { AccessMode, JobState, SafetyMode } from "./JobState.js"
import { Json, JsonPayload } from "./Json.js"
import { atMostCharacters, hasText, NonEmptyText, Text, toNfc } from "./Text.js"
import { isRfc3339, Timestamp, TimestampPastClamped, TimestampPastClampedFromSelf } from "./Timestamp.js"
import { BackoffMillis, JobBackoff, MAX_ATTEMPTS_LIMIT, MaxAttempts } from "./RetryPolicy.js"

// Entity refs and planned operations are stored as JSON: a key their schema
// does not name would be dropped on the way in (a silent loss), so it is
// refused instead, whatever the caller's parse options say.
const refuseUnknownKeys = { onExcessProperty: "error" } as const

/** A reference to an entity a job reads or writes, as the reference stores it. */
export const EntityRef = Schema.Struct({
  entity_id: NonEmptyText,
  entity_kind: NonEmptyText
}).annotations({ identifier: "EntityRef", parseOptions: refuseUnknownKeys })
export type EntityRef = typeof EntityRef.Type

/** What a job plans to do to an entity. */
export const OperationType = Schema.Literal("read", "write", "plan", "execute").annotations({
  identifier: "OperationType",
  message: () => ({ message: "Expected one of the operation types read, write, plan, execute", override: true })
})

/**
 * One planned operation of a job. `description` is optional; `null`, the
 * reference's serde form of an absent `Option`, decodes as absent (and is
 * never written back).
 */
export const PlannedOperation = Schema.Struct({
  op_type: OperationType,
  target: EntityRef,
  description: Schema.optionalWith(Text, { exact: true, nullable: true })
}).annotations({ identifier: "PlannedOperation", parseOptions: refuseUnknownKeys })
export type PlannedOperation = typeof PlannedOperation.Type

/** A job's priority: a whole number from −32768 to 32767; higher is claimed first. Default 0. */
export const Priority = Schema.Int.pipe(Schema.between(-32768, 32767)).annotations({
  identifier: "Priority",
  message: () => ({ message: "Expected a whole-number priority from -32768 to 32767", override: true })
})

/** Which attempt a job is on (or last made): from 1. */
export const Attempt = Schema.Int.pipe(Schema.between(1, MAX_ATTEMPTS_LIMIT)).annotations({ identifier: "Attempt" })

/**
 * What a refused `run_after` says: one issue, for the form the value was
 * given in. The union's own issues named both members — `Expected a
 * DateTime.Utc instance, actual "next tuesday"` beside the timestamp's —
 * and over HTTP, where it is always text, the first is noise.
 */
const runAfterRefusal = (actual: unknown): string =>
  typeof actual === "string"
    ? isRfc3339(actual)
      ? `Not a valid instant (a date that exists, no later than 9999-12-31T23:59:59.999Z): ${actual}`
      : "Expected an RFC 3339 timestamp such as 2026-01-19T23:59:37.328Z"
    : DateTime.isDateTime(actual)
    ? "Expected an instant no later than 9999-12-31T23:59:59.999Z"
    : `Expected an RFC 3339 timestamp (or a DateTime), actual ${actual === null ? "null" : typeof actual}`

/**
 * When a job may run: a `DateTime` (in any zone) or RFC 3339 text. A time
 * already past means at once, whatever its year: one before 1970, the stores'
 * first instant, decodes as 1970-01-01T00:00:00Z, which the store lifts to
 * the job's creation as any past time. Only an instant past 9999 is refused.
 */
export const RunAfter = Schema.Union(
  // Over HTTP it is always the text form; the JSON Schema of the DateTime member says so.
  TimestampPastClampedFromSelf,
  TimestampPastClamped
).annotations({ identifier: "RunAfter", message: (issue) => ({ message: runAfterRefusal(issue.actual), override: true }) })

/** A stored AI job. */
export const AiJob = Schema.Struct({
  job_id: JobId,
  trace_id: TraceId,
  workflow_run_id: Schema.NullOr(WorkflowRunId),
  job_kind: JobKind,
  state: JobState,
  protocol_id: Text,
  profile_id: Text,
  capability_profile_id: Text,
  access_mode: AccessMode,
  safety_mode: SafetyMode,
  entity_refs: Schema.Array(EntityRef),
  planned_operations: Schema.Array(PlannedOperation),
  metrics: JobMetrics,
  status_reason: Text,
  error_message: Schema.NullOr(Text),
  job_inputs: Schema.NullOr(Json),
  job_outputs: Schema.NullOr(Json),
  is_pinned: Schema.Boolean,
  created_at: Timestamp,
  updated_at: Timestamp,
  /** Which attempt the job is on, or last made (issue 15.1); a retry adds one. */
  attempt: Attempt,
  /** How many attempts it may make in all; 1: the engine never retries it. */
  max_attempts: MaxAttempts,
  /** Not claimed before this instant: its submit time, a scheduled time, or a retry's backoff. */
  run_after: Timestamp,
  /** Higher is claimed first (issue 15.2). */
  priority: Priority,
  /** The job's own backoff between attempts, waits in milliseconds; null: its kind's (issue 15.1). Absent reads as null. */
  backoff: Schema.optionalWith(Schema.NullOr(BackoffMillis), { default: () => null, exact: true })
}).annotations({ identifier: "AiJob" })
export type AiJob = typeof AiJob.Type

/** The longest identifier, in characters (code points). */
export const MAX_IDENTIFIER_CHARACTERS = 256

/** An identifier's rules, its length's refusal worded by `length`. */
const identifierRules = (length: Schema.Annotations.Filter<string>) =>
  NonEmptyText.pipe(
    Schema.filter((text) => atMostCharacters(text, MAX_IDENTIFIER_CHARACTERS), length),
    Schema.filter(hasText, { message: () => "Expected an identifier, not only whitespace" })
  ).annotations({ identifier: "Identifier" })

/** The rules on the text as given (as for all caller text). */
const IdentifierText = identifierRules({
  title: `maxLength(${MAX_IDENTIFIER_CHARACTERS})`,
  description: `a string at most ${MAX_IDENTIFIER_CHARACTERS} characters (code points) long`,
  jsonSchema: { maxLength: MAX_IDENTIFIER_CHARACTERS }
})

/**
 * The rules on the NFC form, the one the row stores, the policy looks up and
 * the events name as actor (bounded alike): NFC can lengthen a name (U+0958, a
 * composition exclusion, is two code points in NFC), so a name within the
 * bound as given may exceed it once normalised, and the refusal says so.
 */
const IdentifierNfc = identifierRules({
  message: (issue) =>
    `Expected a string at most ${MAX_IDENTIFIER_CHARACTERS} characters (code points) long once NFC-normalised, ` +
    `the form it is stored in (this name is ${[...(issue.actual as string)].length})`
})

/**
 * An identifier a caller names a protocol or profile by: non-empty, not only
 * whitespace (a blank name names nothing), at most 256 characters as given
 * and in NFC, decoded to NFC. One form from the boundary on: the policy looks
 * the NFC name up, the row stores it, and the events about the job (which
 * NFC-normalise all caller text, R14) name the same actor and profile —
 * `"Jose\u0301"` (NFD, as a macOS user name can arrive) is `"José"` everywhere.
 */
export const Identifier = Schema.transform(IdentifierText, IdentifierNfc, {
  strict: true,
  decode: toNfc,
  encode: (text) => text
}).annotations({ identifier: "Identifier" })

/**
 * A job to store (`JobStore.createJob`), its capability profile decided. The
 * store fills in the rest: state `queued`, zeroed metrics, fresh ids unless
 * given, timestamps from the clock. Callers submit a `JobRequest` instead.
 */
export const NewAiJob = Schema.Struct({
  job_kind: JobKind,
  protocol_id: Identifier,
  profile_id: Identifier,
  capability_profile_id: Identifier,
  access_mode: AccessMode,
  safety_mode: SafetyMode,
  entity_refs: Schema.optionalWith(Schema.Array(EntityRef), { default: () => [], exact: true }),
  planned_operations: Schema.optionalWith(Schema.Array(PlannedOperation), { default: () => [], exact: true }),
  job_inputs: Schema.optionalWith(Schema.NullOr(JsonPayload), { default: () => null, exact: true }),
  status_reason: Schema.optionalWith(Text, { default: () => "", exact: true }),
  is_pinned: Schema.optionalWith(Schema.Boolean, { default: () => false, exact: true }),
  job_id: Schema.optionalWith(JobId, { exact: true }),
  trace_id: Schema.optionalWith(TraceId, { exact: true }),
  /** Not before this time (a time already past: at once). Default: at once. */
  run_after: Schema.optionalWith(RunAfter, { exact: true }),
  /** Higher first. Default 0. */
  priority: Schema.optionalWith(Priority, { default: () => 0, exact: true }),
  /** Attempts in all, overriding the retry policy of the job's kind. */
  max_attempts: Schema.optionalWith(MaxAttempts, { exact: true }),
  /** The wait between attempts, overriding the retry policy of the job's kind (the same shape, the same defaults). */
  backoff: Schema.optionalWith(JobBackoff, { exact: true })
}).annotations({ identifier: "NewAiJob" })
export type NewAiJob = typeof NewAiJob.Type
/** `NewAiJob` before defaults are applied: what a caller may write literally. */
export type NewAiJobInput = typeof NewAiJob.Encoded

/**
 * What a caller submits (`Jobs.submit`): a `NewAiJob` whose
 * `capability_profile_id` is a request, not a choice. The capability policy
 * decides the profile a job runs under from its kind and protocol; a caller
 * may leave it out (the policy's profile) or ask for a narrower one.
 *
 * A key it does not name is refused at every level (`max_attempt: is
 * unexpected`), whatever the caller's parse options say: a misspelt option
 * would otherwise be dropped and its default stored in its place.
 */
export const JobRequest = Schema.Struct({
  ...NewAiJob.fields,
  capability_profile_id: Schema.optionalWith(Identifier, { exact: true })
}).annotations({ identifier: "JobRequest", parseOptions: refuseUnknownKeys })
export type JobRequest = typeof JobRequest.Type
/** `JobRequest` before defaults are applied: what a caller may write literally. */
export type JobRequestInput = typeof JobRequest.Encoded
