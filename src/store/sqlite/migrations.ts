/**
 * Applies the SQLite migrations shipped in `migrations/sqlite/` with
 * @effect/sql's Migrator, and reports a failure as a typed `MigrationFailed`
 * — or, when the database failed rather than refused (faults.ts), a `StorageError`.
 *
 * The Migrator has no loader for `.sql` files, so the files are read here,
 * split into statements (better-sqlite3 runs one per call) and handed to
 * `Migrator.fromRecord` as effects. The whole run happens inside one
 * `BEGIN IMMEDIATE` transaction, so two processes migrating one file at once
 * queue up: the second finds nothing pending instead of failing on a lock
 * upgrade.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { readdir, readFile } from "node:fs/promises"
import { alreadyDone } from "../internal/migrationGuard.js"
import { recordMigration } from "../internal/migrationReport.js"
import { schemaTables as tablesOfSchema, tableNames } from "../internal/bookkeepingRows.js"
import { refuseUnlessCurrent } from "../internal/behindSchema.js"
import { newestShipped, refuseNewerSchema, shippedMigrations } from "../internal/newerSchema.js"
import { type ClearedRunPointer, clearedPointerEvents, settleLegacyReferences } from "../internal/legacyReferences.js"
import { migrationLabel } from "../internal/migrationLabel.js"
import { applying, inHandSaid, type MigrationsInHand, noMigrationsInHand, pendingAfter } from "../internal/migrationsInHand.js"
import { refuseUnreadableLegacyRows } from "../internal/legacyRowRules.js"
import { consistentRead, readSchemaVersion, recordedRows, type SchemaRead, type SchemaTables, type TogetherRow } from "../internal/schemaVersion.js"
import { sqlErrorIn } from "../internal/sqlErrorIn.js"
import { unrecordedMigrations } from "../internal/unrecordedMigrations.js"
import { MigrationFailed, StorageError } from "../StoreErrors.js"
import { refuseForeignTables } from "./libraryColumns.js"
import { isLibraryTable, libraryObjects, type LibraryObjects } from "./libraryObjects.js"
import { sqliteCode } from "./errors.js"
import { isDatabaseFailure } from "./faults.js"
import { refuseNonUtf8 } from "./fileEncoding.js"
import { carryThroughRebuild } from "./rebuildCarry.js"
import { insertEventsStep } from "./context.js"
import { splitStatements, stripCommentsAndStrings } from "./sqlScript.js"
import { runThrough } from "./step.js"
import { isBusy, makeWriteTransaction, readBusyTimeout } from "./transaction.js"

/**
 * Where the SQL files are, relative to this module: `src/store/sqlite/` in
 * the sources and `dist/store/sqlite/` after a build are both three levels
 * below the package root, which ships `migrations/`.
 */
export const migrationsDirectory: URL = new URL("../../../migrations/sqlite/", import.meta.url)

/** The Migrator's bookkeeping table. */
export const migrationsTable = "ai_job_model_migrations"


const FILE_NAME = /^(\d{4})_(\w+)\.sql$/

/**
 * The migration that upgrades the legacy tables: their rows are first held to the domain's rules
 * (internal/legacyRowRules.ts), their references settled (internal/legacyReferences.ts).
 */
const LEGACY_UPGRADE = 2

/**
 * Runs one file's statements in order, naming the one that fails; nothing when its `skip-if` says it is done.
 * Before the legacy upgrade, the run pointers it clears are added to `cleared`.
 */
const runScript = (id: number, name: string, script: string, library: LibraryObjects, cleared: Array<ClearedRunPointer>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.flatMap(
      Effect.mapError(
        alreadyDone(sql, script),
        (cause) => new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause })
      ),
      (done) => {
        if (done) return Effect.void
        const settled = id !== LEGACY_UPGRADE ? Effect.void : Effect.mapBoth(Effect.zipRight(refuseUnreadableLegacyRows, settleLegacyReferences), {
          onFailure: (cause) => new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause }),
          onSuccess: (pointers) => void cleared.push(...pointers)
        })
        const statements = Effect.zipRight(settled, Effect.forEach(splitStatements(script), (statement, index) =>
          Effect.mapError(
            sql.unsafe(statement).unprepared,
            (cause) => new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: index + 1, cause })
          ), { discard: true }))
        if (!REBUILDS.test(stripCommentsAndStrings(script))) return statements
        // A rebuild keeps what others added to its tables (rebuildCarry.ts), and copies rows with foreign
        // keys off (migrateFrom): its references are checked as it ends, naming it.
        return Effect.zipRight(carryThroughRebuild(sql, library, id, name, script, statements), refuseDangling(sql, library, id, name))
      }
    ))

