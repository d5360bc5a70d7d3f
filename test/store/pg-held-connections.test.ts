/**
 * The PostgreSQL store's held connections (issue 16, pg/heldConnections.ts):
 * statements outside a transaction run on connections the store checked out
 * of its pool once. What that must never cost: two statements on one
 * connection at once (concurrency falls), a transaction kept waiting by
 * connections the store holds idle, a dead connection poisoning the store,
 * or connections left open after the store's layer is closed.
 *
 * Statements are held on the server on purpose: a trigger on `ai_jobs`
 * sleeps in every insert and records which backend ran it, so concurrent
 * `createJob`s overlap for certain (`coalesce: false`: else concurrent
 * creates share one statement, and one connection, by design).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Pg from "pg"
import { JobStore } from "../../src/store/JobStore.js"
import { holdConnections } from "../../src/store/pg/heldConnections.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { endPoolClosed, freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { expectTag, failureOf, jobEvent, newJob } from "./fixtures.js"
import { countWhere } from "./pg-support.js"

/** The store's own sessions on the current database (the raw client is `@effect/sql-pg`'s). */
const STORE_SESSIONS = `
  FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = '@handshake/ai-job-model'`

/** A fresh migrated database, a raw client on it, and a store on it built in `scope` with `options`. */
const setup = (label: string, scope: Scope.Scope, options: Omit<PgStore.PgStoreOptions, "url"> = {}) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const context = yield* Layer.buildWithScope(PgStore.layer({ url, ...options }), scope)
    const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
    return { store: Context.get(context, JobStore), sql }
  })

/** Every insert into ai_jobs sleeps `seconds` on the server and records its backend and when it ran. */
const slowInserts = (sql: SqlClient.SqlClient, seconds: number) =>
  Effect.gen(function*() {
    yield* sql`CREATE TABLE insert_probe (pid int NOT NULL, started timestamptz NOT NULL, ended timestamptz NOT NULL)`
    yield* sql.unsafe(`
      CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE started timestamptz := clock_timestamp();
      BEGIN
        PERFORM pg_sleep(${seconds});
        INSERT INTO insert_probe VALUES (pg_backend_pid(), started, clock_timestamp());
        RETURN NEW;
      END $$`)
    yield* sql`CREATE TRIGGER slow_insert BEFORE INSERT ON ai_jobs FOR EACH ROW EXECUTE FUNCTION slow_insert()`
  })

interface Probe {
  readonly pid: number
  readonly started: Date
  readonly ended: Date
}

const createMany = (store: Context.Tag.Service<JobStore>, count: number) =>
  Effect.forEach(Array.from({ length: count }), () => store.createJob(newJob()), { concurrency: "unbounded" })

