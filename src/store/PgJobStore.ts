/**
 * The PostgreSQL `JobStore` (R17): jobs, runs, nodes and Flight Recorder
 * events in one database, `timestamptz` and `jsonb` columns, the domain
 * enforced by CHECK constraints and triggers (migrations/pg/), and
 * `FOR UPDATE SKIP LOCKED` where several processes work the same rows.
 *
 * The SQL lives in `pg/`, one module per part of the port: jobs, runs and
 * nodes, workers (claiming, recovery, pruning), events.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Pg from "pg"
import { JobStore } from "./JobStore.js"
import { readDuration } from "../util/durationInput.js"
import { joiningOwnDatabaseOnly } from "./internal/foreignTransaction.js"
import { decodingInputs } from "./internal/portInput.js"
import { pgDatabaseIdentity } from "./pg/databaseIdentity.js"
import { sessionSettings } from "./pg/sessionSettings.js"
import { cancelInFlight, cancelWriting } from "./pg/cancelOnClose.js"
import { refuseFromNow } from "./pg/refuseOnClose.js"
import { clientTimeouts } from "./pg/clientTimeouts.js"
import { DEFAULT_MAX_PREPARED_STATEMENTS, preparingClient } from "./pg/preparedStatements.js"
import { readOnlyClient } from "./pg/readOnlyClient.js"
import { byTransaction, retryOutermost } from "./pg/transaction.js"
import { makeContext } from "./pg/context.js"
import { makeEventMethods } from "./pg/events.js"
import { makeJobMethods } from "./pg/jobs.js"
import { makeBatchMethods } from "./pg/createJobs.js"
import { migrate, refuseUnlessMigrated, schemaVersion } from "./pg/migrations.js"
import { refuseEncoding } from "./pg/serverEncoding.js"
import type { MigrationFailed } from "./StoreErrors.js"
import { makeOfferMethods } from "./pg/offers.js"
import { makeRunMethods } from "./pg/runs.js"
import { makeWorkerMethods } from "./pg/workers.js"
import { makeCoalescedMethods } from "./pg/coalesced.js"
import { type HeldConnections, holdConnections } from "./pg/heldConnections.js"
import { asOpenRefusal, StorageError } from "./StoreErrors.js"
import { unknownOptions } from "../domain/knownOptions.js"
import { notASwitch, unknownStoreOptions } from "./internal/storageError.js"

export { migrate, migrationsTable } from "./pg/migrations.js"
export { DEFAULT_MAX_PREPARED_STATEMENTS } from "./pg/preparedStatements.js"

/** Options of the store itself (whichever client it is built on). */
export interface PgStoreBehaviour {
  /**
   * Let concurrent calls share statements (group commit): while statements
   * of a kind — claims, heartbeats, completions — are in flight, later
   * callers line up and the next statement serves them all, with one commit,
   * each caller getting its own result or its own error. No timer: a call
   * that finds the store idle runs at once, alone; one that finds only other
   * kinds' statements in flight starts a turn of the event loop later, with
   * the calls of its kind made meanwhile. Calls inside a transaction are
   * never shared. Default true; false sends every call alone.
   */
  readonly coalesce?: boolean | undefined
}

/**
 * Builds the store on the `PgClient` in context, whose database is already
 * migrated (see `migrate`). Name transforms of the client are
 * bypassed: rows and JSON keep the column and field names as stored.
 */
export const makeWith = (
  options: PgStoreBehaviour = {}
): Effect.Effect<Context.Tag.Service<JobStore>, never, PgClient.PgClient> =>
  Effect.flatMap(PgClient.PgClient, (client) => makeOn(client, options, undefined))

/**
 * The store on `client`; with `held`, its statements outside a transaction run on connections it holds; with
 * `pool` (the store's own), a write's statements in flight can be cancelled by its event id (`cancelWritesOf`).
 */
