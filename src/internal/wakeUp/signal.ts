/**
 * What a wake-up says: a job was queued or changed state (with its kind and
 * the time it becomes eligible), or "look again" when announcements may have
 * been missed (a listener that reconnected).
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { isCanonicalId, JobId } from "../../domain/Ids.js"
import { CanonicalJobKind, JobKinds } from "../../domain/JobKind.js"
import { JobState, JobStates } from "../../domain/JobState.js"

/** A job was stored or changed state (or its eligible time moved). */
export const JobChanged = Schema.TaggedStruct("JobChanged", {
  job_id: JobId,
  state: JobState,
  job_kind: CanonicalJobKind,
  /** When the job becomes eligible for a claim, in epoch milliseconds. */
  run_after: Schema.Number,
  /** Its new run was offered to worker pools (`handTo: "workers"`): a pool of its kind may take it now. */
  offered: Schema.optional(Schema.Literal(true))
})
export type JobChanged = typeof JobChanged.Type

/** Announcements may have been missed: every waiter looks again. */
export interface LookAgain {
  readonly _tag: "LookAgain"
}
export const lookAgain: LookAgain = { _tag: "LookAgain" }

export type Signal = JobChanged | LookAgain

const decodePayload = Schema.decodeUnknownEither(Schema.parseJson(Schema.Struct({
  job_id: JobId,
  state: JobState,
  job_kind: CanonicalJobKind,
  run_after: Schema.Union(Schema.Number, Schema.NumberFromString),
  offered: Schema.optional(Schema.Literal(true))
})))

const states: ReadonlySet<unknown> = new Set(JobStates)
const kinds: ReadonlySet<unknown> = new Set(JobKinds)

/**
 * The trigger's own payload, read by hand: an object with a stored-form id, a
 * state, a canonical kind and a finite number. Anything else is left to the
 * Schema above, which stays the authority (every notification is read on the
 * listener's path to the worker: the Schema costs tens of µs, this a JSON.parse).
 */
const triggerPayload = (payload: string): JobChanged | undefined => {
  let fields: unknown
  try {
    fields = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof fields !== "object" || fields === null) return undefined
  const { job_id, job_kind, offered, run_after, state } = fields as Record<string, unknown>
  if (!(isCanonicalId(job_id) && states.has(state) && kinds.has(job_kind) && typeof run_after === "number" && Number.isFinite(run_after))) {
    return undefined
  }
  const changed: JobChanged = { _tag: "JobChanged", job_id: job_id as JobId, state: state as JobState, job_kind: job_kind as JobChanged["job_kind"], run_after }
  // An offer's announcement (migration 0016's trigger); any other value of the key is the Schema's to judge.
  if (offered === true) return { ...changed, offered }
  return offered === undefined ? changed : undefined
}

/**
 * The signal of one `ai_job_model_jobs` notification (migration 0007's
 * trigger). A payload that does not read is not dropped silently: it becomes
 * "look again", so no waiter can miss the change it was about.
 */
export const fromPayload = (payload: string): Signal =>
  triggerPayload(payload) ?? Either.match(decodePayload(payload), {
    onLeft: () => lookAgain,
    onRight: (fields) => ({ _tag: "JobChanged", ...fields })
  })
