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
import { shippedMigrations } from "../../src/store/internal/newerSchema.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { shippedPgMigrationIds } from "./pg-support.js"
import { shippedSqliteMigrationIds } from "./sqlite-support.js"

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
        assert.include(message, "ai_job_model_migrations holds a migration_id that is no migration's ('abc')")
      }
    }).pipe(Effect.scoped), 60_000)
})

/** Each dialect's shipped migrations, id → the name the Migrator records. */
const shipped = {
  sqlite: await Effect.runPromise(shippedMigrations(new URL("../../migrations/sqlite/", import.meta.url))),
  pg: await Effect.runPromise(shippedMigrations(new URL("../../migrations/pg/", import.meta.url)))
}

/** The rows the Migrator writes for `dialect`'s migrations below `newest`. */
const ownRowsBelow = (dialect: "sqlite" | "pg", newest: number): string =>
  [...shipped[dialect]].filter(([id]) => id < newest).map(([id, name]) => `(${id}, '${name}')`).join(", ")

/** The shape both the Migrator and another tool give the table: integer ids, a name. */
const BOOKKEEPING = "CREATE TABLE ai_job_model_migrations (migration_id integer PRIMARY KEY, name text NOT NULL)"

/**
 * Another tool's table of our name whose ids look like ours, and other rows
 * no migration of ours writes: each with the words its refusal must say.
 * `newest` is `dialect`'s newest shipped migration.
 */
const lookalikes: ReadonlyArray<{
  readonly label: string
  readonly ddl: (dialect: "sqlite" | "pg", newest: number) => string
  readonly says: (newest: number, dialect: "sqlite" | "pg") => string
}> = [
  {
    label: "another tool's id at our newest, its own name",
    ddl: (_, newest) => `${BOOKKEEPING}; INSERT INTO ai_job_model_migrations VALUES (${newest}, 'create_users')`,
    says: (newest) => `ai_job_model_migrations records migration ${newest} as 'create_users', where this library's 00${newest} is `
  },
  {
    label: "another tool's id above our newest (not a newer version of ours: none of our migrations recorded)",
    ddl: (_, newest) => `${BOOKKEEPING}; INSERT INTO ai_job_model_migrations VALUES (${newest + 1}, 'create_users')`,
    says: (newest) => `records migration ${newest + 1} as 'create_users', above this library's newest (00${newest}), but none of this library's own`
  },
  {
    // Found by a regression probe: with all but our newest recorded, the refusal said it held "none of this library's own".
    label: "our migrations but our newest, and an id above it (edited by hand: a newer version keeps our newest)",
    ddl: (dialect, newest) =>
      `${BOOKKEEPING}; INSERT INTO ai_job_model_migrations VALUES ${ownRowsBelow(dialect, newest)}, (${newest + 1}, 'x')`,
    says: (newest, dialect) =>
      `records migration ${newest + 1} as 'x', above this library's newest (00${newest}), but not this library's newest, ` +
      `00${newest}_${shipped[dialect].get(newest)} (it records ${shipped[dialect].size - 1} of this library's ${shipped[dialect].size}), ` +
      "which a newer version of it would have kept"
  },
  {
    label: "another tool's ids 1 and 2 (migrating failed at 0004 on 'no such table')",
    ddl: () => `${BOOKKEEPING}; INSERT INTO ai_job_model_migrations VALUES (1, 'create_users'), (2, 'add_email')`,
    says: () => "records migration 1 as 'create_users', where this library's 0001 is reference_schema"
  },
  {
    label: "ids 0 and -1",
    ddl: () => "CREATE TABLE ai_job_model_migrations (migration_id integer, name text); INSERT INTO ai_job_model_migrations VALUES (0, 'a'), (-1, 'b')",
    says: () => "holds a migration_id that is no migration's (-1), where every id is a positive integer"
  },
  {
    label: "a NULL id",
    ddl: () => "CREATE TABLE ai_job_model_migrations (migration_id integer, name text); INSERT INTO ai_job_model_migrations VALUES (NULL, 'a')",
    says: () => "holds a migration_id that is no migration's (NULL)"
  },
  {
    label: "a text id '3'",
    ddl: () => "CREATE TABLE ai_job_model_migrations (migration_id text, name text); INSERT INTO ai_job_model_migrations VALUES ('3', 'flight_recorder')",
    says: () => "holds a migration_id that is no migration's ('3')"
  },
  {
    label: "a view of that name",
    ddl: () => "CREATE VIEW ai_job_model_migrations AS SELECT 1 AS migration_id, 'x' AS name",
    says: () => "records migration 1 as 'x', where this library's 0001 is reference_schema"
  },
  {
    label: "no name column",
    ddl: () => "CREATE TABLE ai_job_model_migrations (migration_id integer PRIMARY KEY)",
    says: () => "ai_job_model_migrations is not this library's bookkeeping table (no name column"
  }
]

/** Whether the database holds an `ai_jobs` table, and the bookkeeping rows, as JSON: what a refusal must leave as it was. */
const sqliteState = (filename: string): string => {
  const db = new Database(filename) as unknown as { prepare(sql: string): { all(): unknown } } & { close(): unknown }
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE name = 'ai_jobs'").all()
    const rows = (db.prepare("SELECT name FROM sqlite_master WHERE name = 'ai_job_model_migrations'").all() as Array<unknown>).length > 0
      ? db.prepare("SELECT * FROM ai_job_model_migrations").all()
      : []
    return JSON.stringify({ tables, rows })
  } finally {
    db.close()
  }
}

const pgState = (url: string) =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      const { rows: [jobs] } = await client.query("SELECT to_regclass('ai_jobs') IS NOT NULL AS present")
      const { rows } = await client.query("SELECT * FROM ai_job_model_migrations")
      return JSON.stringify({ jobs, rows })
    } finally {
      await client.end()
    }
  })

