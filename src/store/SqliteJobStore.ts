/**
 * The JobStore on SQLite (R17's local-first default), through
 * `@effect/sql-sqlite-node` (better-sqlite3).
 *
 *   const Live = SqliteJobStore.layer({ filename: "jobs.db" })   // or ":memory:"
 *
 * The layer opens its own client (creating the file's folder if needed; a
 * file that cannot be opened or is not a database is a `StorageError`), sets
 * the connection up (WAL, busy timeout, foreign keys, secure delete), applies pending
 * migrations (fresh and legacy databases take the same path, see
 * migrations/sqlite/) and builds the store.
 *
 * Time is stored as one text form, `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, ms), held
 * to by CHECK constraints, so text order is time order. Every write of more
 * than one statement runs in a `BEGIN IMMEDIATE` transaction (see
 * sqlite/transaction.ts for why; a single statement runs alone), which makes
 * claiming and recovery safe across processes sharing one file.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Config from "effect/Config"
import type { ConfigError } from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { JobStore } from "./JobStore.js"
import { joiningOwnDatabaseOnly } from "./internal/foreignTransaction.js"
import { decodingInputs } from "./internal/portInput.js"
import { holdingEachStatement } from "./sqlite/callerClient.js"
import { makeEventMethods } from "./sqlite/events.js"
import { makeJobMethods } from "./sqlite/jobs.js"
import { makeCreateClaimed } from "./sqlite/createClaimed.js"
import { makeBatchMethods } from "./sqlite/createJobs.js"
import { migrate, refuseUnlessMigrated, schemaVersion } from "./sqlite/migrations.js"
import type { MigrationFailed } from "./StoreErrors.js"
import { makeOfferMethods } from "./sqlite/offers.js"
import { makeRunMethods } from "./sqlite/runs.js"
import { makeContext } from "./sqlite/context.js"
import { sqliteDatabaseIdentity } from "./sqlite/databaseIdentity.js"
import { LONGEST_TIMER_MS } from "../util/clockSleep.js"
import { forgetTakeOver, makeWriteTransaction, readBusyTimeout, readSynchronous } from "./sqlite/transaction.js"
import { makeWorkerMethods } from "./sqlite/workers.js"
import { cannotWrite, notARegularFile } from "./sqlite/fileAccess.js"
import { explainRefusal } from "./sqlite/openFailure.js"
import { refuseNonUtf8 } from "./sqlite/fileEncoding.js"
import { FILE_URI_REFUSAL, isFileUri } from "./sqlite/fileUri.js"
import * as OwnClient from "./sqlite/ownClient.js"
import { asOpenRefusal, StorageError } from "./StoreErrors.js"
import { unknownStoreOptions } from "./internal/storageError.js"
import { isStorable } from "../domain/Text.js"

export { migrate, migrationsTable } from "./sqlite/migrations.js"

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /**
   * A database file path, or ":memory:" for a private in-memory database. A
   * SQLite `file:` URI is refused (a `StorageError`) unless this process
   * enabled SQLite URIs: SQLite would read it as a relative path.
   */
  readonly filename: string
  /** Apply pending migrations when the layer is built. Default true; never when `readonly`. */
  readonly migrate?: boolean | undefined
  /**
   * Open an existing file read-only: no migrations, the journal mode left as
   * it is, and any write fails with `StorageError`. For tools that only read.
   * Works on a file and folder this process may not write, except a WAL file
   * with no `-shm` beside it (none is made in a read-only folder): then a
   * `StorageError` says so (sqlite/fileAccess.ts).
   */
  readonly readonly?: boolean | undefined
  /**
   * How long a write waits for another connection's write lock, in ms. Default 5000.
   * The store does the waiting (without blocking the process); once it has written,
   * the connection's own `PRAGMA busy_timeout` reads 0.
   */
  readonly busyTimeoutMs?: number | undefined
  /**
   * What a commit survives (`PRAGMA synchronous`, set on the connection). Default "full".
   *
   * - "full": every commit is fsynced before it returns. A committed change
   *   and its audit events survive a process crash, an OS crash and a power loss.
   *   One exception, as on PostgreSQL: a heartbeat written outside a
   *   transaction is fsynced with the next commit, not on its own (an OS
   *   crash may lose the last beat, which the dead worker no longer needs;
   *   never anything else).
   * - "normal": in WAL mode commits are written to the WAL but fsynced only at
   *   checkpoints. A committed change survives a crash of the process; an OS
   *   crash or power loss can roll back the last commits (never corrupt the
   *   file, never split a change from its events). Faster: no fsync per commit.
   *
   * Set explicitly because better-sqlite3 is built with
   * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1: in WAL mode it silently runs "normal"
   * (no fsync per commit) unless the connection sets it.
   */
  readonly durability?: SqliteDurability | undefined
  /**
   * Group commit: write transactions of concurrent callers (several workers
   * in one process) share one `BEGIN IMMEDIATE … COMMIT` — and at "full" one
   * fsync — each in a savepoint of its own, so one caller's failure undoes
   * only its own change, and each returns only after that shared COMMIT.
   * A caller alone commits alone (the cost is one yield). Default true.
   * See sqlite/transaction.ts.
   */
  readonly groupCommit?: boolean | undefined
}

