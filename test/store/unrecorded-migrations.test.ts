/**
 * @effect/sql's Migrator records the pending migrations in
 * `ai_job_model_migrations` before running them, and took that INSERT's
 * failure for another process migrating: it ran nothing, said nothing, and
 * the store opened on the schema it had (found on PostgreSQL by
 * pg-migrate-database-failure.test.ts, which holds PostgreSQL's cases: a full
 * disk is a StorageError there, a refusal MigrationFailed). On SQLite too:
 * a trigger on the bookkeeping table refuses its INSERT, and the migration now
 * fails with that refusal, nothing committed; once the trigger is gone the
 * store migrates.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { tempSqliteFile } from "../support/stores.js"
import { failureOf } from "./fixtures.js"

/** better-sqlite3, untyped here (its types are not installed): the file written and read by hand. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec(sql: string): unknown
  prepare(sql: string): { get(): Record<string, unknown> | undefined }
  close(): unknown
}

/** Runs `sql` on `filename`: the first row of its last statement when `read`. */
const byHand = (filename: string, sql: string, read = false): Record<string, unknown> | undefined => {
  const db = new Database(filename)
  try {
    if (read) return db.prepare(sql).get()
    db.exec(sql)
    return undefined
  } finally {
    db.close()
  }
}

describe("SQLite store: the Migrator's bookkeeping INSERT refused", () => {
  it.live("R9 a trigger refusing the bookkeeping INSERT fails the migration with its refusal (MigrationFailed), nothing committed; once gone the store migrates", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("unrecorded-migrations")
      byHand(filename, `CREATE TABLE ai_job_model_migrations (
          migration_id integer PRIMARY KEY NOT NULL, created_at datetime NOT NULL DEFAULT current_timestamp, name VARCHAR(255) NOT NULL);
        CREATE TRIGGER ai_fault BEFORE INSERT ON ai_job_model_migrations BEGIN SELECT RAISE(ABORT, 'injected refusal'); END`)
      const error = yield* failureOf(Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "MigrationFailed", `the build failed with: ${error.message}`)
      assert.include(error.message, "injected refusal")
      assert.deepStrictEqual(byHand(filename, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'ai_jobs'", true), { n: 0 })
      byHand(filename, "DROP TRIGGER ai_fault")
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
      assert.deepStrictEqual(byHand(filename, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'ai_jobs'", true), { n: 1 })
    }), 60_000)
})
