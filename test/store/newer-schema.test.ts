/**
 * A database upgraded by a newer version of this library is refused, not
 * misread (README, "Upgrading a legacy Handshake database"): its
 * bookkeeping names a migration this version does not ship, so migrating it,
 * or building a store on it — migrating, told not to, or read-only — fails
 * with a `MigrationFailed` naming the database's version and ours, and
 * nothing in it changes. On SQLite and PostgreSQL.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { eventRecord, startedJob } from "./fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedPgMigrationIds } from "./pg-support.js"
import { rawClient, rawRows, shippedSqliteMigrationIds, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

const FUTURE = 9999

/** A job with a run, and an event: rows a misreading store could touch. */
const someRows = Effect.gen(function*() {
  const store = yield* JobStore
  const { job } = yield* startedJob()
  yield* store.appendEvents([eventRecord({ job_id: job.job_id, trace_id: job.trace_id })])
})

/** Every row of the library's tables and its bookkeeping, as JSON. */
const everyRow = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const out: Record<string, unknown> = {}
  for (const table of ["ai_jobs", "workflow_runs", "workflow_node_executions", "flight_recorder_events", "ai_job_model_migrations"]) {
    out[table] = JSON.stringify(yield* sql.unsafe(`SELECT * FROM ${table} ORDER BY 1`))
  }
  return out
})

const fromTheFuture = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`INSERT INTO ai_job_model_migrations (migration_id, name) VALUES (${FUTURE}, 'from_a_newer_version')`)

const assertRefused = (error: { readonly _tag: string; readonly message: string }, newest: number) => {
  assert.strictEqual(error._tag, "MigrationFailed")
  assert.include(error.message, `schema is at migration ${FUTURE}`)
  assert.include(error.message, `newest this library ships (${String(newest).padStart(4, "0")})`)
}

describe("a database from a newer version of the library", () => {
  it.effect("R17 SQLite: migrate, and a store built on it migrating, not migrating or read-only, fail with MigrationFailed naming both versions; nothing changes", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const newest = Math.max(...shippedSqliteMigrationIds)
      const before = yield* Effect.gen(function*() {
        yield* someRows
        yield* fromTheFuture
        return yield* everyRow
      }).pipe(Effect.provide(storeWithClient(filename)))
      yield* Effect.gen(function*() {
        assertRefused(yield* Effect.flip(SqliteStore.migrate), newest)
        assert.deepStrictEqual(yield* everyRow, before)
      }).pipe(Effect.provide(rawClient(filename)))
      assertRefused(yield* Effect.flip(Layer.build(SqliteStore.layer({ filename }))), newest)
      assertRefused(yield* Effect.flip(Layer.build(SqliteStore.layer({ filename, migrate: false }))), newest)
      assertRefused(yield* Effect.flip(Layer.build(SqliteStore.layer({ filename, readonly: true }))), newest)
      assert.deepStrictEqual(yield* Effect.provide(everyRow, rawClient(filename)), before)
      assert.lengthOf(yield* Effect.provide(rawRows("SELECT 1 FROM ai_jobs"), rawClient(filename)), 1)
    })))

  it.effect("R17 PostgreSQL: migrate, and a store built on it migrating, not migrating or read-only, fail with MigrationFailed naming both versions; nothing changes", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("newer schema")
      const newest = Math.max(...shippedPgMigrationIds)
      const before = yield* Effect.gen(function*() {
        yield* someRows
        yield* fromTheFuture
        return yield* everyRow
      }).pipe(Effect.provide(Layer.merge(PgStore.layer({ url }), rawPgClient(url))))
      yield* Effect.gen(function*() {
        assertRefused(yield* Effect.flip(PgStore.migrate), newest)
        assert.deepStrictEqual(yield* everyRow, before)
      }).pipe(Effect.provide(rawPgClient(url)))
      assertRefused(yield* Effect.flip(Layer.build(PgStore.layer({ url }))), newest)
      assertRefused(yield* Effect.flip(Layer.build(PgStore.layer({ url, migrate: false }))), newest)
      assertRefused(yield* Effect.flip(Layer.build(PgStore.layer({ url, readonly: true }))), newest)
      assert.deepStrictEqual(yield* Effect.provide(everyRow, rawPgClient(url)), before)
    })), 60_000)
})
