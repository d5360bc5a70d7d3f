/**
 * R8/R9 a run's end whose commit landed but whose answer was lost (the
 * connection dropped after COMMIT, a proxy timed out the reply): the settle
 * is written again (runJob.ts, settleDurably), and the next try finds the
 * run ended — by this very settle. It returned `RunLost` with the status it
 * had written itself: `Jobs.run` failed although the job ended exactly as its
 * program asked, and a pool logged that the run "was taken away". The end
 * event the settle wrote names it: once found, the settle counts as done.
 * A run another actor ended (an operator's complete, with the same status)
 * still gives `RunLost`.
 *
 * The lost answer is forced by wrapping the real store: the write runs to
 * its commit, then its caller is told `StorageError`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Jobs } from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "../jobs/jobs.suite.js"
import { capturingLog } from "../support/capturedLog.js"
import { droppingNodeEnds, makeOutage } from "../support/outage.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { audit } from "../reliability/invariants.js"
import { engineOn } from "./engine.js"

/** Answers lost once armed: the wrapped write commits, then its caller gets `StorageError`. */
const makeLostAnswers = () => {
  const lost = { armed: false, count: 0 }
  const after = <A, E, R>(operation: string, write: Effect.Effect<A, E, R>) =>
    Effect.flatMap(write, (value) => {
      if (!lost.armed) return Effect.succeed(value)
      lost.armed = false
      lost.count++
      return Effect.fail(new StorageError({ operation, cause: new Error("simulated: the commit's answer was lost") }))
    })
  return { lost, after }
}

type LostAnswers = ReturnType<typeof makeLostAnswers>

/** The one-statement settle (`settleRun`) loses its answer. */
const losingSettles = ({ after }: LostAnswers) => (store: JobStore["Type"]): JobStore["Type"] => ({
  ...store,
  settleRun: (settle) => after("JobStore.settleRun", store.settleRun!(settle))
})

/** A transaction the runner opens (a settle with its retry's requeue, the locked path) loses its answer. */
const losingTransactions = ({ after }: LostAnswers) => (store: JobStore["Type"]): JobStore["Type"] => ({
  ...store,
  transaction: (effect) => after("JobStore.transaction", store.transaction(effect))
})

