/**
 * R8, HSK-WF-001 (PostgreSQL, migration 0017): a run counts its node
 * executions still running on its own row (`open_nodes`), kept by the
 * database from the node rows, so a move from outside the program sees a
 * node start that committed after its statement began (the race itself:
 * test/jobs/run-lost.test.ts). Here: the count follows every way a node
 * enters or leaves `running`, a database from before 0017 gets it counted
 * from its rows, and the database refuses a negative count.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { WorkflowRunId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { startedJob } from "./fixtures.js"
import { refusalOf } from "./pg-support.js"
import { shippedFrom } from "./contract/schema.js"

const onDatabase = (url: string) => Layer.merge(PgStore.layer({ url }), rawPgClient(url))

/** The run's count, and its running nodes counted from their rows. */
const counts = (runId: WorkflowRunId) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly kept: number; readonly rows: number }>`
      SELECT r.open_nodes AS kept, (SELECT count(*)::int FROM workflow_node_executions n
        WHERE n.workflow_run_id = r.id AND n.status = 'running') AS rows
      FROM workflow_runs r WHERE r.id = ${runId}`
    return [row?.kept, row?.rows]
  })

describe("R8 PostgreSQL a run's open nodes, counted on its row (migration 0017)", () => {
  it.effect("R8 the count follows node starts and ends, and an operator's move that ends the nodes left running", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("open nodes count")
      yield* Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        assert.deepStrictEqual(yield* counts(run.id), [0, 0])
        const a = yield* store.startNode({ workflow_run_id: run.id, node_id: "a", node_type: "llm" })
        const b = yield* store.startNode({ workflow_run_id: run.id, node_id: "b", node_type: "tool" })
        yield* store.startNode({ workflow_run_id: run.id, node_id: "c", node_type: "tool" })
        assert.deepStrictEqual(yield* counts(run.id), [3, 3])
        yield* store.finishNode(a.id, { status: "completed" })
        yield* store.finishNode(b.id, { status: "failed", error_message: "tool hung" })
        assert.deepStrictEqual(yield* counts(run.id), [1, 1])
        // A node's end that leaves it running (a second write of the same state) moves nothing.
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE workflow_node_executions SET status = 'running' WHERE workflow_run_id = ${run.id} AND node_id = 'c'`
        assert.deepStrictEqual(yield* counts(run.id), [1, 1])
        // The general path ends the open node with the run (internal/jobs/openNodes.ts).
        yield* store.transaction(Effect.gen(function*() {
          yield* store.lockJob(job.job_id)
          yield* store.lockRun(run.id)
          const [, , c] = yield* store.listNodes(run.id)
          yield* store.finishNode(c!.id, { status: "cancelled", error_message: "operator stop" })
          yield* store.transition({ job_id: job.job_id, from: "running", to: "cancelled" })
          yield* store.finishRun(run.id, "cancelled")
        }))
        assert.deepStrictEqual(yield* counts(run.id), [0, 0])
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)

  it.effect("R8 a database from before 0017 with nodes running gets each running run's count from its rows; the database refuses a negative count", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("open nodes upgrade")
      const { running, ended } = yield* Effect.gen(function*() {
        const store = yield* JobStore
        const running = yield* startedJob()
        yield* store.startNode({ workflow_run_id: running.run.id, node_id: "a", node_type: "llm" })
        yield* store.startNode({ workflow_run_id: running.run.id, node_id: "b", node_type: "llm" })
        const ended = yield* startedJob()
        yield* store.startNode({ workflow_run_id: ended.run.id, node_id: "a", node_type: "llm" })
        // Back to 0016: no count, no trigger, 0017 not recorded (nor 0018 to 0020, which came after it;
        // 0019 and 0020, replay-safe, run again as they are).
        const sql = yield* SqlClient.SqlClient
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 19`
        // With the trigger 0026 sets on taken.
        yield* sql`ALTER TABLE workflow_runs DROP COLUMN taken CASCADE`
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id = 18`
        yield* sql`DROP TRIGGER workflow_node_executions_count_open ON workflow_node_executions`
        yield* sql`ALTER TABLE workflow_runs DROP COLUMN open_nodes`
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id = 17`
        // An ended run that left a node running (a database written before nodes ended with their run).
        yield* sql`UPDATE workflow_runs SET status = 'failed' WHERE id = ${ended.run.id}`
        return { running, ended }
      }).pipe(Effect.provide(onDatabase(url)))
      // The store's layer migrates as it is built.
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        assert.lengthOf(yield* sql`SELECT 1 FROM ai_job_model_migrations WHERE migration_id = 17`, 1, "0017 applied")
        assert.deepStrictEqual(yield* counts(running.run.id), [2, 2], "the running run's nodes counted")
        assert.deepStrictEqual(yield* counts(ended.run.id), [0, 1], "an ended run's nodes are history: not counted")
        const refusal = yield* refusalOf(sql`UPDATE workflow_runs SET open_nodes = -1 WHERE id = ${running.run.id}`)
        assert.strictEqual(refusal.constraint, "workflow_runs_open_nodes_valid")
        // Replayed (bookkeeping lost, its and the later ones'), 0017 finds its work done and counts again from the rows.
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 17`
        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 17))
        assert.deepStrictEqual(yield* counts(running.run.id), [2, 2])
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)
})
