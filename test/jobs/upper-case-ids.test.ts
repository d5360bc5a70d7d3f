/**
 * The README's input rule for ids: "any-case hex is accepted and becomes
 * lower case, the form every id is stored, compared and returned in (an
 * upper-case UUID names the same job)". A running job moved on by its
 * upper-case id (`Jobs.fail`, `complete`, `cancel`, … take the one-statement
 * path, whose record is built before the row is read) gets its lifecycle
 * record under the canonical id, in the record's column and in its body, so
 * the job's own history lists it — on both stores alike. Found by the
 * differential test (test/reliability/same-behaviour-both-dialects.test.ts):
 * SQLite stored the record under the id as given, so `Jobs.history` missed the
 * job's last move; PostgreSQL stored the given case in the body.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

// Every move out of `running` (Lifecycle.ts); awaiting_user is not one.
const moves = ["fail", "complete", "completeWithIssues", "awaitValidation", "cancel", "poison"] as const

for (const backend of [sqliteFile, postgres("upper case ids")] satisfies ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`ids in any case on ${backend.name}`, () => {
    for (const move of moves) {
      it.effect(`README input rules: Jobs.${move} of a running job named by its upper-case id records the move under the canonical id, listed in the job's history`, () =>
        provide(Effect.gen(function*() {
          const jobs = yield* Jobs
          const store = yield* JobStore
          const job = yield* jobs.submit(summarize())
          const claim = yield* jobs.claimNext()
          assert.strictEqual(claim?.job.job_id, job.job_id)
          const upper = job.job_id.toUpperCase() as JobId
          const moved = move === "fail" ? yield* jobs.fail(upper, "it broke") : yield* jobs[move](upper)
          assert.strictEqual(moved.job_id, job.job_id)

          const history = yield* jobs.history(job.job_id)
          const last = history.events.at(-1)
          assert.deepStrictEqual(
            [last?.type, last?.body["from_state"], last?.body["to_state"]],
            ["system", "running", moved.state],
            "the move's record is the last of the job's history"
          )
          assert.strictEqual(last?.job_id, job.job_id, "the record's job_id column is canonical")
          assert.strictEqual(last?.body["job_id"], job.job_id, "the record's body names the job canonically")
          const byJob = yield* store.listEvents({ job_id: job.job_id, types: ["system"] })
          assert.isTrue(byJob.items.some((event) => event.body["to_state"] === moved.state), "listing the job's events finds the move")
        })))
    }

    it.effect("README input rules: Jobs.run of a job named by its upper-case id that is not running fails with JobNotRunning naming the canonical id", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const error = yield* Effect.flip(jobs.run(job.job_id.toUpperCase() as JobId, () => Effect.void))
        assert.strictEqual(error._tag, "JobNotRunning")
        assert.strictEqual((error as { readonly job_id?: string }).job_id, job.job_id)
      })))
  })
}
