/**
 * A submit's write (`createJob`, `createJobs`) that failed with `StorageError`
 * may have committed all the same: the connection dropped after the server
 * ran the statement and before its answer was read. The caller was told the
 * submit failed for jobs that exist and will run, and a retry without its
 * own job id queued them twice. The outcome is read back by what the submit
 * chose before the write — the first job's `queued` event id, written in the
 * same commit as every job of the write — so a committed write is answered
 * as the store would have answered it. When even the look fails, the submit
 * fails with the write's error and a warning names the jobs that may exist.
 * Not looked for when nothing of the write ran (nothingRan.ts): an outside
 * probe saw a submit refused a connection warn that its job, never sent,
 * would be queued and run if it committed.
 * (The eager write's own read-back, which also hands over a claim, is
 * eagerAnswerLost.ts.)
 */
import * as Effect from "effect/Effect"
import type { EventId } from "../../domain/Ids.js"
import type { JobStore } from "../../store/JobStore.js"
import type { StorageError } from "../../store/StoreErrors.js"
import { nothingRan } from "./nothingRan.js"

/** What a submit chose before its write: its first job's `queued` event id, and the job ids it writes (for the warning). */
export interface CreationWrite {
  readonly queuedEventId: EventId
  readonly jobIds: ReadonlyArray<string>
}

/**
 * Whether the write that wrote the event `eventId` committed: a submit's
 * records commit with its jobs, so the event, by the id the submit gave it,
 * stands for the whole write (here and in eagerAnswerLost.ts).
 */
export const wasCommitted = (store: JobStore["Type"], eventId: EventId) =>
  Effect.map(store.listEvents({ event_id: eventId, limit: 1 }), (found) => found.items.length > 0)

/**
 * `answer` (what the store answers a committed write: the jobs as created)
 * when the write that failed with `error` committed; `error` when it
 * committed nothing or the look failed.
 */
export const committedCreation = <A>(
  store: JobStore["Type"],
  write: CreationWrite,
  answer: () => A,
  error: StorageError
): Effect.Effect<A, StorageError> =>
  // Nothing of it ran (no connection could be had, the store closed): nothing to look up, nor to warn of.
  nothingRan(error) ? Effect.fail(error) : wasCommitted(store, write.queuedEventId).pipe(
    Effect.catchAll((failure) =>
      Effect.zipRight(
        Effect.annotateLogs(
          Effect.logWarning(
            `submit of ${jobsNamed(write.jobIds)}: its write failed (${error.message}) and looking up whether it committed failed too ` +
              `(${failure.message}); if it committed, the job is queued and will run`
          ),
          { job_id: write.jobIds[0] ?? "" }
        ),
        Effect.fail(error)
      )),
    // The jobs and their events are one commit: the first job's queued event stands for all.
    Effect.flatMap((committed) => committed ? Effect.sync(answer) : Effect.fail(error))
  )

const jobsNamed = (ids: ReadonlyArray<string>) =>
  ids.length === 1 ? `job ${ids[0]}` : `${ids.length} jobs (${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""})`
