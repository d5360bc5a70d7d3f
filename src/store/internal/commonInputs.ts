/**
 * Hand-built checks of the port's small option objects in their common
 * shape (issue 16): each Schema decode costs 3–10 µs of CPU, and every
 * lifecycle step passes one or two. Each check returns exactly what the
 * Schema (portSchemas.ts, with the port's options) would give, or
 * `undefined`: "not the common shape — ask the Schema", which then gives
 * the value or the `DecodeFailure`. Anything unusual (another key, an
 * inherited or non-enumerable field, a class instance, an id in another
 * case, an odd value) is the Schema's. test/store/common-inputs.test.ts
 * holds each check to its Schema.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import { decodeWith } from "../../domain/decode.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import { isCanonicalId } from "../../domain/Ids.js"
import { checkedJsonPayload } from "../../domain/Json.js"
import { metricBounds } from "../../domain/JobMetrics.js"
import { isJobKind } from "../../domain/JobKind.js"
import { JobStates } from "../../domain/JobState.js"
import { isStorable } from "../../domain/Text.js"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"
import type { AuditedOptions, ClaimAdmittedOptions, CreateClaimedOptions, CreationOptions, RunningJobEnd, RunSettle } from "./portSchemas.js"

type Plain = Record<string, unknown>

/** A plain object whose own keys are all enumerable strings among `allowed`. */
const plainWith = (value: unknown, allowed: ReadonlyArray<string>): value is Plain => {
  if (typeof value !== "object" || value === null) return false
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key !== "string" || !allowed.includes(key) || !Object.prototype.propertyIsEnumerable.call(value, key)) return false
  }
  return true
}

const own = (object: Plain, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key) && object[key] !== undefined

const AUDITED_KEYS = ["events"]

/** A change's options: none, or a function as `events`. */
export const commonAudited = (input: unknown): typeof AuditedOptions.Type | undefined => {
  if (!plainWith(input, AUDITED_KEYS)) return undefined
  if (!own(input, "events")) return {}
  return typeof input.events === "function" ? { events: input.events as never } : undefined
}

/** Whether `value` is a `DateTime.Utc` in the stored range (`TimestampFromSelf`): a creation's `at`, a vouched record's timestamp. */
export const isStoredInstant = (value: unknown): value is DateTime.Utc =>
  DateTime.isDateTime(value) && DateTime.isUtc(value) && value.epochMillis >= TIMESTAMP_RANGE_MS.min &&
  value.epochMillis <= TIMESTAMP_RANGE_MS.max

const CREATION_KEYS = ["events", "at"]

/** A creation's options: none, a function as `events`, an instant in the stored range as `at` (every submit's). */
export const commonCreation = (input: unknown): typeof CreationOptions.Type | undefined => {
  if (!plainWith(input, CREATION_KEYS)) return undefined
  const options: { events?: never; at?: DateTime.Utc } = {}
  if (own(input, "events")) {
    if (typeof input.events !== "function") return undefined
    options.events = input.events as never
  }
  if (own(input, "at")) {
    if (!isStoredInstant(input.at)) return undefined
    options.at = input.at
  }
  return options
}

const END_KEYS = ["job_id", "to", "status_reason", "error_message"]
const ENDS: ReadonlyArray<string> = JobStates.filter((state) => state !== "queued" && state !== "running")

/** A running job's end: an id in its stored form, a final state, storable texts. */
export const commonRunningJobEnd = (input: unknown): typeof RunningJobEnd.Type | undefined => {
  if (!plainWith(input, END_KEYS)) return undefined
  const { error_message, job_id, status_reason, to } = input
  if (!isCanonicalId(job_id) || typeof to !== "string" || !ENDS.includes(to)) return undefined
  const end: Record<string, unknown> = { job_id, to }
  if (own(input, "status_reason")) {
    if (typeof status_reason !== "string" || !isStorable(status_reason)) return undefined
    end.status_reason = status_reason
  }
  if (own(input, "error_message")) {
    if (error_message !== null && (typeof error_message !== "string" || !isStorable(error_message))) return undefined
    end.error_message = error_message
  }
  return end as typeof RunningJobEnd.Type
}

