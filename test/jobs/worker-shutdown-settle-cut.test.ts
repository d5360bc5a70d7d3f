/**
 * R8 graceful shutdown (fault probe f132): a pool's program returns during
 * the drain, and its run's end — the library's own write — waits on a lock
 * another session holds (a PostgreSQL table lock, SQLite's write lock). The
 * shutdown waited for it up to the store's statement timeout or busy timeout
 * (60 s here), far past the drain time, and its WARN blamed "a program that
 * does not respond to interruption" though the program had returned. Now the
 * drain time's end cuts that write (its statement cancelled on PostgreSQL,
 * its lock wait interrupted on SQLite): the shutdown returns while the lock
 * is still held, the job stays `running` under its run for recovery (nothing
 * of the end written, even once the lock goes), and the WARN names the
 * library's write and the job.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { capturingLog } from "../support/capturedLog.js"
import { holdTable } from "../support/tableHold.js"
import { summarize } from "./jobs.suite.js"
import { assertCutLeftRunning } from "./cutEnd.js"
import { endsBeforeRelease, holdSqliteWriteLock } from "./lockOrder.js"
import { services } from "./services.js"
import { postgresShared, realSleep, type SharedBackend, type SharedDatabase, sharedBackends } from "./shared-database.js"

/** Far past the drain time: the old code's wait for the run's end. */
const LOCK_WAIT_MS = 60_000
/** Only so that the old code fails instead of hanging: the assertion is the order of events. */
const HANG_BOUND_MS = 30_000

/**
 * Another session holding what the run's end writes, until `release`; `returned` lets the program return
 * and resumes once the run's end waits on the lock (PostgreSQL: a session waits on it on the server;
 * SQLite: the end's BEGIN IMMEDIATE is tried a second time, having met the lock).
 */
const holdLock = (database: SharedDatabase, backend: SharedBackend) =>
  Effect.gen(function*() {
    if (backend === postgresShared) {
      const hold = yield* holdTable(database.url, "ai_jobs")
      return { release: hold.release, returned: (letReturn: Effect.Effect<void>) => Effect.zipRight(letReturn, hold.blocked) }
    }
    const hold = yield* holdSqliteWriteLock(database.url)
    return { release: hold.release, returned: hold.met }
  })

for (const backend of sharedBackends) {
  describe(`a run's end waiting on a lock at the drain time's end on ${backend.name}`, () => {
    it.live("R8 the drain time's end cuts the run's end: shutdown returns before the lock is let go, the job stays running under its run, and the WARN names the library's write, not the program", () => {
      const log = capturingLog(["DEBUG", "WARN"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown settle cut")
        const store = yield* database.store({ busyTimeoutMs: LOCK_WAIT_MS })
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* jobs.submit(summarize())
        const started = yield* Deferred.make<AiJob>()
        const letReturn = yield* Deferred.make<void>()
        // Returns when told, not interrupted: its run's end is written during the drain.
        const handler = (ctx: RunContext) => Effect.zipRight(Deferred.succeed(started, ctx.job), Effect.as(Deferred.await(letReturn), { done: "returned" }))
        const pool = yield* Scope.make()
        yield* Scope.extend(jobs.worker({ concurrency: 1, pollInterval: "1 hour", drainTimeout: "2 seconds", handler }), pool)
        const running = yield* Deferred.await(started)
        assert.strictEqual(running.job_id, job.job_id)
        const lock = yield* holdLock(database, backend)
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        // The program returns once the shutdown has begun (the pool says so), and its end meets the lock.
        while (!log.lines.some((line) => line.startsWith("worker pool: shutting down"))) yield* realSleep(10)
        yield* lock.returned(Deferred.succeed(letReturn, undefined))
        yield* endsBeforeRelease(closing, lock.release, HANG_BOUND_MS)
        yield* assertCutLeftRunning(store, job.job_id, running.workflow_run_id!, log)
      }).pipe(Effect.scoped, log.provide, Logger.withMinimumLogLevel(LogLevel.Debug))
    }, 60_000)
  })
}