const makeOn = (
  client: PgClient.PgClient,
  options: PgStoreBehaviour,
  held: HeldConnections | undefined,
  pool?: Pg.Pool
): Effect.Effect<Context.Tag.Service<JobStore>> =>
  Effect.sync(() => {
    const sql = client.withoutTransforms()
    const context = makeContext(sql, held)
    const jobs = makeJobMethods(context)
    const { outside, ...runs } = makeRunMethods(context)
    const workers = makeWorkerMethods(context)
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      context.transaction(effect).pipe(
        Effect.mapError((error) =>
          error instanceof SqlError ? new StorageError({ operation: "JobStore.transaction", cause: error }) : error
        ),
        retryOutermost
      )
    const snapshotReads = Effect.mapError(
      sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`,
      (cause) => new StorageError({ operation: "JobStore.readConsistent", cause })
    )
    return joiningOwnDatabaseOnly(decodingInputs(JobStore.of({
      dialect: "pg",
      // Guarded like every member (foreignTransaction.ts): on another database's transaction it runs outside it, and says false.
      inOwnTransaction: Effect.map(Effect.serviceOption(SqlClient.TransactionConnection), Option.isSome),
      schemaVersion: Effect.provideService(schemaVersion, SqlClient.SqlClient, sql),
      transaction,
      // One snapshot for every read (READ COMMITTED takes one per statement); the SET must come first.
      readConsistent: (effect) =>
        byTransaction(() => effect, () => transaction(Effect.zipRight(snapshotReads, effect))),
      ...(pool !== undefined ? { cancelWritesOf: (eventId: string) => Effect.promise(() => cancelWriting(pool, eventId)) } : {}),
      ...jobs,
      ...makeBatchMethods(context),
      ...runs,
      ...workers,
      ...makeEventMethods(context),
      ...makeOfferMethods(context),
      ...(options.coalesce === false ? {} : makeCoalescedMethods(context, { ...jobs, ...runs, ...workers }, outside))
    })), pgDatabaseIdentity(sql))
  })

/** `makeWith` with the default options. */
export const make: Effect.Effect<Context.Tag.Service<JobStore>, never, PgClient.PgClient> = makeWith()

/** Connection and start-up options of `layer`. */
export interface PgStoreOptions extends PgStoreBehaviour {
  /** A `postgres://` or `postgresql://` URL. */
  readonly url: string | Redacted.Redacted
  /** Apply pending migrations when the layer is built. Default true; never when `readonly`. */
  readonly migrate?: boolean | undefined
  /**
   * Every statement in a `READ ONLY` transaction (pg/readOnlyClient.ts): no
   * migrations, and the server refuses any write (a `StorageError`), behind a
   * pooler too. For tools that only read.
   */
  readonly readonly?: boolean | undefined
  /** Pool size (the `pg` default, 10, when left out). */
  readonly maxConnections?: number | undefined
  /**
   * How long opening a connection may take (the TCP connect and the server's
   * greeting) before it fails with `StorageError`. Default 10 s. It bounds a
   * wait for a free connection of a full pool too (pg-pool's
   * `connectionTimeoutMillis`): a call made while `maxConnections`
   * connections are all in use (long transactions) fails after it, its
   * `StorageError` saying the pool's connections were all in use.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * How long one statement may take. The server cancels it after this long
   * (`statement_timeout`, which also bounds lock waits), and the client gives
   * up waiting for an answer a little later (half as long again, at most 5 s
   * more), so a network that silently drops packets ends in a `StorageError`
   * too, not a hang. A transaction left idle this long (its client gone) is
   * ended by the server, releasing its locks. Default 60 s; raise it for
   * migrations of very large legacy databases. `Duration.infinity` turns all
   * three off. Given here, it wins over the URL's `statement_timeout` (and
   * `connectTimeout` over its `connect_timeout`), which otherwise stands in
   * for the default (pg/urlTimeouts.ts).
   */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /**
   * Send the store's statements as named prepared statements, so the server
   * parses each once per connection and, once it keeps a generic plan, plans
   * it no more (planning was a quarter to a third of a lifecycle's server
   * time). Default true. Turn it off behind a pooler that cannot keep them:
   * PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`. A schema change made under a live pool
   * (another process migrating) costs one retried statement or transaction,
   * never a wrong result.
   */
  readonly preparedStatements?: boolean | undefined
  /**
   * How many named statements each connection keeps, least recently used
   * closed first. Default 100 (the store has fewer distinct statements than
   * that); a whole number ≥ 1.
   */
  readonly maxPreparedStatements?: number | undefined
}

export { DEFAULT_CONNECT_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT } from "./pg/clientTimeouts.js"

/** A timeout as given: a duration above zero (`Duration.infinity`: no limit), or a word for what is wrong. */
const timeoutRefusal = (name: string, input: unknown): string | undefined => {
  if (input === undefined) return undefined
  const duration = readDuration(input)
  return Option.isSome(duration) && Duration.greaterThan(duration.value, Duration.zero)
    ? undefined
    : `${name} must be a duration above zero (Duration.infinity for no limit), got ${String(input)}`
}

/** A count as given: a whole number ≥ 1, or a word for what is wrong. */
const countRefusal = (name: string, input: number | undefined): string | undefined =>
  input === undefined || (Number.isSafeInteger(input) && input >= 1) ? undefined : `${name} must be a whole number ≥ 1, got ${String(input)}`

/** The options `PgStoreOptions` names; `layerFromClient` takes the store's own among them. */
const PG_OPTIONS: ReadonlyArray<string> = [
  "url", "migrate", "readonly", "maxConnections", "connectTimeout", "statementTimeout", "preparedStatements", "maxPreparedStatements", "coalesce"
]
const PG_CLIENT_OPTIONS: ReadonlyArray<string> = ["migrate", "readonly", "coalesce"]
/** The options that are true or false: anything else (`readonly: "true"`) is refused, not read as false. */
const PG_SWITCHES: ReadonlyArray<string> = ["migrate", "readonly", "preparedStatements", "coalesce"]

/**
 * Why `options` cannot make a pool, past their types: a misspelt key (dropped,
 * its default stood in: `readonyl: true` migrated and wrote); a `maxConnections` of
 * NaN (an unset environment variable through `Number`) made `pg`'s pool
 * unbounded, and 0 or 2.5 a pool `pg` cannot size; a timeout of zero — "off"
 * in PostgreSQL's own settings — made every statement or connection time out
 * after a millisecond; an unreadable one was a defect.
 */
const optionRefusal = (options: PgStoreOptions): string | undefined =>
  unknownOptions(options, PG_OPTIONS, "PgStoreOptions")?.message ??
    notASwitch(options, PG_SWITCHES, "PgStoreOptions") ??
    countRefusal("maxConnections", options.maxConnections) ??
    countRefusal("maxPreparedStatements", options.maxPreparedStatements) ??
    timeoutRefusal("connectTimeout", options.connectTimeout) ??
    timeoutRefusal("statementTimeout", options.statementTimeout)

/**
 * The `pg` pool with every timeout set, probed with one `SELECT 1`. The probe
 * is interruptible (it is not part of the acquire, which would not be): an
 * application that gives up on starting gets its interrupt answered at once,
 * and the pool is ended on the way out.
 */
const acquirePool = (options: PgStoreOptions) =>
  Effect.gen(function*() {
    const invalid = (refusal: string) => new SqlError({ cause: new RangeError(refusal), message: "PgStore: invalid options" })
    const refusal = optionRefusal(options)
    if (refusal !== undefined) return yield* invalid(refusal)
    // The URL's own timeouts read as the options (an option given wins), and taken out of what pg reads (pg/clientTimeouts.ts).
    const timeouts = clientTimeouts(Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url, options)
    if (Either.isLeft(timeouts)) return yield* invalid(timeouts.left)
    const { connect, settings, url } = timeouts.right
    const prepared = options.maxPreparedStatements ?? DEFAULT_MAX_PREPARED_STATEMENTS
    const client = options.preparedStatements === false ? Pg.Client : preparingClient(prepared)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool({
          connectionString: url,
          application_name: "@handshake/ai-job-model",
          ...settings,
          // Dead peers on idle connections are noticed by the OS instead of the next query.
          keepAlive: true,
          ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
          // Each connection sets ISO dates and READ COMMITTED before it is handed out (pg/sessionSettings.ts).
          onConnect: sessionSettings,
          // Read-only: every statement in a READ ONLY transaction, which holds behind any pooler (pg/readOnlyClient.ts).
          Client: (options.readonly === true ? readOnlyClient(client) : client) as unknown as new() => Pg.ClientBase
        })
        // An idle client's error (a server restart) surfaces on its next use; unhandled it would crash the process.
        pool.on("error", () => {})
        return pool
      }),
      // No statement is sent from the close on (pg/refuseOnClose.ts), and those still running are cancelled on the
      // server: closing their sockets would not stop them (pg/cancelOnClose.ts). Then the pool's end is waited for.
      (pool) =>
        Effect.suspend(() => {
          const ended = refuseFromNow(pool)
          return Effect.promise(() => cancelInFlight(pool)).pipe(
            Effect.zipRight(Effect.promise(() => ended).pipe(Effect.interruptible, Effect.timeoutOption(1000)))
          )
        })
    )
    yield* Effect.tryPromise({
      try: () => pool.query("SELECT 1"),
      catch: (cause) => new SqlError({ cause, message: "PgStore: failed to connect" })
    }).pipe(
      // pg's own connection timeout ends the attempt; this bound only backs it up.
      Duration.isFinite(connect)
        ? Effect.timeoutFail({
          duration: Duration.sum(connect, Duration.seconds(1)),
          onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "PgStore: connection timed out" })
        })
        : (effect) => effect
    )
    return pool
  })

