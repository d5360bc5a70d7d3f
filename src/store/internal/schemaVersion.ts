/**
 * The schema version both stores report: the newest migration the Migrator
 * recorded. Only the probe for the bookkeeping table, and which failures of
 * its read are the database failing, differ by dialect.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
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
  return notOurBookkeeping(
    dialect,
    code === "42703" || /no such column/i.test(said)
      ? `${table} is not this library's bookkeeping table (no migration_id column: ${said}); nothing was changed`
      : `${table} cannot be read as this library's bookkeeping table: ${said}; nothing was changed`
  )
}

/**
 * The newest migration in `table`, 0 when `tableExists` says it is absent or
 * it is empty. Its read failing as the database fails (`isDatabaseFailure`: a
 * connection lost, a busy file) is a `StorageError`; the table not being this
 * library's (no `migration_id` column, an id that is no migration's) is a
 * `MigrationFailed`, as any other refusal of the database at open.
 */
export const readSchemaVersion = (
  dialect: "sqlite" | "pg",
  table: string,
  tableExists: Effect.Effect<boolean, SqlError, SqlClient.SqlClient>,
  isDatabaseFailure: (error: SqlError) => boolean
): Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    if (!(yield* Effect.mapError(tableExists, (cause) => new StorageError({ operation: "JobStore.schemaVersion", cause })))) return 0
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* Effect.mapError(
      sql<{ readonly version: unknown }>`SELECT COALESCE(MAX(migration_id), 0) AS version FROM ${sql(table)}`,
      versionNotRead(dialect, table, isDatabaseFailure)
    )
    const version = Number(row?.version ?? 0)
    if (Number.isSafeInteger(version) && version >= 0) return version
    // Said as it is: Number('abc') read as "the schema is at migration 0NaN".
    return yield* notOurBookkeeping(
      dialect,
      `${table} holds a migration_id that is no migration's ('${String(row?.version)}'): ` +
        "it is not this library's bookkeeping table, or it was edited by hand; nothing was changed"
    )
  }).pipe(Effect.withSpan("JobStore.schemaVersion"))