for (const backend of sharedBackends) {
  describe(`a settle whose answer was lost, on ${backend.name}`, () => {
    it.live("R8 Jobs.run returns the program's result when its completion committed but the answer was lost: completed once, outputs kept, one end event", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("settle answer lost")
        const answers = makeLostAnswers()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: losingSettles(answers) })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const result = yield* jobs.run(job.job_id, () =>
          Effect.sync(() => {
            answers.lost.armed = true
            return { summary: "done" }
          })).pipe(Effect.exit)
        assert.strictEqual(answers.lost.count, 1, "the settle's answer was lost once")
        assert.deepStrictEqual(result, Exit.succeed({ summary: "done" }), "the program's own result, not RunLost")
        const ended = yield* store.getJob(job.job_id)
        assert.strictEqual(ended.state, "completed")
        assert.deepStrictEqual(ended.job_outputs, { summary: "done" })
        const snapshot = yield* database.snapshot
        const ends = snapshot.events.filter((event) => event.job_id === job.job_id && event.type === "system" && event.to_state === "completed")
        assert.lengthOf(ends, 1, "one end event")
        assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.live("R8 a failed attempt whose failure and retry requeue committed but whose answer was lost: Jobs.run fails with the program's error, the job queued once for attempt 2", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("requeue answer lost")
        const answers = makeLostAnswers()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", retry: { default: { maxAttempts: 3, backoff: { initial: 0, jitter: 0 } } }, wrapStore: losingTransactions(answers) })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const result = yield* jobs.run(job.job_id, () =>
          Effect.suspend(() => {
            answers.lost.armed = true
            return Effect.fail("model refused")
          })).pipe(Effect.exit)
        assert.strictEqual(answers.lost.count, 1)
        assert.deepStrictEqual(result, Exit.fail("model refused"), "the program's own error, not RunLost")
        const requeued = yield* store.getJob(job.job_id)
        assert.strictEqual(requeued.state, "queued")
        assert.strictEqual(requeued.attempt, 2, "requeued once")
        const snapshot = yield* database.snapshot
        const moves = snapshot.events.filter((event) => event.job_id === job.job_id && event.type === "system").map((event) => `${event.from_state}→${event.to_state}`)
        assert.deepStrictEqual(moves, ["null→queued", "queued→running", "running→failed", "failed→queued"])
        assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.live("R8 a settle on the locked path (a node end the database refused, written with the run's end) whose answer was lost: the program's result, the node ended once with the run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("locked settle answer lost")
        const answers = makeLostAnswers()
        const outage = makeOutage()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: (inner) => losingTransactions(answers)(droppingNodeEnds(outage)(inner)) })
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        const result = yield* jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            // The node's end write is dropped; the run's end (locked path, one transaction) commits and loses its answer.
            // The program sees its node's write fail (StorageError) and goes on.
            yield* Effect.either(ctx.node({ node_id: "draft", node_type: "llm" }, Effect.sync(() => (outage.down = true, { text: "draft" }))))
            outage.down = false
            answers.lost.armed = true
            return { summary: "done" }
          })).pipe(Effect.exit)
        assert.strictEqual(outage.refused, 1, "the node's end write was refused")
        assert.strictEqual(answers.lost.count, 1, "the settle's answer was lost")
        assert.deepStrictEqual(result, Exit.succeed({ summary: "done" }))
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
        const nodes = yield* store.listNodes(run.id)
        assert.deepStrictEqual(nodes.map((node) => [node.status, node.output_payload]), [["completed", { text: "draft" }]])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.live("R8 a pool whose completion's answer was lost logs no run taken away and nothing failed", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("pool answer lost")
        const answers = makeLostAnswers()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: losingSettles(answers) })
        const job = yield* jobs.submit(summarize())
        const log = capturingLog(["INFO", "WARN", "ERROR"])
        const pool = yield* Scope.make()
        yield* Scope.extend(log.provide(jobs.worker({
          concurrency: 1,
          pollInterval: "20 millis",
          handler: (ctx) => Effect.sync(() => (answers.lost.armed ||= ctx.job.job_id === job.job_id, { ok: 1 }))
        })), pool)
        yield* jobs.await(job.job_id, { until: ["completed"], pollInterval: "20 millis", timeout: "10 seconds" })
        // The pool's one loop reports a run (after the settle's retry) before it claims again: once a
        // job submitted now has run, the first run's report is in the log, whatever the machine's speed.
        const next = yield* jobs.submit(summarize())
        yield* jobs.await(next.job_id, { until: ["completed"], pollInterval: "20 millis", timeout: "10 seconds" })
        yield* Scope.close(pool, Exit.void)
        assert.strictEqual(answers.lost.count, 1)
        assert.deepStrictEqual(log.lines.filter((line) => line.includes("taken away") || line.includes("did not complete")), [])
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
      }).pipe(Effect.scoped), 30_000)

    it.live("R8 a run an operator completed meanwhile is still lost: the worker's settle, its answer lost, then finding the run ended by someone else, fails with RunLost", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("operator ended it")
        const answers = makeLostAnswers()
        // The settle is refused (nothing written) and the operator completes the job before the retry.
        const operator: { jobs?: Jobs["Type"] } = {}
        const { jobs, store } = yield* engineOn(database, {
          wake: "poll",
          wrapStore: (inner) => ({
            ...inner,
            settleRun: (settle) =>
              answers.lost.armed
                ? Effect.zipRight(
                  Effect.sync(() => (answers.lost.armed = false, answers.lost.count++)),
                  Effect.zipRight(Effect.orDie(operator.jobs!.complete(settle.job_id)), Effect.fail(new StorageError({ operation: "JobStore.settleRun", cause: new Error("simulated: refused") })))
                )
                : inner.settleRun!(settle)
          })
        })
        operator.jobs = jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const result = yield* jobs.run(job.job_id, () => Effect.sync(() => (answers.lost.armed = true, { summary: "mine" }))).pipe(Effect.exit)
        assert.strictEqual(answers.lost.count, 1)
        assert.isTrue(Exit.isFailure(result))
        assert.strictEqual(Exit.isFailure(result) && result.cause._tag === "Fail" ? (result.cause.error as { _tag: string })._tag : undefined, "RunLost")
        const ended = yield* store.getJob(job.job_id)
        assert.strictEqual(ended.state, "completed")
        assert.isNull(ended.job_outputs, "the operator's completion, not the worker's")
      }).pipe(Effect.scoped), 30_000)
  })
}