describe("issue 16 PostgreSQL statements outside a transaction run on connections the store holds", () => {
  it.scoped("R17 concurrent statements never share a connection: 8 slow inserts at once run on 8 backends, none two at a time on one", () =>
    Effect.gen(function*() {
      const { sql, store } = yield* setup("held concurrent", yield* Effect.scope, { maxConnections: 8, coalesce: false })
      yield* slowInserts(sql, 0.3)
      yield* createMany(store, 8)
      const probes = yield* sql<Probe>`SELECT pid, started, ended FROM insert_probe`
      assert.strictEqual(probes.length, 8)
      assert.strictEqual(new Set(probes.map((p) => p.pid)).size, 8, "every insert had a backend of its own")
      // Then twice as many as the pool holds: they wait for a connection, never double up on one.
      yield* sql`TRUNCATE insert_probe`
      yield* createMany(store, 16)
      const queued = yield* sql<Probe>`SELECT pid, started, ended FROM insert_probe ORDER BY pid, started`
      assert.strictEqual(queued.length, 16)
      assert.isAtMost(new Set(queued.map((p) => p.pid)).size, 8, "the pool's size still bounds the store")
      for (let i = 1; i < queued.length; i++) {
        const [before, after] = [queued[i - 1]!, queued[i]!]
        if (before.pid === after.pid) {
          assert.isAtMost(before.ended.getTime(), after.started.getTime(), `backend ${after.pid} ran two inserts at once`)
        }
      }
      assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM ai_jobs`), 24)
    }), 60_000)

  it.scoped("R10 a transaction on a full pool is not kept waiting by connections the store holds idle", () =>
    Effect.gen(function*() {
      // Two held connections fill a pool of two; without one given back the transaction
      // would wait out connectTimeout and fail.
      const { sql, store } = yield* setup("held full pool", yield* Effect.scope, { maxConnections: 2, connectTimeout: "3 seconds", coalesce: false })
      yield* slowInserts(sql, 0.2)
      yield* createMany(store, 2)
      assert.strictEqual(new Set((yield* sql<Probe>`SELECT pid FROM insert_probe`).map((p) => p.pid)).size, 2, "setup: two connections held")
      const job = yield* store.transaction(Effect.gen(function*() {
        const job = yield* store.createJob(newJob())
        return yield* store.getJob(job.job_id)
      }))
      assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
      assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM ai_jobs`), 3)
    }), 60_000)

  it.scoped("R17 a statement the server refuses (a taken event id) keeps its connection held: the store's sessions are the same before and after", () =>
    Effect.gen(function*() {
      const { sql, store } = yield* setup("held refused", yield* Effect.scope, { coalesce: false })
      const job = yield* store.createJob(newJob())
      const event = jobEvent(job)
      yield* store.appendEvents([event])
      const sessions = Effect.map(sql<{ readonly pid: number }>`SELECT pid ${sql.unsafe(STORE_SESSIONS)} ORDER BY pid`, (rows) => rows.map((r) => r.pid))
      const before = yield* sessions
      expectTag(yield* failureOf(store.appendEvents([event])), "AlreadyExists")
      yield* store.appendEvents([jobEvent(job)])
      assert.deepStrictEqual(yield* sessions, before, "no connection dropped or added")
    }), 60_000)

  it.scoped("R17 a held connection whose backend is killed (pg_terminate_backend): the next statement fails typed or runs on a fresh connection, and the store keeps working", () =>
    Effect.gen(function*() {
      const { sql, store } = yield* setup("held killed", yield* Effect.scope)
      const first = yield* store.createJob(newJob())
      const killed = yield* countWhere(sql`SELECT count(pg_terminate_backend(pid)) AS n ${sql.unsafe(STORE_SESSIONS)}`)
      assert.isAtLeast(killed, 1, "setup: the store's connection killed")
      const next = yield* Effect.either(store.createJob(newJob()))
      if (Either.isLeft(next)) expectTag(next.left, "StorageError")
      // Whatever the first statement after the kill met, the store works on.
      const after = yield* Effect.forEach(Array.from({ length: 3 }), () => store.createJob(newJob()))
      assert.strictEqual((yield* store.getJob(first.job_id)).job_id, first.job_id)
      for (const job of after) assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
      assert.strictEqual(
        yield* countWhere(sql`SELECT count(*) AS n FROM ai_jobs`),
        1 + after.length + (Either.isRight(next) ? 1 : 0),
        "a failed statement wrote nothing"
      )
    }), 60_000)

  it.scoped("R10 a transaction lent a held connection whose backend was killed fails typed and writes nothing, and the next one commits", () =>
    Effect.gen(function*() {
      const { sql, store } = yield* setup("held killed transaction", yield* Effect.scope, { coalesce: false })
      yield* store.createJob(newJob())
      assert.isAtLeast(yield* countWhere(sql`SELECT count(pg_terminate_backend(pid)) AS n ${sql.unsafe(STORE_SESSIONS)}`), 1, "setup: killed")
      const pair = store.transaction(Effect.zip(store.createJob(newJob()), store.createJob(newJob())))
      const first = yield* Effect.either(pair)
      if (Either.isLeft(first)) expectTag(first.left, "StorageError")
      yield* pair
      assert.strictEqual(
        yield* countWhere(sql`SELECT count(*) AS n FROM ai_jobs`),
        1 + 2 + (Either.isRight(first) ? 2 : 0),
        "both jobs of a transaction or neither"
      )
    }), 60_000)

  it.scoped("R17 closing the store's layer closes every connection it held", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { sql, store } = yield* setup("held close", scope, { maxConnections: 4, coalesce: false })
      yield* slowInserts(sql, 0.2)
      yield* createMany(store, 4)
      const sessions = countWhere(sql`SELECT count(*) AS n ${sql.unsafe(STORE_SESSIONS)}`)
      assert.isAtLeast(yield* sessions, 4, "setup: four connections held")
      yield* Scope.close(scope, Exit.void)
      // The server notices each session's end asynchronously: wait for it, boundedly.
      let open = yield* sessions
      for (let tries = 0; open > 0 && tries < 250; tries++) {
        yield* sleepRealTime(20)
        open = yield* sessions
      }
      assert.strictEqual(open, 0, "no session of the store left open")
    }), 60_000)

  it.scoped("R17 connections held through a burst go back to the pool once left free for its idle period, and the pool closes them", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("held idle")
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => new Pg.Pool({ connectionString: url, max: 4, idleTimeoutMillis: 100 }).on("error", () => {})),
        endPoolClosed
      )
      const held = yield* holdConnections(pool)
      const pids = yield* Effect.forEach(
        Array.from({ length: 4 }),
        () => held.execute("SELECT pg_backend_pid() AS pid, pg_sleep($1::float8)", [0.1]),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(pids.map(([row]) => (row as { readonly pid: number }).pid)).size, 4, "setup: a burst of four")
      assert.strictEqual(held.held(), 4)
      // Idle sweeps run every 100 ms here: wait for them, boundedly.
      for (let tries = 0; pool.totalCount > 0 && tries < 250; tries++) yield* sleepRealTime(20)
      assert.strictEqual(held.held(), 0, "none held")
      assert.strictEqual(pool.totalCount, 0, "every connection closed")
      // And the store works on: a statement checks out a fresh connection.
      assert.deepStrictEqual(yield* held.execute("SELECT $1::int AS x", [1]), [{ x: 1 }])
    }), 60_000)
})
