/**
 * Issue 16: tracing where it helps users. Each public Jobs operation on a job
 * makes exactly one span `Jobs.<op>`, carrying `hsk.job_id` and the job's
 * trace id as `hsk.trace_id` (the id its Flight Recorder events carry), on
 * SQLite (a file) and PostgreSQL. Spans are recorded by a tracer wrapping
 * Effect's own.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { recordingTracer } from "../support/recordingTracer.js"

const recording = recordingTracer

for (const backend of [sqliteFile, postgres("spans")]) {
  describe(`issue 16 Jobs spans on ${backend.name}`, () => {
    it.effect("issue 16 each Jobs operation on a job has exactly one span Jobs.<op> with hsk.job_id and the job's hsk.trace_id", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recording
        const jobs = yield* Jobs
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))

        /** Runs one operation on `job` and checks its spans: one `Jobs.<op>`, about this job. */
        const check = <A, E>(op: string, job: (result: A) => Pick<AiJob, "job_id" | "trace_id">, effect: Effect.Effect<A, E>) =>
          Effect.gen(function*() {
            spans.length = 0
            const result = yield* Effect.withTracer(effect, tracer)
            const named = spans.filter((span) => span.name === `Jobs.${op}`)
            assert.strictEqual(named.length, 1, `Jobs.${op}: ${spans.map((span) => span.name).join(", ")}`)
            const { job_id, trace_id } = job(result)
            assert.strictEqual(named[0]!.attributes.get("hsk.job_id"), job_id, `Jobs.${op} hsk.job_id`)
            assert.strictEqual(named[0]!.attributes.get("hsk.trace_id"), trace_id, `Jobs.${op} hsk.trace_id`)
            // No other operation's span inside it (a node or a violation has its own, under run).
            const others = spans.filter((span) => span.name.startsWith("Jobs.") && span.name !== `Jobs.${op}`)
            assert.deepStrictEqual(others.map((span) => span.name), [], `Jobs.${op}`)
            return result
          })

        const job = yield* check("submit", (submitted) => submitted, jobs.submit(summarize()))
        yield* check("get", () => job, jobs.get(job.job_id))
        yield* check("claimNext", () => job, jobs.claimNext())
        yield* check("awaitValidation", () => job, jobs.awaitValidation(job.job_id))
        yield* check("awaitUser", () => job, jobs.awaitUser(job.job_id))
        yield* check("rework", () => job, jobs.rework(job.job_id))
        yield* check("addMetrics", () => job, jobs.addMetrics(job.job_id, { input_tokens: 3 }))
        yield* check("run", () => job, jobs.run(job.job_id, () => Effect.succeed({ ok: true })))
        yield* check("await", () => job, jobs.await(job.job_id))
        yield* check("history", () => job, jobs.history(job.job_id))
        yield* check("pin", () => job, jobs.pin(job.job_id))
        yield* check("unpin", () => job, jobs.unpin(job.job_id))

        const other = yield* jobs.submit(summarize())
        yield* check("start", () => other, jobs.start(other.job_id))
        yield* check("fail", () => other, jobs.fail(other.job_id, "model timed out"))
        yield* check("retry", () => other, jobs.retry(other.job_id))
        yield* check("cancel", () => other, jobs.cancel(other.job_id))

        const third = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* TestClock.adjust("31 seconds")
        yield* Recovery.recoverStalledRuns()
        yield* check("resume", () => third, jobs.resume(third.job_id))
        yield* check("completeWithIssues", () => third, jobs.completeWithIssues(third.job_id))

        const fourth = yield* jobs.submit(summarize())
        yield* jobs.start(fourth.job_id)
        yield* check("complete", () => fourth, jobs.complete(fourth.job_id))
        const fifth = yield* jobs.submit(summarize())
        yield* jobs.start(fifth.job_id)
        yield* check("poison", () => fifth, jobs.poison(fifth.job_id))
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("issue 16 a Jobs.await its caller interrupts after it read the job carries the job's hsk.trace_id", () => {
      // The store's reads signal `read`: the interrupt comes once the await has read the job, not by luck.
      const read = Deferred.unsafeMake<void>(FiberId.none)
      const signalling = Layer.effect(JobStore, Effect.map(JobStore, (store) => ({
        ...store,
        getJob: (jobId: Parameters<typeof store.getJob>[0]) => Effect.tap(store.getJob(jobId), () => Deferred.succeed(read, undefined))
      }))).pipe(Layer.provide(backend.makeStore()))
      return Effect.gen(function*() {
        const { spans, tracer } = yield* recording
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        spans.length = 0
        const waiting = yield* Effect.fork(Effect.withTracer(jobs.await(job.job_id), tracer))
        yield* Deferred.await(read)
        yield* Fiber.interrupt(waiting)
        const awaited = spans.filter((span) => span.name === "Jobs.await")
        assert.strictEqual(awaited.length, 1)
        assert.strictEqual(awaited[0]!.attributes.get("hsk.job_id"), job.job_id)
        assert.strictEqual(awaited[0]!.attributes.get("hsk.trace_id"), job.trace_id)
      }).pipe(Effect.provide(services(signalling)))
    }, 120_000)
  })
}
