/**
 * `Jobs.history` reads one committed state (`JobStore.readConsistent`), on
 * SQLite (a file) and PostgreSQL: a completion another process commits while
 * the history is being read — forced between the read of the job and the
 * reads of its runs and events — is in none of it, never in the events but
 * not the job. The next history has all of it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { JobStore } from "../../src/store/JobStore.js"
import { engineOn } from "../engine/engine.js"
import { summarize } from "./jobs.suite.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`Jobs.history on ${backend.name}`, () => {
    it.live("issue 15.6 R8 a completion committed by another process while the history is read is in none of it: job, runs and events agree", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("history snapshot")
        const completer = yield* engineOn(database)
        const job = yield* completer.jobs.submit(summarize())
        const claim = yield* completer.jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, job.job_id)
        // Another process's completion, forked here — not inside the history's reads, whose
        // fibers carry its transaction's connection — and let go once the job has been read.
        const go = yield* Deferred.make<void>()
        const completion = yield* Effect.fork(
          Effect.zipRight(Deferred.await(go), completer.jobs.complete(job.job_id, { actor: "human", reason: "done by hand" }))
        )
        // After the history has read the job: the completion goes, and is given time to commit
        // (neither store makes another process's writer wait for a history).
        const completingAfterRead = (store: JobStore["Type"]): JobStore["Type"] => ({
          ...store,
          getJob: (jobId) =>
            Effect.tap(store.getJob(jobId), () =>
              Effect.flatMap(Deferred.succeed(go, undefined), (first) => first ? Effect.sleep("400 millis") : Effect.void))
        })
        const reader = yield* engineOn(database, { wrapStore: completingAfterRead })
        const history = yield* reader.jobs.history(job.job_id)
        assert.isTrue(yield* Deferred.isDone(go), "the completion was let go mid-read")
        assert.strictEqual(history.job.state, "running")
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["running"])
        const states = history.events.map((event) => event.body["to_state"])
        assert.notInclude(states, "completed", "the events agree with the job")
        yield* Fiber.join(completion)
        const after = yield* reader.jobs.history(job.job_id)
        assert.strictEqual(after.job.state, "completed")
        assert.deepStrictEqual(after.runs.map(({ run }) => run.status), ["completed"])
        assert.include(after.events.map((event) => event.body["to_state"]), "completed")
      }).pipe(Effect.scoped), 60_000)
  })
}
