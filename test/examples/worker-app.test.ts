/**
 * The example worker application (issue 15), tested the way our users test
 * theirs: the same handlers and retry policy over an in-memory SQLite store
 * with in-process wake-up, under `it.effect`'s TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { makeWorkerApp, worker } from "../../examples/worker-app.js"
import { Jobs, SqliteJobStore, WakeUp } from "../../src/index.js"

const app = () => makeWorkerApp(SqliteJobStore.layer({ filename: ":memory:" }), WakeUp.layerInProcess)

const request = { protocol_id: "example.v1", profile_id: "example-user", access_mode: "analysis_only", safety_mode: "normal" } as const

describe("examples/worker-app", () => {
  it.effect("issue 15 each kind goes to its handler; a flaky ingest is retried after its backoff and completes on attempt 3", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      yield* worker
      const summary = yield* jobs.submit({ ...request, job_kind: "doc_summarize", job_inputs: { doc_id: "d1" } })
      const ingest = yield* jobs.submit({ ...request, job_kind: "doc_ingest", job_inputs: { doc_id: "d2", fail_attempts: [1, 2] } })
      assert.strictEqual((yield* jobs.await(summary.job_id)).state, "completed")
      // Attempt 1 fails; attempt 2 waits 1.6–2 s, attempt 3 another 3.2–4 s (jitter): move the clock past both.
      for (const wait of ["2 seconds", "4 seconds"] as const) {
        yield* jobs.await(ingest.job_id, { until: ["queued"] })
        yield* TestClock.adjust(wait)
      }
      const done = yield* jobs.await(ingest.job_id)
      assert.deepInclude(done, { state: "completed", attempt: 3, job_outputs: { doc_id: "d2", chars: "text of d2".length, attempt: 3 } })
      const history = yield* jobs.history(ingest.job_id)
      assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["failed", "failed", "completed"])
    }).pipe(Effect.scoped, Effect.provide(app())), 60_000)

  it.effect("issue 15 a kind with no handler is left queued; a shutdown releases a running job back to the queue", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const pool = yield* Scope.make()
      yield* Effect.provideService(
        jobs.worker({ concurrency: 1, drainTimeout: "100 millis", handlers: { doc_summarize: () => Effect.never } }),
        Scope.Scope,
        pool
      )
      const stuck = yield* jobs.submit({ ...request, job_kind: "doc_summarize" })
      const unserved = yield* jobs.submit({ ...request, job_kind: "terminal_exec" })
      yield* jobs.await(stuck.job_id, { until: ["running"] })
      yield* TestServices.provideLive(Scope.close(pool, Exit.void))
      const released = yield* jobs.get(stuck.job_id)
      assert.strictEqual(released.state, "queued")
      assert.include(released.status_reason, "released: the worker shut down")
      assert.strictEqual((yield* jobs.get(unserved.job_id)).state, "queued")
    }).pipe(Effect.scoped, Effect.provide(app())), 60_000)
})
