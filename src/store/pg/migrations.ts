/**
 * PostgreSQL migrations: the SQL files in `migrations/pg/`, applied by
 * @effect/sql's Migrator with the migrations table `ai_job_model_migrations`.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { readdir, readFile } from "node:fs/promises"
import { alreadyDone } from "../internal/migrationGuard.js"
import { recordMigration } from "../internal/migrationReport.js"
import { schemaTables, tableNames } from "../internal/bookkeepingRows.js"
import { refuseUnlessCurrent } from "../internal/behindSchema.js"
import { newestShipped, refuseNewerSchema, shippedMigrations } from "../internal/newerSchema.js"
import { consistentRead, readSchemaVersion, recordedRows, type SchemaRead, type SchemaTables, type TogetherRow } from "../internal/schemaVersion.js"
import { sqlErrorIn } from "../internal/sqlErrorIn.js"
import { unrecordedMigrations } from "../internal/unrecordedMigrations.js"
import { applying, clearInHand, inHandSaid, type MigrationsInHand, noMigrationsInHand, pendingAfter } from "../internal/migrationsInHand.js"
import { MigrationFailed, StorageError } from "../StoreErrors.js"
import { breaksSession, isDatabaseFailure } from "./faults.js"
import { adviseOnIndexes, refuseDependentObjects } from "./dependentObjects.js"
import { type ClearedRunPointer, clearedPointerEvents, settleLegacyReferences } from "../internal/legacyReferences.js"
import { refuseUnreadableLegacyRows } from "../internal/legacyRowRules.js"
import { eventsInsertStatement } from "./context.js"
import { ownConstraints, referenceTablesHere, refuseForeignTables, restoreOwnConstraints } from "./legacyUpgrade.js"
import { adviseOnNotValid } from "./notValidConstraints.js"
import { doubleQuoted, searchPathOption, searchPathRefusal } from "./searchPathOption.js"
import { refuseEncoding } from "./serverEncoding.js"
import { refuseStoreElsewhere, warnOfStoreElsewhere } from "./storeElsewhere.js"
import { isTransient, retryOutermost } from "./transaction.js"

/** Where the SQL files ship: `migrations/pg/` at the package root (same depth from src/ and dist/). */
const directory = new URL("../../../migrations/pg/", import.meta.url)

/** The migration that upgrades the legacy tables in place (legacyUpgrade.ts says what runs around it). */
const legacyUpgrade = 2

/** The table recording applied migrations. */
export const migrationsTable = "ai_job_model_migrations"


/** One migration transaction's own outcome, as its work saw it, and the migrations it has in hand (see `migrate`). */
interface MigrationRun extends MigrationsInHand {
  failure: unknown
  /** The legacy run pointers the upgrade cleared, to record once the migrations are applied (internal/legacyReferences.ts). */
  cleared: ReadonlyArray<ClearedRunPointer>
  /** Whether the reference's tables were there before 0001: the store was upgraded in place, not created. */
  upgraded: boolean
}

/** The migration transaction a migration file runs in, for its failure to be kept (`runFile`). */
const currentRun = FiberRef.unsafeMake<MigrationRun | undefined>(undefined)

/** Records `failure` as `run`'s, unless an earlier one was. */
const firstFailure = (run: MigrationRun | undefined, failure: unknown): void => {
  if (run !== undefined && run.failure === undefined) run.failure = failure
}

/** Records `failure` as the current migration transaction's, unless an earlier one was. */
const keepFailure = (failure: unknown): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentRun), (run) => Effect.sync(() => firstFailure(run, failure)))

/**
 * Runs one SQL file's text as it is (no parameters, so PostgreSQL accepts
 * several statements at once), unless its `skip-if` says it is done.
 */
