/**
 * Issue 16 for refused calls (found by an outside observability probe): the
 * README promises each `Jobs` operation on a job one span `Jobs.<op>` with
 * `hsk.job_id` and `hsk.trace_id`. A refused move of an existing job
 * (`complete`, `retry` → `IllegalTransition`), a refused `resume`, an
 * `AwaitTimeout` and every `Jobs.securityViolation` named only the job id,
 * though the job had been read; a refused `Jobs.run` (`JobNotRunning`,
 * `RunTaken`, `NotFound`) and a `Jobs.fail` refused for its error made no
 * span at all. Each now has its span, ended with the refusal (redacted, as
 * every failed span is), naming the job's trace once the job was read. A
 * failed span's `code.stacktrace` named where in this package the span was
 * opened, not the caller's code, as the changelog said: it is left out. On
 * SQLite (a file) and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Tracer from "effect/Tracer"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { recordingTracer } from "../support/recordingTracer.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** A job id no job has. */
const UNKNOWN = "01a24e0f-c161-7000-8089-c508314c6131" as JobId

/** The one span named `name`, checked ended with a failure whose tag is `tag`. */
const failedSpan = (spans: ReadonlyArray<Tracer.Span>, name: string, tag: string): Tracer.Span => {
  const named = spans.filter((span) => span.name === name)
  assert.strictEqual(named.length, 1, `${name}: ${spans.map((span) => span.name).join(", ")}`)
  const span = named[0]!
  assert.strictEqual(span.status._tag, "Ended", name)
  const exit = (span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
  assert.isTrue(Exit.isFailure(exit), `${name} ended with a failure`)
  assert.include(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", tag, name)
  return span
}

/** Runs `op` under a recording tracer; it must fail with `tag`; returns its one `name` span. */
const refusedSpan = <E extends { readonly _tag: string }, R>(name: string, tag: string, op: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const { spans, tracer } = yield* recordingTracer
    const error = yield* Effect.flip(Effect.withTracer(op, tracer))
    assert.strictEqual(error._tag, tag, name)
    return failedSpan(spans, name, tag)
  })

/** The span names `job`: its id and the trace its Flight Recorder events carry. */
const namesJob = (span: Tracer.Span, job: AiJob) => {
  assert.strictEqual(span.attributes.get("hsk.job_id"), job.job_id, `${span.name} hsk.job_id`)
  assert.strictEqual(span.attributes.get("hsk.trace_id"), job.trace_id, `${span.name} hsk.trace_id`)
}

for (const backend of [sqliteFile, postgres("refused_spans")]) {
  describe(`issue 16 refused Jobs operations have their span, naming the job's trace, on ${backend.name}`, () => {
    const test = (title: string, body: Effect.Effect<void, unknown, Jobs>) =>
      it.effect(title, () => body.pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    test("issue 16 a refused move of an existing job (complete, retry: IllegalTransition) and a refused resume carry hsk.trace_id", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* jobs.submit(summarize())
      namesJob(yield* refusedSpan("Jobs.complete", "IllegalTransition", jobs.complete(job.job_id)), job)
      namesJob(yield* refusedSpan("Jobs.retry", "IllegalTransition", jobs.retry(job.job_id)), job)
      namesJob(yield* refusedSpan("Jobs.resume", "IllegalTransition", jobs.resume(job.job_id)), job)
    }))

    test("issue 16 Jobs.await ending in AwaitTimeout carries hsk.trace_id", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* jobs.submit(summarize())
      // A timeout of zero looks once: the job is queued, so the wait times out.
      namesJob(yield* refusedSpan("Jobs.await", "AwaitTimeout", jobs.await(job.job_id, { timeout: 0 })), job)
    }))

    test("issue 16 Jobs.securityViolation carries hsk.trace_id", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* jobs.submit(summarize())
      yield* jobs.start(job.job_id)
      const { spans, tracer } = yield* recordingTracer
      const error = yield* Effect.flip(Effect.withTracer(jobs.run(job.job_id, (ctx) => ctx.securityViolation({ violation: "prompt_injection" })), tracer))
      assert.strictEqual(error._tag, "SecurityViolation")
      const [span] = spans.filter((span) => span.name === "Jobs.securityViolation")
      assert.isDefined(span, spans.map((span) => span.name).join(", "))
      namesJob(span!, job)
    }))

    test("issue 16 Jobs.run refused (JobNotRunning, RunTaken, NotFound) makes its Jobs.run span, ended with the refusal, naming the job and its trace once read", Effect.gen(function*() {
      const jobs = yield* Jobs
      const queued = yield* jobs.submit(summarize())
      const notRunning = yield* refusedSpan("Jobs.run", "JobNotRunning", jobs.run(queued.job_id, () => Effect.void))
      namesJob(notRunning, queued)
      // The job's trace continued, as a run's own span continues it.
      assert.strictEqual(notRunning.traceId, queued.trace_id.replaceAll("-", ""))

      const running = yield* jobs.submit(summarize())
      yield* jobs.start(running.job_id)
      const begun = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(jobs.run(running.job_id, () => Effect.zipRight(Deferred.succeed(begun, undefined), Deferred.await(release))))
      yield* Deferred.await(begun)
      const taken = yield* refusedSpan("Jobs.run", "RunTaken", jobs.run(running.job_id, () => Effect.void))
      namesJob(taken, running)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)

      const unknown = yield* refusedSpan("Jobs.run", "NotFound", jobs.run(UNKNOWN, () => Effect.void))
      assert.strictEqual(unknown.attributes.get("hsk.job_id"), UNKNOWN)
      assert.isFalse(unknown.attributes.has("hsk.trace_id"), "no job read, no trace named")
    }))

    test("issue 16 R14 a refused Jobs.run's span holds the refusal redacted, and the id given when no job was found", Effect.gen(function*() {
      const jobs = yield* Jobs
      const span = yield* refusedSpan("Jobs.run", "DecodeFailure", jobs.run("password=hunter2pw" as JobId, () => Effect.void))
      assert.notInclude(String(span.attributes.get("hsk.job_id")), "hunter2pw")
      const exit = (span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
      assert.notInclude(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", "hunter2pw")
    }))

    // It named where in this package the span was opened (move.ts, Jobs.ts, redactCause.ts), not the caller's code.
    test("issue 16 a failed span (Jobs.complete, Jobs.await, Jobs.node) records no code.stacktrace", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* jobs.submit(summarize())
      assert.isFalse((yield* refusedSpan("Jobs.complete", "IllegalTransition", jobs.complete(job.job_id))).attributes.has("code.stacktrace"))
      assert.isFalse((yield* refusedSpan("Jobs.await", "AwaitTimeout", jobs.await(job.job_id, { timeout: 0 }))).attributes.has("code.stacktrace"))
      yield* jobs.start(job.job_id)
      const { spans, tracer } = yield* recordingTracer
      yield* Effect.exit(Effect.withTracer(jobs.run(job.job_id, (ctx) => ctx.node({ node_id: "call", node_type: "llm" }, Effect.fail(new Error("model refused")))), tracer))
      const node = failedSpan(spans, "Jobs.node", "model refused")
      assert.isFalse(node.attributes.has("code.stacktrace"))
    }))

    test("issue 16 Jobs.fail refused for its error (no string) makes its Jobs.fail span", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* jobs.submit(summarize())
      const span = yield* refusedSpan("Jobs.fail", "DecodeFailure", jobs.fail(job.job_id, null as never))
      assert.strictEqual(span.attributes.get("hsk.job_id"), job.job_id)
    }))
  })
}
