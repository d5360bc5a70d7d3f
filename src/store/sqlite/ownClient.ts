/**
 * The SQLite client `SqliteJobStore.layer` opens for itself (issue 16: the
 * store's JavaScript per statement). An `@effect/sql` `SqlClient` built with
 * the public `SqlClient.make` over one better-sqlite3 connection — the
 * driver @effect/sql-sqlite-node itself loads, so the same version — and
 * shaped as a `SqliteClient`, so everything that takes one takes it.
 *
 * What differs from `SqliteClient.make`, and why:
 * - Prepared statements are cached in a plain `Map` by their text, looked up
 *   synchronously. @effect/sql-sqlite-node's cache is an Effect `Cache` with
 *   a time to live: a clock read, a hash and a Deferred per statement, ~15
 *   statements per lifecycle. The Map is bounded (oldest text out first), so
 *   texts built from callers' filters cannot grow it for ever.
 * - A statement runs in one synchronous stretch (`Effect.suspend` around the
 *   driver's call) instead of a cache lookup, a `flatMap` and a
 *   `withFiberRuntime`.
 * - The store's write transaction (transaction.ts) can reach the
 *   connection's one permit (`ownConnection`, connectionLock.ts: taken and
 *   given back synchronously when free) and hold it without a `Scope` per
 *   transaction; it is the same permit every other statement
 *   of the client waits on, so nothing else ever interleaves on the
 *   connection.
 *
 * What stays: one connection behind one permit (one transaction at a
 * time per process), WAL unless disabled, `SqlError` with the driver's error
 * as `cause`, `SqlClient.SafeIntegers` honoured, the compiler and
 * transactions of @effect/sql. A caller's own client (`layerFromClient`)
 * keeps @effect/sql-sqlite-node's path; the store works on both.
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import { ConnectionLock } from "./connectionLock.js"

/** The part of better-sqlite3's prepared statement the client uses. */
interface PreparedStatement {
  readonly reader: boolean
  all(...params: ReadonlyArray<unknown>): Array<Record<string, unknown>>
  run(...params: ReadonlyArray<unknown>): { readonly changes: number; readonly lastInsertRowid: number | bigint }
  raw(toggle: boolean): PreparedStatement
  safeIntegers(toggle: boolean): PreparedStatement
}

/** The part of better-sqlite3's database the client uses. */
interface Database {
  prepare(text: string): PreparedStatement
  pragma(text: string): unknown
  serialize(): Uint8Array
  backup(destination: string): Promise<SqliteClient.BackupMetadata>
  loadExtension(path: string): void
  close(): void
  readonly inTransaction: boolean
  readonly open: boolean
}

/** The client's connection: @effect/sql's, with what a `SqliteClient` adds. */
interface DatabaseConnection extends Connection {
  readonly export: Effect.Effect<Uint8Array, SqlError>
  readonly backup: (destination: string) => Effect.Effect<SqliteClient.BackupMetadata, SqlError>
  readonly loadExtension: (path: string) => Effect.Effect<void, SqlError>
}

type DatabaseConstructor = new(filename: string, options: { readonly readonly: boolean }) => Database

/** better-sqlite3 as @effect/sql-sqlite-node resolves it (it is that package's dependency, not ours). */
const loadDriver = (): DatabaseConstructor => {
  const require = createRequire(import.meta.url)
  return createRequire(require.resolve("@effect/sql-sqlite-node/SqliteClient"))("better-sqlite3") as DatabaseConstructor
}

/** Most prepared statements kept: the store's own texts are a few dozen; callers' filters add more. */
const PREPARED_LIMIT = 256

/** The connection and its lock, for the store's write transaction (transaction.ts). */
export interface OwnConnection {
  readonly connection: Connection
  /** The client's one permit: held, nothing else runs on the connection (connectionLock.ts). */
  readonly lock: ConnectionLock
  /**
   * Runs a statement without parameters (BEGIN, COMMIT) now, synchronously; throws its `SqlError`.
   * Only while holding the permit.
   */
  readonly runNow: (text: string) => void
  /**
   * Runs a prepared statement now, synchronously: its rows (a reader's; a write's are `[]`
   * unless it has RETURNING); throws its `SqlError`. Only while holding the permit.
   */
  readonly rowsNow: (text: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) => ReadonlyArray<Record<string, unknown>>
  /** Whether a transaction is open on the connection (better-sqlite3's `inTransaction`): after a failed COMMIT or ROLLBACK, SQLite may have ended it or not. */
  readonly inTransaction: () => boolean
  /** Whether the connection is still open (better-sqlite3's `open`): false once the store closed. */
  readonly isOpen: () => boolean
}

/** The clients this module built, by client. */
const owned = new WeakMap<SqlClient.SqlClient, OwnConnection>()

/** `sql`'s connection and lock when `sql` is a client of this module, else undefined. */
export const ownConnection = (sql: SqlClient.SqlClient): OwnConnection | undefined => owned.get(sql)

/**
 * Runs `use` on `sql`'s one connection outside any transaction, holding the
 * connection until `use` ends: its lock taken directly on a client of
 * this module, else through the client's `reserve` (@effect/sql-sqlite-node's
 * transaction acquirer, which holds it until its scope closes). A statement
 * taken through a client's plain acquirer may run after another fiber began a
 * transaction on the connection — inside it (see `make`).
 */
export const holdingConnection = (sql: SqlClient.SqlClient) => {
  const own = owned.get(sql)
  return <A, E>(use: (conn: Connection) => Effect.Effect<A, E>): Effect.Effect<A, E | SqlError> =>
    own !== undefined ? own.lock.holding(use(own.connection)) : Effect.scoped(Effect.flatMap(sql.reserve, use))
}