/** What a SQLite commit survives: see `SqliteStoreOptions.durability`. */
export type SqliteDurability = "normal" | "full"

const DEFAULT_BUSY_TIMEOUT_MS = 5000
/** "full" by default: the store keeps audited jobs, and PostgreSQL's default (synchronous_commit on) fsyncs each commit too. */
const DEFAULT_DURABILITY: SqliteDurability = "full"
const DEFAULT_GROUP_COMMIT = true
const synchronousLevel: Record<SqliteDurability, string> = { normal: "NORMAL", full: "FULL" }

/**
 * Builds the JobStore service on the `SqliteClient` in context (a
 * @effect/sql-sqlite-node client whose schema is migrated). Writes wait for
 * the write lock up to the connection's `busy_timeout`, without blocking the
 * process: the store takes that waiting over (and sets the connection's
 * `busy_timeout` to 0) at its first write, see sqlite/transaction.ts.
 */
export const makeWith = (
  options: { readonly groupCommit?: boolean | undefined } = {}
): Effect.Effect<JobStore["Type"], StorageError, SqliteClient.SqliteClient> => Effect.gen(function*() {
  const sql: SqlClient.SqlClient = yield* SqliteClient.SqliteClient
  const lockWaitMs = yield* Effect.mapError(
    Effect.provideService(readBusyTimeout, SqlClient.SqlClient, sql),
    (cause) => new StorageError({ operation: "SqliteStore.make", cause })
  )
  const synchronous = yield* Effect.mapError(
    Effect.provideService(readSynchronous, SqlClient.SqlClient, sql),
    (cause) => new StorageError({ operation: "SqliteStore.make", cause })
  )
  // The store's statements hold the connection while they run (callerClient.ts); the write transaction
  // keeps the client itself, which stands for the connection (its lock-wait budget is the connection's).
  const statements = yield* holdingEachStatement(sql)
  const context = makeContext(
    statements,
    makeWriteTransaction(sql, lockWaitMs, synchronous, { groupCommit: options.groupCommit ?? DEFAULT_GROUP_COMMIT })
  )

  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StorageError, R> =>
    Effect.catchIf(
      context.transaction(effect),
      (error): error is SqlError => error instanceof SqlError,
      (cause) => Effect.fail(new StorageError({ operation: "JobStore.transaction", cause }))
    ) as Effect.Effect<A, E | StorageError, R>

  // A read transaction (a deferred BEGIN, on the connection's one permit): in WAL mode its reads
  // share one snapshot, taken at the first, no other process's writer waits for it, and it works
  // on a read-only connection. Reads only, as PostgreSQL's READ ONLY transaction: a write inside fails
  // (SQLITE_READONLY, a StorageError) rather than committing with the reads. The permit is held for the
  // transaction, so the flag touches no other statement; it is set back before the transaction ends
  // (failing that, the connection would refuse every write: a defect). Inside a caller's transaction:
  // that transaction's view, writes and all, as on PostgreSQL.
  const readsOnly = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(sql`PRAGMA query_only = 1`, () => effect, () => Effect.orDie(sql`PRAGMA query_only = 0`))
  const readConsistent = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StorageError, R> =>
    Effect.catchIf(
      Effect.withFiberRuntime<A, E | SqlError, R>((fiber) =>
        sql.withTransaction(
          Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some" ? effect : readsOnly(effect)
        )
      ),
      (error): error is SqlError => error instanceof SqlError,
      (cause) => Effect.fail(new StorageError({ operation: "JobStore.readConsistent", cause }))
    ) as Effect.Effect<A, E | StorageError, R>

  const jobs = makeJobMethods(context)
  return joiningOwnDatabaseOnly(decodingInputs(JobStore.of({
    dialect: "sqlite",
    // Guarded like every member (foreignTransaction.ts): on another database's transaction it runs outside it, and says false.
    inOwnTransaction: Effect.map(Effect.serviceOption(SqlClient.TransactionConnection), Option.isSome),
    schemaVersion: Effect.provideService(schemaVersion, SqlClient.SqlClient, statements),
    transaction,
    readConsistent,
    ...jobs,
    createClaimed: makeCreateClaimed(context, jobs.createJob),
    ...makeBatchMethods(context),
    ...makeRunMethods(context),
    ...makeWorkerMethods(context),
    ...makeOfferMethods(context),
    ...makeEventMethods(context)
  })), sqliteDatabaseIdentity(sql))
})