const SETTLE_KEYS = [...END_KEYS, "workflow_run_id", "job_outputs", "duration_ms"]

/**
 * A settle (every run a worker pool ends): a running job's end, its run's id
 * in its stored form, a whole duration in range, and outputs that are JSON
 * (a checked copy, as the Schema's `Json` gives) or null.
 */
export const commonRunSettle = (input: unknown): typeof RunSettle.Type | undefined => {
  if (!plainWith(input, SETTLE_KEYS)) return undefined
  const { duration_ms, error_message, job_id, job_outputs, status_reason, to, workflow_run_id } = input
  const end = commonRunningJobEnd({
    job_id,
    to,
    ...(own(input, "status_reason") ? { status_reason } : {}),
    ...(own(input, "error_message") ? { error_message } : {})
  })
  if (end === undefined || !isCanonicalId(workflow_run_id)) return undefined
  if (typeof duration_ms !== "number" || !Number.isSafeInteger(duration_ms) || duration_ms < 0 || duration_ms > metricBounds.duration_ms) {
    return undefined
  }
  const settle: Record<string, unknown> = { ...end, workflow_run_id }
  if (own(input, "job_outputs")) {
    const outputs = job_outputs === null ? null : checkedJsonPayload(job_outputs)
    if (outputs === undefined) return undefined
    settle.job_outputs = outputs
  }
  settle.duration_ms = duration_ms
  return settle as typeof RunSettle.Type
}

const CLAIM_KEYS = ["kinds", "take"]

/**
 * A claim's kind filter and take in their common shape: each absent, or a
 * list of canonical kinds (a worker pool's, every claim and eager write) and
 * a boolean. Anything else — an alias to rewrite, a value that is no kind —
 * is the Schema's.
 */
export const commonClaimAdmittedOptions = (input: unknown): typeof ClaimAdmittedOptions.Type | undefined => {
  if (!plainWith(input, CLAIM_KEYS)) return undefined
  const options: { kinds?: Array<string>; take?: boolean } = {}
  if (own(input, "kinds")) {
    const kinds = input.kinds
    if (!Array.isArray(kinds) || !kinds.every(isJobKind)) return undefined
    options.kinds = kinds.slice()
  }
  if (own(input, "take")) {
    if (typeof input.take !== "boolean") return undefined
    options.take = input.take
  }
  return options as typeof ClaimAdmittedOptions.Type
}

const CREATE_CLAIMED_KEYS = [...CLAIM_KEYS, "at"]

/** `createClaimed`'s kinds, take and instant in their common shape: `commonClaimAdmittedOptions`'s, and `at` as `commonCreation`'s. */
export const commonCreateClaimedOptions = (input: unknown): typeof CreateClaimedOptions.Type | undefined => {
  if (!plainWith(input, CREATE_CLAIMED_KEYS)) return undefined
  const { at, ...claim } = input
  const options = commonClaimAdmittedOptions(claim)
  if (options === undefined) return undefined
  if (!own(input, "at")) return options
  return isStoredInstant(at) ? { ...options, at } : undefined
}

/** `common`, leaving to the Schema an input whose getter throws (the Schema's to meet, like every other oddity). */
export const guarded = <A>(common: (input: unknown) => A | undefined) => (input: unknown): A | undefined => {
  try {
    return common(input)
  } catch {
    return undefined
  }
}

/** A decoder taking the common shape by `common`, anything else by the Schema. */
export const decodeCommon = <A, I>(
  common: (input: unknown) => A | undefined,
  schema: Schema.Schema<A, I>,
  subject: string
) => {
  const bySchema = decodeWith(schema, subject)
  const checked = guarded(common)
  return (input: unknown): Effect.Effect<A, DecodeFailure> => {
    const value = checked(input)
    return value === undefined ? bySchema(input) : Effect.succeed(value)
  }
}
