/**
 * The JobStore on SQLite (R17's local-first default), through
 * `@effect/sql-sqlite-node` (better-sqlite3).
 *
 *   const Live = SqliteStore.layer({ filename: "jobs.db" })   // or ":memory:"
 *
 * The layer opens its own client, sets the connection up (WAL, busy timeout,
 * foreign keys), applies pending migrations (fresh and legacy databases take
 * the same path, see migrations/sqlite/) and builds the store.
 *
 * Time is stored as one text form, `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, ms), held
 * to by CHECK constraints, so text order is time order. Every write runs in a
 * `BEGIN IMMEDIATE` transaction (see sqlite/transaction.ts for why), which
 * makes claiming and recovery safe across processes sharing one file.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { ConfigError } from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "./JobStore.js"
import { makeEventMethods } from "./sqlite/events.js"
import { makeJobMethods } from "./sqlite/jobs.js"
import { migrate, schemaVersion } from "./sqlite/migrations.js"
import type { MigrationFailed } from "./StoreErrors.js"
import { makeRunMethods } from "./sqlite/runs.js"
import type { SqliteContext } from "./sqlite/support.js"
import { makeWriteTransaction, readBusyTimeout } from "./sqlite/transaction.js"
import { makeWorkerMethods } from "./sqlite/workers.js"
import { StorageError } from "./StoreErrors.js"

export { migrate, migrationsTable } from "./sqlite/migrations.js"

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /** A database file path, or ":memory:" for a private in-memory database. */
  readonly filename: string
  /** Apply pending migrations when the layer is built. Default true. */
  readonly migrate?: boolean
  /** How long a write waits for another connection's write lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000

/**
 * Builds the JobStore service on the `SqlClient` in context (a
 * @effect/sql-sqlite-node client whose schema is migrated). Writes wait for
 * the write lock up to the connection's `busy_timeout`.
 */
export const make: Effect.Effect<JobStore["Type"], StorageError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const lockWaitMs = yield* Effect.mapError(readBusyTimeout, (cause) => new StorageError({ operation: "SqliteStore.make", cause }))
  const context: SqliteContext = { sql, write: makeWriteTransaction(sql, lockWaitMs) }

  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StorageError, R> =>
    Effect.catchIf(
      context.write(effect),
      (error): error is SqlError => error instanceof SqlError,
      (cause) => Effect.fail(new StorageError({ operation: "JobStore.transaction", cause }))
    ) as Effect.Effect<A, E | StorageError, R>

  return JobStore.of({
    dialect: "sqlite",
    schemaVersion: Effect.provideService(schemaVersion, SqlClient.SqlClient, sql),
    transaction,
    ...makeJobMethods(context),
    ...makeRunMethods(context),
    ...makeWorkerMethods(context),
    ...makeEventMethods(context)
  })
})

/**
 * Sets up the client's one connection: the busy timeout and foreign keys
 * (better-sqlite3 enables them by default; we don't rely on that). WAL is
 * switched on by the client itself when it opens the database.
 */
export const configureConnection = (options: { readonly busyTimeoutMs?: number } = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const requested = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
    const busyTimeoutMs = Number.isFinite(requested) ? Math.max(0, Math.floor(requested)) : DEFAULT_BUSY_TIMEOUT_MS
    // PRAGMA takes no bound parameters; the value is a checked integer.
    yield* sql.unsafe(`PRAGMA busy_timeout = ${busyTimeoutMs}`)
    yield* sql`PRAGMA foreign_keys = ON`
  }).pipe(Effect.mapError((cause) => new StorageError({ operation: "SqliteStore.configureConnection", cause })))

/**
 * The store over the `SqlClient` in context: configures the connection,
 * migrates unless told not to, and builds the service. For callers that
 * need the client too (e.g. tests reading raw rows).
 */
export const layerFromClient = (
  options: Omit<SqliteStoreOptions, "filename"> = {}
): Layer.Layer<JobStore, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  Layer.effect(
    JobStore,
    Effect.gen(function*() {
      yield* configureConnection(options)
      if (options.migrate !== false) yield* migrate
      return yield* make
    })
  )

/** The store on its own SQLite client for `filename` (a path or ":memory:"). */
export const layer = (
  options: SqliteStoreOptions
): Layer.Layer<JobStore, MigrationFailed | StorageError | ConfigError> =>
  layerFromClient(options).pipe(Layer.provide(SqliteClient.layer({ filename: options.filename })))
