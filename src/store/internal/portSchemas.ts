/**
 * Schemas of the port's small option objects that every lifecycle step
 * passes (a change's `events`, a running job's end, a one-statement claim's
 * options), with the field helpers the port's other schemas share. Their
 * hand-built checks are in commonInputs.ts; these stay the authority.
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { JobId, WorkflowRunId } from "../../domain/Ids.js"
import { JobKind } from "../../domain/JobKind.js"
import { metricBounds } from "../../domain/JobMetrics.js"
import { JsonPayload } from "../../domain/Json.js"
import { JobState } from "../../domain/JobState.js"
import { Text } from "../../domain/Text.js"
import { TimestampFromSelf } from "../../domain/Timestamp.js"

/** An optional field; an explicit `undefined` (plain JavaScript) counts as absent. */
export const optional = <A, I, R>(schema: Schema.Schema<A, I, R>) =>
  Schema.optionalToOptional(Schema.UndefinedOr(schema), Schema.typeSchema(schema), {
    decode: Option.filter((value): value is A => value !== undefined),
    encode: (value) => value
  })

/** A function argument (a change's `events`), passed through unchanged; its records are decoded when it runs (audit.ts). */
export const Builder = Schema.declare((input: unknown): input is never => typeof input === "function", {
  message: () => "Expected a function"
})

export const ErrorMessage = optional(Schema.NullOr(Text))

/** A status a run or node can end in: not `queued` or `running`. */
export const endOf = <S extends string>(status: Schema.Schema<S>) =>
  status.pipe(Schema.filter((s) => s !== "queued" && s !== "running", {
    message: () => "Expected a final status (not queued or running)"
  }))

/** A change's options: its `events`, if any. */
export const AuditedOptions = Schema.Struct({ events: optional(Builder) })

/** A creation's options (`createJob`, `createJobs`): its `events` and its instant `at`, if any. */
export const CreationOptions = Schema.Struct({ events: optional(Builder), at: optional(TimestampFromSelf) })

/** `finishRunningJob`'s request, its record apart. */
export const RunningJobEnd = Schema.Struct({
  job_id: JobId,
  to: endOf(JobState),
  status_reason: optional(Text),
  error_message: ErrorMessage
})

/** `settleRun`'s request, its record apart: a running job's end plus its run, outputs and duration. */
export const RunSettle = Schema.Struct({
  ...RunningJobEnd.fields,
  workflow_run_id: WorkflowRunId,
  job_outputs: optional(Schema.NullOr(JsonPayload)),
  duration_ms: Schema.Int.pipe(Schema.between(0, metricBounds.duration_ms)).annotations({
    message: () => `Expected a duration: a whole number of milliseconds between 0 and ${metricBounds.duration_ms}`
  })
})

/** `claimAdmitted`'s options, its templates and event ids apart (`createClaimed`'s kinds and take too). */
export const ClaimAdmittedOptions = Schema.Struct({ kinds: optional(Schema.Array(JobKind)), take: optional(Schema.Boolean) })

/** `createClaimed`'s options, its records and claim apart: `claimAdmitted`'s, and the creation's instant `at`. */
export const CreateClaimedOptions = Schema.Struct({ ...ClaimAdmittedOptions.fields, at: optional(TimestampFromSelf) })