/**
 * The store on its own connection pool. JSON is passed through untouched
 * (`transformJson: false`, no name transforms), so payload keys are never
 * rewritten. Failing to connect — refused, unreachable, or a server that
 * never answers, within `connectTimeout` — is a `StorageError`; so is a
 * statement that outlives `statementTimeout`, the migration lock's wait
 * included. A failing migration is `MigrationFailed`. Statements outside a transaction run on connections the
 * store holds from its pool, not a checkout each (pg/heldConnections.ts).
 */
export const layer = (options: PgStoreOptions): Layer.Layer<JobStore, StorageError | MigrationFailed> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const pool = yield* acquirePool(options).pipe(
        Effect.mapError((cause) => new StorageError({ operation: "PgStore.layer", cause }))
      )
      // Given back before the pool is ended (finalizers run last-added first).
      const held = yield* holdConnections(pool)
      return storeLayer(options, held, pool).pipe(
        Layer.provide(
          PgClient.layerFromPool({ acquire: Effect.succeed(pool), transformJson: false }).pipe(
            Layer.mapError((cause) => new StorageError({ operation: "PgStore.layer", cause }))
          )
        )
      )
    })
  )

/**
 * The store over the `PgClient` in context: migrates unless told not to (or
 * `readonly`), and builds the service. For callers that own the client (its
 * pool is not the store's: every statement checks a connection out of it).
 */
