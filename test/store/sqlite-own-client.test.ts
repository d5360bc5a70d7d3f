/**
 * Issue 16 (SQLite lifecycle, the store's JavaScript per statement and per
 * transaction): `SqliteStore.layer` runs on a client of its own
 * (sqlite/ownClient.ts) — statements prepared once in a plain Map and run in
 * one synchronous stretch, the write transaction holding the connection's
 * semaphore without a Scope. A caller's client (`layerFromClient`) keeps
 * @effect/sql-sqlite-node's path. Both must keep every guarantee: nothing
 * interleaves on the connection inside a write transaction, a step that
 * fails mid-way leaves nothing behind, a caller's transaction still nests,
 * and the same answers come back.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as DateTime from "effect/DateTime"
import { makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { DEFAULT_MAX_EVENT_BYTES } from "../../src/internal/flight/Privacy.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as OwnClient from "../../src/store/sqlite/ownClient.js"
import { countOperations } from "../support/effectOperations.js"
import { eventRecord, failureOf, ids, jobEvent, newJob, tagOf } from "./fixtures.js"
import { storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

class Boom extends Error {}

/** The two ways a SQLite store gets its client. */
const paths = [
  ["the store's own client (SqliteStore.layer)", (filename: string) => SqliteStore.layer({ filename })],
  ["a caller's client (layerFromClient)", (filename: string) => storeWithClient(filename)]
] as const

/** A fresh store on its own file, built the given way. */
const storeOn = (make: (filename: string) => Layer.Layer<JobStore, unknown>) =>
  Effect.flatMap(tempDatabaseFile(), (filename) => Effect.map(Layer.build(make(filename)), (context) => Context.get(context, JobStore)))

/** Operations `effect` takes beyond a bare `Effect.void` (as test/jobs/effect-operations.test.ts counts). */
const operations = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.zipWith(countOperations(Effect.exit(effect)), countOperations(Effect.exit(Effect.void)), ([, ops], [, bare]) => ops - bare)

