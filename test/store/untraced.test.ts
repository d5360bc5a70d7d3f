/**
 * Issue 16: per-call overhead off the hot paths — the store's statements are
 * untraced (no `sql.execute` span each; internal/execute.ts), while each Jobs
 * operation keeps its one span `Jobs.<op>` (test/jobs/spans.test.ts). Checked
 * on a lifecycle's steps on SQLite (a file) and PostgreSQL, with a tracer
 * that records every span made — and on a claim that takes a run offered to
 * workers (a resume handed to them), which `Jobs.claimNext` looks for once a
 * second, its first claim included.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { postgres, sqliteFile } from "../support/stores.js"

/** The current tracer, also noting the name of every span it makes. */
const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const spans: Array<string> = []
  const tracer = Tracer.make({
    span: (...args) => {
      spans.push(args[0])
      return native.span(...args)
    },
    context: (f, fiber) => native.context(f, fiber)
  })
  return { spans, tracer }
})

for (const backend of [sqliteFile, postgres("untraced")]) {
  describe(`issue 16 untraced store statements on ${backend.name}`, () => {
    it.effect("issue 16 submit, claim, heartbeat and complete make no sql.execute span, and each Jobs step keeps its own", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recordingTracer
        const jobs = yield* Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        const lifecycle = Effect.gen(function*() {
          const job = yield* jobs.submit(summarize())
          const claim = yield* jobs.claimNext()
          assert.isNotNull(claim)
          yield* store.heartbeat(claim!.run.id)
          yield* jobs.complete(job.job_id)
        })
        yield* Effect.withTracer(lifecycle, tracer)
        assert.deepStrictEqual(spans.filter((name) => name === "sql.execute"), [])
        assert.deepStrictEqual(spans.filter((name) => name.startsWith("Jobs.")), ["Jobs.submit", "Jobs.claimNext", "Jobs.complete"])
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("issue 16 a claim that takes a run offered to workers makes no sql.execute span either", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recordingTracer
        const jobs = yield* Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        // A job whose worker died: stalled by recovery, resumed by an operator for the workers.
        const job = yield* jobs.submit(summarize())
        assert.isNotNull(yield* jobs.claimNext())
        const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
        yield* store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
        const resumed = yield* jobs.resume(job.job_id, { actor: "human", handTo: "workers" })
        yield* TestClock.adjust("1 second")
        const claim = yield* Effect.withTracer(jobs.claimNext(), tracer)
        assert.strictEqual(claim?.run.id, resumed.run.id)
        assert.deepStrictEqual(spans.filter((name) => name === "sql.execute"), [])
        assert.deepStrictEqual(spans.filter((name) => name.startsWith("Jobs.")), ["Jobs.claimNext"])
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)
  })
}
