/**
 * Issue 12.1 on both dialects: a database that ran the earlier 0002 (whose
 * node-status CHECK allowed only running, completed, failed and cancelled)
 * is widened by 0005 to the ten job states, every node row kept, and 0005
 * leaves a database that already has the ten alone.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStates } from "../../src/domain/JobState.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { startedJob } from "./fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { rawRows, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

const NARROW = "('running', 'completed', 'failed', 'cancelled')"

/** The node table as the earlier 0002 left it on SQLite: the same table with the four-status CHECK. */
const narrowSqliteNodeTable = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [table] = yield* sql<{ readonly sql: string }>`
    SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'workflow_node_executions'`
  const narrowed = (table?.sql ?? "")
    // 0013 spells the list as an OR of equalities.
    .replace(/CHECK \(\(\s*status = [^)]*\)\)/, `CHECK (status IN ${NARROW})`)
    .replace(/CREATE TABLE "?workflow_node_executions"?/, "CREATE TABLE narrowed_nodes")
  assert.include(narrowed, NARROW)
  yield* sql.unsafe(narrowed)
  yield* sql`INSERT INTO narrowed_nodes SELECT * FROM workflow_node_executions`
  yield* sql`DROP TABLE workflow_node_executions`
  yield* sql`ALTER TABLE narrowed_nodes RENAME TO workflow_node_executions`
  yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 5`
})

/** Starts three nodes, ends two as the earlier schema allowed, and returns the run and its nodes. */
const nodesOfTheEarlierSchema = Effect.gen(function*() {
  const store = yield* JobStore
  const { run } = yield* startedJob()
  for (const status of ["completed", "failed"] as const) {
    const node = yield* store.startNode({ workflow_run_id: run.id, node_id: status, node_type: "step", input_payload: { status } })
    yield* store.finishNode(node.id, { status })
  }
  yield* store.startNode({ workflow_run_id: run.id, node_id: "still", node_type: "step" })
  return { run, before: yield* store.listNodes(run.id) }
})

describe("issue 12.1 migration 0005 widens the node status to the ten job states", () => {
  it.effect("issue 12.1 SQLite: 0005 rebuilds a four-status node table with the ten states and keeps every row", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.gen(function*() {
        const store = yield* JobStore
        const { run, before } = yield* nodesOfTheEarlierSchema
        yield* narrowSqliteNodeTable
        const refused = yield* Effect.either(rawRows(
          "UPDATE workflow_node_executions SET status = 'poisoned' WHERE node_id = 'still'"
        ))
        assert.isTrue(refused._tag === "Left", "the narrowed table refuses poisoned, as the earlier 0002 did")
        // 0005 and the later (replay-safe) ones run again: the Migrator only runs ids above the highest applied.
        assert.deepStrictEqual((yield* SqliteStore.migrate)[0], [5, "node_status"])
        assert.deepStrictEqual(yield* store.listNodes(run.id), before)
        for (const [index, status] of JobStates.entries()) {
          yield* rawRows(
            `INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at)
             VALUES (?, ?, 'n', 'step', ?, ?, '2024-01-01T00:00:00.000Z')`,
            [crypto.randomUUID(), run.id, status, 100 + index]
          )
        }
        assert.deepStrictEqual(
          (yield* store.listNodes(run.id)).slice(3).map((node) => node.status),
          [...JobStates]
        )
        assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
        assert.deepStrictEqual(
          yield* rawRows("SELECT name FROM sqlite_master WHERE tbl_name = 'workflow_node_executions' ORDER BY name"),
          [
            { name: "sqlite_autoindex_workflow_node_executions_1" },
            { name: "sqlite_autoindex_workflow_node_executions_2" },
            { name: "workflow_node_executions" },
            // 0020's and 0023's triggers, made again on the rebuilt table by their replay.
            { name: "workflow_node_executions_domain_values_insert" },
            { name: "workflow_node_executions_domain_values_update" },
            { name: "workflow_node_executions_text_and_numbers_insert" },
            { name: "workflow_node_executions_text_and_numbers_update" }
          ]
        )
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  it.effect("issue 12.1 PostgreSQL: 0005 replaces a four-status CHECK with the ten states and keeps every row", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("node status 0005")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* JobStore
        const { run, before } = yield* nodesOfTheEarlierSchema
        yield* sql.unsafe(`ALTER TABLE workflow_node_executions
          DROP CONSTRAINT workflow_node_executions_status_check,
          ADD CONSTRAINT workflow_node_executions_status_check CHECK (status IN ${NARROW})`)
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 5`
        assert.deepStrictEqual((yield* PgStore.migrate)[0], [5, "node_status"])
        assert.deepStrictEqual(yield* store.listNodes(run.id), before)
        for (const [index, status] of JobStates.entries()) {
          yield* sql`
            INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at)
            VALUES (gen_random_uuid(), ${run.id}, 'n', 'step', ${status}, ${100 + index}, now())`
        }
        assert.deepStrictEqual((yield* store.listNodes(run.id)).slice(3).map((node) => node.status), [...JobStates])
      }).pipe(Effect.provide(Layer.merge(PgStore.layer({ url }), rawPgClient(url))))
    })))
})
