/**
 * A completion another process commits in the middle of a read (the snapshot
 * tests of `Jobs.history` and `GET /jobs/:id`): a running job, its
 * completion forked and held, and a store wrapper that lets it go once the
 * read has read the job, and waits until it has committed (neither store
 * makes another process's writer wait for a read), so the read's later
 * statements are certain to run after the commit.
 */
import { assert } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { JobStore } from "../../src/store/JobStore.js"
import { engineOn } from "../engine/engine.js"
import { summarize } from "./jobs.suite.js"
import type { SharedDatabase } from "./shared-database.js"

export const completionMidRead = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const completer = yield* engineOn(database)
    const job = yield* completer.jobs.submit(summarize())
    const claim = yield* completer.jobs.claimNext()
    assert.strictEqual(claim?.job.job_id, job.job_id)
    // Forked here — not inside the read, whose fibers may carry its transaction's connection.
    const go = yield* Deferred.make<void>()
    const completion = yield* Effect.fork(
      Effect.zipRight(Deferred.await(go), completer.jobs.complete(job.job_id, { actor: "human", reason: "done by hand" }))
    )
    const completingAfterRead = (store: JobStore["Type"]): JobStore["Type"] => ({
      ...store,
      getJob: (jobId) =>
        Effect.tap(store.getJob(jobId), () =>
          Effect.flatMap(Deferred.succeed(go, undefined), (first) => first ? Effect.orDie(Fiber.join(completion)) : Effect.void))
    })
    return {
      job,
      completingAfterRead,
      /** Whether the read let the completion go. */
      letGo: Deferred.isDone(go),
      /** The completion, committed. */
      committed: Fiber.join(completion)
    }
  })
