/**
 * Issue 15.6 on SQLite (a file) and PostgreSQL: `Jobs.await` returns the job
 * once it completes (woken by the announcement, also from another store),
 * waits for a state the caller names, and times out with `AwaitTimeout` on
 * Effect's clock; `Jobs.history` gives the job, its runs with their nodes and
 * its events without touching `JobStore`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

for (const backend of sharedBackends) {
  describe(`issue 15.6 await and history on ${backend.name}`, () => {
    it.effect("issue 15.6 await resolves when the job completes — run by another store's worker — with its outputs", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("await complete")
        const { jobs } = yield* engineOn(database)
        const worker = yield* engineOn(database)
        const job = yield* jobs.submit(summarize())
        const waiting = yield* Effect.fork(jobs.await(job.job_id, { timeout: "1 hour" }))
        // Another store claims and runs it: in this process, its change is announced on PostgreSQL only.
        const claim = yield* worker.jobs.claimNext()
        yield* worker.jobs.run(claim!.job.job_id, () => Effect.succeed({ summary: "done" }))
        if (backend.name !== "PostgreSQL") yield* TestClock.adjust("1 second") // SQLite: the next poll
        const done = yield* Fiber.join(waiting)
        assert.deepInclude(done, { state: "completed", job_outputs: { summary: "done" } })
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.6 await waits for a state the caller names, and fails with AwaitTimeout after its timeout on the TestClock, naming the state seen", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("await timeout"))
        const job = yield* jobs.submit(summarize())
        const running = yield* Effect.fork(jobs.await(job.job_id, { until: ["running"] }))
        const timingOut = yield* Effect.fork(Effect.flip(jobs.await(job.job_id, { timeout: "5 seconds" })))
        yield* jobs.claimNext()
        assert.strictEqual((yield* Fiber.join(running)).state, "running")
        yield* TestClock.adjust("4999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(timingOut)))
        yield* TestClock.adjust("1 millis")
        const error = yield* Fiber.join(timingOut)
        assert.deepInclude(error, { _tag: "AwaitTimeout", job_id: job.job_id, state: "running" })
        const missing = yield* Effect.flip(jobs.await("01a00000-0000-7000-8000-000000000000" as never))
        assert.strictEqual(missing._tag, "NotFound")
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.6 history: the job, its runs oldest first with their nodes in order, and its events", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("history"), {
          retry: { default: { maxAttempts: 2, backoff: { initial: 0, jitter: 0 } } }
        })
        const job = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* Effect.either(jobs.run(job.job_id, (ctx) => Effect.zipRight(ctx.node({ node_id: "a", node_type: "step" }, Effect.void), Effect.fail("flaky"))))
        yield* jobs.claimNext()
        yield* jobs.run(job.job_id, (ctx) =>
          Effect.zipRight(ctx.node({ node_id: "a", node_type: "step" }, Effect.void), ctx.node({ node_id: "b", node_type: "step", input: { x: 1 } }, Effect.succeed({ y: 2 }))))
        const history = yield* jobs.history(job.job_id)
        assert.deepInclude(history.job, { state: "completed", attempt: 2 })
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["failed", "completed"])
        assert.deepStrictEqual(history.runs.map(({ nodes }) => nodes.map((node) => [node.node_id, node.status])), [
          [["a", "completed"]],
          [["a", "completed"], ["b", "completed"]]
        ])
        const moves = history.events.filter((event) => event.type === "system").map((event) => `${event.body["from_state"]}→${event.body["to_state"]}`)
        assert.deepStrictEqual(moves, ["null→queued", "queued→running", "running→failed", "failed→queued", "queued→running", "running→completed"])
        assert.isTrue(history.events.some((event) => event.type === "capability_action"))
      }).pipe(Effect.scoped), 60_000)
  })
}
