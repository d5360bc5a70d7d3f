/**
 * `Jobs.history` is bounded as `GET /jobs/:id` is (R14): a job's runs are
 * unbounded (every retry, resume and release makes one) and so are a run's
 * node executions, so it gives the oldest 100 runs, each with its first 1000
 * nodes, and cursors `JobStore.listRuns` / `listNodes` read the rest from —
 * on SQLite (a file) and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { engineOn } from "../engine/engine.js"
import { summarize } from "./jobs.suite.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`Jobs.history on ${backend.name}`, () => {
    it.live("issue 15.6 R14 history gives the oldest 100 runs, each with its first 1000 nodes, and the cursors that read the rest", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("history bounds")
        const { jobs, store } = yield* engineOn(database)
        const job = yield* jobs.submit(summarize())
        const { run: first } = yield* jobs.start(job.job_id)
        for (let i = 0; i < 1001; i++) yield* store.startNode({ workflow_run_id: first.id, node_id: `node-${i}`, node_type: "step" })
        // 101 runs in all, as retries and resumes make them.
        const later = yield* Effect.forEach(Array.from({ length: 100 }), () => store.createRun(job.job_id))

        const history = yield* jobs.history(job.job_id)
        assert.deepStrictEqual(history.runs.map(({ run }) => run.id), [first.id, ...later.slice(0, 99).map((run) => run.id)])
        assert.strictEqual(history.runs_next_cursor, later[98]!.id)
        assert.deepStrictEqual((yield* store.listRuns(job.job_id, { after: history.runs_next_cursor! })).map((run) => run.id), [later[99]!.id])

        const [{ nodes, nodes_next_cursor }] = history.runs as [typeof history.runs[number]]
        assert.deepStrictEqual(nodes.map((node) => node.node_id), Array.from({ length: 1000 }, (_, i) => `node-${i}`))
        assert.strictEqual(nodes_next_cursor, nodes[999]!.sequence)
        assert.deepStrictEqual((yield* store.listNodes(first.id, { after: nodes_next_cursor! })).map((node) => node.node_id), ["node-1000"])
        assert.deepStrictEqual(history.runs.slice(1).map((entry) => [entry.nodes.length, entry.nodes_next_cursor]), later.slice(0, 99).map(() => [0, null]))
      }).pipe(Effect.scoped), 600_000)
  })
}
