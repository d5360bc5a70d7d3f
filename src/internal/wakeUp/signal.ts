/**
 * What a wake-up says: a job was queued or changed state (with its kind and
 * the time it becomes eligible), or "look again" when announcements may have
 * been missed (a listener that reconnected).
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { JobId } from "../../domain/Ids.js"
import { CanonicalJobKind } from "../../domain/JobKind.js"
import { JobState } from "../../domain/JobState.js"

/** A job was stored or changed state (or its eligible time moved). */
export const JobChanged = Schema.TaggedStruct("JobChanged", {
  job_id: JobId,
  state: JobState,
  job_kind: CanonicalJobKind,
  /** When the job becomes eligible for a claim, in epoch milliseconds. */
  run_after: Schema.Number
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
  run_after: Schema.Union(Schema.Number, Schema.NumberFromString)
})))

/**
 * The signal of one `ai_job_model_jobs` notification (migration 0007's
 * trigger). A payload that does not read is not dropped silently: it becomes
 * "look again", so no waiter can miss the change it was about.
 */
export const fromPayload = (payload: string): Signal =>
  Either.match(decodePayload(payload), {
    onLeft: () => lookAgain,
    onRight: (fields) => ({ _tag: "JobChanged", ...fields })
  })
