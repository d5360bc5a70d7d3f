/**
 * The schema version both stores report: the newest migration the Migrator
 * recorded. Only the probe for the bookkeeping table, and which failures of
 * its read are the database failing, differ by dialect.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
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

/** One read of the schema: what the catalogue holds (`found`), and the bookkeeping's rows as of the same moment. */
export interface SchemaRead<F extends SchemaTables> {
  readonly found: F
  readonly rows: ReadonlyArray<BookkeepingRow>
}

/**
 * A row of the statement reading the catalogue and the bookkeeping together:
 * the catalogue's columns on every row, beside one bookkeeping row each —
 * or, the table being empty, one row whose `recorded` is NULL.
 */
export type TogetherRow<C> = C & BookkeepingRow & { readonly recorded: unknown }

/** The bookkeeping rows of `rows` read together with the catalogue (`TogetherRow`): the empty table's NULL row left out. */
export const recordedRows = <C>(rows: ReadonlyArray<TogetherRow<C>>): ReadonlyArray<BookkeepingRow> =>
  rows.filter((row) => row.recorded !== null && row.recorded !== undefined)

/**
 * The catalogue and the bookkeeping's rows as of one moment. Read in two
 * statements, a migration that adds a table committing between them — a
 * rolling upgrade's other process — showed its rows without its table, and
 * the store was refused as a database whose tables were dropped (found by a
 * review). So the rows are read by one statement with the catalogue
 * (`together`), whose catalogue is the one kept. It names the bookkeeping
 * table, so it would fail without one — aborting a transaction it is read
 * in (PostgreSQL's migration): the catalogue is read alone (`alone`) first,
 * and without a bookkeeping table that read is the answer. The read failing
 * as the database fails (`isDatabaseFailure`) is a `StorageError`, any other
 * failure of the rows' a refusal of the table (`versionNotRead`).
 */
export const consistentRead = <F extends SchemaTables>(
  dialect: "sqlite" | "pg",
  table: string,
  alone: Effect.Effect<F, SqlError, SqlClient.SqlClient>,
  together: Effect.Effect<SchemaRead<F>, SqlError, SqlClient.SqlClient>,
  isDatabaseFailure: (error: SqlError) => boolean
): Effect.Effect<SchemaRead<F>, StorageError | MigrationFailed, SqlClient.SqlClient> =>
  Effect.flatMap(
    Effect.mapError(alone, (cause) => new StorageError({ operation: "JobStore.schemaVersion", cause })),
    (found): Effect.Effect<SchemaRead<F>, StorageError | MigrationFailed, SqlClient.SqlClient> =>
      found.bookkeeping ? Effect.mapError(together, versionNotRead(dialect, table, isDatabaseFailure)) : Effect.succeed({ found, rows: [] })
  )

/**
 * The newest migration the bookkeeping rows of `read` record, 0 when it
 * found no bookkeeping table or an empty one. The table not being this
 * library's — rows that are not the migrations in `shipped`, or no schema
 * where it says there is one (internal/bookkeepingRows.ts) — is a
 * `MigrationFailed`, as any other refusal of the database at open. Its rows
 * are few (one per migration): all are read.
 */
export const readSchemaVersion = (
  dialect: "sqlite" | "pg",
  table: string,
  read: Effect.Effect<SchemaRead<SchemaTables>, StorageError | MigrationFailed, SqlClient.SqlClient>,
  shipped: Effect.Effect<ReadonlyMap<number, string>, unknown>
): Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const { found, rows } = yield* read
    if (!found.bookkeeping) return 0
    const migrations = yield* Effect.mapError(
      shipped,
      (cause) => new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause })
    )
    return yield* Either.match(recordedVersion(table, rows, migrations, schemaTables[dialect], found.tables), {
      onLeft: (refusal) => Effect.fail(notOurBookkeeping(dialect, refusal)),
      onRight: Effect.succeed
    })
  }).pipe(Effect.withSpan("JobStore.schemaVersion"))
