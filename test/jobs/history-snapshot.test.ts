/**
 * `Jobs.history` reads one committed state (`JobStore.readConsistent`), on
 * SQLite (a file) and PostgreSQL: a completion another process commits while
 * the history is being read — forced between the read of the job and the
 * reads of its runs and events — is in none of it, never in the events but
 * not the job. The next history has all of it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { engineOn } from "../engine/engine.js"
import { completionMidRead } from "./completion-mid-read.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`Jobs.history on ${backend.name}`, () => {
    it.live("issue 15.6 R8 a completion committed by another process while the history is read is in none of it: job, runs and events agree", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("history snapshot")
        const { committed, completingAfterRead, job, letGo } = yield* completionMidRead(database)
        const reader = yield* engineOn(database, { wrapStore: completingAfterRead })
        const history = yield* reader.jobs.history(job.job_id)
        assert.isTrue(yield* letGo, "the completion was let go mid-read")
        assert.strictEqual(history.job.state, "running")
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["running"])
        const states = history.events.map((event) => event.body["to_state"])
        assert.notInclude(states, "completed", "the events agree with the job")
        yield* committed
        const after = yield* reader.jobs.history(job.job_id)
        assert.strictEqual(after.job.state, "completed")
        assert.deepStrictEqual(after.runs.map(({ run }) => run.status), ["completed"])
        assert.include(after.events.map((event) => event.body["to_state"]), "completed")
      }).pipe(Effect.scoped), 60_000)
  })
}
