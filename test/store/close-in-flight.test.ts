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
 *
 * Once the close begins, no statement is sent (f128), on either store: more
 * submits than connections — the rest queued for one (PostgreSQL's pool, or
 * behind SQLite's lock wait) — fail with the closed store's StorageError and
 * none commits once the lock goes (PostgreSQL handed the queued ones the
 * connections the cancelled ones gave back: 11 of 12 committed); a caller's
 * transaction between two statements (parked on a Deferred while the store
 * closes) has its next statement, or its COMMIT, refused, and keeps nothing.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { isStoreClosed } from "../../src/internal/storeClosed.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { openSqlite } from "../reliability/snapshot.js"
import { startTcpProxy } from "../reliability/tcpProxy.js"
import { connectPg, freshPgDatabase, pgAdminUrl } from "../support/pg-database.js"
import { startPgBouncer } from "../support/pgbouncer.js"
import { beforeStatement } from "../support/statementTrap.js"
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

/** How many rows the jobs `ids` have in ai_jobs and in the Flight Recorder, read on the server directly. */
const storedPg = (url: string, ...ids: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      const count = async (table: string, column: string) =>
        Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column}::text = ANY($1)`, [ids])).rows[0]!.n)
      return { jobs: await count("ai_jobs", "id"), events: await count("flight_recorder_events", "job_id") }
    } finally {
      await client.end()
    }
  })

/** How many rows the jobs `ids` have in ai_jobs and in the Flight Recorder, read on another connection to the file. */
const storedSqlite = (db: ReturnType<typeof openSqlite>, ...ids: ReadonlyArray<string>) => {
  const count = (table: string, column: string) =>
    Number(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} IN (${ids.map(() => "?").join(", ")})`).all(...ids)[0]?.n)
  return { jobs: count("ai_jobs", "id"), events: count("flight_recorder_events", "job_id") }
}

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
 * The StorageError a call failed with, once its store closed: the closed
 * store's own error (a statement not sent: `isStoreClosed`), or the cancel of
 * one that was running. A success, or any other failure, fails the test.
 */
const refusedByClose = (exit: Exit.Exit<unknown, unknown>): "closed" | "cancelled" => {
  if (Exit.isSuccess(exit)) return assert.fail("a call not sent, or running, at the close failed, but it succeeded")
  const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
  if (!(error instanceof StorageError)) return assert.fail(`a StorageError, got ${String(exit.cause)}`)
  if (isStoreClosed(error)) return "closed"
  assert.match(error.message, /the store was closed while the statement ran/, `neither the closed store's error nor the close's cancel: ${error.message}`)
  return "cancelled"
}

/** `count` submits, all forked at once: each one's exit (one statement or group each, more callers than connections). */
const submits = (store: JobStore["Type"], count: number) => {
  const all = Array.from({ length: count }, () => submit(store))
  return { ids: all.map(({ id }) => id), writes: Effect.forEach(all, ({ write }) => Effect.exit(write), { concurrency: "unbounded" }) }
}

/**
 * A caller's transaction that writes `first`, then waits for `resume` — the
 * store is closed meanwhile — and writes `second` (when given) before it
 * commits. `between` is done once `first` is written.
 */
const transactionAcrossClose = (
  store: JobStore["Type"],
  first: Effect.Effect<unknown, unknown>,
  second: Effect.Effect<unknown, unknown> | undefined
) =>
  Effect.gen(function*() {
    const between = yield* Deferred.make<void>()
    const resume = yield* Deferred.make<void>()
    const body = Effect.zipRight(
      Effect.zipRight(first, Effect.zipRight(Deferred.succeed(between, undefined), Deferred.await(resume))),
      second ?? Effect.void
    )
    const fiber = yield* Effect.fork(store.transaction(body))
    return {
      /** Closes the store with the transaction between its statements, then lets it go on: its exit. */
      closedBetween: (close: Effect.Effect<void>) =>
        Effect.gen(function*() {
          yield* Deferred.await(between)
          yield* close
          yield* Deferred.succeed(resume, undefined)
          return yield* Fiber.await(fiber)
        })
    }
  })

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

