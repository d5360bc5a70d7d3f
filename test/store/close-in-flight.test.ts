/**
 * R17: a write in flight when the store closes (its layer torn down) is not
 * kept afterwards, on either store.
 *
 * PostgreSQL: closing the store cancels on the server the statements
 * still in flight (f119). Closing the pool (or the process exiting) only
 * closed the sockets: a submit's INSERT waiting on a lock kept waiting in its
 * backend, and once the lock went it ran and committed — a job, and its
 * event, its caller was told failed or never heard of.
 *
 * Forced, not timed: another session holds the table (tableHold.ts), the
 * write is seen waiting on it in pg_stat_activity, the store's scope is
 * closed with the lock still held, and only then is the lock let go. The
 * store connects through a TCP proxy that counts connections: a cancel is
 * one connection opened at the close, and a close with nothing in flight
 * opens none. Behind a transaction-mode PgBouncer the cancel goes to the
 * pooler, which passes it to the server connection its client is on.
 *
 * SQLite: a write waiting for another connection's write lock when the store
 * closes ends with the store (its lock wait is the store's own, in process),
 * and the lock let go after, nothing of it is written.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { openSqlite } from "../reliability/snapshot.js"
import { startTcpProxy } from "../reliability/tcpProxy.js"
import { connectPg, freshPgDatabase, pgAdminUrl } from "../support/pg-database.js"
import { startPgBouncer } from "../support/pgbouncer.js"
import { holdTable } from "../support/tableHold.js"
import { jobEvent, newJob } from "./fixtures.js"
import { tempDatabaseFile } from "./sqlite-support.js"

/** A store of `layer` in a scope of its own: `close` is the layer's teardown. */
const openStore = <E>(layer: Layer.Layer<JobStore, E>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const store = Context.get(yield* Layer.buildWithScope(layer, scope), JobStore)
    return { store, close: Scope.close(scope, Exit.void) }
  })

const openPgStore = (url: string) => openStore(PgStore.layer({ url }))

/** A fresh database, reached through a proxy that counts the connections opened to it. */
const proxiedDatabase = Effect.gen(function*() {
  const url = yield* freshPgDatabase("close cancels")
  const { hostname, port } = new URL(url)
  const proxy = yield* Effect.acquireRelease(
    Effect.promise(() => startTcpProxy({ host: hostname, port: Number(port) })),
    (proxy) => Effect.promise(() => proxy.close())
  )
  return { url, proxy }
})

