/**
 * Helpers for the SQLite-specific tests: temporary database files, a store
 * together with its raw client (to look behind the store's back), and raw
 * reads.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { migrationsDirectory } from "../../src/store/sqlite/migrations.js"

/** The nine metrics at zero, as stored JSON decodes. */
export const zeroMetrics = {
  duration_ms: 0,
  total_tokens: 0,
  input_tokens: 0,
  output_tokens: 0,
  tokens_planner: 0,
  tokens_executor: 0,
  entities_read: 0,
  entities_written: 0,
  validators_run_count: 0
} as const

/** A path for a database file in a fresh temporary folder, removed (with WAL files) when the scope closes. */
export const tempDatabaseFile = (name = "jobs.db") =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hsk-sqlite-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => path.join(dir, name)))

/** The store and the raw client it runs on (one connection), for `filename`. */
export const storeWithClient = (filename: string, options: Omit<SqliteStore.SqliteStoreOptions, "filename"> = {}) =>
  Layer.provideMerge(SqliteStore.layerFromClient(options), SqliteClient.layer({ filename }))

/** Just a client on `filename`, without configuring or migrating anything. */
export const rawClient = (filename: string) => SqliteClient.layer({ filename })

/** Rows of a raw query. */
export const rawRows = <A extends object = Record<string, unknown>>(
  query: string,
  params: ReadonlyArray<unknown> = []
): Effect.Effect<ReadonlyArray<A>, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(query, params))

/** A single number from a raw `SELECT count(*) AS n ...`-style query. */
export const rawNumber = (query: string, params: ReadonlyArray<unknown> = []) =>
  Effect.map(rawRows<{ readonly n: number }>(query, params), (rows) => rows[0]?.n ?? Number.NaN)

/** The schema as sqlite_master holds it (tables, indexes, triggers), for comparing databases. */
export const schemaSnapshot = rawRows<{ readonly type: string; readonly name: string; readonly sql: string | null }>(
  "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
)

/** The ids of the SQLite migrations the package ships, in order: what a full migrate applies. */
export const shippedSqliteMigrationIds: ReadonlyArray<number> = fs.readdirSync(migrationsDirectory)
  .flatMap((file) => {
    const match = /^(\d{4})_\w+\.sql$/.exec(file)
    return match === null ? [] : [Number(match[1])]
  })
  .sort((a, b) => a - b)

/** A folder holding the shipped SQLite migrations before `first` (a number, "0013"), removed when the scope closes. */
export const migrationsBefore = (first: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hsk-before-${first}-`))
      for (const file of fs.readdirSync(migrationsDirectory).filter((name) => /^\d{4}_\w+\.sql$/.test(name) && name < first)) {
        fs.copyFileSync(new URL(file, migrationsDirectory), path.join(dir, file))
      }
      return dir
    }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => pathToFileURL(`${dir}/`)))
