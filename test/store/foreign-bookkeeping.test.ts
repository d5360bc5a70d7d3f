/**
 * A database whose `ai_job_model_migrations` table is not this library's —
 * another tool's table of that name (no `migration_id` column), or one whose
 * ids are no migration's — is refused with a `MigrationFailed` that says so,
 * migrating or not: a permanent condition, which must not carry the
 * `StorageError` a supervisor retries (found by a regression probe: opened
 * without migrating it was "StorageError … JobStore.schemaVersion: no such
 * column: migration_id"; migrating, SQLite said only "Failed to execute
 * statement", and an id 'abc' read as "schema is at migration 0NaN"). The
 * table is made by hand before the store opens. On SQLite and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"

/** The error a store's build failed with, asserted a MigrationFailed; the message returned. */
const refusal = <A, E>(layer: Layer.Layer<A, E>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Layer.build(layer).pipe(Effect.scoped))
    assert.isTrue(Exit.isFailure(exit), "the store opened")
    const failure = Exit.isFailure(exit) ? exit.cause : undefined
    const error = (failure !== undefined && failure._tag === "Fail" ? failure.error : failure) as { readonly _tag?: unknown; readonly message?: unknown }
    assert.strictEqual(error._tag, "MigrationFailed", `the build failed with: ${String(error.message)}`)
    return String(error.message)
  })

/** better-sqlite3, untyped here (its types are not installed): a file written by hand, as another tool would. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec(sql: string): unknown
  close(): unknown
}

const NOT_OURS = "ai_job_model_migrations is not this library's bookkeeping table (no migration_id column"

/** A SQLite file holding `ddl`, written by hand. */
const sqliteFileWith = (label: string, ddl: string): string => {
  const filename = tempSqliteFile(label)
  const db = new Database(filename)
  db.exec(ddl)
  db.close()
  return filename
}

/** A fresh PostgreSQL database holding `ddl`, written by hand. */
const pgDatabaseWith = (label: string, ddl: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const client = yield* Effect.promise(() => connectPg(url))
    yield* Effect.promise(() => client.query(ddl))
    yield* Effect.promise(() => client.end())
    return url
  })

describe("a bookkeeping table that is not this library's", () => {
  it.live("R9 SQLite: another tool's ai_job_model_migrations (no migration_id) is MigrationFailed saying so, migrating or not", () =>
    Effect.gen(function*() {
      const filename = sqliteFileWith("foreign-bookkeeping", "CREATE TABLE ai_job_model_migrations (oops)")
      const migrating = yield* refusal(SqliteStore.layer({ filename }))
      assert.include(migrating, "SQLite migrations failed")
      assert.include(migrating, NOT_OURS)
      const opening = yield* refusal(SqliteStore.layer({ filename, migrate: false }))
      assert.include(opening, "Cannot open the store on this SQLite database")
      assert.include(opening, NOT_OURS)
    }), 60_000)

  it.live("R9 SQLite: a bookkeeping row whose migration_id is 'abc' is MigrationFailed saying the id is no migration's, not 'migration 0NaN'", () =>
    Effect.gen(function*() {
      const filename = sqliteFileWith(
        "bookkeeping-abc",
        "CREATE TABLE ai_job_model_migrations (migration_id TEXT, name TEXT); INSERT INTO ai_job_model_migrations VALUES ('abc', 'x')"
      )
      for (const migrate of [true, false]) {
        const message = yield* refusal(SqliteStore.layer({ filename, migrate }))
        assert.include(message, "ai_job_model_migrations holds a migration_id that is no migration's ('abc')")
        assert.notInclude(message, "NaN")
      }
    }), 60_000)

  it.live("R9 PostgreSQL: another tool's ai_job_model_migrations (no migration_id) is MigrationFailed saying so, migrating or not", () =>
    Effect.gen(function*() {
      const url = yield* pgDatabaseWith("foreign_bookkeeping", "CREATE TABLE ai_job_model_migrations (oops int)")
      const migrating = yield* refusal(PgStore.layer({ url }))
      assert.include(migrating, "PostgreSQL migrations failed")
      assert.include(migrating, NOT_OURS)
      const opening = yield* refusal(PgStore.layer({ url, migrate: false }))
      assert.include(opening, "Cannot open the store on this PostgreSQL database")
      assert.include(opening, NOT_OURS)
    }).pipe(Effect.scoped), 60_000)

  it.live("R9 PostgreSQL: a bookkeeping table whose migration_id is text is MigrationFailed naming the table, not a StorageError", () =>
    Effect.gen(function*() {
      const url = yield* pgDatabaseWith(
        "text_bookkeeping",
        "CREATE TABLE ai_job_model_migrations (migration_id text, name text); INSERT INTO ai_job_model_migrations VALUES ('abc', 'x')"
      )
      for (const migrate of [true, false]) {
        const message = yield* refusal(PgStore.layer({ url, migrate }))
        assert.include(message, "ai_job_model_migrations cannot be read as this library's bookkeeping table")
      }
    }).pipe(Effect.scoped), 60_000)
})
