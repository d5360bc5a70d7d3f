/**
 * Migration 0029 (R8, R16, PostgreSQL): the database refuses a node execution
 * with an empty node_id or node_type, which the domain reads as CorruptRow,
 * under the constraint names SQLite's 0002 gives (found by an outside probe
 * of the reference's data: PostgreSQL had no such CHECK). A database an
 * earlier version upgraded may already hold one: 0029 refuses it naming the
 * row, nothing changed, and applies once the row is fixed.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedFrom } from "./contract/schema.js"
import { expectTag, failureOf, startedJob } from "./fixtures.js"
import { refusalOf } from "./pg-support.js"

const NODE = "9d8c7b6a-5f4e-4d3c-9b2a-0000000000e0"

describe("R8 migration 0029 on PostgreSQL: a node execution's node_id and node_type are never empty", () => {
  it.scoped("R8 R16 an empty node_id or node_type is refused by the database; a database holding one from before is refused by 0029, naming it", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("node names migration")
      const { run } = yield* Effect.provide(startedJob(), PgStore.layer({ url }))
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const node = (nodeId: string, nodeType: string) => sql`
          INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at)
          VALUES (${NODE}, ${run.id}, ${nodeId}, ${nodeType}, 'running', 0, now())`
        assert.strictEqual((yield* refusalOf(node("", "step"))).constraint, "workflow_node_executions_node_id_nonempty")
        assert.strictEqual((yield* refusalOf(node("n", ""))).constraint, "workflow_node_executions_node_type_nonempty")

        // Back to 0027, as an earlier version left an upgraded legacy node without a name.
        yield* sql`ALTER TABLE workflow_node_executions DROP CONSTRAINT workflow_node_executions_node_id_nonempty,
          DROP CONSTRAINT workflow_node_executions_node_type_nonempty`
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 29`
        yield* node("n", "")
        const error = expectTag(yield* failureOf(PgStore.migrate), "MigrationFailed")
        assert.deepStrictEqual([error.migration_id, error.migration_name], [29, "node_names_nonempty"])
        assert.include(error.message, `workflow_node_executions row "${NODE}", column node_type: Expected a non empty string`)
        const [kept] = yield* sql<{ readonly node_type: string }>`SELECT node_type FROM workflow_node_executions WHERE id = ${NODE}`
        assert.strictEqual(kept?.node_type, "", "nothing changed")

        yield* sql`UPDATE workflow_node_executions SET node_type = 'step' WHERE id = ${NODE}`
        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 29))
        assert.strictEqual((yield* refusalOf(sql`UPDATE workflow_node_executions SET node_id = '' WHERE id = ${NODE}`)).constraint,
          "workflow_node_executions_node_id_nonempty")
      }).pipe(Effect.provide(rawPgClient(url)))
    }), 60_000)
})