/** `makeWith` with the default options. */
export const make: Effect.Effect<JobStore["Type"], StorageError, SqliteClient.SqliteClient> = makeWith()

/**
 * Sets up the client's one connection: the busy timeout, foreign keys
 * (better-sqlite3 enables them by default; we don't rely on that), the
 * durability (`PRAGMA synchronous`) and `secure_delete` (deleted content
 * zeroed, sqlite/erasure.ts). WAL is switched on by the client itself
 * when it opens the database.
 */
export const configureConnection = (
  options: { readonly busyTimeoutMs?: number | undefined; readonly durability?: SqliteDurability | undefined } = {}
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // A file another tool created as UTF-16 (sqlite/fileEncoding.ts).
    yield* refuseNonUtf8
    const requested = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
    // Past its type, NaN (an unset variable through `Number`) fell back to the default and a negative
    // number became 0 (no wait at all: SQLITE_BUSY at the first contention); now both are refused.
    if (typeof requested !== "number" || !Number.isFinite(requested) || requested < 0) {
      return yield* Effect.fail(new Error(`busyTimeoutMs must be a finite number of milliseconds ≥ 0, got ${String(requested)}`))
    }
    // SQLite holds the budget as a 32-bit int: past 2^31-1 ms (about 24.8 days) it read 0, no wait at all.
    const busyTimeoutMs = Math.min(LONGEST_TIMER_MS, Math.floor(requested))
    // PRAGMA takes no bound parameters; the value is a checked integer.
    yield* sql.unsafe(`PRAGMA busy_timeout = ${busyTimeoutMs}`)
    // The budget is read again (and the waiting taken over) at the next write transaction.
    forgetTakeOver(sql)
    yield* sql`PRAGMA foreign_keys = ON`
    const durability = options.durability ?? DEFAULT_DURABILITY
    if (!Object.hasOwn(synchronousLevel, durability)) {
      return yield* Effect.fail(new Error(`durability must be "normal" or "full", got ${JSON.stringify(durability)}`))
    }
    yield* sql.unsafe(`PRAGMA synchronous = ${synchronousLevel[durability]}`)
    // What a prune or retention deletes is overwritten with zeros, not left readable in the file's free
    // space (better-sqlite3's default is off); its WAL frames go at the checkpoint after (sqlite/erasure.ts).
    yield* sql`PRAGMA secure_delete = ON`
  }).pipe(Effect.mapError((cause) => new StorageError({ operation: "SqliteStore.configureConnection", cause })))

/** The options `SqliteStoreOptions` names. */
const SQLITE_OPTIONS: ReadonlyArray<string> = ["filename", "migrate", "readonly", "busyTimeoutMs", "durability", "groupCommit"]

/**
 * A key `SqliteStoreOptions` does not name, as the `StorageError` a bad value
 * gets: a misspelt `durabilty: "normal"` dropped left every commit fsynced,
 * a misspelt `readonly` left the file open for writes and migrated.
 */
const optionsRefusal = (options: object): StorageError | undefined =>
  unknownStoreOptions(options, SQLITE_OPTIONS, "SqliteStoreOptions", "SqliteStore.options", ["migrate", "readonly", "groupCommit"])

/**
 * The store over the `SqlClient` in context: configures the connection,
 * migrates unless told not to, and builds the service. For callers that
 * need the client too (e.g. tests reading raw rows).
 */
