/**
 * One database reached by several independent stores — each its own SQLite
 * connection or PostgreSQL pool, as separate processes would be — for the
 * race tests, plus a snapshot of the whole database read behind their backs
 * (test/reliability/snapshot.ts) for the reliability audit.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { readPg, readSqlite, type Snapshot } from "../reliability/snapshot.js"

/** A database several stores share. */
export interface SharedDatabase {
  /** A SQLite file path or a postgres:// URL. */
  readonly url: string
  /**
   * A new store on the database, with connections of its own, closed with the scope. `maxConnections` is
   * PostgreSQL's, `busyTimeoutMs` SQLite's (its write-lock wait); each is ignored by the other.
   */
  readonly store: (
    options?: { readonly maxConnections?: number; readonly busyTimeoutMs?: number }
  ) => Effect.Effect<JobStore["Type"], unknown, Scope.Scope>
  /** Every row, read in one consistent snapshot without the stores. */
  readonly snapshot: Effect.Effect<Snapshot>
}

/** How to get a fresh shared database of one kind. */
export interface SharedBackend {
  readonly name: string
  readonly fresh: (label: string) => Effect.Effect<SharedDatabase, unknown, Scope.Scope>
}

const built = <E>(layer: Layer.Layer<JobStore, E>) => Effect.map(Layer.build(layer), (context) => Context.get(context, JobStore))

export const sqliteFileShared: SharedBackend = {
  name: "SQLite file",
  fresh: (label) =>
    Effect.sync(() => {
      const filename = tempSqliteFile(label)
      return {
        url: filename,
        store: (options = {}) => built(SqliteStore.layer({ filename, ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}) })),
        snapshot: Effect.sync(() => readSqlite(filename))
      }
    })
}

export const postgresShared: SharedBackend = {
  name: "PostgreSQL",
  fresh: (label) =>
    Effect.map(
      freshPgDatabase(label),
      (url) => ({
        url,
        store: ({ maxConnections } = {}) => built(PgStore.layer({ url, ...(maxConnections !== undefined ? { maxConnections } : {}) })),
        snapshot: Effect.promise(() => readPg(url))
      })
    )
}

/** The application's own client on `database`, open for the scope: its transactions are the store's to join. */
export const openCallerClient = (database: SharedDatabase): Effect.Effect<SqlClient.SqlClient, unknown, Scope.Scope> => {
  const client: Layer.Layer<SqlClient.SqlClient, unknown> = database.url.startsWith("postgres")
    ? rawPgClient(database.url)
    : SqliteClient.layer({ filename: database.url })
  return Effect.map(Layer.build(client), (context) => Context.get(context, SqlClient.SqlClient))
}

/** Both kinds: every race test runs on each. */
export const sharedBackends: ReadonlyArray<SharedBackend> = [sqliteFileShared, postgresShared]

/** Resumes after `ms` of real time (the TestClock drives job time; races happen in real time). */
export const realSleep = (ms: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/**
 * Until another session on `database` waits for a row lock — a race test's
 * way to hold a transaction open exactly until its rival is blocked by it.
 * PostgreSQL shows the wait on the server (`pg_stat_activity`); SQLite's
 * waits are the store's own retries of BEGIN IMMEDIATE, invisible from
 * outside, so there it is a moment of real time.
 *
 * Its queries run on a connection of their own, never in the transaction it
 * is called from: @effect/sql's `TransactionConnection` is one tag for every
 * client, so a separate client's statements inside a store transaction join
 * that transaction — and PostgreSQL gives a transaction one snapshot of
 * `pg_stat_activity`, taken at its first read. Run inside the held
 * transaction, a poll made before the rival began to wait saw that snapshot
 * until it gave up (the flake of test/jobs/poison-race.test.ts under load).
 */
export const untilLockWaiter = (database: SharedDatabase, backend: SharedBackend): Effect.Effect<void> =>
  backend !== postgresShared ? realSleep(100) : Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let tries = 0; tries < 1_000; tries++) {
      const [row] = yield* sql<{ readonly n: string }>`
        SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
      if (Number(row?.n) > 0) return
      yield* realSleep(20)
    }
    return assert.fail("no session waits for a lock")
  }).pipe(
    Effect.provide(rawPgClient(database.url)),
    Effect.mapInputContext((context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context)),
    Effect.orDie
  )

/**
 * Until `rival` has finished, or (PostgreSQL) at least `waiters` sessions on
 * `database` wait for a lock — for a race whose rival may not wait at all (it
 * takes no lock the held side has). SQLite's waits are invisible from
 * outside: there it is a moment of real time, as in `untilLockWaiter`.
 */
export const untilDoneOrLockWaiters = (
  database: SharedDatabase,
  backend: SharedBackend,
  rival: Fiber.Fiber<unknown, unknown>,
  waiters = 1
): Effect.Effect<void> =>
  backend !== postgresShared ? realSleep(150) : Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let tries = 0; tries < 1_000; tries++) {
      if (Option.isSome(yield* Fiber.poll(rival))) return
      const [row] = yield* sql<{ readonly n: string }>`
        SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
      if (Number(row?.n) >= waiters) return
      yield* realSleep(20)
    }
    return assert.fail(`the rival neither finished nor do ${waiters} sessions wait for a lock`)
  }).pipe(
    Effect.provide(rawPgClient(database.url)),
    // Never in the caller's transaction (see untilLockWaiter).
    Effect.mapInputContext((context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context)),
    Effect.orDie
  )

