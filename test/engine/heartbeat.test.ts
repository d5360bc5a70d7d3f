/**
 * Issue 16 (the engine's per-job path): a pool runs the job it has just
 * claimed, and the claim wrote the run's heartbeat — so the run's first beat
 * comes one heartbeat interval after the claim, not at once (a second write
 * of the same instant, one more statement and commit per job), and then every
 * interval: the margin before recovery is the same as between any two beats.
 * (`Jobs.run` of a run claimed or started at any earlier time still beats at
 * once: test/jobs/run-lost.test.ts waits for that beat.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import type { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { Jobs, type RunOptions } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { countingHeartbeats, realSleep, type SharedBackend, sharedBackends } from "../jobs/shared-database.js"

/**
 * A pool's run, its handler waiting: no beat at once, the first one interval (10 s) after the
 * claim, then every interval. `run` is the pool's run options: the interval given, or none.
 */
const beatsEveryTenSeconds = (backend: SharedBackend, run: RunOptions) =>
  Effect.gen(function*() {
    const database = yield* backend.fresh("first beat")
    const beating = countingHeartbeats(yield* database.store())
    const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, beating.store))), Jobs)
    const store = beating.store
    const job = yield* jobs.submit(summarize())
    const started = yield* Deferred.make<WorkflowRun>()
    const finish = yield* Deferred.make<void>()
    yield* jobs.worker({
      concurrency: 1,
      pollInterval: "1 hour",
      run,
      handler: (ctx) => Effect.zipRight(Deferred.succeed(started, ctx.run), Deferred.await(finish))
    })
    const claimed = yield* Deferred.await(started)
    // Real time for a beat at once to land, if one were written.
    yield* TestServices.provideLive(realSleep(300))
    assert.strictEqual(beating.beats(), 0, "no beat at once: the claim's heartbeat stands")
    const beatAt = (run: WorkflowRun) => DateTime.toEpochMillis(run.last_heartbeat) - DateTime.toEpochMillis(claimed.last_heartbeat)

    yield* TestClock.adjust("10 seconds")
    yield* beating.atLeast(1)
    assert.strictEqual(beatAt(yield* store.getRun(claimed.id)), 10_000, "the first beat, one interval after the claim")
    yield* TestClock.adjust("10 seconds")
    yield* beating.atLeast(2)
    assert.strictEqual(beatAt(yield* store.getRun(claimed.id)), 20_000)
    yield* TestServices.provideLive(realSleep(100))
    assert.strictEqual(beating.beats(), 2, "one beat per interval")

    yield* Deferred.succeed(finish, undefined)
    // Read in real time: with polling only, awaiting would sleep on the TestClock too.
    let state = ""
    while (state !== "completed") {
      state = (yield* jobs.get(job.job_id)).state
      yield* TestServices.provideLive(realSleep(20))
    }
    assert.strictEqual((yield* store.getRun(claimed.id)).status, "completed")
  }).pipe(Effect.scoped)

for (const backend of sharedBackends) {
  describe(`a pool's heartbeats on ${backend.name}`, () => {
    it.effect("R9 a pool's run first beats one interval after its claim wrote the heartbeat, then every interval", () =>
      beatsEveryTenSeconds(backend, { heartbeatInterval: "10 seconds" }), 60_000)

    // Found by an outside mutation audit: the default interval could change unseen (every test gave one).
    it.effect("R9 without heartbeatInterval a pool's run beats every 10 seconds (README's default)", () =>
      beatsEveryTenSeconds(backend, {}), 60_000)
  })
}
