/**
 * The database failing while a SQLite store migrates — the disk full, the
 * file read-only, its lock not got at COMMIT — is a `StorageError`, which a
 * supervisor retries, SQLite's code said and its error kept: opening again
 * once the fault is gone migrates. It was `MigrationFailed`, which a
 * supervisor treats as permanent, while PostgreSQL's failures of the same
 * kind were already `StorageError` (test/store/pg-migrate-database-failure.test.ts).
 * A statement SQLite refuses stays `MigrationFailed`. Either way the
 * migration is all or nothing: no schema, and no bookkeeping row, of it.
 * The `StorageError` names the migration being applied (`0024_editor_edit_events`),
 * or the run's pending ones when the failure came outside a file (its COMMIT):
 * it said only "the database failed", leaving an operator to guess which.
 *
 * Each fault is SQLite's own, on the connection the store migrates on (a
 * caller's client, `layerFromClient`): `PRAGMA max_page_count` makes the
 * file full at its current size (SQLITE_FULL, as a full disk), `PRAGMA
 * query_only` makes it refuse writes (SQLITE_READONLY, as a read-only file),
 * and a second connection's read transaction on a file in rollback-journal
 * mode keeps the COMMIT from its exclusive lock (SQLITE_BUSY).
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { sqlErrorIn } from "../../src/store/internal/sqlErrorIn.js"
import { sqliteCode } from "../../src/store/sqlite/errors.js"
import { migrateFrom } from "../../src/store/sqlite/migrations.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import type { StorageError } from "../../src/store/StoreErrors.js"
import { openSqlite } from "../reliability/snapshot.js"
import { tempSqliteFile } from "../support/stores.js"
import { shippedLabel } from "./contract/schema.js"
import { failureOf } from "./fixtures.js"
import { migrationsBefore, rawClient, rawNumber, shippedSqliteMigrationIds } from "./sqlite-support.js"

const newest = Math.max(...shippedSqliteMigrationIds)

/** The store built on a caller's client for `filename`, `fault` (a PRAGMA, given the file's page count) run first on its connection. */
const buildWith = (filename: string, fault: (pageCount: number) => string, client: { readonly disableWAL?: boolean } = {}) =>
  Layer.build(SqliteStore.layerFromClient().pipe(
    Layer.provide(Layer.effectDiscard(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ readonly page_count: number }>`PRAGMA page_count`
      yield* sql.unsafe(fault(row?.page_count ?? 0))
    })).pipe(Layer.provideMerge(SqliteClient.layer({ filename, ...client }))))
  )).pipe(Effect.scoped)

/** The store built on `filename` with nothing in the way. */
const build = (filename: string, client: { readonly disableWAL?: boolean } = {}) =>
  Layer.build(SqliteStore.layerFromClient().pipe(Layer.provide(SqliteClient.layer({ filename, ...client })))).pipe(Effect.scoped)

