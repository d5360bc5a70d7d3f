/**
 * R6 with issue 15.3: a submit inside the caller's own transaction wakes this
 * process's idle pool when that transaction commits, and only then (found in
 * our last stop's note). The in-process announcement was made as the submit's
 * write ended, before the commit: an idle pool looked, found nothing (the job
 * not yet visible to it) and waited for its next poll; a submit whose
 * transaction rolled back was announced all the same, for a job that never
 * existed. Now, inside a transaction the store joins, PostgreSQL leaves it to
 * the database's NOTIFY (delivered at commit) and SQLite announces the job as
 * read back once the transaction has ended (committed: there; rolled back:
 * nothing). The pool polls once an hour, so only a wake-up can start the job.
 * The caller's transaction is the store's `transaction`, or `sql.withTransaction`
 * on the application's own client on the same database; on SQLite (a file)
 * and PostgreSQL.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { JobId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import type { JobStore } from "../../src/store/JobStore.js"
import type * as WakeUp from "../../src/WakeUp.js"
import { summarize } from "../jobs/jobs.suite.js"
import { openCallerClient, realSleep, type SharedDatabase, sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

/** `store` with every claim the pool makes (a look for work) counted as it is called. */
const countingClaims = (claims: { n: number }) => (store: JobStore["Type"]): JobStore["Type"] => {
  const counted = <A extends ReadonlyArray<unknown>, B, E>(claim: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
    Effect.suspend(() => {
      claims.n++
      return claim(...args)
    })
  const { claimAdmitted } = store
  return { ...store, claimNext: counted(store.claimNext), ...(claimAdmitted !== undefined ? { claimAdmitted: counted(claimAdmitted) } : {}) }
}

/** The job ids announced on `subscription` so far. */
const announcedIds = (subscription: WakeUp.Subscription) =>
  Effect.map(Queue.takeAll(subscription), (signals) => [...signals].flatMap((signal) => signal._tag === "JobChanged" ? [signal.job_id] : []))

/** A caller's transaction around an effect. */
type InTransaction = <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, unknown>

const transactions: ReadonlyArray<{
  readonly name: string
  readonly make: (database: SharedDatabase, store: JobStore["Type"]) => Effect.Effect<InTransaction, unknown, Scope.Scope>
}> = [
  { name: "store.transaction", make: (_, store) => Effect.succeed((effect) => store.transaction(effect)) },
  {
    name: "sql.withTransaction on the application's own client",
    make: (database) => Effect.map(openCallerClient(database), (sql: SqlClient.SqlClient): InTransaction => (effect) => sql.withTransaction(effect))
  }
]

for (const backend of sharedBackends) {
  for (const transaction of transactions) {
    describe(`a submit inside the caller's transaction wakes the idle pool at its commit (${backend.name}, ${transaction.name})`, () => {
      it.live(`R6 ${backend.name}, ${transaction.name}: rolled back, its job is never announced; held open, the pool has not been woken; committed, the pool starts the job at once (its poll is an hour away)`, () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh("announce on commit")
          const claims = { n: 0 }
          const { jobs, store, wakeUp } = yield* engineOn(database, { wrapStore: countingClaims(claims) })
          const seen = yield* wakeUp.subscribe
          const started = yield* Queue.unbounded<JobId>()
          yield* jobs.worker({ concurrency: 1, pollInterval: "1 hour", handlers: { doc_summarize: (ctx) => Queue.offer(started, ctx.job.job_id) } })
          // The pool looks once, finds nothing and parks on its doorbell.
          while (claims.n < 1) yield* realSleep(5)
          const inTransaction = yield* transaction.make(database, store)

          // Rolled back: no job, and no announcement of it.
          const rolledBack = uuidv7() as JobId
          const rollback = yield* Effect.exit(inTransaction(Effect.zipRight(jobs.submit(summarize({ job_id: rolledBack })), Effect.fail("the caller rolls back"))))
          assert.isTrue(Exit.isFailure(rollback))
          assert.strictEqual((yield* Effect.either(jobs.get(rolledBack)))._tag, "Left", "the rolled-back job is not there")

          // Held open after the submit: an announcement in process would have been made in the submit's own call.
          const submitted = yield* Deferred.make<JobId>()
          const commit = yield* Deferred.make<void>()
          const committing = yield* Effect.fork(inTransaction(Effect.gen(function*() {
            const job = yield* jobs.submit(summarize())
            yield* Deferred.succeed(submitted, job.job_id)
            yield* Deferred.await(commit)
          })))
          // Should an assertion fail while the transaction is held, it still ends, so the service can close.
          yield* Effect.addFinalizer(() => Deferred.succeed(commit, undefined))
          const jobId = yield* Deferred.await(submitted)
          const beforeCommit = yield* announcedIds(seen)
          assert.notInclude(beforeCommit, jobId, "not announced before its transaction committed")
          assert.notInclude(beforeCommit, rolledBack, "the rolled-back job was never announced")
          assert.strictEqual(claims.n, 1, "the pool has not looked again before the commit")

          yield* Deferred.succeed(commit, undefined)
          yield* Fiber.join(committing)
          // Only a wake-up can start it: the pool's poll is an hour away (the bound is a guard, not a measure).
          const first = yield* Queue.take(started).pipe(Effect.timeout("30 seconds"))
          assert.strictEqual(first, jobId, "the pool started the committed job")
          assert.notInclude(yield* announcedIds(seen), rolledBack, "the rolled-back job was never announced")
          assert.strictEqual((yield* jobs.await(jobId)).state, "completed")
        }).pipe(Effect.scoped), 60_000)
    })
  }
}
