/**
 * A change made inside a caller's transaction is announced when that
 * transaction commits, and only then (found by our last stop's note: a submit
 * inside `sql.withTransaction` rang the in-process doorbell at once, so an idle
 * pool claimed before the commit, found nothing and waited for its next poll —
 * and a rolled-back submit rang for a job that never existed).
 *
 * Outside any transaction (the common path) the announcement is made as before,
 * in the same step. Inside one the store joins:
 *
 * - `listen` (PostgreSQL): nothing in process. The database's `pg_notify` is
 *   sent from the writing transaction, so it is delivered at its commit, to
 *   this process too, and never on a rollback.
 * - `in-process`: a fiber of the service, begun outside the caller's
 *   transaction, reads the job back in a write transaction of the store's own.
 *   That transaction begins only once the caller's has ended: on SQLite the
 *   caller's holds the connection's one permit (the store's own client, or a
 *   caller's given to `layerFromClient`) or the database's write lock (another
 *   connection to the file, which waits up to the store's busy timeout). It
 *   then finds the job as committed — and announces it — or finds nothing after
 *   a rollback and announces nothing. On PostgreSQL (an in-process wake-up
 *   chosen over LISTEN) nothing makes it wait: it announces only a commit that
 *   came first, else the job waits for a poll.
 *
 * A transaction on another database is not joined: the store committed on its
 * own, and the change is announced at once.
 */
import * as Effect from "effect/Effect"
import * as DateTime from "effect/DateTime"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobStore } from "../../store/JobStore.js"
import { transactionOf } from "../../store/internal/execute.js"
import { outsideAnyTransaction } from "../../store/internal/foreignTransaction.js"
import type { WakeUp } from "../wakeUp/wakeUp.js"
import { inStoreTransaction } from "./announceLost.js"

type Change = Parameters<WakeUp["Type"]["announce"]>[0]

/** What a job's announcement says of it. */
export const changeOf = (job: Pick<AiJob, "job_id" | "state" | "job_kind" | "run_after">) => ({
  job_id: job.job_id,
  state: job.state,
  job_kind: job.job_kind,
  run_after: DateTime.toEpochMillis(job.run_after)
})

/**
 * `wakeUp` whose `announce` waits for the commit of a caller's transaction, as
 * the module says. `fork` runs the read-back in a fiber of the service's scope,
 * so closing the service ends it.
 */
export const announcingOnCommit = (
  wakeUp: WakeUp["Type"],
  store: JobStore["Type"],
  fork: (effect: Effect.Effect<void>) => Effect.Effect<void>
): WakeUp["Type"] => {
  /** The job as the caller's transaction left it, announced with `change`'s offer, if it is there. */
  const afterTransaction = (change: Change) =>
    fork(outsideAnyTransaction(Effect.ignore(Effect.flatMap(
      store.transaction(store.getJob(change.job_id)),
      (job) => wakeUp.announce(change.offered === true ? { ...changeOf(job), offered: true } : changeOf(job))
    ))))
  const inTransaction = (change: Change) =>
    Effect.flatMap(inStoreTransaction(store), (joined) =>
      !joined ? wakeUp.announce(change) : wakeUp.mode === "listen" ? Effect.void : afterTransaction(change))
  return {
    ...wakeUp,
    announce: (change) =>
      Effect.withFiberRuntime((fiber) => transactionOf(fiber)._tag === "None" ? wakeUp.announce(change) : inTransaction(change))
  }
}
