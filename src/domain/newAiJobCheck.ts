/**
 * A hand-built check of a `NewAiJob` in its common shape (issue 16): the
 * Schema decode costs 30–50 µs a job, most of a batch create's CPU, for
 * plain objects of strings, numbers and flat arrays. The same check serves
 * a `JobRequest` (what `Jobs.submit` decodes), whose one difference is a
 * capability profile the caller may leave out (`commonJobRequest`).
 *
 * The Schema stays the authority. `commonNewAiJob` either returns exactly
 * what `Schema.decodeUnknown(NewAiJob)` (with the port's options) would give
 * — the same fields in the same order, defaults applied, ids in lower case —
 * or `undefined`, meaning "not the common shape: ask the Schema". It never
 * fails: anything unusual (a missing or inherited field, a bad value, an
 * upper-case id, a `run_after` text, a `backoff`, a class instance, an
 * array) goes through the Schema, which gives the value or the
 * `DecodeFailure`. test/domain/newAiJobCheck.test.ts holds the two to the
 * same results over well-formed, odd and hostile inputs.
 */
import * as DateTime from "effect/DateTime"
import { type JobRequest, MAX_IDENTIFIER_CHARACTERS, type NewAiJob } from "./AiJob.js"
import { isCanonicalId, type JobId, type TraceId } from "./Ids.js"
import { JobKinds, LegacyTerminalAlias } from "./JobKind.js"
import { AccessModes, SafetyModes } from "./JobState.js"
import { checkedJsonPayload } from "./Json.js"
import { MAX_ATTEMPTS_LIMIT } from "./RetryPolicy.js"
import { atMostCharacters, hasText, isStorable, toNfc } from "./Text.js"
import { TIMESTAMP_RANGE_MS } from "./Timestamp.js"

/** Not the common shape: the Schema decides. */
class Unusual {}
const unusual = new Unusual()

type Plain = Record<string, unknown>

const own = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key)

/** A plain object (not an array, not a class instance). */
const isPlain = (value: unknown): value is Plain => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const oneOf = <A extends string>(values: ReadonlyArray<A>, value: unknown): A => {
  if (typeof value === "string" && (values as ReadonlyArray<string>).includes(value)) return value as A
  throw unusual
}

const text = (value: unknown): string => {
  if (typeof value === "string" && isStorable(value)) return value
  throw unusual
}

const nonEmptyText = (value: unknown): string => {
  if (text(value).length > 0) return value as string
  throw unusual
}

/** `Identifier`'s rules on one form of the text. */
const identifierText = (value: unknown): string => {
  if (atMostCharacters(nonEmptyText(value), MAX_IDENTIFIER_CHARACTERS) && hasText(value as string)) return value as string
  throw unusual
}

/** `Identifier`: non-empty storable text of at most 256 characters, not only whitespace, in NFC (its rules held by both forms). */
const identifier = (value: unknown): string => {
  const given = identifierText(value)
  const normal = toNfc(given)
  return normal === given ? given : identifierText(normal)
}

const boolean = (value: unknown): boolean => {
  if (typeof value === "boolean") return value
  throw unusual
}

const wholeNumber = (value: unknown, min: number, max: number): number => {
  if (Number.isInteger(value) && (value as number) >= min && (value as number) <= max) return value as number
  throw unusual
}

/** An id already in its stored form (lower case, not nil); another case is the Schema's to canonicalise. */
const canonicalId = (value: unknown): string => {
  if (isCanonicalId(value)) return value
  throw unusual
}

/** A plain object with exactly `keys` (`required` of them present), own and enumerable. */
const exactly = (value: unknown, required: ReadonlyArray<string>, optional: ReadonlyArray<string> = []): Plain => {
  if (!isPlain(value)) throw unusual
  const keys = Reflect.ownKeys(value)
  for (const key of keys) {
    if (typeof key !== "string" || !(required.includes(key) || optional.includes(key))) throw unusual
    if (!Object.prototype.propertyIsEnumerable.call(value, key)) throw unusual
  }
  for (const key of required) if (!own(value, key)) throw unusual
  return value
}

