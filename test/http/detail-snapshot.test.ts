/**
 * `GET /jobs/:id` reads one committed state (`JobStore.readConsistent`), on
 * SQLite (a file) and PostgreSQL, as `Jobs.history` does
 * (test/jobs/history-snapshot.test.ts): a completion another process commits
 * while the detail is read — forced between the read of the job and the
 * reads of its runs and events — is in none of the answer, never in the
 * events but not the job. The next answer has all of it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import { completionMidRead } from "../jobs/completion-mid-read.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { apiServer, typedClient } from "./server.js"

/** The state a lifecycle event moved its job to (the API sends events flat, as the Flight Recorder's shapes). */
const toState = (event: object): unknown => ("to_state" in event ? event.to_state : undefined)

for (const backend of sharedBackends) {
  describe(`GET /jobs/:id on ${backend.name}`, () => {
    it.live("R17 R8 a completion committed by another process while the detail is read is in none of it: job, runs and events agree", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("http detail snapshot")
        const { committed, completingAfterRead, job, letGo } = yield* completionMidRead(database)
        const served = Layer.scoped(JobStore, Effect.map(database.store(), completingAfterRead))
        yield* Effect.gen(function*() {
          const api = yield* typedClient()
          const detail = yield* api.jobs.get({ path: { job_id: job.job_id } })
          assert.isTrue(yield* letGo, "the completion was let go mid-read")
          assert.strictEqual(detail.job.state, "running")
          assert.deepStrictEqual(detail.runs.map((run) => run.status), ["running"])
          const states = detail.events.map(toState)
          assert.notInclude(states, "completed", "the events agree with the job")
          yield* committed
          const after = yield* api.jobs.get({ path: { job_id: job.job_id } })
          assert.strictEqual(after.job.state, "completed")
          assert.deepStrictEqual(after.runs.map((run) => run.status), ["completed"])
          assert.include(after.events.map(toState), "completed")
        }).pipe(Effect.provide(apiServer(served)))
      }).pipe(Effect.scoped), 60_000)
  })
}