describe("R17 PostgreSQL: once the store's close begins, no statement is sent (f128)", { timeout: 60_000 }, () => {
  for (const [pool, count, options] of [["the default pool", 12, {}], ["one connection, each submit alone", 3, { maxConnections: 1, coalesce: false }]] as const) {
    it.scopedLive(`${count} submits on ${pool}, more than the connections, one waiting on a table lock and the rest queued when the store closes: after the lock goes nothing of any is stored, and each failed with the closed store's StorageError (the running one cancelled)`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("close refuses queued")
        const { close, store } = yield* openStore(PgStore.layer({ url, ...options }))
        const { ids, writes } = submits(store, count)
        const exit = yield* closedWhileWaiting(writes, close, yield* holdTable(url, "ai_jobs"))
        assert.deepStrictEqual(yield* storedPg(url, ...ids), { jobs: 0, events: 0 }, "nothing of the queued submits was committed")
        const outcomes = Exit.isSuccess(exit) ? exit.value.map(refusedByClose) : assert.fail(String(exit))
        // At most one statement runs per connection (pg's default pool has 10): the others were not sent.
        const connections = "maxConnections" in options ? options.maxConnections : 10
        assert.isAtLeast(outcomes.filter((outcome) => outcome === "closed").length, count - connections, `refused as closed: ${outcomes}`)
      }))
  }

  it.scopedLive("a caller's transaction between two statements when the store closes: its next statement is refused with the closed store's StorageError, and neither its first write nor its second is stored", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("close refuses transaction")
      const { close, store } = yield* openPgStore(url)
      const [first, second] = [submit(store), submit(store)]
      const exit = yield* (yield* transactionAcrossClose(store, first.write, second.write)).closedBetween(close)
      assert.strictEqual(refusedByClose(exit), "closed")
      assert.deepStrictEqual(yield* storedPg(url, first.id, second.id), { jobs: 0, events: 0 })
    }))

  it.scopedLive("a caller's transaction that commits after the store closed is rolled back: its COMMIT fails with the closed store's StorageError, and its write is not stored", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("close refuses commit")
      const { close, store } = yield* openPgStore(url)
      const only = submit(store)
      const exit = yield* (yield* transactionAcrossClose(store, only.write, undefined)).closedBetween(close)
      assert.strictEqual(refusedByClose(exit), "closed")
      assert.match(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", /before the transaction committed \(rolled back/)
      assert.deepStrictEqual(yield* storedPg(url, only.id), { jobs: 0, events: 0 })
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
      assert.deepStrictEqual(storedSqlite(holder, id), { jobs: 0, events: 0 })
    }))
})

describe("R17 SQLite: once the store's close begins, no statement is sent (f128, as on PostgreSQL)", { timeout: 60_000 }, () => {
  /** A store on a fresh file, and another connection to the file that reads it, holds its write lock and lets it go. */
  const fileStore = Effect.gen(function*() {
    const filename = yield* tempDatabaseFile()
    const { close, store } = yield* openStore(SqliteStore.layer({ filename, busyTimeoutMs: 60_000 }))
    const holder = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(filename, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
    return { close, store, holder }
  })

  it.scopedLive("12 submits, one waiting for the file's write lock and the rest queued behind it when the store closes: after the lock goes nothing of any is stored, and each failed with the closed store's StorageError", () =>
    Effect.gen(function*() {
      const { close, holder, store } = yield* fileStore
      holder.exec("BEGIN IMMEDIATE")
      const { ids, writes } = submits(store, 12)
      // Blocked once a write has met the lock: its second try starts (the store's lock wait is its own, in process).
      const met = yield* Deferred.make<void>()
      const metLock = beforeStatement(writes, /^\s*(BEGIN IMMEDIATE|INSERT INTO ai_jobs )/i, () => Deferred.unsafeDone(met, Exit.void), 2)
      const exit = yield* closedWhileWaiting(metLock, close, { blocked: Deferred.await(met), release: Effect.sync(() => holder.exec("ROLLBACK")) })
      assert.deepStrictEqual(storedSqlite(holder, ...ids), { jobs: 0, events: 0 })
      const outcomes = Exit.isSuccess(exit) ? exit.value.exit : assert.fail(String(exit))
      for (const outcome of Exit.isSuccess(outcomes) ? outcomes.value : assert.fail(String(outcomes))) assert.strictEqual(refusedByClose(outcome), "closed")
    }))

  it.scopedLive("a caller's transaction between two statements when the store closes: its next statement is refused with the closed store's StorageError, and neither its first write nor its second is stored", () =>
    Effect.gen(function*() {
      const { close, holder, store } = yield* fileStore
      const [first, second] = [submit(store), submit(store)]
      const exit = yield* (yield* transactionAcrossClose(store, first.write, second.write)).closedBetween(close)
      assert.strictEqual(refusedByClose(exit), "closed")
      assert.deepStrictEqual(storedSqlite(holder, first.id, second.id), { jobs: 0, events: 0 })
    }))

  it.scopedLive("a caller's transaction that commits after the store closed fails with the closed store's StorageError, and its write is not stored", () =>
    Effect.gen(function*() {
      const { close, holder, store } = yield* fileStore
      const only = submit(store)
      const exit = yield* (yield* transactionAcrossClose(store, only.write, undefined)).closedBetween(close)
      assert.strictEqual(refusedByClose(exit), "closed")
      assert.deepStrictEqual(storedSqlite(holder, only.id), { jobs: 0, events: 0 })
    }))
})
