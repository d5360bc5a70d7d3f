/**
 * The schema version both stores report: the newest migration the Migrator
 * recorded. Only the probe for the bookkeeping table, and which failures of
 * its read are the database failing, differ by dialect.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { ANOTHER_TOOLS, type BookkeepingRow, recordedVersion, schemaTables } from "./bookkeepingRows.js"
import { MigrationFailed, StorageError } from "../StoreErrors.js"

/** The driver's error under a `SqlError`: its message and code. */
const driverError = (error: SqlError): { readonly message?: unknown; readonly code?: unknown } =>
  (error.cause ?? {}) as { readonly message?: unknown; readonly code?: unknown }

/**
 * The bookkeeping table refused as not this library's: a table of that name
 * another tool made, or one edited by hand. Permanent — opening again finds
 * it the same — so a `MigrationFailed`, never the retryable `StorageError`.
 */
const notOurBookkeeping = (dialect: "sqlite" | "pg", detail: string): MigrationFailed =>
  new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause: new Error(detail) })

/** The version read's failure: the database failing (`isDatabaseFailure`) is a `StorageError`, any other a refusal of the table. */
const versionNotRead = (dialect: "sqlite" | "pg", table: string, isDatabaseFailure: (error: SqlError) => boolean) =>
(error: SqlError): StorageError | MigrationFailed => {
  if (isDatabaseFailure(error)) return new StorageError({ operation: "JobStore.schemaVersion", cause: error })
  const { code, message } = driverError(error)
  const said = typeof message === "string" ? message : String(error.message)
  // PostgreSQL's undefined_column, SQLite's "no such column": another tool's table of the same name.
  const column = /migration_id/.test(said) ? "migration_id" : "name"
  return notOurBookkeeping(
    dialect,
    code === "42703" || /no such column/i.test(said)
      ? `${table} is not this library's bookkeeping table (no ${column} column: ${said}): ${ANOTHER_TOOLS}`
      : `${table} cannot be read as this library's bookkeeping table: ${said}; nothing was changed`
  )
}

/** What the store's schema has: whether the bookkeeping table is there, and which of the schema's tables (`schemaTables`) are, as tables. */
export interface SchemaTables {
  readonly bookkeeping: boolean
  readonly tables: ReadonlySet<string>
}

/**
 * The newest migration in `table`, 0 when `tables` says it is absent or it
 * is empty. Its read failing as the database fails (`isDatabaseFailure`: a
 * connection lost, a busy file) is a `StorageError`; the table not being
 * this library's — no `migration_id` or `name` column, rows that are not
 * the migrations in `shipped`, or no schema where it says there is one
 * (internal/bookkeepingRows.ts) — is a `MigrationFailed`, as any other
 * refusal of the database at open. Its rows are few (one per migration): all
 * are read, in the one statement that read their highest id.
 */
export const readSchemaVersion = (
  dialect: "sqlite" | "pg",
  table: string,
  tables: Effect.Effect<SchemaTables, SqlError, SqlClient.SqlClient>,
  isDatabaseFailure: (error: SqlError) => boolean,
  shipped: Effect.Effect<ReadonlyMap<number, string>, unknown>
): Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const found = yield* Effect.mapError(tables, (cause) => new StorageError({ operation: "JobStore.schemaVersion", cause }))
    if (!found.bookkeeping) return 0
    const sql = yield* SqlClient.SqlClient
    const rows = yield* Effect.mapError(
      sql<BookkeepingRow>`SELECT migration_id, name FROM ${sql(table)} ORDER BY migration_id`.withoutTransform,
      versionNotRead(dialect, table, isDatabaseFailure)
    )
    const migrations = yield* Effect.mapError(
      shipped,
      (cause) => new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause })
    )
    return yield* Either.match(recordedVersion(table, rows, migrations, schemaTables[dialect], found.tables), {
      onLeft: (refusal) => Effect.fail(notOurBookkeeping(dialect, refusal)),
      onRight: Effect.succeed
    })
  }).pipe(Effect.withSpan("JobStore.schemaVersion"))
