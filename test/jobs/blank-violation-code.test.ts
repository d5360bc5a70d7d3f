/**
 * Pins what a mutation audit (stop 76) found unpinned (mutant M17b): README "a violation code ... one that is no text or only whitespace [is recorded]
 * as `unspecified`". An empty or whitespace-only code must be recorded as `unspecified`, and the job poisoned.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`blank violation code, ${backend.name}`, () => {
    it.effect("R14 an empty or blank violation code is recorded as unspecified (README: one that is no text or only whitespace)", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("blank violation")
        const store = yield* database.store({ maxConnections: 10 })
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        for (const code of ["", "   ", "\t\n"]) {
          const job = yield* jobs.submit({
            job_kind: "doc_summarize", protocol_id: "hsk.test.v1", profile_id: "tester",
            access_mode: "analysis_only", safety_mode: "normal", job_inputs: 1
          })
          yield* jobs.start(job.job_id)
          const exit = yield* Effect.exit(jobs.run(job.job_id, (ctx) => ctx.securityViolation({ violation: code })))
          assert.isTrue(Exit.isFailure(exit))
          assert.strictEqual((yield* jobs.get(job.job_id)).state, "poisoned")
          const history = yield* jobs.history(job.job_id)
          const recorded = history.events.filter((e) => e.type === "security_violation").map((e) => e.body["violation"])
          assert.deepStrictEqual(recorded, ["unspecified"], `code ${JSON.stringify(code)}`)
        }
      }).pipe(Effect.scoped))
  })
}
