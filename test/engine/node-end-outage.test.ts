/**
 * R8 a node's end that the database refused (an outage, a dropped statement)
 * is written with its run's end. `ctx.node` fails with the `StorageError`, as
 * before; but the run's settle (one statement or one transaction) said
 * nothing about the node, so a program that went on — catching the error
 * and completing, or failing with it — ended its run `completed` or `failed`
 * with that node still `running`, for good: nothing writes to an ended run's
 * nodes (found while probing releases during an outage,
 * test/engine/release-outage.test.ts). The settle now ends such a node as
 * its program saw it end — here `completed` with its output — in the
 * settle's own transaction (a release does the same:
 * test/engine/release-outage.test.ts). Two neighbours of the same hole: a
 * node whose end the port refuses outright (an output with U+0000, which
 * neither database stores) was left `running` with no outage at all, and now
 * ends `failed`, naming why; a node whose start committed but whose answer
 * was lost never ran, and now ends `cancelled`, named.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Jobs } from "../../src/Jobs.js"
import { nodeStartRefused } from "../../src/internal/jobs/runJob.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { audit } from "../reliability/invariants.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { droppingNodeEnds, makeOutage } from "../support/outage.js"
import { engineOn } from "./engine.js"


/** The job's one run and its nodes' statuses and outputs. */
const runAndNodes = (jobs: Jobs["Type"], jobId: string) =>
  Effect.map(jobs.history(jobId as never), (history) => {
    assert.lengthOf(history.runs, 1)
    const [entry] = history.runs
    return { run: entry!.run.status, nodes: entry!.nodes.map((node) => [node.status, node.output_payload]) }
  })

for (const backend of sharedBackends) {
  describe(`a node end refused by the database, on ${backend.name}`, () => {
    it.effect("R8 a program that catches its node's refused end and completes: the run completes with the node completed, its output written", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node end refused, completed")
        const outage = makeOutage()
        const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: droppingNodeEnds(outage) })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        outage.down = true
        const caught = yield* jobs.run(job.job_id, (ctx) =>
          Effect.map(Effect.either(ctx.node({ node_id: "a", node_type: "step" }, Effect.succeed({ part: 1 }))), (either) => ({ caught: either._tag })))
        outage.down = false
        assert.deepStrictEqual(caught, { caught: "Left" }, "the program saw the refused write")
        assert.strictEqual(outage.refused, 1)
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
        assert.deepStrictEqual(yield* runAndNodes(jobs, job.job_id), { run: "completed", nodes: [["completed", { part: 1 }]] })
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.effect("R8 a program failed by its node's refused end: the run fails with the node ended as it ran, completed with its output", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node end refused, failed")
        const outage = makeOutage()
        const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: droppingNodeEnds(outage) })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        outage.down = true
        const exit = yield* Effect.exit(jobs.run(job.job_id, (ctx) => ctx.node({ node_id: "a", node_type: "step" }, Effect.succeed({ part: 1 }))))
        outage.down = false
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "failed")
        assert.deepStrictEqual(yield* runAndNodes(jobs, job.job_id), { run: "failed", nodes: [["completed", { part: 1 }]] })
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.effect("R8 a node whose start was written but its answer lost: it never ran, and ends cancelled, named, with its completed run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node start answer lost")
        const losingStartAnswers = (store: JobStore["Type"]): JobStore["Type"] => ({
          ...store,
          // The start commits; the answer never arrives (a connection dropped just after COMMIT).
          startNode: (input) => Effect.zipRight(store.startNode(input), Effect.fail(new StorageError({ operation: "JobStore.startNode", cause: new Error("connection lost") })))
        })
        const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: losingStartAnswers })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        let ran = false
        yield* jobs.run(job.job_id, (ctx) =>
          Effect.as(Effect.either(ctx.node({ node_id: "a", node_type: "step" }, Effect.sync(() => { ran = true }))), { done: true }))
        assert.isFalse(ran, "the node's work never began")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
        const nodes = (yield* jobs.history(job.job_id)).runs[0]!.nodes
        assert.deepStrictEqual(nodes.map((node) => [node.status, node.error_message]), [["cancelled", nodeStartRefused]])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.effect("R8 a node whose output no database stores (U+0000): the node ends failed, named, with its run — not left running", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node end unstorable")
        const { jobs } = yield* engineOn(database, { wake: "poll" })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const exit = yield* Effect.exit(jobs.run(job.job_id, (ctx) => ctx.node({ node_id: "a", node_type: "step" }, Effect.succeed({ text: "a\u0000b" }))))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "failed")
        const history = yield* jobs.history(job.job_id)
        const nodes = history.runs[0]!.nodes
        assert.deepStrictEqual(nodes.map((node) => node.status), ["failed"])
        assert.include(nodes[0]!.error_message ?? "", "its end could not be stored")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.live("R8 a pool's program that catches its node's refused end: the run completes with the node completed, not left running", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("node end refused, pool")
        const outage = makeOutage()
        const { jobs } = yield* engineOn(database, { wake: "poll", wrapStore: droppingNodeEnds(outage) })
        outage.down = true
        const job = yield* jobs.submit(summarize())
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: "50 millis",
          handler: (ctx) => Effect.as(Effect.either(ctx.node({ node_id: "a", node_type: "step" }, Effect.succeed({ part: 1 }))), { done: true })
        })
        const settled = yield* jobs.await(job.job_id, { timeout: "20 seconds", pollInterval: "50 millis" })
        assert.strictEqual(settled.state, "completed")
        assert.strictEqual(outage.refused, 1)
        assert.deepStrictEqual(yield* runAndNodes(jobs, job.job_id), { run: "completed", nodes: [["completed", { part: 1 }]] })
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)
  })
}