describe("issue 16 SQLite store on its own client", () => {
  for (const [name, make] of paths) {
    describe(name, () => {
      it.scoped("R10 a write outside a transaction waits for an open one on the same store: a rollback never takes it along", () =>
        Effect.gen(function*() {
          const store = yield* storeOn(make)
          const insideId = ids.job()
          const outside = newJob({ job_id: ids.job() })
          const open = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const holder = yield* Effect.fork(store.transaction(Effect.gen(function*() {
            yield* store.createJob(newJob({ job_id: insideId }))
            yield* Deferred.succeed(open, undefined)
            yield* Deferred.await(release)
            return yield* Effect.fail(new Boom())
          })))
          yield* Deferred.await(open)
          // The transaction is open and waiting: this write must not run on its connection now.
          const writer = yield* Effect.fork(store.createJob(outside))
          for (let i = 0; i < 20 && Option.isNone(yield* Fiber.poll(writer)); i++) yield* Effect.yieldNow()
          assert.isTrue(Option.isNone(yield* Fiber.poll(writer)), "the outside write waited for the transaction")
          yield* Deferred.succeed(release, undefined)
          assert.isTrue(Exit.isFailure(yield* Fiber.await(holder)))
          yield* Fiber.join(writer)
          // The transaction rolled back alone; the outside write, answered as done, is there.
          assert.strictEqual((yield* store.getJob(outside.job_id!)).job_id, outside.job_id)
          assert.strictEqual(tagOf(yield* failureOf(store.getJob(insideId))), "NotFound")
        }))

      it.scoped("R10 a step whose last statement fails (its event id taken) leaves nothing: no job, no run change, no event", () =>
        Effect.gen(function*() {
          const store = yield* storeOn(make)
          const taken = eventRecord()
          yield* store.appendEvents([taken])
          const jobId = ids.job()
          const created = yield* failureOf(
            store.createJob(newJob({ job_id: jobId }), { events: (job) => [jobEvent(job, { event_id: taken.event_id })] })
          )
          assert.strictEqual(tagOf(created), "AlreadyExists")
          assert.strictEqual(tagOf(yield* failureOf(store.getJob(jobId))), "NotFound")

          const job = yield* store.createJob(newJob())
          const claim = yield* store.claimNext()
          assert.isNotNull(claim)
          const finished = yield* failureOf(store.finishRunningJob!({
            job_id: job.job_id,
            to: "completed",
            event: jobEvent(job, { event_id: taken.event_id })
          }))
          assert.strictEqual(tagOf(finished), "StorageError")
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
          assert.strictEqual((yield* store.getRun(claim!.run.id)).status, "running")
          assert.deepStrictEqual((yield* store.listEvents()).items.map((e) => e.event_id), [taken.event_id])
        }))

      it.scoped("R10 a caller's transaction around store methods nests: the inner one's failure undoes it alone, the outer's undoes all", () =>
        Effect.gen(function*() {
          const store = yield* storeOn(make)
          const [keptId, undoneId, outerUndoneId] = [ids.job(), ids.job(), ids.job()]
          const [kept, undone, outerUndone] = [newJob({ job_id: keptId }), newJob({ job_id: undoneId }), newJob({ job_id: outerUndoneId })]
          const withEvent = { events: (job: { readonly job_id: string; readonly trace_id: string }) => [jobEvent(job as never)] }
          yield* store.transaction(Effect.gen(function*() {
            yield* store.createJob(kept, withEvent)
            const inner = yield* Effect.either(store.transaction(Effect.zipRight(store.createJob(undone, withEvent), Effect.fail(new Boom()))))
            assert.strictEqual(inner._tag, "Left")
          }))
          yield* Effect.either(store.transaction(Effect.zipRight(store.createJob(outerUndone, withEvent), Effect.fail(new Boom()))))
          assert.strictEqual((yield* store.getJob(keptId)).job_id, keptId)
          assert.strictEqual(tagOf(yield* failureOf(store.getJob(undoneId))), "NotFound")
          assert.strictEqual(tagOf(yield* failureOf(store.getJob(outerUndoneId))), "NotFound")
          assert.deepStrictEqual((yield* store.listEvents()).items.map((e) => e.job_id), [keptId])
        }))
    })
  }

  it.scoped("issue 16 on its own client a write transaction costs at most 62 Effect operations and a read at most 50 (a caller's client: 143 and 95; 157 and 95 before)", () =>
    Effect.gen(function*() {
      const [own, callers] = [yield* storeOn(paths[0][1]), yield* storeOn(paths[1][1])]
      const counts = yield* Effect.forEach([own, callers], (store) =>
        Effect.gen(function*() {
          const job = yield* store.createJob(newJob())
          // Once first: the store's first write takes the busy timeout over.
          yield* store.transaction(Effect.void)
          return { transaction: yield* operations(store.transaction(Effect.void)), read: yield* operations(store.getJob(job.job_id)) }
        }))
      assert.isAtMost(counts[0]!.transaction, 62)
      assert.isAtMost(counts[0]!.read, 50)
      // The caller's path is @effect/sql-sqlite-node's: dearer, and still working.
      assert.isAbove(counts[1]!.transaction, counts[0]!.transaction)
      assert.isAbove(counts[1]!.read, counts[0]!.read)
    }))

  it.scoped("issue 16 on its own client a submit's write (createJob with its library record, at the submit's instant) costs at most 10 Effect operations [14 before]", () =>
    Effect.gen(function*() {
      const store = yield* storeOn(paths[0][1])
      // Once first: the store's first write takes the busy timeout over.
      yield* store.createJob(newJob())
      const build = makeBuild({ redactor: Redactor.make(), maxEventBytes: DEFAULT_MAX_EVENT_BYTES })
      const job = newJob({ job_id: ids.job(), trace_id: ids.trace() })
      const at = DateTime.unsafeMake(Date.now())
      const record = yield* build({ kind: "lifecycle", actor: "system", job_id: job.job_id!, trace_id: job.trace_id!, from_state: null, to_state: "queued", attempt: 1, timestamp: at })
      const ops = yield* operations(store.createJob(job, { events: auditWith([record]), at }))
      assert.isAtMost(ops, 10)
      // Written, with its record.
      assert.deepStrictEqual((yield* store.listEvents({ job_id: job.job_id! })).items.map((e) => e.event_id), [record.event_id])
    }))

  it.scoped("issue 16 the own client answers as @effect/sql-sqlite-node's: rows, SafeIntegers as bigints, values, raw results, and more texts than it keeps prepared", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const sql = yield* Effect.provide(OwnClient.make({ filename }), Reactivity.layer)
      yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`
      const inserted = yield* sql`INSERT INTO t (n) VALUES (${2 ** 53 + 2})`.raw
      assert.strictEqual((inserted as { readonly changes: number }).changes, 1)
      assert.deepStrictEqual(yield* sql`SELECT n FROM t`, [{ n: 2 ** 53 + 2 }])
      const big = yield* Effect.provideService(sql`SELECT n FROM t`, SqlClient.SafeIntegers, true)
      assert.strictEqual(big[0]!.n, BigInt(2 ** 53) + 2n)
      // The same statement, back without SafeIntegers: numbers again.
      assert.strictEqual(typeof (yield* sql`SELECT n FROM t`)[0]!.n, "number")
      assert.deepStrictEqual(yield* sql`SELECT id, n FROM t`.values, [[1, 2 ** 53 + 2]])
      // 300 distinct texts: more than the client keeps prepared, each answered right.
      for (let i = 0; i < 300; i++) assert.deepStrictEqual(yield* sql.unsafe(`SELECT ${i} AS i`), [{ i }])
      assert.deepStrictEqual(yield* sql.unsafe("SELECT 7 AS i"), [{ i: 7 }])
      const failed = yield* Effect.flip(sql`SELECT * FROM missing_table`)
      assert.strictEqual(failed._tag, "SqlError")
      // A transaction of @effect/sql's own on this client rolls back as ever.
      yield* Effect.either(sql.withTransaction(Effect.zipRight(sql`INSERT INTO t (n) VALUES (1)`, Effect.fail(new Boom()))))
      assert.deepStrictEqual(yield* sql`SELECT count(*) AS c FROM t`, [{ c: 1 }])
    }))
})
