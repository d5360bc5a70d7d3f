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
 * The deny events name the caller (`actor_id`) and the decisions — the
 * reference's four fields (R12), neither the kind nor the profile decided
 * under — so the policy cannot be asked again as it was. The same request is
 * one whose caller is the refusal's and whose kind and protocol the policy
 * could have made each decision for: a requirement of their placement
 * (allowed, or denied under a narrower or unknown profile), or the denial of
 * a grant their placement's profile lacks (an escalation's excess).
 *
 * The refusal says the id belongs to a pruned job's kept trail when no job
 * holds it (an outside probe read "already exists" of a job that was gone).
 * Checked before anything is decided or written; a fresh id's trail is one
 * read of one row. Not atomic with the create, and need not be: a pruned
 * job's events are only ever purged, never written again, and two submits of
 * one new id still meet at the job's key.
 */
import * as Effect from "effect/Effect"
import type { JobRequest } from "../../domain/AiJob.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobId } from "../../domain/Ids.js"
import type { Capabilities, Placement } from "../../Capabilities.js"
import type { JobStore } from "../../store/JobStore.js"
import { AlreadyExists, type StorageError } from "../../store/StoreErrors.js"

/** The request sending a caller-given id: where the policy places it, and who sends it. */
export type IdRequest = Pick<JobRequest, "job_kind" | "protocol_id" | "profile_id">

/** Fails with `AlreadyExists` when `jobId` names a job whose lifecycle events outlived it, or another caller's refused request. */
export const refuseReusedId = (
  store: JobStore["Type"],
  capabilities: Capabilities["Type"],
  jobId: JobId,
  request: IdRequest
): Effect.Effect<void, AlreadyExists | StorageError | DecodeFailure> =>
  firstRecord(store, jobId, ["system", "workflow_recovery", "capability_action"]).pipe(
    Effect.flatMap((first) =>
      first === undefined
        ? Effect.void
        : first !== null && first.type === "capability_action"
        // Decisions first: a live job's allow, or a refusal's trail. Only on this path is the rest read.
        ? Effect.flatMap(firstRecord(store, jobId, ["system", "workflow_recovery"]), (lifecycle) =>
          lifecycle === undefined ? refuseOthersRefusal(store, capabilities, jobId, request) : refuseTaken(store, jobId))
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
 * the id is `request`'s caller's, and one the policy could make for its kind
 * and protocol (`decidable`): the same caller's request, sent again.
 */
const refuseOthersRefusal = (
  store: JobStore["Type"],
  capabilities: Capabilities["Type"],
  jobId: JobId,
  request: IdRequest
) => {
  const refused = new AlreadyExists({ entity: "job", id: jobId, refused_request: true })
  const placement = capabilities.placementFor(request)
  if (placement === undefined) return Effect.fail(refused)
  return Effect.gen(function*() {
    let cursor: string | undefined
    do {
      const page = yield* store.listEvents({ job_id: jobId, types: ["capability_action"], limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
      for (const event of page.items) {
        // The caller as its events name it: a submitted profile id is a bounded NFC name, recorded as given.
        if (event.body["actor_id"] !== request.profile_id || !(yield* decidable(capabilities, placement, event))) return yield* refused
      }
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
  }).pipe(Effect.catchTag("CorruptRow", () => Effect.fail(refused)))
}

/**
 * Whether the policy could have recorded `event` for a job of `placement`: one
 * of its requirements (allowed, or denied under a narrower or unknown
 * profile), or the denial of a grant its profile lacks (an escalation's
 * excess). A capability the policy no longer knows could not have been decided.
 */
const decidable = (capabilities: Capabilities["Type"], placement: Placement, event: EventRecord): Effect.Effect<boolean> => {
  const capabilityId = event.body["capability_id"]
  if (typeof capabilityId !== "string") return Effect.succeed(false)
  if (placement.requires.includes(capabilityId)) return Effect.succeed(true)
  if (event.body["decision_outcome"] !== "deny") return Effect.succeed(false)
  return Effect.match(capabilities.profileCan(placement.profile, capabilityId), { onFailure: () => false, onSuccess: (granted) => !granted })
}

/**
 * Whether the job `jobId` names is gone, so that only its kept trail holds the id (the refusal
 * then says so: "already exists" sent callers looking for a job there is none of). Only on refusal.
 */
const prunedJob = (store: JobStore["Type"], jobId: JobId): Effect.Effect<boolean> =>
  store.getJob(jobId).pipe(
    Effect.as(false),
    Effect.catchAll((error) => Effect.succeed(error._tag === "NotFound"))
  )