const runFile = (id: number, name: string, file: string) =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise(() => readFile(new URL(file, directory), "utf8"))
    const sql = yield* SqlClient.SqlClient
    if (yield* alreadyDone(sql, text)) return
    // Each file runs in a savepoint of its own (adviseOnNotValid): on a lost connection its ROLLBACK
    // dies, hiding the statement's failure, so the failure is kept where it happens.
    const statement = Effect.tapError(sql.unsafe(text), keepFailure)
    if (id !== legacyUpgrade) return yield* adviseOnNotValid(statement)
    yield* refuseForeignTables
    yield* refuseDependentObjects
    yield* refuseUnreadableLegacyRows
    const cleared = yield* settleLegacyReferences
    const run = yield* FiberRef.get(currentRun)
    if (run !== undefined) run.cleared = cleared
    const kept = yield* ownConstraints
    yield* adviseOnIndexes(adviseOnNotValid(statement))
    yield* restoreOwnConstraints(kept)
    // A DBA's plpgsql trigger that fired during 0002's writes holds plans made for the old column
    // types; fired again by a later migration, on the new ones, it failed that migration with "type
    // of parameter (uuid) does not match that when preparing the plan (text)". Planned anew.
    yield* sql`DISCARD PLANS`
  }).pipe(
    // Kept for `migrate`: the Migrator's savepoint ROLLBACK on a lost connection dies, hiding this failure.
    Effect.tapError(keepFailure),
    Effect.mapError((cause) => new MigrationFailed({ dialect: "pg", migration_id: id, migration_name: name, statement: null, cause }))
  )

