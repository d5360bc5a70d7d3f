/**
 * A claim whose caller was interrupted after the claim committed (an
 * `Effect.timeout` or a lost race around `Jobs.claimNext`, `start`,
 * `resume`, `rework`): the store finishes its write, then the interrupt
 * takes effect and the answer — the Claim — is lost. The job stayed
 * `running` under a run nobody holds until recovery stalled it. The claim is
 * found again by what the call knew before its commit — its new run's id, or
 * (a claim in one statement, whose run id is the store's) the event ids it
 * gave its records — and released to `queued`, as `Jobs.run` releases an
 * interrupted run (runJob.ts `release`). Only on the interrupt's path: a
 * claim that answers pays one field write per attempt.
 *
 * The same when the claim failed with `StorageError` but may have committed:
 * the connection dropped before its answer was read (found by an outside
 * probe: a pool's claim left its job running under a run nobody held until a
 * sweep stalled it, its retries never applied) — `releaseClaimAfterFailure`,
 * only on the failure's path.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import type { EventId, JobId, WorkflowRunId } from "../../domain/Ids.js"
import type { Claim, JobStore } from "../../store/JobStore.js"
import { StorageError } from "../../store/StoreErrors.js"
import { isStoreClosed } from "../storeClosed.js"
import { nothingRan } from "./nothingRan.js"
import { inStoreTransaction } from "./announceLost.js"

/** A fresh note for one call: nothing written yet. */
export const newClaimNote = (): ClaimNote => ({ last: undefined })

/**
 * What the last write of a call may have committed: its run's id or its
 * records' event ids, noted before its commit — or the id of the offered run
 * it adopted, noted only once that adoption committed (`adoptOfferedRun`'s
 * `adopted`): the run was running before, so only the adoption's own commit
 * says it is the caller's.
 */
export interface ClaimNote {
  last: WorkflowRunId | ReadonlyArray<EventId> | undefined
}

/** The reason the release of a claim whose answer an interrupt lost records. */
export const claimInterruptedReason = (operation: string) =>
  `released: ${operation} was interrupted after its claim was written, before its caller got the claim`

/** The run the records with ids `eventIds` name, when they were written (the first that names a run). */
const runOfRecords = (store: JobStore["Type"], eventIds: ReadonlyArray<EventId>, i = 0): Effect.Effect<WorkflowRunId | undefined, unknown> =>
  i >= eventIds.length
    ? Effect.succeed(undefined)
    : Effect.flatMap(store.listEvents({ event_id: eventIds[i]!, limit: 1 }), (found) => {
      const record = found.items[0]
      // None written under the first id: the write committed nothing (its records commit with it).
      if (record === undefined) return Effect.succeed(undefined)
      return record.workflow_run_id !== null ? Effect.succeed(record.workflow_run_id) : runOfRecords(store, eventIds, i + 1)
    })

/**
 * The claim `last` names when it was committed and its job is still running
 * under it; undefined when the write committed nothing (rolled back, or never
 * begun) or the claim has moved on since (ended, recovered).
 */
const findClaim = (store: JobStore["Type"], last: WorkflowRunId | ReadonlyArray<EventId>): Effect.Effect<Claim | undefined, unknown> =>
  Effect.flatMap(typeof last === "string" ? Effect.succeed<WorkflowRunId | undefined>(last) : runOfRecords(store, last), (id) =>
    id === undefined ? Effect.succeed(undefined) : Effect.flatMap(
      Effect.catchTag(store.getRun(id), "NotFound", () => Effect.succeed(undefined)),
      (run) =>
        run === undefined || run.status !== "running" ? Effect.succeed(undefined) : Effect.map(store.getJob(run.job_id), (job) =>
          job.state === "running" && job.workflow_run_id === run.id ? { job, run } : undefined)
    ))

/**
 * Releases the claim `note` names when it was committed and its job is
 * still running under it; nothing when the write committed nothing (rolled
 * back, or never begun). A failure to look or to release is logged: the job
 * then stays running until recovery stalls its run, as before.
 */
export const releaseLostClaim = (
  store: JobStore["Type"],
  note: ClaimNote,
  release: (claim: Claim) => Effect.Effect<void, unknown>,
  operation: string
): Effect.Effect<void> => {
  const last = note.last
  if (last === undefined) return Effect.void
  return Effect.flatMap(findClaim(store, last), (claim) => claim === undefined ? Effect.void : release(claim)).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning(`${operation} was interrupted after its claim may have been written, and releasing that claim failed: ` +
        "its job stays running until recovery stalls its run", cause))
  )
}

