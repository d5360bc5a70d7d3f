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
import { holdTable } from "../support/tableHold.js"
import { summarize } from "./jobs.suite.js"
import { endsBeforeRelease } from "./lockOrder.js"
import { services } from "./services.js"
import { postgresShared } from "./shared-database.js"

/** Only so that the old code fails instead of hanging (it waits for the lock): the assertion is the order of events. */
const HANG_BOUND_MS = 20_000

/** How the drain ends: its time passes, or a repeated signal cuts it short (`Jobs.runWorkerMain`'s cut). */
const endings = [
  { name: "the drain time passes", drainTimeout: "1 second", cutShort: false },
  { name: "a repeated signal cuts the drain short", drainTimeout: "1 hour", cutShort: true }
] as const

describe("a pool's claims waiting on a lock when the drain ends, on PostgreSQL", () => {
  for (const ending of endings) {
    it.live(`R8 when ${ending.name}, the claims still waiting are cut: the pool's scope closes before the lock is let go, and no job is claimed or orphaned`, () =>
      Effect.gen(function*() {
        const database = yield* postgresShared.fresh("shutdown claim cut")
        const store = yield* database.store()
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* jobs.submit(summarize())
        // Held before the pool starts: its first claims (the memo knows no subject yet) wait on it.
        const hold = yield* holdTable(database.url, "workflow_runs")
        const cut = yield* Deferred.make<void>()
        const pool = yield* Scope.make()
        // Four loops, as the example worker: one claim statement in flight at a time, the others in line behind it.
        yield* Scope.extend(
          jobs.worker({ concurrency: 4, pollInterval: "1 hour", drainTimeout: ending.drainTimeout, handler: () => Effect.void }),
          pool
        ).pipe(Effect.locally(currentDrainCut, cut))
        yield* hold.blocked
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        if (ending.cutShort) yield* Deferred.succeed(cut, undefined)
        yield* endsBeforeRelease(closing, hold.release, HANG_BOUND_MS)
        // Every loop has ended, so no claim of the pool is in flight: what the store holds now stays.
        const after = yield* store.getJob(job.job_id)
        assert.strictEqual(after.state, "queued", "no job was claimed")
        assert.strictEqual(after.workflow_run_id, null)
        assert.deepStrictEqual(yield* store.listRuns(job.job_id), [], "no run was created: nothing orphaned")
      }).pipe(Effect.scoped), 60_000)
  }
})
