/**
 * A job has one field order, the domain's (`AiJob.fields`), whichever store
 * read it and however: `JSON.stringify(job)` — a log line, a snapshot, an API
 * body — is the same text on SQLite and on PostgreSQL. Found by the
 * differential test (test/reliability/same-behaviour-both-dialects.test.ts):
 * PostgreSQL's row decoders put `job_id` and `state` last, so a job it read
 * back serialised unlike the one its submit returned, and unlike SQLite's.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

const domainOrder = Object.keys(AiJob.fields)

for (const backend of [sqliteFile, postgres("job field order")] satisfies ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`job field order on ${backend.name}`, () => {
    it.effect("R5 a job submitted, claimed, read, listed, moved and read in its history has its fields in the domain's order", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const submitted = yield* jobs.submit(summarize({ job_inputs: { b: 1, a: 2 } }))
        const claim = yield* jobs.claimNext()
        const read = yield* jobs.get(submitted.job_id)
        const listed = (yield* jobs.list()).items[0]
        const failed = yield* jobs.fail(submitted.job_id, "it broke")
        const history = yield* jobs.history(submitted.job_id)
        const seen = { submitted, claimed: claim?.job, read, listed, failed, history: history.job }
        for (const [how, job] of Object.entries(seen)) {
          assert.deepStrictEqual(Object.keys(job ?? {}), domainOrder, `the job ${how}`)
        }
      })))
  })
}