export const layerFromClient = (
  options: Omit<SqliteStoreOptions, "filename"> = {}
): Layer.Layer<JobStore, MigrationFailed | StorageError, SqliteClient.SqliteClient> =>
  Layer.effect(
    JobStore,
    Effect.gen(function*() {
      const refused = optionsRefusal(options)
      if (refused !== undefined) return yield* refused
      const client = yield* SqliteClient.SqliteClient
      yield* Effect.provideService(
        Effect.zipRight(configureConnection(options), options.migrate !== false ? migrate : asOpenRefusal(refuseUnlessMigrated)),
        SqlClient.SqlClient,
        client
      )
      return yield* makeWith(options)
    })
  )

/** Whether `filename` names a file on disk (not an in-memory or URI database). */
const isFilePath = (filename: string): boolean =>
  filename !== "" && filename !== ":memory:" && !filename.startsWith("file:")

/**
 * The client for `config.filename`, created (unless read-only) with its parent folder (the default
 * `./data/handshake.db` must work in a fresh checkout). better-sqlite3
 * throws when it cannot open the file or the file is not a database; that is
 * a `StorageError` naming the file, not a crash.
 */
const openClient = (
  config: { readonly filename: string; readonly readonly?: boolean; readonly disableWAL?: boolean }
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StorageError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const filename = config.filename
    const fail = (cause: unknown) => new StorageError({ operation: `SqliteStore.open ${JSON.stringify(filename)}`, cause })
    // A name the file system cannot hold as given: SQLite ends it at U+0000 (`jobs\u0000.bak` opened
    // and migrated `jobs`), and a lone surrogate becomes U+FFFD. Refused before anything is opened.
    if (typeof filename !== "string") return yield* fail(new TypeError(`a database file name is text, got ${typeof filename}`))
    if (!isStorable(filename)) return yield* fail(new Error("a database file name cannot hold U+0000 or a lone surrogate"))
    // Read by SQLite as a relative path unless this process enabled URIs (as the CLI does for its own opens).
    if (isFileUri(filename) && process.env["SQLITE_USE_URI"] !== "1") return yield* fail(new Error(FILE_URI_REFUSAL))
    // A named pipe would block the process for ever inside SQLite's open; a device reads as an empty database.
    const other = isFilePath(filename) ? notARegularFile(filename) : undefined
    if (other !== undefined) return yield* fail(new Error(`${filename} is not a regular file but ${other}`))
    // A reader never creates anything: a missing file is an error, not an empty database.
    if (isFilePath(filename) && config.readonly !== true) {
      // An existing file this process may not write (the file, a journal file beside it, its folder): SQLite opens
      // it read-only without a word, and on an up-to-date WAL database nothing writes until the first submit fails
      // (or the migrations, as MigrationFailed). Asked once per open, before SQLite creates or changes anything.
      const refusal = fs.existsSync(filename) ? cannotWrite(filename) : undefined
      if (refusal !== undefined) return yield* fail(refusal)
      yield* Effect.try({ try: () => fs.mkdirSync(path.dirname(filename), { recursive: true }), catch: fail })
    }
    // The store's own client (sqlite/ownClient.ts): statements prepared once in a plain Map, the connection's semaphore its transactions' to hold.
    const client = yield* Effect.catchAllDefect(OwnClient.make(config), (defect) => Effect.fail(fail(defect)))
    return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
  })).pipe(Layer.provide(Reactivity.layer))

/** The store on its own SQLite client for `filename` (a path or ":memory:"). */
export const layer = (
  options: SqliteStoreOptions
): Layer.Layer<JobStore, MigrationFailed | StorageError | ConfigError> => {
  // Refused before the file is opened (or created): bad options change nothing.
  const refused = optionsRefusal(options)
  if (refused !== undefined) return Layer.fail(refused)
  const readonly = options.readonly === true
  const store = readonly
    // Switching to WAL is a write: a read-only connection keeps the file's journal mode.
    ? layerFromClient({ ...options, migrate: false }).pipe(
      Layer.provide(openClient({ filename: options.filename, readonly: true, disableWAL: true }))
    )
    : layerFromClient(options).pipe(Layer.provide(openClient({ filename: options.filename })))
  // A name that is not text is refused by `openClient`, before SQLite sees it.
  return typeof options.filename === "string" && isFilePath(options.filename) ? Layer.mapError(store, (error) => explainRefusal(options.filename, readonly, error)) : store
}

/** `layer` with its options read from Effect `Config` (e.g. environment variables). */
export const layerConfig = (
  config: Config.Config.Wrap<SqliteStoreOptions>
): Layer.Layer<JobStore, MigrationFailed | StorageError | ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
