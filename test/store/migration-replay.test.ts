/**
 * Issue 12.4, as the reference tests its own migrations
 * (storage/tests.rs `migrations_are_replay_safe_postgres`): with the
 * Migrator's bookkeeping table lost, running every migration again applies
 * them all and leaves an identical schema — and, here, every row as it was.
 * On SQLite and PostgreSQL, for a fresh database and for an upgraded
 * reference one.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { buildReferencePg, writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { eventRecord, startedJob } from "./fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedPgMigrationIds } from "./pg-support.js"
import { rawRows, shippedSqliteMigrationIds, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

const BOOKKEEPING = "ai_job_model_migrations"

/** A job with a run and a finished node, and an event: rows in every table a replay could touch. */
const someRows = Effect.gen(function*() {
  const store = yield* JobStore
  const { job, run } = yield* startedJob()
  const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step", input_payload: { a: [1] } })
  yield* store.finishNode(node.id, { status: "failed", error_message: "tool crashed" })
  yield* store.appendEvents([eventRecord({ job_id: job.job_id, trace_id: job.trace_id })])
})

/** SQLite's schema: every table, index and trigger with its SQL, the bookkeeping table aside. */
const sqliteSchema = rawRows<{ readonly type: string; readonly name: string; readonly tbl_name: string; readonly sql: string | null }>(
  `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name <> '${BOOKKEEPING}' ORDER BY type, name`
)

/** Every row of every table but the bookkeeping one, as JSON text. */
const sqliteRows = Effect.gen(function*() {
  const tables = yield* rawRows<{ readonly name: string }>(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '${BOOKKEEPING}' ORDER BY name`
  )
  const out: Record<string, unknown> = {}
  for (const { name } of tables) out[name] = yield* rawRows(`SELECT * FROM "${name}" ORDER BY rowid`)
  return out
})

/** PostgreSQL's schema: columns, constraints, indexes, triggers and functions of the current schema. */
const pgSchema = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const columns = yield* sql`
    SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') AS column_default
    FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name <> ${BOOKKEEPING}
    ORDER BY table_name, ordinal_position`
  const constraints = yield* sql`
    SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
    FROM pg_constraint
    WHERE connamespace = current_schema()::regnamespace AND conrelid <> to_regclass(${BOOKKEEPING})
    ORDER BY 1, 2`
  const indexes = yield* sql`
    SELECT indexname, indexdef FROM pg_indexes
    WHERE schemaname = current_schema() AND tablename <> ${BOOKKEEPING}
    ORDER BY indexname`
  const triggers = yield* sql`
    SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname`
  const functions = yield* sql`
    SELECT p.proname, pg_get_functiondef(p.oid) AS def
    FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
    ORDER BY p.proname`
  return { columns, constraints, indexes, triggers, functions }
})

/** Every row of the tables the migrations own, as JSON text. */
const pgRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const out: Record<string, unknown> = {}
  for (const table of ["ai_jobs", "workflow_runs", "workflow_node_executions", "flight_recorder_events"]) {
    const [row] = yield* sql<{ readonly rows: string | null }>`
      SELECT json_agg(t ORDER BY t::text)::text AS rows FROM ${sql(table)} t`
    out[table] = row?.rows ?? null
  }
  return out
})

/** Snapshot, lose the bookkeeping table, migrate again, snapshot: the same schema and rows, all migrations re-applied. */
const replay = <S, E>(
  snapshot: Effect.Effect<S, E, SqlClient.SqlClient>,
  migrate: Effect.Effect<ReadonlyArray<readonly [number, string]>, unknown, SqlClient.SqlClient>,
  shipped: ReadonlyArray<number>
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const before = yield* snapshot
    yield* sql`DROP TABLE ${sql(BOOKKEEPING)}`
    const applied = yield* migrate
    assert.deepStrictEqual(applied.map(([id]) => id), shipped, "every migration ran again")
    assert.deepStrictEqual(yield* snapshot, before)
    assert.deepStrictEqual(yield* migrate, [], "and a third run has nothing to do")
  })

describe("issue 12.4 SQLite migrations are replay-safe", () => {
  const snapshot = Effect.all({ schema: sqliteSchema, rows: sqliteRows })

  it.effect("issue 12.4 SQLite: a fresh database, bookkeeping lost, migrates again to an identical schema, rows kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.gen(function*() {
        yield* someRows
        yield* replay(snapshot, SqliteStore.migrate, shippedSqliteMigrationIds)
        assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  it.effect("issue 12.4 SQLite: an upgraded reference database, bookkeeping lost, migrates again to an identical schema, rows kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      yield* Effect.gen(function*() {
        yield* someRows
        yield* replay(snapshot, SqliteStore.migrate, shippedSqliteMigrationIds)
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))
})

describe("issue 12.4 PostgreSQL migrations are replay-safe", () => {
  const snapshot = Effect.all({ schema: pgSchema, rows: pgRows })
  const onDatabase = (url: string) => Layer.merge(PgStore.layer({ url }), rawPgClient(url))

  it.effect("issue 12.4 PostgreSQL: a fresh database, bookkeeping lost, migrates again to an identical schema, rows kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("replay fresh")
      yield* Effect.gen(function*() {
        yield* someRows
        yield* replay(snapshot, PgStore.migrate, shippedPgMigrationIds)
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)

  it.effect("issue 12.4 PostgreSQL: an upgraded reference database, bookkeeping lost, migrates again to an identical schema, rows kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("replay reference")
      yield* Effect.provide(buildReferencePg, rawPgClient(url))
      yield* Effect.gen(function*() {
        yield* someRows
        yield* replay(snapshot, PgStore.migrate, shippedPgMigrationIds)
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)
})