export const layerFromClient = (
  options: Pick<PgStoreOptions, "migrate" | "readonly" | "coalesce"> = {}
): Layer.Layer<JobStore, MigrationFailed | StorageError, PgClient.PgClient> => {
  const refused = unknownStoreOptions(options, PG_CLIENT_OPTIONS, "PgStoreOptions", "PgStore.layerFromClient", PG_SWITCHES)
  return refused === undefined ? storeLayer(options, undefined) : Layer.fail(refused)
}

const storeLayer = (
  options: Pick<PgStoreOptions, "migrate" | "readonly" | "coalesce">,
  held: HeldConnections | undefined,
  pool?: Pg.Pool
): Layer.Layer<JobStore, MigrationFailed | StorageError, PgClient.PgClient> =>
  Layer.effect(
    JobStore,
    Effect.gen(function*() {
      const client = yield* PgClient.PgClient
      // Not migrating (told not to, or read-only): a database a newer version migrated, or one behind this version, is refused.
      const prepare = options.migrate !== false && options.readonly !== true ? migrate : Effect.zipRight(refuseEncoding("open"), asOpenRefusal(refuseUnlessMigrated))
      yield* Effect.provideService(prepare, SqlClient.SqlClient, client)
      return yield* makeOn(client, options, held, pool)
    })
  )

/** `layer` with its options read from Effect `Config` (e.g. `Config.redacted("DATABASE_URL")` for the URL). */
export const layerConfig = (
  config: Config.Config.Wrap<PgStoreOptions>
): Layer.Layer<JobStore, StorageError | MigrationFailed | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