/** Runs a migration's file in hand of the current migration transaction, for its failure to name it. */
const inHandWhile = <A, E, R>(id: number, name: string, file: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(FiberRef.get(currentRun), (run) => run === undefined ? file : applying(run, [id, name], file))

/** Every `NNNN_name.sql` file of the directory, in id order. */
const loader: Migrator.Loader = Effect.tryPromise({
  try: () => readdir(directory),
  catch: (cause) =>
    new Migrator.MigrationError({ reason: "import-error", message: `Cannot read ${directory.pathname}`, cause })
}).pipe(
  Effect.map((files) =>
    files
      .flatMap((file): Array<Migrator.ResolvedMigration> => {
        const match = /^(\d+)_(.+)\.sql$/.exec(file)
        if (match === null) return []
        const id = Number(match[1])
        const name = match[2] ?? ""
        return [[id, name, Effect.succeed(inHandWhile(id, name, runFile(id, name, file)))]]
      })
      .sort(([a], [b]) => a - b)
  )
)

/** The wait for the migration lock failed (the statement timeout ended it): the database was busy, nothing was migrated. */
const lockNotGot = (cause: SqlError): StorageError =>
  new StorageError({ operation: "PgStore.migrate, waiting for the migration lock", cause })

/**
 * Applies the pending migrations and returns the ones it applied (none on an
 * up-to-date database, which is only read: no lock, no CREATE). Fresh and
 * legacy databases take the same path.
 *
 * Concurrent callers are serialised by a transaction-scoped advisory lock
 * taken before the Migrator looks at its table, so two processes starting
 * on a fresh database do not race to create it. That lock not got within
 * `statementTimeout` is a `StorageError` (no migration ran), as on SQLite.
 */
export const migrate: Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, MigrationFailed | StorageError, SqlClient.SqlClient> =
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* refuseEncoding("migrate")
    // A database already at the newest version is only read: a role that may not create
    // tables (PostgreSQL 15's default on public, a read-only default) still builds the store.
    // Read outside the lock: versions only go up, so one found newest stays so.
    const found = yield* versionHere
    const newest = yield* newestSchemaVersion
    if (found >= newest) {
      if (found > newest) yield* refuseNewer
      yield* recordMigration({ before: found, applied: [] })
      return []
    }
    // What the transaction's own work failed with, and whether it ended: a ROLLBACK (or COMMIT) on a
    // lost connection dies with "not queryable", hiding the statement's own failure ("Connection
    // terminated unexpectedly") and whether the work had reached its COMMIT (databaseFailed).
    const run: MigrationRun = { failure: undefined, cleared: [], upgraded: false, ...noMigrationsInHand() }
    // A transient failure (a deadlock, a statement name another client of a transaction-mode
    // pooler left on the server connection) rolled the whole back: it runs again, as any transaction.
    return yield* retryOutermost(Effect.suspend(() => {
      run.failure = undefined
      run.cleared = []
      run.upgraded = false
      clearInHand(run)
      return sql.withTransaction(Effect.gen(function*() {
        // Not got within `statementTimeout` (another process migrating): nothing ran, the database was busy.
        yield* Effect.mapError(sql`SELECT pg_advisory_xact_lock(hashtext(${migrationsTable}))`, lockNotGot)
        // Read under the lock: a second process migrating at once waits above, then finds the
        // version the first left, and reports nothing applied.
        const before = yield* versionHere
        pendingAfter(run, before, yield* shippedMigrations(directory))
        if (before === 0) run.upgraded = yield* referenceTablesHere
        // The Migrator's own "create if missing" probes with a failing statement,
        // which would abort this transaction: create the table (same shape) first.
        yield* sql`CREATE TABLE IF NOT EXISTS ${sql(migrationsTable)} (
          migration_id integer PRIMARY KEY,
          created_at timestamptz NOT NULL DEFAULT now(),
          name text NOT NULL
        )`
        // The Migrator nests its own transaction inside this one (a savepoint).
        const applied = yield* Migrator.make({})({ loader, table: migrationsTable })
        // The Migrator dropped its bookkeeping INSERT's failure: it is found and classified as any statement's.
        if (applied.length === 0 && before < newest) return yield* unrecordedMigrations("pg", migrationsTable, newest, run)
        // Each legacy run pointer cleared is recorded, now that the Flight Recorder's table is there.
        const records = yield* clearedPointerEvents(run.cleared)
        if (records.length > 0) yield* eventsInsertStatement(sql, records)
        yield* refuseNewer
        yield* recordMigration({ before, applied })
        run.done = true
        return applied
      }).pipe(
        Effect.tapErrorCause((cause) => Effect.sync(() => firstFailure(run, Cause.squash(cause)))),
        Effect.locally(currentRun, run),
        // A migration file's deadlock reaches here as the Migrator's defect: its SqlError, failed, is what
        // `retryOutermost` runs the transaction again for (before, a deadlock in a file was never run again).
        Effect.catchAllDefect((defect) => {
          const first = sqlErrorIn(run.failure)
          return first !== undefined && isTransient(first) ? Effect.fail(first) : Effect.die(defect)
        })
      ))
    })).pipe(
      // The database failing while migrating (its connection lost, its disk full): nothing was refused (a StorageError).
      Effect.catchAllCause((cause) => {
        const failed = Cause.isInterruptedOnly(cause) ? undefined : databaseFailed(run, Cause.squash(cause))
        return failed === undefined ? Effect.failCause(cause) : Effect.fail(failed)
      }),
      // A new or upgraded store (migration 1 applied): said when other schemas already hold one (storeElsewhere.ts).
      Effect.tap((applied) => applied.some(([id]) => id === 1) ? warnOfStoreElsewhere(migrationsTable, run.upgraded) : Effect.void)
    )
  }).pipe(
    // The Migrator turns a failing migration into a defect wrapping our
    // MigrationFailed; take it back out so callers can catchTag it.
    Effect.catchAllDefect((defect) =>
      Effect.fail(
        defect instanceof Migrator.MigrationError && defect.cause instanceof MigrationFailed
          ? defect.cause
          : new MigrationFailed({ dialect: "pg", migration_id: null, migration_name: null, statement: null, cause: defect })
      )
    ),
    Effect.mapError((error) =>
      error instanceof MigrationFailed || error instanceof StorageError ? error : new MigrationFailed({ dialect: "pg", migration_id: null, migration_name: null, statement: null, cause: error })
    ),
    Effect.withSpan("PgStore.migrate")
  )

/**
 * The `StorageError` of a migration transaction the database failed
 * (faults.ts `isDatabaseFailure`: its connection lost, a full disk, out of
 * memory, an I/O error, a shutdown), or that a deadlock or serialization
 * failure still ended after `retryOutermost`'s tries (transaction.ts
 * `isTransient`: a race with another session, not a refusal of the
 * migration) — a failure a supervisor retries, not a
 * refusal it treats as permanent — or undefined when the failure is anything
 * else (a statement the database refused stays `MigrationFailed`). The first
 * failure is the one kept: the body's own (its statement's "Connection
 * terminated unexpectedly"), else the transaction's (BEGIN's, or COMMIT's
 * after the body ended). A lost COMMIT may have committed: opening again
 * finds out (the version is read under the lock before anything runs); a
 * COMMIT the server answered with an error did not.
 */
