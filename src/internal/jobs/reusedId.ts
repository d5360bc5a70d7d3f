/**
 * A job id names one job for as long as its audit trail is kept. Pruning
 * deletes a job and its runs but leaves its events to the retention window
 * (R18, R13), so a new job submitted under a pruned job's id took over that
 * trail: its history said it had been claimed and completed before it ever
 * ran. A caller-given id whose lifecycle is still in the log is refused as
 * one stored already.
 *
 * A request the policy refused leaves capability decisions and no job. It
 * may be sent again, but only by the same caller: callers choose their own
 * ids, so another caller's job under that id took over the refusal's trail
 * (an outside attacker's probe: mallory's three deny events led alice's job).
 * The deny events name the caller (`actor_id`) and the decisions, not the
 * kind; the same request is one whose actor is the refusal's and for which
 * the policy, asked again under the profile each decision names, decides
 * exactly what was recorded (a kind's requirements, an escalation's excess
 * and its reason, which names the kind and protocol).
 *
 * The refusal says the id belongs to a pruned job's kept trail when no job
 * holds it (an outside probe read "already exists" of a job that was gone).
 * Checked before anything is decided or written; a fresh id's trail is one
 * read of one row. Not atomic with the create, and need not be: a pruned
 * job's events are only ever purged, never written again, and two submits of
 * one new id still meet at the job's key.
 */
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { JobRequest } from "../../domain/AiJob.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobId, TraceId } from "../../domain/Ids.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { JobStore } from "../../store/JobStore.js"
import { AlreadyExists, type StorageError } from "../../store/StoreErrors.js"
import type { makeAdmission } from "./admission.js"

/** The request sending a caller-given id: what the policy decides it from, and who sends it. */
export type IdRequest = Pick<JobRequest, "trace_id" | "job_kind" | "protocol_id" | "profile_id">

/** A capability decision as its event records it: the fields that say whose request it was and what was decided. */
const DECISION_FIELDS = ["actor_id", "capability_id", "decision_outcome", "profile_id", "reason"] as const

/** Fails with `AlreadyExists` when `jobId` names a job whose lifecycle events outlived it, or another caller's refused request. */
export const refuseReusedId = (
  store: JobStore["Type"],
  decide: ReturnType<typeof makeAdmission>["decide"],
  jobId: JobId,
  request: IdRequest,
  now: DateTime.Utc
): Effect.Effect<void, AlreadyExists | StorageError | DecodeFailure> =>
  firstRecord(store, jobId, ["system", "workflow_recovery", "capability_action"]).pipe(
    Effect.flatMap((first) =>
      first === undefined
        ? Effect.void
        : first !== null && first.type === "capability_action"
        // Decisions first: a live job's allow, or a refusal's trail. Only on this path is the rest read.
        ? Effect.flatMap(firstRecord(store, jobId, ["system", "workflow_recovery"]), (lifecycle) =>
          lifecycle === undefined ? refuseOthersRefusal(store, decide, jobId, request, now) : refuseTaken(store, jobId))
        : refuseTaken(store, jobId)
    )
  )

/** The oldest record of `types` about `jobId`: undefined when none, null when it does not decode (a row all the same). */
const firstRecord = (store: JobStore["Type"], jobId: JobId, types: ReadonlyArray<EventRecord["type"]>) =>
  store.listEvents({ job_id: jobId, types, limit: 1 }).pipe(
    Effect.map((page): EventRecord | null | undefined => page.items[0]),
    Effect.catchTag("CorruptRow", () => Effect.succeed(null))
  )

/** `AlreadyExists` for an id a job's lifecycle names, saying so when the job was pruned. */
const refuseTaken = (store: JobStore["Type"], jobId: JobId) =>
  Effect.flatMap(prunedJob(store, jobId), (pruned) => Effect.fail(new AlreadyExists({ entity: "job", id: jobId, ...(pruned ? { pruned } : {}) })))

/**
 * Fails with `AlreadyExists` (`refused_request`) unless every decision under
 * the id is one the policy makes again for `request`: the same caller's
 * request, sent again. The policy is asked once per profile the decisions name.
 */
const refuseOthersRefusal = (
  store: JobStore["Type"],
  decide: ReturnType<typeof makeAdmission>["decide"],
  jobId: JobId,
  request: IdRequest,
  now: DateTime.Utc
) => {
  const refused = new AlreadyExists({ entity: "job", id: jobId, refused_request: true })
  // Decided as the refused request was: under this id, its trace any (the compared fields name neither).
  const subject = { ...request, job_id: jobId, trace_id: request.trace_id ?? uuidv7() as TraceId }
  const decided = new Map<string, ReadonlyArray<EventRecord>>()
  const decidedUnder = (profile: unknown) => {
    if (typeof profile !== "string") return Effect.fail(refused)
    const known = decided.get(profile)
    return known !== undefined ? Effect.succeed(known) : Effect.map(decide(subject, profile, now), ({ records }) => {
      decided.set(profile, records)
      return records
    })
  }
  return Effect.gen(function*() {
    let cursor: string | undefined
    do {
      const page = yield* store.listEvents({ job_id: jobId, types: ["capability_action"], limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
      for (const event of page.items) {
        const again = yield* decidedUnder(event.body["profile_id"])
        if (!again.some((record) => sameDecision(record, event))) return yield* refused
      }
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
  }).pipe(Effect.catchTag("CorruptRow", () => Effect.fail(refused)))
}

/** Whether two `capability_action` records record one decision for one caller. */
const sameDecision = (a: EventRecord, b: EventRecord): boolean => DECISION_FIELDS.every((field) => a.body[field] === b.body[field])

/**
 * Whether the job `jobId` names is gone, so that only its kept trail holds the id (the refusal
 * then says so: "already exists" sent callers looking for a job there is none of). Only on refusal.
 */
const prunedJob = (store: JobStore["Type"], jobId: JobId): Effect.Effect<boolean> =>
  store.getJob(jobId).pipe(
    Effect.as(false),
    Effect.catchAll((error) => Effect.succeed(error._tag === "NotFound"))
  )