/** The reason the release of a claim whose answer a dropped connection lost records. */
export const claimAnswerLostReason = (operation: string) =>
  `released: ${operation}'s claim was written but its answer was lost to a dropped connection`

/**
 * The job an error of a released lost claim (the error returned to the claim's caller) names, under
 * a property of its own: read on a pool's failure path. A property, not a map keyed by the error:
 * a failure's cause may hold the error behind a proxy carrying its span, which forwards reads only.
 */
const releasedJob = Symbol.for("@handshake/ai-job-model/releasedLostClaim")

/** The job a claim's `StorageError` (in `cause`) released after its answer was lost, if it did: what a pool's warning names. */
export const jobOfLostClaim = (cause: Cause.Cause<unknown>): JobId | undefined => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None" || !(failure.value instanceof StorageError)) return undefined
  return (failure.value as { readonly [releasedJob]?: JobId })[releasedJob]
}

/** Looks at most this many times for a claim whose answer was lost, while the database cannot be reached. */
export const LOST_CLAIM_LOOKS = 8
const LOST_CLAIM_FIRST_DELAY_MS = 100
const LOST_CLAIM_MAX_DELAY_MS = 2_000

/** What a claim that failed knew before its write: its run's id or its records' event ids, and its job's id when the call names one. */
export interface FailedClaim {
  readonly last: WorkflowRunId | ReadonlyArray<EventId>
  readonly jobId?: JobId | undefined
}


/**
 * What a worker pool's loop gives the looks of its failed claims, set once
 * on each loop's fiber (nothing added to a claim): `closed` is done when the
 * pool closes, and a look under way is then given up at once — an idle
 * pool's shutdown during an outage waited for its loops' looks (8, about 7 s,
 * past the drain time with a database that accepts and never answers: an
 * outside probe). `firstOfStreak` says whether this is the pool's first
 * warning of a failed look since its iterations last worked: the rest of an
 * outage's are logged at debug level, the pool's streak saying it goes on.
 */
export interface PoolLooks {
  readonly closed: Deferred.Deferred<void>
  readonly firstOfStreak: () => boolean
}

/**
 * The pool's `PoolLooks` on a loop's fiber; undefined outside a pool (a caller's own `Jobs.claimNext`,
 * start, ...). Not inherited: a fiber forked from a loop — the program it runs, and that program's own
 * start or claimNext, a caller's — starts without it (a draining pool's program gave up its look at once,
 * found by a regression probe), and a joined fiber never takes it from the loop. Set once per loop, so a
 * pool's claim pays no Effect operation for it (an announcement's pickup is counted: pool-doorbell.test.ts).
 */
export const currentPoolLooks: FiberRef.FiberRef<PoolLooks | undefined> = globalValue(
  Symbol.for("@handshake/ai-job-model/currentPoolLooks"),
  () => FiberRef.unsafeMake<PoolLooks | undefined>(undefined, { fork: () => undefined, join: (parent) => parent })
)

/**
 * `effect`'s value, or none once `closed` is done (at once if it already
 * is): the effect is then left to end in the background — a store call
 * already sent completes, nothing waits for it. Interruptible, so the
 * caller's interrupt stops it the same way.
 */
const unlessClosed = <A, E>(effect: Effect.Effect<A, E>, closed: Deferred.Deferred<void> | undefined): Effect.Effect<Option.Option<A>, E> =>
  closed === undefined
    ? Effect.interruptible(Effect.asSome(Effect.disconnect(effect)))
    : Effect.flatMap(Deferred.isDone(closed), (done) =>
      done
        ? Effect.succeedNone
        : Effect.interruptible(Effect.raceFirst(Effect.asSome(Effect.disconnect(effect)), Effect.as(Deferred.await(closed), Option.none<A>()))))

/**
 * A claim that failed with `StorageError` may have committed all the same:
 * the connection dropped after the server ran the statement (or the COMMIT)
 * and before its answer was read. As a submit's lost answer
 * (createAnswerLost.ts) and a run's end (runJob.ts `settleDurably`), any
 * `StorageError` is taken as possibly committed and the write looked up by
 * what the call knew before it (`failed`): committed, the job — running under
 * a run nobody holds — is released to `queued` (reason
 * `claimAnswerLostReason`), and the caller gets the error with the job named
 * in it. The look is tried again while it fails (the database not reachable
 * yet): waits double from 100 ms to 2 s, `LOST_CLAIM_LOOKS` looks in all
 * (about 7 s); then, when interrupted, or when its worker pool closes
 * (`PoolLooks`), a warning says what may be running and the run is left to
 * recovery. Not looked for when the statement never ran (`nothingRan`: no
 * connection could be had, or the store was closed), nor inside a caller's
 * transaction (that transaction decides; on PostgreSQL it is aborted). Only
 * on a claim's failure path.
 */
