/**
 * A submit whose write never reached the database (found by an outside
 * observability probe): with PostgreSQL stopped ("Failed to acquire
 * connection", ECONNREFUSED) the submit failed as it should, but first
 * looked up whether its write had committed — a look that failed too — and
 * warned, naming the job, that "if it committed, the job is queued and will
 * run": nothing was sent, nothing could commit, and no such job existed
 * afterwards. A claim already skipped that look when nothing of it ran
 * (claimAnswerLost.ts); a submit (`createJob`, `createJobs`) now does the
 * same, through the same test (nothingRan.ts): no look, no warning, the
 * `StorageError` as the write failed. Also for a store that was closed
 * (its layer's scope), on both stores; and for the eager write a submit
 * makes for a parked pool (eagerAnswerLost.ts), refused a connection as the
 * PostgreSQL store is (forced by a wrapped store, both stores). A write whose
 * answer was lost after it ran is still looked up (submit-answer-lost.test.ts,
 * eager-answer-lost.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { SqlError } from "@effect/sql/SqlError"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { countingEager, jobsOver, parkedPool, takeWithin } from "../engine/eagerPools.js"
import { capturingLog } from "../support/capturedLog.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { postgresShared, sharedBackends } from "./shared-database.js"

/** `store` with its look-ups by event id (how a submit asks whether its write committed) counted. */
const countingLooks = (store: JobStore["Type"]) => {
  const state = { looks: 0 }
  const counted: JobStore["Type"] = {
    ...store,
    listEvents: (filter) => Effect.suspend(() => {
      if (filter?.event_id !== undefined) state.looks++
      return store.listEvents(filter)
    })
  }
  return { state, store: counted }
}

describe("a submit refused a connection, on PostgreSQL", () => {
  it.live("submit nothing ran PostgreSQL: a submit and a submitMany whose connection is refused fail with StorageError, without looking up whether they committed and without a warning that the job may be queued; no such job exists", () => {
    const log = capturingLog(["INFO", "WARN", "ERROR"])
    return Effect.gen(function*() {
      const database = yield* postgresShared.fresh("submit nothing ran")
      // The store reaches its database through a proxy that, closed, refuses every connection: a server stopped.
      const proxy = yield* Effect.promise(() => startCuttingProxy(database.url, "never sent by the store"))
      let closed = false
      yield* Effect.addFinalizer(() => closed ? Effect.void : Effect.promise(proxy.close))
      const real = Context.get(yield* Layer.build(PgStore.layer({ url: proxy.url })), JobStore)
      const { state, store } = countingLooks(real)
      const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
      yield* jobs.submit(summarize())
      yield* Effect.promise(proxy.close)
      closed = true
      // The pool's idle connections died with the proxy: each is dropped by the read that finds it dead
      // (a read is never looked up); then no connection can be had at all.
      let refused = false
      for (let read = 0; read < 20 && !refused; read++) {
        const failure = yield* Effect.flip(real.listJobs({}))
        refused = failure.message.includes("ECONNREFUSED")
      }
      assert.isTrue(refused, "no connection can be had")
      const one = yield* Effect.flip(jobs.submit(summarize()))
      assert.strictEqual(one._tag, "StorageError")
      assert.include(one.message, "ECONNREFUSED")
      const many = yield* Effect.flip(jobs.submitMany([summarize(), summarize()]))
      assert.strictEqual(many._tag, "StorageError")
      assert.strictEqual(state.looks, 0, "not looked up: nothing of either write was sent")
      const warnings = log.leveled.filter(([level]) => level === "WARN").map(([, line]) => line)
      assert.deepStrictEqual(warnings.filter((line) => line.includes("submit")), [], "no warning of a job that may be queued")
      const other = yield* database.store()
      assert.strictEqual((yield* other.listJobs({})).items.length, 1, "only the job submitted before the outage exists")
    }).pipe(Effect.scoped, log.provide)
  }, 60_000)
})

for (const backend of sharedBackends) {
  describe(`a submit on a closed store, on ${backend.name}`, () => {
    it.live("submit nothing ran closed store: a submit and a submitMany on a store whose layer was closed fail with StorageError, without a look or a warning that the job may be queued", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("submit closed store")
        const storeScope = yield* Scope.make()
        const { state, store } = countingLooks(yield* Scope.extend(database.store(), storeScope))
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        yield* jobs.submit(summarize())
        yield* Scope.close(storeScope, Exit.void)
        const one = yield* Effect.flip(jobs.submit(summarize()))
        assert.strictEqual(one._tag, "StorageError")
        const many = yield* Effect.flip(jobs.submitMany([summarize(), summarize()]))
        assert.strictEqual(many._tag, "StorageError")
        assert.strictEqual(state.looks, 0, "not looked up: the store was closed")
        const warnings = log.leveled.filter(([level]) => level === "WARN").map(([, line]) => line)
        assert.deepStrictEqual(warnings.filter((line) => line.includes("submit")), [], "no warning of a job that may be queued")
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)
  })
}

/** A connection the PostgreSQL store could not get: its error as the store wraps it ("Failed to acquire connection"). */
const refusedConnection = (operation: string) =>
  new StorageError({ operation, cause: new SqlError({ message: "Failed to acquire connection", cause: new Error("connect ECONNREFUSED 127.0.0.1:5432") }) })

for (const backend of sharedBackends) {
  describe(`an eager write refused a connection, on ${backend.name}`, () => {
    it.live("submit nothing ran eager write: a submit whose eager write (for a parked pool) gets no connection fails with StorageError, without a look or a warning that the job may be running; the loop is given back", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("eager nothing ran")
        const real = yield* database.store()
        // While `down`, the eager write and the look by event id get no connection, as with the server stopped.
        let down = false
        const { state, store: counted } = countingLooks(real)
        const refusing: JobStore["Type"] = {
          ...counted,
          listEvents: (filter) => down ? Effect.fail(refusedConnection("JobStore.listEvents")) : counted.listEvents(filter),
          createClaimed: (job, options) => down ? Effect.fail(refusedConnection("JobStore.createClaimed")) : real.createClaimed!(job, options)
        }
        const { store, untilLooks } = countingEager(refusing)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        down = true
        const refused = yield* Effect.flip(jobs.submit(summarize()))
        down = false
        assert.strictEqual(refused._tag, "StorageError")
        assert.include(refused.message, "ECONNREFUSED")
        const warnings = log.leveled.filter(([level]) => level === "WARN").map(([, line]) => line)
        assert.deepStrictEqual(warnings.filter((line) => line.includes("submit")), [], "no warning of a job that may be running")
        assert.strictEqual(state.looks, 0, "not looked up: nothing of the write was sent")
        assert.deepStrictEqual((yield* jobs.list()).items, [], "no job was written")
        const next = yield* jobs.submit(summarize())
        assert.strictEqual(yield* takeWithin(starts, "the next job's start"), next.job_id, "the loop was given back")
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)
  })
}