/** How many rows the job `id` has in ai_jobs and in the Flight Recorder, read on the server directly. */
const storedPg = (url: string, id: string) =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      const count = async (table: string, column: string) =>
        Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column}::text = $1`, [id])).rows[0]!.n)
      return { jobs: await count("ai_jobs", "id"), events: await count("flight_recorder_events", "job_id") }
    } finally {
      await client.end()
    }
  })

/** A submit as `Jobs.submit` writes it: the job and its event, one statement on PostgreSQL. */
const submit = (store: JobStore["Type"]) => {
  const id = randomUUID()
  const job = newJob({ job_id: id })
  return { id, write: store.createJob(job, { events: (created) => [jobEvent(created)] }) }
}

/** What the write's failure says (its tag first); a success fails the test. */
const failureMessage = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>): string => {
  if (Exit.isSuccess(exit)) return assert.fail("the write in flight at the close failed, but it succeeded")
  return Option.match(Cause.failureOption(exit.cause), {
    onNone: () => assert.fail(`the write in flight at the close failed, got ${String(exit)}`),
    onSome: (error) => `${error._tag}: ${error.message}`
  })
}

/**
 * `write` forked while `held` holds a table it needs, seen waiting, the store
 * closed under it, and the lock let go only then: the write's exit, once it
 * has ended.
 */
const closedWhileWaiting = <A, E>(
  write: Effect.Effect<A, E>,
  close: Effect.Effect<void>,
  held: { readonly blocked: Effect.Effect<void>; readonly release: Effect.Effect<unknown> }
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(write)
    yield* held.blocked
    yield* close
    yield* held.release
    return yield* Fiber.await(fiber)
  })

describe("R17 PostgreSQL: closing the store cancels its statements in flight", { timeout: 60_000 }, () => {
  it.scopedLive("a submit waiting on a table lock when the store closes is cancelled: after the lock goes, neither the job nor its event exists, the submit failed, and the close sent one cancel", () =>
    Effect.gen(function*() {
      const { proxy, url } = yield* proxiedDatabase
      const { close, store } = yield* openPgStore(proxy.via(url))
      const { id, write } = submit(store)
      const hold = yield* holdTable(url, "ai_jobs")
      let openedByClose = 0
      const counted = Effect.suspend(() => {
        const before = proxy.opened()
        return Effect.tap(close, () => openedByClose = proxy.opened() - before)
      })
      const exit = yield* closedWhileWaiting(write, counted, hold)
      assert.deepStrictEqual(yield* storedPg(url, id), { jobs: 0, events: 0 }, "nothing of the cancelled submit was committed")
      assert.match(failureMessage(exit), /StorageError.*canceling statement due to user request: the store was closed while the statement ran/)
      assert.strictEqual(openedByClose, 1, "the close opened one connection: the cancel")
    }))

  it.scopedLive("a submit whose COMMIT is running its deferred checks when the store closes is cancelled whole: a deferred trigger waits on a lock at commit, and after the lock goes neither the job nor its event exists", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("close cancels commit")
      const { close, store } = yield* openPgStore(url)
      // A deferred constraint trigger runs in COMMIT, after the INSERT itself has done its work.
      const admin = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
      yield* Effect.promise(() =>
        admin.query(`
          CREATE TABLE commit_gate (x int);
          CREATE FUNCTION pass_commit_gate() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN LOCK TABLE commit_gate IN SHARE MODE; RETURN NULL; END $$;
          CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON ai_jobs DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION pass_commit_gate();`)
      )
      const { id, write } = submit(store)
      const exit = yield* closedWhileWaiting(write, close, yield* holdTable(url, "commit_gate"))
      assert.deepStrictEqual(yield* storedPg(url, id), { jobs: 0, events: 0 }, "nothing of the cancelled commit was kept")
      assert.match(failureMessage(exit), /StorageError/)
    }))

  it.scopedLive("a caller's transaction whose statement waits on a table lock when the store closes is cancelled and rolled back: after the lock goes, none of its jobs exists", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("close cancels transaction")
      const { close, store } = yield* openPgStore(url)
      const first = submit(store)
      const second = submit(store)
      const exit = yield* closedWhileWaiting(store.transaction(Effect.zipRight(first.write, second.write)), close, yield* holdTable(url, "ai_jobs"))
      assert.deepStrictEqual([yield* storedPg(url, first.id), yield* storedPg(url, second.id)], [{ jobs: 0, events: 0 }, { jobs: 0, events: 0 }])
      assert.match(failureMessage(exit), /StorageError.*the store was closed while the statement ran/)
    }))

  it.scopedLive("a statement that ended before the close is unaffected, and a close with nothing in flight opens no connection", () =>
    Effect.gen(function*() {
      const { proxy, url } = yield* proxiedDatabase
      const { close, store } = yield* openPgStore(proxy.via(url))
      const { id, write } = submit(store)
      yield* write
      const opened = proxy.opened()
      yield* close
      assert.strictEqual(proxy.opened(), opened, "no cancel sent")
      assert.deepStrictEqual(yield* storedPg(url, id), { jobs: 1, events: 1 })
    }))

  it.scopedLive("behind a transaction-mode PgBouncer: a submit waiting on a table lock when the store closes is cancelled through the pooler, and after the lock goes neither the job nor its event exists", () =>
    Effect.gen(function*() {
      const pooler = yield* Effect.acquireRelease(Effect.promise(() => startPgBouncer(pgAdminUrl())), (pooler) => Effect.promise(() => pooler.stop()))
      const url = yield* freshPgDatabase("close cancels pooled")
      const { close, store } = yield* openPgStore(pooler.through(url))
      const { id, write } = submit(store)
      const exit = yield* closedWhileWaiting(write, close, yield* holdTable(url, "ai_jobs"))
      assert.deepStrictEqual(yield* storedPg(url, id), { jobs: 0, events: 0 }, "nothing of the cancelled submit was committed")
      assert.match(failureMessage(exit), /StorageError/)
    }))
})

describe("R17 SQLite: a write waiting for the file's write lock when the store closes", { timeout: 60_000 }, () => {
  it.scopedLive("ends with the store: after the lock goes, neither the job nor its event exists, and the write failed", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const { close, store } = yield* openStore(SqliteStore.layer({ filename, busyTimeoutMs: 60_000 }))
      const holder = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(filename, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
      holder.exec("BEGIN IMMEDIATE")
      const { id, write } = submit(store)
      // A setup step, not a bound: closed before the write reaches its wait, it fails the same.
      const waiting = sleepRealTime(300)
      const exit = yield* closedWhileWaiting(write, close, { blocked: waiting, release: Effect.sync(() => holder.exec("ROLLBACK")) })
      assert.match(failureMessage(exit), /StorageError/)
      const count = (table: string, column: string) =>
        Number(holder.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`).all(id)[0]?.n)
      assert.deepStrictEqual({ jobs: count("ai_jobs", "id"), events: count("flight_recorder_events", "job_id") }, { jobs: 0, events: 0 })
    }))
})
