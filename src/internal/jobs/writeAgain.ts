/**
 * A write of a run's worker — its run's end, a node's start or end — written
 * again while the database fails (an outage, a dropped connection): given
 * up at the first failure, a run's end left its job `running` under a run
 * nobody runs, and a node's failed its program, its attempt spent, though
 * the work was done (found by a fault-injection probe: a 20 s PostgreSQL
 * restart failed every job in flight). Waits double from 100 ms to 5 s, for
 * up to a minute from the first failure (twice recovery's default
 * threshold: by then another process's recovery may have stalled the run,
 * and the next try says so, `RunNotActive`); then the `StorageError` is
 * returned. Only the waits are interruptible: a pool shutting down (its
 * drain time over), a caller's interrupt or a run taken away ends the wait,
 * and the log says so — not "trying again". A try whose commit landed but
 * whose answer was lost must be found by the next (`again`): the caller's
 * to make safe.
 *
 * Not tried again: inside a transaction the store joins (the caller's
 * `sql.withTransaction`), where the write is part of that transaction — on
 * PostgreSQL a failed statement aborts it, so no retry could succeed — and
 * the caller decides at once; nor on a store that was closed (its layer's
 * scope closed under the run): no outage, nothing will reopen it.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashSet from "effect/HashSet"
import type { JobStore } from "../../store/JobStore.js"
import { StorageError } from "../../store/StoreErrors.js"
import { isStoreClosed } from "../storeClosed.js"
import { inStoreTransaction } from "./announceLost.js"

/** How long a write is tried again while the database fails, from its first failure. */
export const WRITE_AGAIN_BUDGET_MS = 60_000
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 5_000

/** One worker write, and what its log lines say of it. */
export interface WorkerWrite<A, E> {
  /** The first try. */
  readonly write: Effect.Effect<A, E>
  /** Every later try: one that first looks whether an earlier try committed (its answer lost). `write` when absent. */
  readonly again?: Effect.Effect<A, E> | undefined
  /** Which failures are an outage, worth a wait and another try; any other is the write's answer at once. */
  readonly outage: (error: StorageError) => boolean
  /** A store closed under the run: the write's answer (said once, at once). */
  readonly closed: (error: StorageError) => Effect.Effect<never, StorageError>
  readonly job_id: string
  readonly workflow_run_id: string
  /** What is written, for the log: "its run's end". */
  readonly what: string
  /** What becomes of it when not tried again inside the caller's transaction, for the log. */
  readonly inTransaction: string
  /** What becomes of it when the run was interrupted meanwhile, for the log. */
  readonly interrupted: string
}

/** `write.write`, written again while the database fails, as the module says. */
export const writeAgain = <A, E>(store: JobStore["Type"], write: WorkerWrite<A, E>): Effect.Effect<A, E | StorageError> => {
  const annotated = (line: string) =>
    Effect.annotateLogs(Effect.logWarning(`job ${write.job_id}: ${line}`), { job_id: write.job_id, workflow_run_id: write.workflow_run_id })
  // The minute counts from the first failure: a write that succeeds (nearly all) reads no clock.
  const attempt = (tried: Effect.Effect<A, E>, delay: number, deadline: number | undefined): Effect.Effect<A, E | StorageError> =>
    Effect.catchIf(
      tried,
      (error): error is E & StorageError => error instanceof StorageError,
      (error) => {
        if (isStoreClosed(error)) return write.closed(error)
        if (!write.outage(error)) return Effect.fail(error)
        return Effect.flatMap(Effect.zip(Clock.currentTimeMillis, inStoreTransaction(store)), ([now, inTransaction]) => {
          if (inTransaction) {
            return Effect.zipRight(
              annotated(`${write.what} could not be written (${error.message}) inside the caller's transaction: not tried again (that transaction decides)${write.inTransaction}`),
              Effect.fail(error)
            )
          }
          const until = deadline ?? now + WRITE_AGAIN_BUDGET_MS
          if (now >= until) return Effect.fail(error)
          // Interrupted (a pool's shutdown, a caller's interrupt; a release always is), the run
          // waits for nothing: said so, not "trying again" — the wait below ends at once.
          const given = annotated(`${write.what} could not be written (${error.message}) and the run was interrupted: not tried again; ${write.interrupted}`)
          return Effect.descriptorWith((fiber) => {
            const interrupted = HashSet.size(fiber.interruptors) > 0
            const wait = Effect.interruptible(Effect.sleep(Duration.millis(delay)))
            return (interrupted ? given : annotated(`${write.what} could not be written (${error.message}); trying again in ${delay} ms`)).pipe(
              Effect.zipRight(interrupted ? wait : Effect.onInterrupt(wait, () => given)),
              Effect.zipRight(attempt(write.again ?? write.write, Math.min(delay * 2, MAX_DELAY_MS), until))
            )
          })
        })
      }
    )
  return attempt(write.write, FIRST_DELAY_MS, undefined)
}
