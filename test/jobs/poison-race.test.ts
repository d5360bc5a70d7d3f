/**
 * A reported security violation poisons the job, its run and every running
 * node in one transaction (HSK-ACE-VAL-101). A node start can be in flight at
 * that moment — another fiber of the same program. Forced here: the start is
 * written and its transaction held open until the poison's transaction waits
 * for it (seen on the server, on PostgreSQL), and the program reports the
 * violation meanwhile. Whichever commits first, no node may be
 * left `running` in the poisoned run. (Found by the four-process reliability
 * campaign on PostgreSQL, where the poison listed the nodes before the start
 * committed and then ended the run after it.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "./services.js"
import { sharedBackends, untilLockWaiter } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`a violation racing a node start on ${backend.name}`, () => {
    it.effect(
      "HSK-ACE-VAL-101 R6 a node whose start is in flight when a violation poisons the run ends poisoned too, never left running",
      () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh("poison race")
          const store = yield* database.store({ maxConnections: 10 })
          const written = yield* Deferred.make<void>()
          // The node "late" is written, then its transaction held open until the poison waits for it.
          const held: JobStore["Type"] = {
            ...store,
            startNode: (input) =>
              input.node_id !== "late" ? store.startNode(input) : store.transaction(Effect.zipLeft(
                store.startNode(input),
                Effect.zipRight(Deferred.succeed(written, undefined), untilLockWaiter(database, backend))
              ))
          }
          const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, held))), Jobs)
          const job = yield* jobs.submit({
            job_kind: "doc_summarize",
            protocol_id: "hsk.test.v1",
            profile_id: "tester",
            access_mode: "analysis_only",
            safety_mode: "normal",
            job_inputs: 1
          })
          const { run } = yield* jobs.start(job.job_id)

          const exit = yield* Effect.exit(jobs.run(job.job_id, (ctx) =>
            Effect.gen(function*() {
              yield* Effect.fork(ctx.node({ node_id: "late", node_type: "io" }, Effect.never))
              yield* Deferred.await(written)
              return yield* ctx.securityViolation({ violation: "prompt_injection", detail: "found while a node was starting" })
            })))
          assert.isTrue(Exit.isFailure(exit), "the run fails with the violation")

          const nodes = yield* store.listNodes(run.id)
          assert.deepStrictEqual(nodes.map((node) => [node.node_id, node.status]), [["late", "poisoned"]])
          assert.strictEqual((yield* store.getRun(run.id)).status, "poisoned")
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "poisoned")
        }).pipe(Effect.scoped),
      60_000
    )
  })
}