/** The tables both dialects' migrations leave (SQLite's 0004 adds flight_recorder_grant_anchor). */
const schemaTables = [
  "ai_jobs",
  "workflow_runs",
  "workflow_node_executions",
  "flight_recorder_events",
  "flight_recorder_retention_grants",
  "run_offers"
]

/**
 * The ways `table` is not there, each with the statement putting it back: renamed away (as
 * dropped, to the store), and a view of its name over it. Renamed, not dropped, so one
 * migrated database serves every case.
 */
const tableReplacements = (table: string): ReadonlyArray<readonly [string, string]> => [
  [`ALTER TABLE ${table} RENAME TO ${table}_away`, `ALTER TABLE ${table}_away RENAME TO ${table}`],
  [
    `ALTER TABLE ${table} RENAME TO ${table}_away; CREATE VIEW ${table} AS SELECT * FROM ${table}_away`,
    `DROP VIEW ${table}; ALTER TABLE ${table}_away RENAME TO ${table}`
  ]
]

const newestSqlite = Math.max(...shippedSqliteMigrationIds)
const newestPg = Math.max(...shippedPgMigrationIds)

describe("a bookkeeping table whose rows are not this library's migrations (id and name)", () => {
  for (const { label, ddl, says } of lookalikes) {
    it.live(`R9 SQLite: ${label} is MigrationFailed saying so, migrating or not; nothing is created`, () =>
      Effect.gen(function*() {
        const filename = sqliteFileWith("lookalike-bookkeeping", ddl("sqlite", newestSqlite))
        const before = sqliteState(filename)
        for (const migrate of [true, false]) {
          const message = yield* refusal(SqliteStore.layer({ filename, migrate }))
          assert.include(message, says(newestSqlite, "sqlite"))
          assert.include(message, "another tool's table of the same name")
        }
        assert.strictEqual(sqliteState(filename), before, "nothing changed")
      }), 60_000)

    it.live(`R9 PostgreSQL: ${label} is MigrationFailed saying so, migrating, not migrating or read-only; nothing is created`, () =>
      Effect.gen(function*() {
        const url = yield* pgDatabaseWith("lookalike_bookkeeping", ddl("pg", newestPg))
        const before = yield* pgState(url)
        for (const options of [{}, { migrate: false }, { readonly: true }] as const) {
          const message = yield* refusal(PgStore.layer({ url, ...options }))
          assert.include(message, says(newestPg, "pg"))
          assert.include(message, "another tool's table of the same name")
        }
        assert.strictEqual(yield* pgState(url), before, "nothing changed")
      }).pipe(Effect.scoped), 60_000)
  }

  it.live("R9 SQLite: our own bookkeeping with any one of the schema's tables gone, or a view in its place, is MigrationFailed naming that table, migrating or not", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("bookkeeping-without-a-table")
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
      const db = new Database(filename)
      for (const table of [...schemaTables, "flight_recorder_grant_anchor"]) {
        for (const [replacement, undo] of tableReplacements(table)) {
          db.exec(`PRAGMA foreign_keys = OFF; ${replacement}`)
          for (const migrate of [true, false]) {
            const message = yield* refusal(SqliteStore.layer({ filename, migrate }))
            assert.include(message, `up to 00${newestSqlite}, but the schema they made is not there (no ${table} table)`, replacement)
          }
          db.exec(undo)
        }
      }
      db.close()
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
    }), 60_000)

  it.live("R9 PostgreSQL: our own bookkeeping with any one of the schema's tables gone, or a view in its place, is MigrationFailed naming that table, migrating or not", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("bookkeeping_without_a_table")
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      const client = yield* Effect.promise(() => connectPg(url))
      for (const table of schemaTables) {
        for (const [replacement, undo] of tableReplacements(table)) {
          yield* Effect.promise(() => client.query(replacement))
          for (const migrate of [true, false]) {
            const message = yield* refusal(PgStore.layer({ url, migrate }))
            assert.include(message, `up to 00${newestPg}, but the schema they made is not there (no ${table} table)`, replacement)
          }
          yield* Effect.promise(() => client.query(undo))
        }
      }
      yield* Effect.promise(() => client.end())
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
    }).pipe(Effect.scoped), 60_000)

  it.live("R9 SQLite: our own bookkeeping with the schema's tables dropped is MigrationFailed naming the missing ai_jobs, migrating or not", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("bookkeeping-without-schema")
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
      const db = new Database(filename)
      db.exec("PRAGMA foreign_keys = OFF; DROP TABLE ai_jobs")
      db.close()
      for (const migrate of [true, false]) {
        const message = yield* refusal(SqliteStore.layer({ filename, migrate }))
        assert.include(message, `ai_job_model_migrations records this library's migrations up to 00${newestSqlite}, but the schema they made is not there (no ai_jobs table)`)
      }
    }), 60_000)

  it.live("R9 PostgreSQL: our own bookkeeping with the schema's tables dropped is MigrationFailed naming the missing ai_jobs, migrating or not", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("bookkeeping_without_schema")
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      const client = yield* Effect.promise(() => connectPg(url))
      yield* Effect.promise(() => client.query("DROP TABLE ai_jobs CASCADE"))
      yield* Effect.promise(() => client.end())
      for (const migrate of [true, false]) {
        const message = yield* refusal(PgStore.layer({ url, migrate }))
        assert.include(message, `ai_job_model_migrations records this library's migrations up to 00${newestPg}, but the schema they made is not there (no ai_jobs table)`)
      }
    }).pipe(Effect.scoped), 60_000)
})