const databaseFailed = (run: MigrationRun, error: unknown): StorageError | undefined => {
  const first = sqlErrorIn(run.failure) ?? sqlErrorIn(error)
  if (first === undefined) return undefined
  const migrate = `PgStore.migrate${inHandSaid(run)}`
  if (isTransient(first)) {
    return new StorageError({ operation: `${migrate} (a conflict with another session persisted: nothing of the migration committed)`, cause: first })
  }
  if (!isDatabaseFailure(first)) return undefined
  const lost = breaksSession(first.cause)
  return new StorageError({
    operation: run.done && lost
      ? `${migrate} (the connection was lost as the migration committed: opening again finds whether it did)`
      : `${migrate} (${lost ? "the connection was lost" : "the database failed"}: nothing of the migration committed)`,
    cause: first
  })
}

/** The search_path's first schema, whether it holds the bookkeeping table (and which of the schema's tables), and the first later schema that does. */
interface BookkeepingLocation extends SchemaTables {
  readonly first: string | null
  readonly later: string | null
}

/** The schema's table names, bound in the catalogue read. */
const schemaTableNames = tableNames(schemaTables.pg)

/**
 * The search_path's first schema that may hold a store, whether it holds the
 * bookkeeping table, and, when it does not, the first schema after it on the
 * search_path that does (null when none), and which of the schema's tables
 * the first holds, as tables (plain or partitioned; a view of that name is
 * not one) (internal/bookkeepingRows.ts). `to_regclass` would look over the
 * whole path and find another schema's table, while CREATE puts the store's
 * tables in the first schema. The system's own schemas are skipped: a path
 * hardened with `pg_catalog` first (`pg_catalog, public`), or naming `pg_temp`,
 * keeps its store in `public`, where unqualified names find it — no store is
 * ever made there (found by a regression probe: such a path was refused).
 */
const locationQuery = (sql: SqlClient.SqlClient) =>
  sql`WITH path AS (
      SELECT p.name, p.position FROM unnest(current_schemas(false)) WITH ORDINALITY AS p(name, position)
      WHERE p.name NOT LIKE 'pg\_%'
    ), head AS (SELECT name, position FROM path ORDER BY position LIMIT 1)
    SELECT (SELECT name FROM head) AS first,
      EXISTS (
        SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = (SELECT name FROM head) AND c.relname = ${migrationsTable}
      ) AS present,
      ARRAY(
        SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = (SELECT name FROM head) AND c.relkind IN ('r', 'p') AND c.relname IN ${sql.in(schemaTableNames)}
      ) AS tables,
      (SELECT path.name FROM path
        JOIN pg_namespace n ON n.nspname = path.name
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = ${migrationsTable}
        WHERE path.position > (SELECT coalesce(max(position), 0) FROM head)
        ORDER BY path.position LIMIT 1) AS later`

/** A row of `locationQuery`, as the driver gives it. */
interface LocationRow {
  readonly first: string | null
  readonly present: boolean
  readonly tables: ReadonlyArray<string> | null
  readonly later: string | null
}

const asLocation = (row: LocationRow | undefined): BookkeepingLocation => ({
  first: row?.first ?? null,
  bookkeeping: row?.present === true,
  tables: new Set(row?.tables ?? []),
  later: row?.later ?? null
})

/** The location alone (`locationQuery`): read first, as the bookkeeping table may not be there to read. */
const bookkeepingLocation: Effect.Effect<BookkeepingLocation, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.map(sql<LocationRow>`${locationQuery(sql)}`, ([row]) => asLocation(row))
)

/**
 * The location and the bookkeeping's rows in one statement, one snapshot
 * (internal/schemaVersion.ts `consistentRead`), once `bookkeepingLocation`
 * found the table. The rows are read by the unqualified name: `present`
 * says whether that is the first schema's.
 */
const locationWithRows: Effect.Effect<SchemaRead<BookkeepingLocation>, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    Effect.map(
      sql<TogetherRow<LocationRow>>`SELECT l.first, l.present, l.tables, l.later, m.migration_id, m.name, m.recorded
        FROM (${locationQuery(sql)}) l
        LEFT JOIN (SELECT migration_id, name, 1 AS recorded FROM ${sql(migrationsTable)}) m ON true
        ORDER BY m.migration_id`.withoutTransform,
      (rows) => ({ found: asLocation(rows[0]), rows: recordedRows(rows) })
    )
)

