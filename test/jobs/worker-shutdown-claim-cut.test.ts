/**
 * R8 graceful shutdown (regression probe, examples/worker-app.ts under
 * `Jobs.runWorkerMain`): another session holds a lock on `workflow_runs`, so
 * the pool's claims wait on it. A loop's claim is uninterruptible, so the
 * shutdown — drain time passed, or cut short by a repeated signal — waited
 * for the claims until the store's statement timeout (74 s after the second
 * SIGTERM). Now the drain's end cuts a claim still waiting: its statement is
 * cancelled on the server (rolled back whole: no job taken), each loop's claim
 * in its turn, and the loops end. The pool's scope closes while the lock is
 * still held (the order of events, not a time), and once the lock goes the
 * job is still queued, with no run: nothing claimed, nothing orphaned.
 *
 * On SQLite the claims wait for the write lock another connection holds, up
 * to `busyTimeoutMs` (60 s here): the store retries the claim's BEGIN
 * IMMEDIATE, and a loop's claim is uninterruptible. Now the drain's end cuts
 * that wait at its next try (nothing begun), each loop's claim in its turn,
 * and one WARN says the claims were cut (on PostgreSQL too: that WARN was
 * lost to the loop's interrupt before).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { currentDrainCut } from "../../src/internal/jobs/drainCut.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { capturingLog } from "../support/capturedLog.js"
import { holdTable } from "../support/tableHold.js"
import { summarize } from "./jobs.suite.js"
import { endsBeforeRelease, holdSqliteWriteLock } from "./lockOrder.js"
import { services } from "./services.js"
import { postgresShared, type SharedBackend, type SharedDatabase, sharedBackends } from "./shared-database.js"

/** Only so that the old code fails instead of hanging (it waits for the lock): the assertion is the order of events. */
const HANG_BOUND_MS = 20_000
/** SQLite's wait for its write lock, far past the drain time: the old code's wait for the claims there. */
const SQLITE_LOCK_WAIT_MS = 60_000

/** How the drain ends: its time passes, or a repeated signal cuts it short (`Jobs.runWorkerMain`'s cut). */
const endings = [
  { name: "the drain time passes", drainTimeout: "1 second", cutShort: false },
  { name: "a repeated signal cuts the drain short", drainTimeout: "1 hour", cutShort: true }
] as const

/**
 * What the claims wait on, held until `release`: on PostgreSQL a lock on `workflow_runs`, taken before
 * the pool starts (its first claims, the memo knowing no subject yet, wait on it) — `waited(start)`
 * resumes once a session waits on it; on SQLite the write lock, once a claim's BEGIN IMMEDIATE has met it.
 */
const holdClaims = (database: SharedDatabase, backend: SharedBackend) =>
  Effect.gen(function*() {
    if (backend === postgresShared) {
      const hold = yield* holdTable(database.url, "workflow_runs")
      return { release: hold.release, waited: <A, E, R>(start: Effect.Effect<A, E, R>) => Effect.zipRight(start, hold.blocked) }
    }
    const hold = yield* holdSqliteWriteLock(database.url)
    return { release: hold.release, waited: hold.met }
  })

for (const backend of sharedBackends) {
  describe(`a pool's claims waiting on a lock when the drain ends, on ${backend.name}`, () => {
    for (const ending of endings) {
      it.live(`R8 when ${ending.name}, the claims still waiting are cut: the pool's scope closes before the lock is let go, no job is claimed or orphaned, and a WARN says the claims were cut`, () => {
        const log = capturingLog(["WARN"])
        return Effect.gen(function*() {
          const database = yield* backend.fresh("shutdown claim cut")
          const store = yield* database.store({ busyTimeoutMs: SQLITE_LOCK_WAIT_MS })
          const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
          const job = yield* jobs.submit(summarize())
          const hold = yield* holdClaims(database, backend)
          const cut = yield* Deferred.make<void>()
          const pool = yield* Scope.make()
          // Four loops, as the example worker: one claim in flight at a time (PostgreSQL: one statement; SQLite:
          // one wait for the write lock), the others in line behind it.
          yield* hold.waited(
            Scope.extend(
              jobs.worker({ concurrency: 4, pollInterval: "1 hour", drainTimeout: ending.drainTimeout, handler: () => Effect.void }),
              pool
            ).pipe(Effect.locally(currentDrainCut, cut))
          )
          const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
          if (ending.cutShort) yield* Deferred.succeed(cut, undefined)
          yield* endsBeforeRelease(closing, hold.release, HANG_BOUND_MS)
          // Every loop has ended, so no claim of the pool is in flight: what the store holds now stays.
          const after = yield* store.getJob(job.job_id)
          assert.strictEqual(after.state, "queued", "no job was claimed")
          assert.strictEqual(after.workflow_run_id, null)
          assert.deepStrictEqual(yield* store.listRuns(job.job_id), [], "no run was created: nothing orphaned")
          const warnings = log.leveled.filter(([level]) => level === "WARN").map(([, line]) => line)
          assert.isTrue(
            warnings.some((line) => line.startsWith("worker pool: a claim failed once the drain had ended and cut the claims")),
            `a WARN says the claims were cut: ${warnings.join(" | ")}`
          )
        }).pipe(Effect.scoped, log.provide)
      }, 60_000)
    }
  })
}