/** The schema version of `filename` (0 without a bookkeeping table), and how many schema objects it holds. */
const stateOf = (filename: string, client: { readonly disableWAL?: boolean } = {}) =>
  Effect.provide(
    Effect.gen(function*() {
      const objects = yield* rawNumber("SELECT count(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
      const bookkeeping = yield* rawNumber("SELECT count(*) AS n FROM sqlite_master WHERE name = 'ai_job_model_migrations'")
      const version = bookkeeping === 0 ? 0 : yield* rawNumber("SELECT coalesce(max(migration_id), 0) AS n FROM ai_job_model_migrations")
      return { objects, version }
    }),
    SqliteClient.layer({ filename, ...client })
  )

/** A file migrated through 0023, the next migration (0024) creating a table. */
const at0023 = (label: string) =>
  Effect.gen(function*() {
    const filename = tempSqliteFile(label)
    yield* Effect.provide(migrateFrom(yield* migrationsBefore("0024")), rawClient(filename))
    return filename
  })

/**
 * Asserts `error` is the StorageError of a migration the database failed with `code`, SQLite's error kept,
 * naming what the run was doing (`inHand`: `applying migration 0024_editor_edit_events`; none before it began).
 */
const assertDatabaseFailed = (error: { readonly _tag: string; readonly message: string }, code: string, words: RegExp, inHand?: string) => {
  assert.strictEqual(error._tag, "StorageError", `the build failed with: ${error.message}`)
  const migrate = inHand === undefined ? "SqliteStore.migrate" : `SqliteStore.migrate, ${inHand}`
  assert.strictEqual((error as StorageError).operation, `${migrate} (the database failed, ${code}: nothing of the migration committed)`)
  if (inHand !== undefined) assert.include(error.message, inHand, "the message an operator reads names the migration")
  const driverError = sqlErrorIn(error)
  assert.isDefined(driverError, "the driver's error is kept")
  assert.strictEqual(driverError === undefined ? undefined : sqliteCode(driverError), code)
  assert.match(error.message, words)
}

describe("SQLite store: the database failing while it migrates", () => {
  it.live("R9 a fresh file that is full (SQLITE_FULL, max_page_count) is a StorageError keeping it, nothing created; once there is room it migrates", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("migrate-full")
      const error = yield* failureOf(buildWith(filename, (pages) => `PRAGMA max_page_count = ${Math.max(pages, 2)}`))
      assertDatabaseFailed(error, "SQLITE_FULL", /database or disk is full/, `applying migration ${shippedLabel("sqlite", 1)}`)
      assert.deepStrictEqual(yield* stateOf(filename), { objects: 0, version: 0 }, "nothing of the migration committed")
      yield* build(filename)
      assert.strictEqual((yield* stateOf(filename)).version, newest)
    }))

  it.live("R9 an upgrade whose new table finds the file full (SQLITE_FULL) is a StorageError, the file left at its version, no bookkeeping row; once there is room it migrates", () =>
    Effect.gen(function*() {
      const filename = yield* at0023("upgrade-full")
      const before = yield* stateOf(filename)
      assert.strictEqual(before.version, 23)
      const error = yield* failureOf(buildWith(filename, (pages) => `PRAGMA max_page_count = ${pages}`))
      assertDatabaseFailed(error, "SQLITE_FULL", /database or disk is full/, `applying migration ${shippedLabel("sqlite", 24)}`)
      assert.deepStrictEqual(yield* stateOf(filename), before, "nothing of the upgrade committed")
      yield* build(filename)
      assert.strictEqual((yield* stateOf(filename)).version, newest)
    }).pipe(Effect.scoped))

  it.live("R9 a file that refuses writes (SQLITE_READONLY, query_only) is a StorageError keeping it, nothing created; once writable it migrates", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("migrate-readonly")
      const error = yield* failureOf(buildWith(filename, () => "PRAGMA query_only = ON"))
      // Its BEGIN IMMEDIATE is refused: no migration was in hand yet, none is named.
      assertDatabaseFailed(error, "SQLITE_READONLY", /attempt to write a readonly database/)
      assert.deepStrictEqual(yield* stateOf(filename), { objects: 0, version: 0 })
      yield* build(filename)
      assert.strictEqual((yield* stateOf(filename)).version, newest)
    }))

  it.live("R9 a COMMIT kept from its lock by another connection's reader (SQLITE_BUSY, rollback journal) is a StorageError, nothing committed; once the reader ends it migrates", () =>
    Effect.gen(function*() {
      const filename = yield* at0023("upgrade-commit-busy")
      const rollbackJournal = { disableWAL: true }
      const reader = openSqlite(filename)
      reader.exec("PRAGMA journal_mode = DELETE")
      const before = yield* stateOf(filename, rollbackJournal)
      // The reader's shared lock, held until its transaction ends: the migration's COMMIT needs the file alone.
      reader.exec("BEGIN")
      reader.prepare("SELECT count(*) FROM ai_job_model_migrations").all()
      const error = yield* failureOf(build(filename, rollbackJournal))
      reader.exec("COMMIT")
      reader.close()
      assertDatabaseFailed(error, "SQLITE_BUSY", /database is locked/, `committing migrations ${shippedLabel("sqlite", 24)} to ${shippedLabel("sqlite", newest)}`)
      assert.deepStrictEqual(yield* stateOf(filename, rollbackJournal), before, "nothing of the upgrade committed")
      yield* build(filename, rollbackJournal)
      assert.strictEqual((yield* stateOf(filename, rollbackJournal)).version, newest)
    }).pipe(Effect.scoped))

  it.live("R9 an upgrade whose bookkeeping insert SQLite refuses (a trigger's RAISE) stays MigrationFailed, the file left at its version", () =>
    Effect.gen(function*() {
      const filename = yield* at0023("upgrade-refused")
      const db = openSqlite(filename)
      db.exec("CREATE TRIGGER ai_fault BEFORE INSERT ON ai_job_model_migrations BEGIN SELECT RAISE(ABORT, 'injected refusal'); END")
      db.close()
      const error = yield* failureOf(build(filename))
      assert.strictEqual(error._tag, "MigrationFailed", `the build failed with: ${error.message}`)
      assert.match(error.message, /injected refusal/)
      assert.strictEqual((yield* stateOf(filename)).version, 23)
    }).pipe(Effect.scoped))
})