/** Stops the first call that passes it once armed, until `open`. */
export interface Gate {
  readonly arm: Effect.Effect<void>
  /** Resolves when a call has reached the gate (and waits there). */
  readonly reached: Effect.Effect<void>
  readonly open: Effect.Effect<void>
  /** `effect`, then a wait at the gate if it is armed (disarming it). */
  readonly after: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeGate = Effect.gen(function*() {
  const reached = yield* Deferred.make<void>()
  const open = yield* Deferred.make<void>()
  let armed = false
  return {
    arm: Effect.sync(() => {
      armed = true
    }),
    reached: Deferred.await(reached),
    open: Effect.asVoid(Deferred.succeed(open, undefined)),
    after: (effect) =>
      Effect.tap(effect, () =>
        Effect.suspend(() => {
          if (!armed) return Effect.void
          armed = false
          return Effect.zipRight(Deferred.succeed(reached, undefined), Deferred.await(open))
        }))
  } satisfies Gate
})

/**
 * Runs `gatedSide` until it waits at the gate, then forks `rival` and lets it
 * run until it finishes or waits for a lock, then opens the gate; both results.
 */
export const interleave = <A, EA, B, EB>(
  database: SharedDatabase,
  backend: SharedBackend,
  gate: Gate,
  gatedSide: Effect.Effect<A, EA>,
  rival: Effect.Effect<B, EB>
) =>
  Effect.gen(function*() {
    yield* gate.arm
    const first = yield* Effect.fork(Effect.either(gatedSide))
    yield* gate.reached
    const second = yield* Effect.fork(Effect.either(rival))
    yield* untilDoneOrLockWaiters(database, backend, second)
    // Whether the rival committed while the gated side still waited (its read, or its lock, taken before).
    const rivalFirst = Option.isSome(yield* Fiber.poll(second))
    yield* gate.open
    return { first: yield* Fiber.join(first), second: yield* Fiber.join(second), rivalFirst }
  })

/**
 * `store` with its heartbeats counted as they complete, so a test can wait for a
 * run's first beat (written at start, in real time) before it moves the TestClock.
 * `Jobs.run`'s take of its run (`takeRun`) writes that first beat, so it counts too.
 */
export const countingHeartbeats = (store: JobStore["Type"]) => {
  let beats = 0
  const counted: JobStore["Type"] = {
    ...store,
    heartbeat: (runId) => Effect.ensuring(store.heartbeat(runId), Effect.sync(() => beats++)),
    takeRun: (runId) => Effect.ensuring(store.takeRun(runId), Effect.sync(() => beats++))
  }
  const atLeast = (n: number): Effect.Effect<void> => Effect.suspend(() => (beats >= n ? Effect.void : Effect.zipRight(realSleep(5), atLeast(n))))
  return { store: counted, beats: () => beats, atLeast }
}

/**
 * `store` whose recovery scan (`stallStaleRuns`) runs `hold` inside its
 * transaction, with its rows locked, before its events are built: a race
 * test's way to make the scan go first.
 */
export const holdingScan = (store: JobStore["Type"], hold: Effect.Effect<unknown>): JobStore["Type"] => ({
  ...store,
  stallStaleRuns: (options) =>
    store.stallStaleRuns({
      ...options,
      events: (stalled) =>
        Effect.zipRight(
          hold,
          Effect.suspend(() => {
            const records = options.events?.(stalled) ?? []
            return Effect.isEffect(records) ? records : Effect.succeed(records)
          })
        )
    })
})