const entityRef = (value: unknown) => {
  const ref = exactly(value, ["entity_id", "entity_kind"])
  return { entity_id: nonEmptyText(ref.entity_id), entity_kind: nonEmptyText(ref.entity_kind) }
}

const OP_TYPES = ["read", "write", "plan", "execute"] as const

const plannedOperation = (value: unknown) => {
  const op = exactly(value, ["op_type", "target"], ["description"])
  const operation = { op_type: oneOf(OP_TYPES, op.op_type), target: entityRef(op.target) }
  if (!own(op, "description") || op.description === null) return operation
  return { ...operation, description: text(op.description) }
}

const listOf = <A>(value: unknown, item: (value: unknown) => A): Array<A> => {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) throw unusual
  const out: Array<A> = new Array(value.length)
  for (let index = 0; index < value.length; index++) {
    if (!own(value, String(index))) throw unusual
    out[index] = item(value[index])
  }
  return out
}

/** Job inputs: JSON at most `MAX_DEPTH` levels deep, as `Json` bounds every payload. */
const jobInputs = (value: unknown) => {
  if (value === null) return null
  // `Json`'s own walk (its depth bound included), without the Schema's decode around it: the same copy, or undefined where it refuses.
  const json = checkedJsonPayload(value)
  if (json === undefined) throw unusual
  return json
}

/** A `DateTime.Utc` in the stored range; the RFC 3339 text form is the Schema's. */
const runAfter = (value: unknown): DateTime.Utc => {
  if (DateTime.isDateTime(value) && DateTime.isUtc(value)) {
    const ms = value.epochMillis
    if (ms >= TIMESTAMP_RANGE_MS.min && ms <= TIMESTAMP_RANGE_MS.max) return value
  }
  throw unusual
}

/** The fields a `NewAiJob` has: any other key is the Schema's (`NewAiJob` ignores it at the port, `JobRequest` refuses it). */
const FIELDS: ReadonlyArray<string> = [
  "job_kind",
  "protocol_id",
  "profile_id",
  "capability_profile_id",
  "access_mode",
  "safety_mode",
  "entity_refs",
  "planned_operations",
  "job_inputs",
  "status_reason",
  "is_pinned",
  "job_id",
  "trace_id",
  "run_after",
  "priority",
  "max_attempts",
  "backoff"
]
const REQUIRED = FIELDS.slice(0, 6)
/** A request may leave its capability profile out: the policy's, then. */
const REQUIRED_OF_REQUEST = REQUIRED.filter((field) => field !== "capability_profile_id")

/** The kinds a job may be given as: the canonical ones and the legacy alias (made once, not per check). */
const KINDS_GIVEN = [...JobKinds, LegacyTerminalAlias]

/** The fields, in the Schema's order, with its defaults; a request's absent capability profile stays absent. */
const check = (input: Plain, required: ReadonlyArray<string>): Record<string, unknown> => {
  exactly(input, required, FIELDS)
  const kind = oneOf(KINDS_GIVEN, input.job_kind)
  const job: Record<string, unknown> = {
    job_kind: kind === LegacyTerminalAlias ? "terminal_exec" : kind,
    protocol_id: identifier(input.protocol_id),
    profile_id: identifier(input.profile_id)
  }
  if (own(input, "capability_profile_id")) job.capability_profile_id = identifier(input.capability_profile_id)
  job.access_mode = oneOf(AccessModes, input.access_mode)
  job.safety_mode = oneOf(SafetyModes, input.safety_mode)
  job.entity_refs = own(input, "entity_refs") ? listOf(input.entity_refs, entityRef) : []
  job.planned_operations = own(input, "planned_operations") ? listOf(input.planned_operations, plannedOperation) : []
  job.job_inputs = own(input, "job_inputs") ? jobInputs(input.job_inputs) : null
  job.status_reason = own(input, "status_reason") ? text(input.status_reason) : ""
  job.is_pinned = own(input, "is_pinned") ? boolean(input.is_pinned) : false
  if (own(input, "job_id")) job.job_id = canonicalId(input.job_id) as JobId
  if (own(input, "trace_id")) job.trace_id = canonicalId(input.trace_id) as TraceId
  if (own(input, "run_after")) job.run_after = runAfter(input.run_after)
  job.priority = own(input, "priority") ? wholeNumber(input.priority, -32768, 32767) : 0
  if (own(input, "max_attempts")) job.max_attempts = wholeNumber(input.max_attempts, 1, MAX_ATTEMPTS_LIMIT)
  // A job's own backoff has several shapes and defaults: the Schema's.
  if (own(input, "backoff")) throw unusual
  return job
}

