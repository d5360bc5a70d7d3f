/**
 * A PostgreSQL connection killed under the store (`pg_terminate_backend`):
 * the statement on it when it was killed fails, and nothing after (README,
 * "a connection that breaks … is dropped … the next statement checks out a
 * fresh one; the statement that met it fails"; pg/heldConnections.ts).
 *
 * The server ends a session with a FATAL ErrorResponse, then closes the
 * socket; pg calls the connection unqueryable only once it reads the close.
 * Under load (a worker running 8 jobs) other callbacks run between the two,
 * and a connection released in between without an error — @effect/sql-pg
 * releases so after any failed statement — was kept as fit (held free, or
 * idle in the pool) and the next statement sent on it failed ("Connection
 * terminated unexpectedly"; a transaction's ROLLBACK after it, "… not
 * queryable"). Here the close is read late on purpose (its event re-emitted
 * after `CLOSE_LATE_MS`), so the next statements always run in that window.
 * (A transaction killed while it holds its connection fails typed:
 * test/reliability/faults-pg.test.ts.)
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Pg from "pg"
import { holdConnections } from "../../src/store/pg/heldConnections.js"
import { preparingClient } from "../../src/store/pg/preparedStatements.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { endPoolClosed, freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { driverError } from "./pg-support.js"

const APP = "dead-connection-probe"
const CLOSE_LATE_MS = 300

interface Stream {
  emit(event: string | symbol, ...args: Array<unknown>): boolean
}

/** The socket's close of every connection of `pool` is read `CLOSE_LATE_MS` late: a loaded event loop's interleaving, forced. */
const closeLate = (pool: Pg.Pool) =>
  pool.on("connect", (client) => {
    const stream = (client as unknown as { readonly connection: { readonly stream: Stream } }).connection.stream
    const emit = stream.emit.bind(stream)
    stream.emit = (event, ...args) => {
      if (event !== "close") return emit(event, ...args)
      setTimeout(() => emit(event, ...args), CLOSE_LATE_MS)
      return true
    }
  })

/**
 * The store's pieces as PgStore.layer builds them — a pool of preparing
 * clients, held connections on it, @effect/sql-pg on the same pool (its
 * transactions and statements borrow held connections) — and a raw client
 * on another pool to kill with.
 */
const setup = (label: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() =>
        closeLate(
          new Pg.Pool({ connectionString: url, max: 4, application_name: APP, Client: preparingClient(100) as unknown as typeof Pg.Client })
        ).on("error", () => {})
      ),
      endPoolClosed
    )
    const held = yield* holdConnections(pool)
    const sql = Context.get(yield* Layer.build(PgClient.layerFromPool({ acquire: Effect.succeed(pool), transformJson: false })), SqlClient.SqlClient)
    const admin = Context.get(yield* Layer.build(rawPgClient(url)), SqlClient.SqlClient)
    return { pool, held, sql, admin }
  })

/** Kills the session running `marker`'s statement, once it is running. */
const killRunning = (admin: SqlClient.SqlClient, marker: string) =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 500; tries++) {
      const [row] = yield* admin<{ readonly n: string }>`
        SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
        WHERE application_name = ${APP} AND state = 'active' AND query LIKE ${`%${marker}%`}`
      if (Number(row?.n) > 0) return
      yield* sleepRealTime(10)
    }
    assert.fail(`setup: no session ran ${marker}`)
  })

/** The statements that follow a kill: on held connections, @effect/sql-pg's own, and a transaction; each must run. */
const nextStatements = ({ held, sql }: { readonly held: Effect.Effect.Success<ReturnType<typeof holdConnections>>; readonly sql: SqlClient.SqlClient }) =>
  Effect.all([
    held.execute("SELECT $1::int AS x", [1]),
    held.execute("SELECT $1::int AS x", [2]),
    sql`SELECT ${3}::int AS x`,
    sql.withTransaction(Effect.zipRight(sql`SELECT ${4}::int AS x`, sql`SELECT ${5}::int AS x`))
  ], { concurrency: "unbounded" })

/** `slow` fails as the statement the kill met (FATAL 57P01), with a driver error. */
const metTheKill = (result: Either.Either<unknown, unknown>) => {
  assert.isTrue(Either.isLeft(result), "the killed statement failed")
  if (Either.isLeft(result)) assert.strictEqual(driverError(result.left as never).code, "57P01")
}

/**
 * A 30 s statement through @effect/sql-pg, its session killed while it runs: it fails as the
 * statement the kill met, and the statements sent right after — before its socket's close is
 * read — all run.
 */
const killedThenNext = (pieces: Effect.Effect.Success<ReturnType<typeof setup>>, marker: string) =>
  Effect.gen(function*() {
    // The marker in the statement's text (not a parameter): pg_stat_activity shows the text.
    const slow = yield* Effect.fork(Effect.either(pieces.sql.unsafe(`SELECT pg_sleep(30), '${marker}' AS marker`)))
    yield* killRunning(pieces.admin, marker)
    const result = yield* Fiber.join(slow)
    const next = yield* Effect.either(nextStatements(pieces))
    metTheKill(result)
    assert.isTrue(Either.isRight(next), `the next statements ran: ${Either.isLeft(next) ? String((next.left as { cause?: unknown }).cause) : ""}`)
  })

describe("a connection killed under the store fails only the statement on it", () => {
  it.scoped("R17 a held connection lent to @effect/sql-pg and killed mid-statement is not handed out again: the next statements (held, @effect/sql-pg, a transaction) run on fresh connections", () =>
    Effect.gen(function*() {
      const pieces = yield* setup("dead lent")
      const { held, pool } = pieces
      // Three held connections, free: the slow statement below is lent one of them.
      yield* Effect.all(Array.from({ length: 3 }, (_, i) => held.execute("SELECT pg_sleep(0.05), $1::int", [i])), { concurrency: "unbounded" })
      assert.strictEqual(held.held(), 3, "setup: three held")
      yield* killedThenNext(pieces, "lent-victim")
      yield* sleepRealTime(CLOSE_LATE_MS + 100)
      assert.isAtMost(held.held(), pool.totalCount, "every held connection is the pool's")
    }), 60_000)

  it.scoped("R17 a connection the pool itself checked out, killed mid-statement and released without an error, is closed, not kept idle for the next checkout", () =>
    Effect.gen(function*() {
      // No held connection yet: @effect/sql-pg's statement checks one out of the pool itself.
      yield* killedThenNext(yield* setup("dead pooled"), "pooled-victim")
    }), 60_000)
})