export const releaseClaimAfterFailure = (
  store: JobStore["Type"],
  failed: FailedClaim,
  release: (claim: Claim) => Effect.Effect<void, unknown>,
  operation: string,
  error: StorageError
): Effect.Effect<never, StorageError> => {
  if (nothingRan(error)) return Effect.fail(error)
  // What may be running, said as much as the call knows: a claim of the queue's next job
  // (its records' ids, or its run's) most likely took none when the database could not be reached.
  const mayBeRunning = failed.jobId !== undefined
    ? `if it committed, job ${failed.jobId} stays running under a run nobody holds until recovery stalls that run`
    : typeof failed.last === "string"
    ? `most likely it claimed nothing; if it did claim a job (its run ${failed.last}), recovery stalls that run and the job's retry policy applies`
    : "most likely it claimed nothing; if it did claim a job, recovery stalls that run and the job's retry policy applies"
  const leftToRecovery = (why: string, cause: unknown, pool: PoolLooks | undefined) => {
    const line = `${operation} failed (${error.message}) and ${why}: ${mayBeRunning}`
    // In a pool, one warning an outage: the pool's failure streak says the rest.
    const logged = pool === undefined || pool.firstOfStreak() ? Effect.logWarning(line, cause) : Effect.logDebug(line, cause)
    return Effect.zipRight(Effect.annotateLogs(logged, failed.jobId !== undefined ? { job_id: failed.jobId } : {}), Effect.fail(error))
  }
  const looks = (n: number) => `${n} ${n === 1 ? "look" : "looks"}`
  const interrupted = (failure: unknown, pool: PoolLooks | undefined) => () =>
    Effect.ignore(leftToRecovery("it was interrupted while looking up whether its claim committed", failure, pool))
  const look = (n: number, delay: number, pool: PoolLooks | undefined): Effect.Effect<never, StorageError> =>
    Effect.matchEffect(Effect.onInterrupt(unlessClosed(findClaim(store, failed.last), pool?.closed), interrupted(error, pool)), {
      onFailure: (failure) =>
        // Only the database's failure may pass (not a closed store's, not a row's that will not decode).
        !(failure instanceof StorageError) || isStoreClosed(failure) || n >= LOST_CLAIM_LOOKS
          ? leftToRecovery(`whether its claim committed could not be looked up (${looks(n)})`, failure, pool)
          : Effect.flatMap(
            Effect.onInterrupt(unlessClosed(Effect.sleep(Duration.millis(delay)), pool?.closed), interrupted(failure, pool)),
            (slept) =>
              Option.isNone(slept)
                ? leftToRecovery(`its worker pool closed while it looked up whether its claim committed (${looks(n)})`, failure, pool)
                : look(n + 1, Math.min(delay * 2, LOST_CLAIM_MAX_DELAY_MS), pool)
          ),
      onSuccess: (found) =>
        Option.isNone(found)
          ? leftToRecovery(`its worker pool closed while it looked up whether its claim committed (${looks(n - 1)} made)`, error, pool)
          : found.value === undefined
          ? Effect.fail(error)
          : released(found.value, pool)
    })
  const released = (claim: Claim, pool: PoolLooks | undefined): Effect.Effect<never, StorageError> =>
    Effect.matchCauseEffect(release(claim), {
      onFailure: (cause) =>
        leftToRecovery(`releasing its claim of job ${claim.job.job_id}, which committed, failed`, cause, pool),
      onSuccess: () =>
        Effect.zipRight(
          Effect.annotateLogs(
            Effect.logInfo(
              `job ${claim.job.job_id}: ${operation}'s claim committed but its answer was lost (${error.message}); ` +
                "released to queued"
            ),
            { job_id: claim.job.job_id, workflow_run_id: claim.run.id }
          ),
          Effect.suspend(() => {
            const named = new StorageError({
              operation: `${error.operation} (its claim of job ${claim.job.job_id} committed, its answer lost: released to queued)`,
              cause: error.cause
            })
            Object.defineProperty(named, releasedJob, { value: claim.job.job_id })
            return Effect.fail(named)
          })
        )
    })
  return Effect.flatMap(inStoreTransaction(store), (inTransaction) =>
    inTransaction ? Effect.fail(error) : Effect.flatMap(FiberRef.get(currentPoolLooks), (pool) => look(1, LOST_CLAIM_FIRST_DELAY_MS, pool)))
}