/**
 * A script that rebuilds a table: renames the old one to copy from it, or drops
 * it and creates it again (0004's retention grants, which hold no lasting rows).
 */
const REBUILDS = /\b(?:RENAME\s+TO|DROP\s+TABLE)\b/i

/** One shipped migration: its number, name and text. */
interface MigrationFile {
  readonly id: number
  readonly name: string
  readonly script: string
}

/** Reads every `NNNN_name.sql` file of `directory`, in order. */
const readMigrationFiles = (directory: URL) =>
  Effect.tryPromise({
    try: async () => {
      const files: Array<MigrationFile> = []
      for (const file of (await readdir(directory)).sort()) {
        const match = FILE_NAME.exec(file)
        if (match === null) continue
        const [, number = "", name = ""] = match
        files.push({ id: Number(number), name, script: await readFile(new URL(file, directory), "utf8") })
      }
      return files
    },
    catch: (cause) => new Migrator.MigrationError({ reason: "import-error", message: `Cannot read ${directory.href}`, cause })
  })

/** The Migrator over `files`, as the record `Migrator.fromRecord` expects (keys `NNNN_name`), each file in hand while it runs. */
const runMigrator = (files: ReadonlyArray<MigrationFile>, library: LibraryObjects, cleared: Array<ClearedRunPointer>, inHand: MigrationsInHand) =>
  Migrator.make({})({
    loader: Migrator.fromRecord(Object.fromEntries(files.map(({ id, name, script }) =>
      [migrationLabel(id, name), applying(inHand, [id, name], runScript(id, name, script, library, cleared))]))),
    table: migrationsTable
  })

/** A row `PRAGMA foreign_key_check` reports: its table and rowid, and the table it names. */
interface Dangling {
  readonly table: string
  readonly rowid: number | null
  readonly parent: string
}

/**
 * Fails the migration when a row of the library's tables, or a row pointing
 * into them, references one that is not there (the run has foreign keys off):
 * naming the table, the row and the parent, where a statement with them on
 * said only "FOREIGN KEY constraint failed". Another application's rows that
 * point elsewhere are its own business: SQLite applications run with foreign
 * keys off by default, and their dangling rows must not stop ours migrating.
 */
const refuseDangling = (sql: SqlClient.SqlClient, library: LibraryObjects, id: number | null = null, name: string | null = null) =>
  Effect.flatMap(
    Effect.mapError(sql<Dangling>`PRAGMA foreign_key_check`, (cause) =>
      new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause })),
    (all) => {
    const rows = all.filter((row) => isLibraryTable(library, row.table) || isLibraryTable(library, row.parent))
    const first = rows[0]
    if (first === undefined) return Effect.void
    const more = rows.length > 1 ? ` (and ${rows.length - 1} more)` : ""
    return Effect.fail(
      new MigrationFailed({
        dialect: "sqlite",
        migration_id: id,
        migration_name: name,
        statement: null,
        cause: new Error(
          `FOREIGN KEY constraint failed: ${first.table} row ${String(first.rowid)} references a row of ${first.parent} that is not there${more}`
        )
      })
    )
  }
  )

const asMigrationFailed = (cause: unknown): MigrationFailed => {
  if (cause instanceof MigrationFailed) return cause
  // The Migrator turns a failing migration into a defect wrapping our error.
  if (cause instanceof Migrator.MigrationError && cause.cause instanceof MigrationFailed) return cause.cause
  return new MigrationFailed({ dialect: "sqlite", migration_id: null, migration_name: null, statement: null, cause })
}

/**
 * The `StorageError` of a migration the database failed (faults.ts `isDatabaseFailure`: the disk
 * full, an I/O error, out of memory, the file read-only, its lock not got at COMMIT), SQLite's code
 * said and the migrations in hand named — a failure a supervisor retries, not a refusal it treats as
 * permanent — or `error` as it is. The run is one transaction, rolled back: nothing of it, its
 * bookkeeping rows included, committed.
 */
const databaseFailed = (error: MigrationFailed | StorageError, inHand: MigrationsInHand): MigrationFailed | StorageError => {
  const first = error instanceof MigrationFailed ? sqlErrorIn(error) : undefined
  if (first === undefined || !isDatabaseFailure(first)) return error
  return new StorageError({
    operation: `SqliteStore.migrate${inHandSaid(inHand)} (the database failed, ${sqliteCode(first) ?? "SQLITE_ERROR"}: nothing of the migration committed)`,
    cause: first
  })
}

