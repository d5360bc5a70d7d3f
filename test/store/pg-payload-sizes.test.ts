/**
 * R14 on PostgreSQL, migration 0032: a node payload's size is the bytes of
 * the compact JSON text the library wrote, as SQLite measures its stored
 * text — not jsonb's text form, which spaces `:` and `,` and spells a number
 * in full. Nodes written before 0032 (here: their sizes erased and 0032's
 * bookkeeping row lost, so it runs again) are measured by the migration as
 * JavaScript writes them, and list as the store's own writes do.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedFrom } from "./contract/schema.js"
import { bytesOf, payloadSizeCases, startedJob } from "./fixtures.js"

const SIZES = 32

describe("R14 migration 0032 on PostgreSQL: node payload sizes as written", () => {
  it.scoped("R14 nodes written before 0032 get the size of their compact JSON text (1e300, spaces, escapes, multibyte text, at the bound); listed, each is inline at that size and left out a byte under it, as a node written after", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("payload sizes")
      const cases = payloadSizeCases()
      const runId = yield* Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        for (const [node_id, payload] of cases) {
          const node = yield* store.startNode({ workflow_run_id: run.id, node_id, node_type: "step", input_payload: payload })
          yield* store.finishNode(node.id, { status: "completed", output_payload: payload })
        }
        yield* store.startNode({ workflow_run_id: run.id, node_id: "none", node_type: "step" })
        return run.id
      }).pipe(Effect.provide(Layer.fresh(PgStore.layer({ url }))))

      const sizes = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const stored = sql<{ readonly node_id: string; readonly input_payload_bytes: number | null; readonly output_payload_bytes: number | null }>`
          SELECT node_id, input_payload_bytes, output_payload_bytes FROM workflow_node_executions ORDER BY sequence`
        const written = yield* stored
        yield* sql`UPDATE workflow_node_executions SET input_payload_bytes = NULL, output_payload_bytes = NULL`
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= ${SIZES}`
        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", SIZES))
        return { written, measured: yield* stored }
      }).pipe(Effect.provide(rawPgClient(url)))
      const expected = [...cases.map(([node_id, payload]) => ({ node_id, input_payload_bytes: bytesOf(payload), output_payload_bytes: bytesOf(payload) })),
        { node_id: "none", input_payload_bytes: null, output_payload_bytes: null }]
      assert.deepStrictEqual(sizes.written, expected, "written by the store")
      assert.deepStrictEqual(sizes.measured, expected, "measured by the migration")

      yield* Effect.gen(function*() {
        const store = yield* JobStore
        for (const [node_id, payload] of cases) {
          const bytes = bytesOf(payload)
          const at = (yield* store.listNodeSummaries(runId, { inlineBytes: bytes })).find((node) => node.node_id === node_id)
          const under = (yield* store.listNodeSummaries(runId, { inlineBytes: bytes - 1 })).find((node) => node.node_id === node_id)
          assert.deepStrictEqual([at?.input_payload, at?.output_payload_bytes, under?.input_payload, under?.output_payload_bytes], [payload, null, null, bytes], node_id)
        }
      }).pipe(Effect.provide(Layer.fresh(PgStore.layer({ url, migrate: false }))))
    }), 120_000)
})
