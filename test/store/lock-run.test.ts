/**
 * `JobStore.lockRun` (the lock order in JobStore.ts): a transaction that reads
 * a run's rows before it writes them — the poison lists the run's nodes, then
 * ends them — holds the run from its read to its commit, and changes nothing
 * by holding it. On both stores, each with two connections to one database
 * (as two processes): a node start by the other one waits for the holder's
 * commit and then finds the run ended. PostgreSQL's wait is seen on the
 * server (`pg_stat_activity`), so the interleaving is forced, not hoped for.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { JobStore } from "../../src/store/JobStore.js"
import { sharedBackends, untilLockWaiter } from "../jobs/shared-database.js"
import { openSqlite } from "../reliability/snapshot.js"
import { storeWithClient, tempDatabaseFile } from "./sqlite-support.js"
import { claimedOn, encode, expectTag, failureOf, ids } from "./fixtures.js"

for (const backend of sharedBackends) {
  describe(`JobStore.lockRun on ${backend.name}`, () => {
    it.scoped("R8 lockRun reads the run and changes nothing: no heartbeat, no updated_at, in or out of a transaction", () =>
      Effect.gen(function*() {
        const store = yield* (yield* backend.fresh("lockRun reads")).store()
        const { run } = yield* claimedOn(store)
        yield* TestClock.adjust(Duration.seconds(5))
        assert.deepStrictEqual(encode.run(yield* store.transaction(store.lockRun(run.id))), encode.run(run))
        assert.deepStrictEqual(encode.run(yield* store.lockRun(run.id)), encode.run(run))
        assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run), "the stored run is unchanged")
        // An ended run is still read (the caller decides what its status means).
        yield* store.finishRun(run.id, "failed", { error_message: "ended" })
        assert.strictEqual((yield* store.transaction(store.lockRun(run.id))).status, "failed")
      }))

    it.scoped("R8 lockRun of an unknown run is NotFound, a malformed id a DecodeFailure, and nothing is written", () =>
      Effect.gen(function*() {
        const store = yield* (yield* backend.fresh("lockRun refuses")).store()
        const { job, run } = yield* claimedOn(store)
        expectTag(yield* failureOf(store.transaction(store.lockRun(ids.run()))), "NotFound")
        expectTag(yield* failureOf(store.lockRun(ids.run())), "NotFound")
        expectTag(yield* failureOf(store.lockRun("not-a-run" as typeof run.id)), "DecodeFailure")
        assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run))
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
      }))

    it.scoped(
      "HSK-WF-001 a run locked in a transaction holds a node start from another connection until it commits; the start then finds the run ended and writes nothing",
      () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh("lockRun holds")
          const [holder, starter] = [yield* database.store(), yield* database.store()]
          const { job, run } = yield* claimedOn(holder)
          const locked = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          // A failed assertion below must not leave the lock held while the scope closes.
          yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
          const holding = yield* Effect.fork(holder.transaction(Effect.gen(function*() {
            yield* holder.lockJob(job.job_id)
            const read = yield* holder.lockRun(run.id)
            const nodes = yield* holder.listNodes(run.id)
            yield* Deferred.succeed(locked, undefined)
            yield* Deferred.await(release)
            // What was read is still what is there: no node was started in between.
            assert.deepStrictEqual(yield* holder.listNodes(run.id), nodes)
            yield* holder.transition({ job_id: job.job_id, from: "running", to: "poisoned" })
            return yield* holder.finishRun(read.id, "poisoned")
          })))
          yield* Deferred.await(locked)
          const start = yield* Effect.fork(Effect.exit(starter.startNode({ workflow_run_id: run.id, node_id: "late", node_type: "io" })))
          yield* untilLockWaiter(database, backend)
          assert.isNull(start.unsafePoll(), "the node start waits while the run is held")
          yield* Deferred.succeed(release, undefined)
          assert.strictEqual((yield* Fiber.join(holding)).status, "poisoned")
          const started = yield* Fiber.join(start)
          assert.isTrue(started._tag === "Failure", "the start after the commit is refused")
          expectTag(yield* failureOf(started), "RunNotActive")
          assert.deepStrictEqual(yield* starter.listNodes(run.id), [], "no node in the ended run")
        }),
      60_000
    )
  })
}

describe("JobStore.lockRun on SQLite, in a transaction the store did not begin", () => {
  it.scoped("R8 lockRun inside a deferred BEGIN (the client's own withTransaction) still takes the database's write lock", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const context = yield* Layer.build(storeWithClient(filename))
      const [store, sql] = [Context.get(context, JobStore), Context.get(context, SqlClient.SqlClient)]
      const { run } = yield* claimedOn(store)
      // Another connection, as another process: does it get the write lock while the run is held?
      const other = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(filename, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
      const otherWriterBlocked = () => {
        try {
          other.exec("BEGIN IMMEDIATE")
          other.exec("ROLLBACK")
          return false
        } catch (error) {
          return String((error as { readonly code?: unknown }).code).startsWith("SQLITE_BUSY")
        }
      }
      const blocked = yield* sql.withTransaction(Effect.gen(function*() {
        yield* store.lockRun(run.id)
        return otherWriterBlocked()
      }))
      assert.isTrue(blocked, "a writer on another connection waits while the run is held")
      assert.isFalse(otherWriterBlocked(), "the lock ends with the transaction")
      assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run), "the run is unchanged")
    }))
})
