/**
 * R16 on a SQLite file the library does not have to itself: another
 * application's tables live in it, and a DBA adds objects of their own. The
 * library checks and rebuilds only what is its own, keeps the DBA's indexes and
 * triggers through a table rebuild, and refuses, changing nothing, what a
 * rebuild cannot carry.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobStore } from "../../src/store/JobStore.js"
import { MigrationFailed } from "../../src/store/StoreErrors.js"
import { migrateFrom, migrationsDirectory, schemaVersion } from "../../src/store/sqlite/migrations.js"
import { migrationsBefore, rawClient, rawNumber, rawRows, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** Another application's two tables, with foreign keys off as SQLite applications run: order 11 names customer 2, who is not there. */
const otherAppWithDanglingRow = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.zipRight(
    sql.unsafe("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"),
    Effect.zipRight(
      sql.unsafe("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total REAL)"),
      sql.unsafe("INSERT INTO customers VALUES (1, 'ann'); ").pipe(
        Effect.zipRight(sql.unsafe("PRAGMA foreign_keys = OFF")),
        Effect.zipRight(sql.unsafe("INSERT INTO orders VALUES (10, 1, 9.5), (11, 2, 3.0)")),
        Effect.zipRight(sql.unsafe("PRAGMA foreign_keys = ON"))
      )
    )
  ))

describe("R16 SQLite: another application's dangling foreign keys in the shared file", () => {
  it.scoped("R16 a migrated file migrates again (nothing pending) and a store opens on it, another app's dangling row left as it is", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(Effect.zipRight(migrateFrom(migrationsDirectory), otherAppWithDanglingRow), rawClient(filename))
      const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))
      assert.deepStrictEqual(applied, [])
      // The default layer migrates on start: it must open.
      const listed = yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.listJobs({ limit: 10 })), storeWithClient(filename))
      assert.deepStrictEqual(listed.items, [])
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM orders WHERE customer_id = 2"), rawClient(filename)), 1)
    }))

  it.scoped("R16 a new file shared with another app migrates from scratch, and a file at 0023 through 0024's rebuild", () =>
    Effect.gen(function*() {
      const [fresh, at0023] = [yield* tempDatabaseFile("fresh.db"), yield* tempDatabaseFile("at-0023.db")]
      yield* Effect.provide(otherAppWithDanglingRow, rawClient(fresh))
      yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(fresh))
      yield* Effect.provide(Effect.zipRight(migrateFrom(yield* migrationsBefore("0024")), otherAppWithDanglingRow), rawClient(at0023))
      const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(at0023))
      assert.deepStrictEqual(applied.map(([id]) => id), [24, 25])
      const newest = yield* Effect.provide(schemaVersion, rawClient(fresh))
      assert.strictEqual(yield* Effect.provide(schemaVersion, rawClient(at0023)), newest)
    }))

  it.scoped("R16 a dangling reference into the library's tables is still refused, naming it", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0024"))
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe("CREATE TABLE job_notes (job_id TEXT REFERENCES ai_jobs(id), note TEXT)")
          yield* sql.unsafe("PRAGMA foreign_keys = OFF")
          yield* sql.unsafe("INSERT INTO job_notes VALUES ('no-such-job', 'x')")
          yield* sql.unsafe("PRAGMA foreign_keys = ON")
        }),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.include(failure.message, "job_notes row 1 references a row of ai_jobs that is not there")
      assert.strictEqual(yield* Effect.provide(schemaVersion, rawClient(filename)), 23)
      assert.deepStrictEqual(yield* Effect.provide(rawRows("SELECT * FROM job_notes"), rawClient(filename)), [{ job_id: "no-such-job", note: "x" }])
    }))
})