const checked = (input: unknown, required: ReadonlyArray<string>): Record<string, unknown> | undefined => {
  if (!isPlain(input)) return undefined
  try {
    return check(input, required)
  } catch {
    // A getter of the caller's that throws is the Schema's to meet, like every other oddity.
    return undefined
  }
}

/**
 * New jobs `submittedJob` built from a request this module checked: the
 * port's check takes them as they are. Module-private, so only this module
 * adds to it; a caller never holds such an object before it is written (it
 * goes straight from `Jobs.submit` to the store), and a copy of it — a spread,
 * a redacted copy — is not in it and meets the full check.
 */
const checkedJobs = new WeakSet<object>()

/**
 * `input` as a `NewAiJob` when it is in the common shape and valid — exactly
 * the Schema's result — else `undefined`: the Schema decides (see above).
 */
export const commonNewAiJob = (input: unknown): NewAiJob | undefined =>
  typeof input === "object" && input !== null && checkedJobs.has(input)
    ? input as NewAiJob
    : checked(input, REQUIRED) as NewAiJob | undefined

/** `commonNewAiJob` for a `JobRequest`: the same check, its capability profile optional. */
export const commonJobRequest = (input: unknown): JobRequest | undefined =>
  checked(input, REQUIRED_OF_REQUEST) as JobRequest | undefined

/** What `Jobs.submit` adds to a request: its ids, the policy's profile, its maximum attempts. */
export interface Submitted {
  readonly job_id: JobId
  readonly trace_id: TraceId
  readonly capability_profile_id: string
  readonly max_attempts: number
}

/**
 * The `NewAiJob` that `Jobs.submit` writes: `request` with what it adds.
 * When `request` is one `commonJobRequest` returned (a fresh value, every
 * part checked) and the added parts pass the same rules — the policy's
 * profile id an `Identifier`, ids canonical, the maximum in range — the job
 * is marked checked, so the port does not walk it again (issue 16: the same
 * job was checked twice per submit). Otherwise it is a plain object, and the
 * port's check decides as for any caller's.
 */
export const submittedJob = (request: JobRequest, checkedRequest: boolean, added: Submitted): NewAiJob => {
  if (!checkedRequest) return Object.assign({}, request, added) as NewAiJob
  const job = checkedWith(request, added)
  if (addedPartsValid(added)) checkedJobs.add(job)
  return job
}

/**
 * `{ ...request, ...added }` for a request `check` built, as one literal: the
 * fields `check` may set, in its order, and `run_after` only when the request
 * has it. (An object spread of the checked request costs several µs, the
 * literal next to nothing — issue 16.)
 */
const checkedWith = (request: JobRequest, added: Submitted): NewAiJob => {
  const job: { -readonly [K in keyof NewAiJob]: NewAiJob[K] } = {
    job_kind: request.job_kind,
    protocol_id: request.protocol_id,
    profile_id: request.profile_id,
    capability_profile_id: added.capability_profile_id,
    access_mode: request.access_mode,
    safety_mode: request.safety_mode,
    entity_refs: request.entity_refs,
    planned_operations: request.planned_operations,
    job_inputs: request.job_inputs,
    status_reason: request.status_reason,
    is_pinned: request.is_pinned,
    job_id: added.job_id,
    trace_id: added.trace_id,
    priority: request.priority,
    max_attempts: added.max_attempts
  }
  if (request.run_after !== undefined) job.run_after = request.run_after
  return job
}

const addedPartsValid = (added: Submitted): boolean => {
  try {
    // The policy's own profile name is marked checked only in its stored form: one in NFD is the port's to normalise.
    if (identifier(added.capability_profile_id) !== added.capability_profile_id) return false
    canonicalId(added.job_id)
    canonicalId(added.trace_id)
    wholeNumber(added.max_attempts, 1, MAX_ATTEMPTS_LIMIT)
    return true
  } catch {
    return false
  }
}
