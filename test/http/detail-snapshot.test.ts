/**
 * `GET /jobs/:id` reads one committed state (`JobStore.readConsistent`), on
 * SQLite (a file) and PostgreSQL, as `Jobs.history` does
 * (test/jobs/history-snapshot.test.ts): a completion another process commits
 * while the detail is read — forced between the read of the job and the
 * reads of its runs and events — is in none of the answer, never in the
 * events but not the job. The next answer has all of it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import { engineOn } from "../engine/engine.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { apiServer, summarize, typedClient } from "./server.js"

/** The state a lifecycle event moved its job to (the API sends events flat, as the Flight Recorder's shapes). */
const toState = (event: object): unknown => ("to_state" in event ? event.to_state : undefined)

for (const backend of sharedBackends) {
  describe(`GET /jobs/:id on ${backend.name}`, () => {
    it.live("R17 R8 a completion committed by another process while the detail is read is in none of it: job, runs and events agree", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("http detail snapshot")
        const completer = yield* engineOn(database)
        const job = yield* completer.jobs.submit(summarize())
        const claim = yield* completer.jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, job.job_id)
        // Another process's completion, forked here and let go once the detail has read the job.
        const go = yield* Deferred.make<void>()
        const completion = yield* Effect.fork(
          Effect.zipRight(Deferred.await(go), completer.jobs.complete(job.job_id, { actor: "human", reason: "done by hand" }))
        )
        // After the detail has read the job: the completion goes, and is given time to commit
        // (neither store makes another process's writer wait for a read).
        const completingAfterRead = (store: JobStore["Type"]): JobStore["Type"] => ({
          ...store,
          getJob: (jobId) =>
            Effect.tap(store.getJob(jobId), () =>
              Effect.flatMap(Deferred.succeed(go, undefined), (first) => first ? Effect.sleep("400 millis") : Effect.void))
        })
        const served = Layer.scoped(JobStore, Effect.map(database.store(), completingAfterRead))
        yield* Effect.gen(function*() {
          const api = yield* typedClient()
          const detail = yield* api.jobs.get({ path: { job_id: job.job_id } })
          assert.isTrue(yield* Deferred.isDone(go), "the completion was let go mid-read")
          assert.strictEqual(detail.job.state, "running")
          assert.deepStrictEqual(detail.runs.map((run) => run.status), ["running"])
          const states = detail.events.map(toState)
          assert.notInclude(states, "completed", "the events agree with the job")
          yield* Fiber.join(completion)
          const after = yield* api.jobs.get({ path: { job_id: job.job_id } })
          assert.strictEqual(after.job.state, "completed")
          assert.deepStrictEqual(after.runs.map((run) => run.status), ["completed"])
          assert.include(after.events.map(toState), "completed")
        }).pipe(Effect.provide(apiServer(served)))
      }).pipe(Effect.scoped), 60_000)
  })
}
