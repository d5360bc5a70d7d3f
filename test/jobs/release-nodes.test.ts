/**
 * R6/R8 an interrupt is not a cancel, for a run's nodes too (an outside
 * probe's lead, p7-release-nodes). A pool's shutdown past its drain time, or a
 * caller's interrupt of `Jobs.run`, releases the job (`running → queued`, the
 * run `failed`, "released: …"), but the node the program was in was written
 * `cancelled` ("interrupted") — where the README says `cancelled` only ever
 * comes from `jobs.cancel`. A released run's open node now ends as its run
 * does: `failed`, with the release's reason. A node the program stopped itself
 * (a race's loser) ends `failed`, "interrupted".
 *
 * Each program signals from inside its node (its start already written) and
 * then waits for ever: the interrupt always lands inside the node.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { interruptedReason } from "../../src/internal/jobs/runJob.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { type SharedDatabase, sharedBackends } from "./shared-database.js"

const jobsOn = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store())))
    return { jobs: Context.get(context, Jobs), store: Context.get(context, JobStore) }
  })

/** A node that tells `entered` once it runs, then never ends. */
const stuckNode = (entered: Deferred.Deferred<void>) =>
  Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never)

for (const backend of sharedBackends) {
  describe(`a released run's nodes on ${backend.name}`, () => {
    it.effect("R6 interrupting Jobs.run inside a node ends the node failed with the release's reason, as its run: never cancelled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("release node run")
        const { jobs, store } = yield* jobsOn(database)
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        const entered = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(jobs.run(job.job_id, (ctx) => ctx.node({ node_id: "n1", node_type: "llm" }, stuckNode(entered))))
        yield* Deferred.await(entered)
        yield* Fiber.interrupt(fiber)

        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued", "released")
        const ended = yield* store.getRun(run.id)
        assert.deepStrictEqual([ended.status, ended.error_message], ["failed", interruptedReason])
        const nodes = yield* store.listNodes(run.id)
        assert.deepStrictEqual(nodes.map((node) => [node.node_id, node.status, node.error_message]), [["n1", "failed", interruptedReason]])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a pool's shutdown past its drain time ends the open node failed with the shutdown's reason, as its run: never cancelled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("release node pool")
        const { jobs, store } = yield* jobsOn(database)
        const job = yield* jobs.submit(summarize())
        const entered = yield* Deferred.make<void>()
        const pool = yield* Scope.make()
        yield* Scope.extend(
          jobs.worker({
            concurrency: 1,
            pollInterval: "1 hour",
            drainTimeout: "0 millis",
            handler: (ctx) => ctx.node({ node_id: "n1", node_type: "llm" }, stuckNode(entered))
          }),
          pool
        )
        yield* Deferred.await(entered)
        yield* Scope.close(pool, Exit.void)

        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued", "released")
        const [run] = yield* store.listRuns(job.job_id)
        assert.strictEqual(run!.status, "failed")
        assert.include(run!.error_message ?? "", "shut down")
        const nodes = yield* store.listNodes(run!.id)
        assert.deepStrictEqual(nodes.map((node) => [node.node_id, node.status, node.error_message]), [["n1", "failed", run!.error_message]])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 a node its own program interrupts (a race's loser) ends failed, interrupted: never cancelled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("release node self")
        const { jobs, store } = yield* jobsOn(database)
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        yield* jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            const entered = yield* Deferred.make<void>()
            const loser = yield* Effect.fork(ctx.node({ node_id: "loser", node_type: "llm" }, stuckNode(entered)))
            yield* Deferred.await(entered)
            yield* Fiber.interrupt(loser)
            return { done: "without it" }
          }))

        assert.strictEqual((yield* store.getRun(run.id)).status, "completed")
        const nodes = yield* store.listNodes(run.id)
        assert.deepStrictEqual(nodes.map((node) => [node.node_id, node.status, node.error_message]), [["loser", "failed", "interrupted"]])
      }).pipe(Effect.scoped), 60_000)
  })
}
