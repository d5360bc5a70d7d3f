/**
 * The application on SQLite, while another process holds the file's write
 * lock (found by an outside probe): interrupting a `jobs.submit` that waits
 * for the lock, and closing an application whose startup recovery waits for
 * it, took the whole `busyTimeoutMs` (SIGTERM delayed as long). The store's
 * lock wait is now interruptible until its BEGIN succeeds
 * (test/store/sqlite-lock-wait-interrupt.test.ts for the store's paths).
 * The budget is 60 s; the interrupt or the close must return within 20 s with
 * the lock still held, and only then is the lock let go.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { openSqlite } from "../reliability/snapshot.js"
import { newJob } from "../store/fixtures.js"
import { tempDatabaseFile } from "../store/sqlite-support.js"
import { services } from "./services.js"

const BUSY_TIMEOUT_MS = 60_000
const BOUND = "20 seconds"

const request = {
  job_kind: "doc_summarize",
  protocol_id: "lock-wait.v1",
  profile_id: "alice",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** The store on a migrated file (its one write done), and another connection holding the file's write lock until the scope ends. */
const lockedStore = Effect.gen(function*() {
  const filename = yield* tempDatabaseFile()
  const store = yield* Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: BUSY_TIMEOUT_MS }))
  const holder = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(filename, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
  const count = () => Number(holder.prepare("SELECT count(*) AS n FROM ai_jobs").all()[0]?.n)
  return { store, holder, count }
})

describe("Jobs on SQLite: waits for another process's write lock end at an interrupt", () => {
  it.scopedLive("a jobs.submit waiting for the write lock, interrupted, ends at once with nothing written", () =>
    Effect.gen(function*() {
      const { count, holder, store } = yield* lockedStore
      const jobs = Context.get(yield* Layer.build(services(Layer.succeedContext(store))), Jobs)
      yield* jobs.submit(request)
      holder.exec("BEGIN IMMEDIATE")
      const submit = yield* Effect.fork(jobs.submit(request))
      yield* sleepRealTime(300)
      assert.isTrue(Option.isNone(yield* Fiber.poll(submit)), "the submit waits for the lock")
      const exit = yield* Effect.timeoutOption(Fiber.interrupt(submit), BOUND)
      assert.isTrue(Option.isSome(exit) && Exit.isInterrupted(exit.value), `the interrupt returned within ${BOUND}, with the lock held`)
      holder.exec("ROLLBACK")
      assert.strictEqual(count(), 1, "only the first submit's job")
      yield* jobs.submit(request)
      assert.strictEqual(count(), 2)
    }), 45_000)

  it.scopedLive("a jobs.claimNext waiting for the write lock, interrupted, ends at once with nothing claimed (its release on interrupt waits for no lock)", () =>
    Effect.gen(function*() {
      const { holder, store } = yield* lockedStore
      const jobs = Context.get(yield* Layer.build(services(Layer.succeedContext(store))), Jobs)
      const job = yield* jobs.submit(request)
      holder.exec("BEGIN IMMEDIATE")
      const claim = yield* Effect.fork(jobs.claimNext())
      yield* sleepRealTime(300)
      assert.isTrue(Option.isNone(yield* Fiber.poll(claim)), "the claim waits for the lock")
      const exit = yield* Effect.timeoutOption(Fiber.interrupt(claim), BOUND)
      assert.isTrue(Option.isSome(exit) && Exit.isInterrupted(exit.value), `the interrupt returned within ${BOUND}, with the lock held`)
      holder.exec("ROLLBACK")
      assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued", "nothing was claimed")
      assert.strictEqual((yield* jobs.claimNext())?.job.job_id, job.job_id)
    }), 45_000)

  it.scopedLive("closing an application whose startup recovery waits for the write lock returns at once", () =>
    Effect.gen(function*() {
      const { holder, store } = yield* lockedStore
      holder.exec("BEGIN IMMEDIATE")
      const app = yield* Scope.make()
      yield* Layer.buildWithScope(services(Layer.succeedContext(store), Recovery.layerStartup()), app)
      // Startup recovery's scan is a write transaction: it now waits for the lock.
      yield* sleepRealTime(300)
      const closed = yield* Effect.timeoutOption(Scope.close(app, Exit.void), BOUND)
      assert.isTrue(Option.isSome(closed), `the application closed within ${BOUND}, with the lock held`)
      holder.exec("ROLLBACK")
      // The store is as it was: a write goes through.
      yield* Context.get(store, JobStore).createJob(newJob())
    }), 45_000)
})