/** The migration's wait for the write lock ran out (SQLITE_BUSY): the database was busy, nothing was migrated. */
const lockNotGot = (cause: SqlError): StorageError =>
  new StorageError({ operation: "SqliteStore.migrate, waiting for the database's write lock", cause })

/**
 * Applies every pending migration found in `directory`, all or nothing, and
 * returns the ones it applied as `[id, name]` (empty when the database is up
 * to date). Tests use a directory holding the files up to some migration to
 * build a database as that migration left it. A write lock another
 * connection holds past the budget is a `StorageError` (no migration ran),
 * as is the database failing while migrating (`databaseFailed`).
 */
export const migrateFrom = (directory: URL): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  MigrationFailed | StorageError,
  SqlClient.SqlClient
> =>
  Effect.suspend(() => {
    const inHand = noMigrationsInHand()
    // The database failing while migrating (a full disk, a read-only file): nothing was refused.
    return Effect.mapError(migrateWith(directory, inHand), (error) => databaseFailed(error, inHand))
  }).pipe(Effect.withSpan("SqliteStore.migrate"))

/** `migrateFrom`'s run, keeping the migrations it has in hand in `inHand`. */
const migrateWith = (directory: URL, inHand: MigrationsInHand) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const lockWaitMs = yield* readBusyTimeout
    const inTransaction = makeWriteTransaction(sql, lockWaitMs)
    // A rebuild renames a table, creates the new one and drops the old (0002, 0013). With foreign
    // keys on, SQLite points every other table's REFERENCES at the renamed old table, and dropping
    // it deletes their rows by cascade: a reference database's own `ai_job_mcp_fields` (its
    // migration 0014) lost every row, and was left referencing a table that no longer exists. So
    // the run has foreign keys off (a no-op inside a transaction: set before it) and renames that
    // leave other tables' references alone; `foreign_key_check` before the commit then refuses any
    // reference left dangling, so the database ends exactly as consistent as with them on.
    const files = yield* readMigrationFiles(directory)
    const library = libraryObjects(files.map(({ script }) => script), migrationsTable)
    yield* sql`PRAGMA foreign_keys = OFF`
    let begun = false
    return yield* inTransaction(Effect.gen(function*() {
      begun = true
      // A caller's own client reaches this without the store's connection set-up: the file's encoding is
      // checked here too, under the write lock: the read waits for a busy file as BEGIN does, not before it.
      yield* Effect.catchIf(refuseNonUtf8, (error): error is Error => !(error instanceof SqlError), (cause) =>
        Effect.fail(new StorageError({ operation: "SqliteStore.migrate", cause })))
      // Read under the write lock the whole run holds: a second process migrating at once waits
      // here, then finds the version the first left, and reports nothing applied.
      const before = yield* Effect.mapError(versionIn(directory), asMigrationFailed)
      // A never-migrated file: a table of one of our names must be ours or the reference's, even empty.
      if (before === 0) yield* refuseForeignTables(sql, library.columns())
      yield* sql`PRAGMA legacy_alter_table = ON`
      const cleared: Array<ClearedRunPointer> = []
      pendingAfter(inHand, before, files.map(({ id, name }) => [id, name] as const))
      const applied = yield* runMigrator(files, library, cleared, inHand)
      // Each legacy run pointer cleared is recorded, now that the Flight Recorder's table is there.
      yield* Effect.mapError(
        Effect.flatMap(clearedPointerEvents(cleared), (records) => runThrough(() => insertEventsStep(records), (text, params) => sql.unsafe(text, params))),
        asMigrationFailed
      )
      // The Migrator dropped its bookkeeping INSERT's failure (internal/unrecordedMigrations.ts).
      const newest = Math.max(0, ...files.map(({ id }) => id))
      if (applied.length === 0 && before < newest) return yield* unrecordedMigrations("sqlite", migrationsTable, newest, inHand)
      yield* sql`PRAGMA legacy_alter_table = OFF`
      yield* refuseNewer(directory)
      // Only a run that changed something can have left a reference dangling.
      if (applied.length > 0) yield* refuseDangling(sql, library)
      yield* recordMigration({ before, applied })
      inHand.done = true
      return applied
    })).pipe(
      // The write lock never got within the budget (another connection held it): no migration ran, the
      // database was busy — a StorageError, as on PostgreSQL when the migration lock is not got in time.
      Effect.catchIf((error): error is SqlError => !begun && error instanceof SqlError && isBusy(error), (cause) => Effect.fail(lockNotGot(cause))),
      Effect.ensuring(Effect.ignore(Effect.zipRight(sql`PRAGMA legacy_alter_table = OFF`, sql`PRAGMA foreign_keys = ON`)))
    )
  }).pipe(
    Effect.catchIf(
      (error): error is SqlError | Migrator.MigrationError =>
        error instanceof SqlError || error instanceof Migrator.MigrationError,
      (error) => Effect.fail(asMigrationFailed(error))
    ),
    Effect.catchAllDefect((defect) => Effect.fail(asMigrationFailed(defect)))
  )