const failed = (message: string) => (cause: unknown) => new SqlError({ cause, message })

/** Opens `filename` (better-sqlite3 throws when it cannot: a defect, as `SqliteClient.make`) and builds the client. */
export const make = (
  config: { readonly filename: string; readonly readonly?: boolean; readonly disableWAL?: boolean }
): Effect.Effect<SqliteClient.SqliteClient, never, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const Sqlite = loadDriver()
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => new Sqlite(config.filename, { readonly: config.readonly ?? false })),
      (db) => Effect.sync(() => db.close())
    )
    if (config.disableWAL !== true) db.pragma("journal_mode = WAL")

    const prepared = new Map<string, PreparedStatement>()
    /** Statements switched to bigints (`SqlClient.SafeIntegers`), switched back when a fiber without it runs them. */
    const safeIntegers = new WeakSet<PreparedStatement>()
    const prepare = (text: string): PreparedStatement => {
      const cached = prepared.get(text)
      if (cached !== undefined) return cached
      const statement = db.prepare(text)
      if (prepared.size >= PREPARED_LIMIT) prepared.delete(prepared.keys().next().value!)
      prepared.set(text, statement)
      return statement
    }

    /** Runs `text` (prepared or cached) now: the rows of a reader, else [] (or the run's result when `raw`); throws its `SqlError`. */
    const runSync = (text: string, params: ReadonlyArray<unknown>, raw: boolean, cache: boolean, safe: boolean) => {
      try {
        const statement = cache ? prepare(text) : db.prepare(text)
        if (safe !== safeIntegers.has(statement)) {
          statement.safeIntegers(safe)
          if (safe) safeIntegers.add(statement)
          else safeIntegers.delete(statement)
        }
        if (statement.reader) return statement.all(...params)
        const result = statement.run(...params)
        // `raw` (a statement's `.raw`): the driver's run result (`changes`, `lastInsertRowid`), as @effect/sql-sqlite-node answers.
        return raw ? result as unknown as ReadonlyArray<Record<string, unknown>> : []
      } catch (cause) {
        throw new SqlError({ cause, message: "Failed to execute statement" })
      }
    }
    const run = (text: string, params: ReadonlyArray<unknown>, raw: boolean, cache: boolean) =>
      Effect.withFiberRuntime<ReadonlyArray<Record<string, unknown>>, SqlError>((fiber) => {
        try {
          return Effect.succeed(runSync(text, params, raw, cache, Context.get(fiber.currentContext, SqlClient.SafeIntegers)))
        } catch (error) {
          return Effect.fail(error as SqlError)
        }
      })

    const connection: DatabaseConnection = {
      execute: (text, params, transformRows) =>
        transformRows === undefined ? run(text, params, false, true) : Effect.map(run(text, params, false, true), transformRows),
      executeRaw: (text, params) => run(text, params, true, true),
      executeValues: (text, params) =>
        Effect.try({
          try: () => {
            const statement = prepare(text)
            if (!statement.reader) {
              statement.run(...params)
              return []
            }
            statement.raw(true)
            try {
              return statement.all(...params) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
            } finally {
              statement.raw(false)
            }
          },
          catch: failed("Failed to execute statement")
        }),
      executeUnprepared: (text, params, transformRows) =>
        transformRows === undefined
          ? run(text, params ?? [], false, false)
          : Effect.map(run(text, params ?? [], false, false), transformRows),
      executeStream: () => Effect.dieMessage("executeStream not implemented"),
      export: Effect.try({ try: () => db.serialize(), catch: failed("Failed to export database") }),
      backup: (destination) => Effect.tryPromise({ try: () => db.backup(destination), catch: failed("Failed to backup database") }),
      loadExtension: (path) =>
        Effect.try({
          try: () => {
            db.loadExtension(path)
            // An extension may change what a text means: prepare everything again.
            prepared.clear()
          },
          catch: failed("Failed to load extension")
        })
    }

    const lock = new ConnectionLock()
    // A statement, like a transaction, holds the permit until its scope closes (@effect/sql runs every
    // statement in a scope). Not @effect/sql-sqlite-node's way, which gives the permit back as it hands
    // the connection out: a fiber yielding before its statement runs lets another BEGIN on the
    // connection, and the statement then runs inside that transaction — and is undone by its rollback
    // (test/store/sqlite-lone-write-race.test.ts).
    const acquirer = Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        lock.acquire(restore),
        Effect.as(Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, Effect.sync(() => lock.release()))), connection)
      )
    )

    const sql = yield* SqlClient.make({
      acquirer,
      transactionAcquirer: acquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    })
    const client: SqliteClient.SqliteClient = Object.assign(sql, {
      [SqliteClient.TypeId]: SqliteClient.TypeId as SqliteClient.TypeId,
      config: { filename: config.filename, ...(config.readonly === undefined ? {} : { readonly: config.readonly }), ...(config.disableWAL === undefined ? {} : { disableWAL: config.disableWAL }) },
      export: lock.holding(connection.export),
      backup: (destination: string) => lock.holding(connection.backup(destination)),
      loadExtension: (path: string) => lock.holding(connection.loadExtension(path)),
      updateValues: undefined as never
    })
    const runNow = (text: string) => {
      runSync(text, [], false, true, false)
    }
    const rowsNow = (text: string, params: ReadonlyArray<unknown>, safe: boolean) => runSync(text, params, false, true, safe)
    owned.set(client, { connection, lock, runNow, rowsNow, inTransaction: () => db.inTransaction, isOpen: () => db.open })
    return client
  })
