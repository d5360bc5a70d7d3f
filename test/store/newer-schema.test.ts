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

/** How one dialect opens the database: its store (with a raw client beside it), a raw client alone, its migrate, its store layer. */
interface Dialect<E> {
  readonly newest: number
  readonly storeAndClient: Layer.Layer<JobStore | SqlClient.SqlClient, E>
  readonly client: Layer.Layer<SqlClient.SqlClient, E>
  readonly migrate: Effect.Effect<unknown, { readonly _tag: string; readonly message: string }, SqlClient.SqlClient>
  readonly store: (options: { readonly migrate?: false; readonly readonly?: true }) => Layer.Layer<JobStore, { readonly _tag: string; readonly message: string }>
}

/** Rows, then a migration from the future; every way of opening it is refused and nothing changes. Returns the read-back. */
const refusedEveryWay = <E>(dialect: Dialect<E>) =>
  Effect.gen(function*() {
    const before = yield* Effect.gen(function*() {
      yield* someRows
      yield* fromTheFuture
      return yield* everyRow
    }).pipe(Effect.provide(dialect.storeAndClient))
    yield* Effect.gen(function*() {
      assertRefused(yield* Effect.flip(dialect.migrate), dialect.newest)
      assert.deepStrictEqual(yield* everyRow, before)
    }).pipe(Effect.provide(dialect.client))
    for (const options of [{}, { migrate: false }, { readonly: true }] as const) {
      const refusal = yield* Effect.flip(Layer.build(dialect.store(options)))
      assertRefused(refusal, dialect.newest)
      // Nothing was migrating when the store was only opened: it says so.
      const opened = "migrate" in options || "readonly" in options
      assert.match(refusal.message, opened ? /^Cannot open the store on this (SQLite|PostgreSQL) database: / : /^(SQLite|PostgreSQL) migrations failed: /)
    }
    assert.deepStrictEqual(yield* Effect.provide(everyRow, dialect.client), before)
  })

describe("a database from a newer version of the library", () => {
  it.effect("R17 SQLite: migrate, and a store built on it migrating, not migrating or read-only, fail with MigrationFailed naming both versions (a store only opened says it was not opened); nothing changes", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* refusedEveryWay({
        newest: Math.max(...shippedSqliteMigrationIds),
        storeAndClient: storeWithClient(filename),
        client: rawClient(filename),
        migrate: SqliteStore.migrate,
        store: (options) => SqliteStore.layer({ filename, ...options })
      })
      assert.lengthOf(yield* Effect.provide(rawRows("SELECT 1 FROM ai_jobs"), rawClient(filename)), 1)
    })))

  it.effect("R17 PostgreSQL: migrate, and a store built on it migrating, not migrating or read-only, fail with MigrationFailed naming both versions (a store only opened says it was not opened); nothing changes", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("newer schema")
      yield* refusedEveryWay({
        newest: Math.max(...shippedPgMigrationIds),
        storeAndClient: Layer.merge(PgStore.layer({ url }), rawPgClient(url)),
        client: rawPgClient(url),
        migrate: PgStore.migrate,
        store: (options) => PgStore.layer({ url, ...options })
      })
    })), 60_000)
})