/**
 * The refusal of a search_path whose first schema holds no store while a
 * later one does. It is either a new store meant for the first schema
 * (`search_path=jobs,public`, another deployment in `public`) or a
 * deployment in `public` that a new schema now comes before (a DBA's
 * `CREATE SCHEMA <role>` under the default `"$user", public`): the two look
 * the same, and guessing either way loses jobs — reading another team's, or
 * building an empty store in front of one's own. So the URL must say which.
 * The advised `search_path` writes each schema as PostgreSQL reads it
 * (`quote_ident`): a schema `"Jobs"` written bare would be read as `jobs`.
 */
const shadowedStore = (first: string, later: string): Effect.Effect<never, MigrationFailed, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The version is said where it can be read; a schema this role may not read is named without it.
    const version = yield* sql<{ readonly version: number }>`SELECT COALESCE(MAX(migration_id), 0) AS version FROM ${sql(later)}.${sql(migrationsTable)}`.pipe(
      Effect.map(([row]) => ` (schema version ${Number(row?.version ?? 0)})`),
      Effect.orElseSucceed(() => "")
    )
    const [quoted] = yield* sql<{ readonly first: string; readonly later: string }>`SELECT quote_ident(${first}) AS first, quote_ident(${later}) AS later`.pipe(
      Effect.orElseSucceed(() => [{ first: doubleQuoted(first), later: doubleQuoted(later) }])
    )
    return yield* searchPathRefusal(
      `the search_path's first schema "${first}" holds no job store, but "${later}", later on the path, holds one${version}: ` +
        `name the one to use in the URL — ?options=${searchPathOption(quoted?.later ?? later)} to use it, ` +
        `or ?options=${searchPathOption(quoted?.first ?? first)} to create a new store there; nothing was changed`
    )
  })

/**
 * The newest migration applied in `current_schema()`, 0 when the bookkeeping
 * table is absent or empty; a `MigrationFailed` when it is absent there but a
 * later schema of the search_path holds one (see `shadowedStore`), or when it
 * is not this library's (internal/schemaVersion.ts). Only the database
 * failing while it is read (faults.ts `isDatabaseFailure`) is a `StorageError`.
 *
 * Asked of `current_schema()`, where CREATE puts the store's tables: once
 * the table is there the unqualified names resolve to it.
 */
const versionHere: Effect.Effect<number, MigrationFailed | StorageError, SqlClient.SqlClient> = readSchemaVersion(
  "pg",
  migrationsTable,
  Effect.tap(
    consistentRead("pg", migrationsTable, bookkeepingLocation, locationWithRows, isDatabaseFailure),
    ({ found }) => !found.bookkeeping && found.first !== null && found.later !== null ? shadowedStore(found.first, found.later) : Effect.void
  ),
  shippedMigrations(directory)
)

/**
 * The store's schema version (`versionHere`); a search_path that would hide
 * another schema's store is a `StorageError` whose cause says so (building
 * the store already refused it with that `MigrationFailed`).
 */
export const schemaVersion: Effect.Effect<number, StorageError, SqlClient.SqlClient> = Effect.catchTag(
  versionHere,
  "MigrationFailed",
  (cause) => Effect.fail(new StorageError({ operation: "JobStore.schemaVersion", cause }))
)

/** The newest migration this version ships: the schema version a migrated database is at. */
export const newestSchemaVersion: Effect.Effect<number, unknown> = newestShipped(directory)

/**
 * Fails with `MigrationFailed` when a newer version of this library migrated the database
 * (internal/newerSchema.ts); the version not read (a connection dropped) is the read's `StorageError`.
 */
export const refuseNewer: Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> = Effect.flatMap(
  versionHere,
  (version) => refuseNewerSchema("pg", Effect.succeed(version), directory)
)

/**
 * What a store that does not migrate checks when built: the database is at this version's newest
 * migration — neither newer (`refuseNewer`) nor behind it (internal/behindSchema.ts). Refused as not
 * migrated, a store in a schema off the search_path is named instead (storeElsewhere.ts).
 */
export const refuseUnlessMigrated: Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> = refuseUnlessCurrent(
  "pg",
  Effect.tap(versionHere, (version) => version === 0 ? refuseStoreElsewhere(migrationsTable) : Effect.void),
  directory
)