/** Applies every pending migration shipped in `migrations/sqlite/` (see `migrateFrom`). */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  MigrationFailed | StorageError,
  SqlClient.SqlClient
> = migrateFrom(migrationsDirectory)

/** The schema's table names, bound in the catalogue read. */
const schemaTableNames = tableNames(tablesOfSchema.sqlite)

/**
 * Whether the bookkeeping table (a view read as one) is there, and which of
 * the schema's tables are, as tables (a view of that name is not one), as
 * columns of a statement of the catalogue.
 */
const catalogueColumns = (sql: SqlClient.SqlClient) =>
  sql`EXISTS (SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ${migrationsTable}) AS bookkeeping,
    (SELECT group_concat(name, ' ') FROM sqlite_master WHERE type = 'table' AND name IN ${sql.in(schemaTableNames)}) AS tables`

/** A row of `catalogueColumns`, as the driver gives it. */
interface CatalogueRow {
  readonly bookkeeping: number
  readonly tables: string | null
}

const asSchemaTables = (row: CatalogueRow | undefined): SchemaTables => ({
  bookkeeping: row?.bookkeeping === 1,
  tables: new Set(row?.tables?.split(" ") ?? [])
})

/** The catalogue alone: read first, as the bookkeeping table may not be there to read. */
const schemaTables: Effect.Effect<SchemaTables, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.map(sql<CatalogueRow>`SELECT ${catalogueColumns(sql)}`, ([row]) => asSchemaTables(row))
)

/**
 * The catalogue and the bookkeeping's rows in one statement, one snapshot
 * (internal/schemaVersion.ts `consistentRead`), once `schemaTables` found
 * the table.
 */
const schemaWithRows: Effect.Effect<SchemaRead<SchemaTables>, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    Effect.map(
      sql<TogetherRow<CatalogueRow>>`SELECT ${catalogueColumns(sql)}, m.migration_id, m.name, m.recorded
        FROM (SELECT 1) LEFT JOIN (SELECT migration_id, name, 1 AS recorded FROM ${sql(migrationsTable)}) m ON 1
        ORDER BY m.migration_id`.withoutTransform,
      (rows) => ({ found: asSchemaTables(rows[0]), rows: recordedRows(rows) })
    )
)

/**
 * The newest migration applied, 0 when the bookkeeping table is absent or empty; a
 * `MigrationFailed` when the table is not this library's (internal/schemaVersion.ts): its
 * rows must be migrations of `directory`.
 */
const versionIn = (directory: URL): Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient> =>
  readSchemaVersion(
    "sqlite",
    migrationsTable,
    consistentRead("sqlite", migrationsTable, schemaTables, schemaWithRows, isDatabaseFailure),
    shippedMigrations(directory)
  )

/** The version against the migrations this version ships (`versionIn`). */
const versionHere = versionIn(migrationsDirectory)

/**
 * The newest migration applied, 0 when the bookkeeping table is absent or empty; a table that is
 * not this library's is a `StorageError` whose cause says so (building the store refused it already).
 */
export const schemaVersion: Effect.Effect<number, StorageError, SqlClient.SqlClient> = Effect.catchTag(
  versionHere,
  "MigrationFailed",
  (cause) => Effect.fail(new StorageError({ operation: "JobStore.schemaVersion", cause }))
)

/** The newest migration this version ships: the schema version a migrated database is at. */
export const newestSchemaVersion: Effect.Effect<number, unknown> = newestShipped(migrationsDirectory)

/**
 * Fails with `MigrationFailed` when a newer version of this library migrated the database
 * (internal/newerSchema.ts), or its bookkeeping table is not this library's; the version not
 * read (the file busy, an I/O error) is its `StorageError`.
 */
export const refuseNewer = (directory: URL = migrationsDirectory): Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  refuseNewerSchema("sqlite", versionIn(directory), directory)

/**
 * What a store that does not migrate checks when built: the database is at this version's newest
 * migration — neither newer (`refuseNewer`) nor behind it (internal/behindSchema.ts).
 */
export const refuseUnlessMigrated: Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> = refuseUnlessCurrent(
  "sqlite",
  versionHere,
  migrationsDirectory
)
