/**
 * A job id names one job for as long as its audit trail is kept. Pruning
 * deletes a job and its runs but leaves its events to the retention window
 * (R18, R13), so a new job submitted under a pruned job's id took over that
 * trail: its history said it had been claimed and completed before it ever
 * ran. A caller-given id whose lifecycle is still in the log is refused as
 * one stored already. Only lifecycle events count: a request the policy
 * refused leaves capability decisions and no job, and may be sent again.
 *
 * The refusal says the id belongs to a pruned job's kept trail when no job
 * holds it (an outside probe read "already exists" of a job that was gone).
 * Checked before anything is decided or written. Not atomic with the create,
 * and need not be: a pruned job's events are only ever purged, never
 * written again, and two submits of one new id still meet at the job's key.
 */
import * as Effect from "effect/Effect"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { JobId } from "../../domain/Ids.js"
import type { JobStore } from "../../store/JobStore.js"
import { AlreadyExists, type StorageError } from "../../store/StoreErrors.js"

/** Fails with `AlreadyExists` when `jobId` names a job whose lifecycle events outlived it. */
export const refuseReusedId = (
  store: JobStore["Type"],
  jobId: JobId
): Effect.Effect<void, AlreadyExists | StorageError | DecodeFailure> =>
  store.listEvents({ job_id: jobId, types: ["system", "workflow_recovery"], limit: 1 }).pipe(
    // A row that does not decode is a row all the same: the id is taken.
    Effect.catchTag("CorruptRow", () => Effect.succeed({ items: [null] })),
    Effect.flatMap((page) => page.items.length === 0 ? Effect.void : Effect.flatMap(prunedJob(store, jobId), (pruned) =>
      Effect.fail(new AlreadyExists({ entity: "job", id: jobId, ...(pruned ? { pruned } : {}) }))
    ))
  )

/**
 * Whether the job `jobId` names is gone, so that only its kept trail holds the id (the refusal
 * then says so: "already exists" sent callers looking for a job there is none of). Only on refusal.
 */
const prunedJob = (store: JobStore["Type"], jobId: JobId): Effect.Effect<boolean> =>
  store.getJob(jobId).pipe(
    Effect.as(false),
    Effect.catchAll((error) => Effect.succeed(error._tag === "NotFound"))
  )
