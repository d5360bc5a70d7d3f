/**
 * R6 "an interrupt is not a cancel", from the other side: a job's program
 * that ends interrupted while nothing interrupted its run — `Effect.interrupt`,
 * a join of a fiber it interrupted — has failed its attempt. It was handed
 * back to `queued` as if its pool were shutting down, so the same pool
 * claimed and ran it again at once, for ever (51 runs in ~0.3 s, each with a
 * run of its own and a "released: the worker shut down" record, the attempt
 * never counted; on SQLite the loop starved the event loop). A real
 * interrupt of the run (a pool's shutdown, the caller's) still releases it:
 * test/engine/workers.test.ts, test/jobs/worker-shutdown.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import { selfInterrupted } from "../../src/internal/jobs/runJob.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

for (const backend of sharedBackends) {
  describe(`a program that interrupts itself, on ${backend.name}`, () => {
    it.live("R6 a pool's program ending in its own interrupt fails its attempt once: one run, no release, the job failed with the reason", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("self interrupt pool"))
        const runs = yield* Ref.make(0)
        // Bounded, so a regression ends (and fails) instead of spinning: interrupted the first 50 times.
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: "1 second",
          handlers: {
            doc_summarize: () => Effect.flatMap(Ref.updateAndGet(runs, (n) => n + 1), (n) => n <= 50 ? Effect.interrupt : Effect.succeed({ n }))
          }
        })
        const job = yield* jobs.submit(summarize())
        const settled = yield* jobs.await(job.job_id, { timeout: "15 seconds" })
        assert.strictEqual(settled.state, "failed")
        assert.strictEqual(settled.error_message, selfInterrupted)
        assert.strictEqual(settled.attempt, 1)
        assert.strictEqual(yield* Ref.get(runs), 1, "ran once")
        const history = yield* jobs.history(job.job_id)
        assert.deepStrictEqual(history.runs.map((entry) => entry.run.status), ["failed"])
        assert.isFalse(history.events.some((event) => String(event.body["reason"] ?? "").startsWith("released")), "no release recorded")
      }).pipe(Effect.scoped), 30_000)

    it.live("R6 Jobs.run: a program ending in its own interrupt fails the job; the run's own interrupt (or a caller's timeout) still releases it", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("self interrupt run"))
        const selfInterrupting = yield* jobs.submit(summarize())
        yield* jobs.start(selfInterrupting.job_id)
        const exit = yield* Effect.exit(jobs.run(selfInterrupting.job_id, () =>
          // A join of a fiber it interrupted: the program ends interrupted, nobody interrupted the run.
          Effect.flatMap(Effect.fork(Effect.never), (fiber) => Effect.zipRight(Fiber.interrupt(fiber), Fiber.join(fiber)))))
        assert.isTrue(Exit.isFailure(exit))
        const failed = yield* jobs.get(selfInterrupting.job_id)
        assert.deepStrictEqual([failed.state, failed.error_message], ["failed", selfInterrupted])

        const interrupted = yield* jobs.submit(summarize())
        yield* jobs.start(interrupted.job_id)
        // Interrupted once its program runs (not before: the run must have been taken to be released).
        const started = yield* Deferred.make<void>()
        const runUntilInterrupted = () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
        const running = yield* Effect.fork(jobs.run(interrupted.job_id, runUntilInterrupted))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(running)
        const released = yield* jobs.get(interrupted.job_id)
        assert.strictEqual(released.state, "queued")
        assert.match(released.status_reason, /^released: /)

        // A caller's timeout interrupts the run from outside too: released, not failed. `Effect.timeout`
        // is a race the run loses; here the other side fails once the program runs, not after a fixed time.
        const timedOut = yield* jobs.submit(summarize())
        yield* jobs.start(timedOut.job_id)
        const due = yield* Deferred.make<void>()
        const late = yield* Effect.exit(Effect.raceFirst(
          jobs.run(timedOut.job_id, () => Effect.zipRight(Deferred.succeed(due, undefined), Effect.never)),
          Effect.zipRight(Deferred.await(due), Effect.fail("timed out"))
        ))
        assert.isTrue(Exit.isFailure(late))
        const afterTimeout = yield* jobs.get(timedOut.job_id)
        assert.deepStrictEqual([afterTimeout.state, afterTimeout.attempt], ["queued", timedOut.attempt])
        assert.match(afterTimeout.status_reason, /^released: /)
      }).pipe(Effect.scoped), 30_000)
  })
}
