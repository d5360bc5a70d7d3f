/**
 * R17 on a SQLite file shared by several connections: two store layers (two
 * clients, as two processes would have) see each other's writes and never
 * claim the same job; writers wait for each other's write lock instead of
 * failing, without freezing the event loop; and the layer sets the
 * connection up as documented.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import { type ChildProcess, spawn } from "node:child_process"
import { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { readBusyTimeout } from "../../src/store/sqlite/transaction.js"
import { claimAll } from "../support/drain.js"
import { eventRecord, expectTag, failureOf, newJob } from "./fixtures.js"
import { releasedOnSecondTry } from "../support/statementTrap.js"
import { rawNumber, rawRows, shippedSqliteMigrationIds, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

type Store = Context.Tag.Service<JobStore>

/** The store's lock-wait budget when given none (the connection-setup test below reads it). */
const DEFAULT_BUSY_TIMEOUT_MS = 5000

/** Two stores on one fresh file, each with its own client and connection. */
const twoStores = (options: { readonly busyTimeoutMsOfB?: number } = {}) =>
  Effect.gen(function*() {
    const filename = yield* tempDatabaseFile()
    const a = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
    const b = Context.get(
      yield* Layer.build(SqliteStore.layer({
        filename,
        ...(options.busyTimeoutMsOfB !== undefined ? { busyTimeoutMs: options.busyTimeoutMsOfB } : {})
      })),
      JobStore
    )
    return { filename, a, b }
  })

/** Real time passing, whatever the TestClock says: lock waits are about real concurrency. */
const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Claims until the queue is empty, letting other fibers run between claims. */
const claimYielding = (store: Store) => claimAll(() => Effect.zipLeft(store.claimNext(), Effect.yieldNow()))

/**
 * Holds `store`'s write lock (an open write transaction) until `release`;
 * `locked` completes once the lock is held.
 */
const holdWriteLock = (store: Store, locked: Deferred.Deferred<void>, release: Deferred.Deferred<void>) =>
  store.transaction(Effect.gen(function*() {
    yield* store.createJob(newJob({ protocol_id: "held" }))
    yield* Deferred.succeed(locked, undefined)
    yield* Deferred.await(release)
  }))

describe("SQLite file shared by two stores (R17)", () => {
  it.scoped("R17 two stores on one file see each other's writes", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoStores()
      const fromA = yield* a.createJob(newJob({ protocol_id: "from-a" }))
      assert.strictEqual((yield* b.getJob(fromA.job_id)).protocol_id, "from-a")
      const fromB = yield* b.createJob(newJob({ protocol_id: "from-b" }))
      const event = eventRecord({ job_id: fromB.job_id, trace_id: fromB.trace_id })
      yield* b.appendEvents([event])
      assert.sameMembers((yield* a.listJobs()).items.map((job) => job.job_id), [fromA.job_id, fromB.job_id])
      assert.deepStrictEqual((yield* a.listEvents({ job_id: fromB.job_id })).items.map((e) => e.event_id), [event.event_id])
      const moved = yield* a.transition({ job_id: fromB.job_id, to: "cancelled" })
      assert.strictEqual((yield* b.getJob(fromB.job_id)).state, moved.state)
    }))

  it.scoped("R6 two stores claiming concurrently from 50 queued jobs make 50 distinct claims", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoStores()
      for (let i = 0; i < 50; i++) {
        yield* TestClock.setTime(i)
        yield* (i % 2 === 0 ? a : b).createJob(newJob())
      }
      const [byA, byB] = yield* Effect.all([claimYielding(a), claimYielding(b)], { concurrency: 2 })
      const jobIds = [...byA, ...byB].map((claim) => claim.job.job_id)
      assert.isAbove(byA.length, 0, "both stores claimed")
      assert.isAbove(byB.length, 0, "both stores claimed")
      assert.strictEqual(jobIds.length, 50, "every job claimed, none twice")
      assert.strictEqual(new Set(jobIds).size, 50)
      assert.isNull(yield* a.claimNext())
      assert.isNull(yield* b.claimNext())
      for (const claim of [...byA, ...byB]) {
        const runs = yield* b.listRuns(claim.job.job_id)
        assert.deepStrictEqual(runs.map((run) => run.id), [claim.run.id], "one run per claimed job")
      }
      const running = yield* a.listJobs({ states: ["running"], limit: 1000 })
      assert.strictEqual(running.items.length, 50)
    }))

  it.scoped("R6 two worker processes claiming from one file at once: 120 queued jobs, 120 distinct claims", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
      yield* store.transaction(Effect.forEach(Array.from({ length: 120 }, (_, i) => i), (i) =>
        Effect.zipRight(TestClock.setTime(i), store.createJob(newJob()))))
      const workers = yield* Effect.forEach([1, 2], () =>
        startProcess(["--import", "tsx", "test/store/sqlite-claimer.ts", filename]))
      for (const worker of workers) assert.strictEqual(yield* Queue.take(worker.lines), "ready")
      // Released together, so their claim transactions really overlap.
      for (const worker of workers) worker.child.stdin?.write("go\n")
      const perWorker: Array<ReadonlyArray<string>> = []
      for (const worker of workers) perWorker.push(JSON.parse(yield* Queue.take(worker.lines)) as ReadonlyArray<string>)
      const claimed = perWorker.flat()
      assert.strictEqual(claimed.length, 120, "every job claimed once")
      assert.strictEqual(new Set(claimed).size, 120, "no job claimed twice")
      assert.isTrue(perWorker.every((ids) => ids.length > 0), "the work was shared")
      assert.strictEqual((yield* store.listJobs({ states: ["running"], limit: 1000 })).items.length, 120)
      for (const jobId of claimed.slice(0, 10)) assert.strictEqual((yield* store.listRuns(JobId.make(jobId))).length, 1)
    }), 120_000)

  it.scoped("R17 a writer waits for another connection's write lock, then succeeds, and the event loop keeps running", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoStores()
      const locked = yield* Deferred.make<void>()
      // Timers must keep firing while b waits: the wait is asynchronous. a holds its lock until they have
      // fired 5 times — not for a fixed time, which a stall on a loaded machine used up before b began
      // (forced: b "waited" 69 ms < 200) — so a wait that blocked the event loop would never end.
      let ticks = 0
      let aEnded = false
      const holder = yield* Effect.fork(a.transaction(Effect.gen(function*() {
        yield* a.createJob(newJob({ protocol_id: "held" }))
        yield* Deferred.succeed(locked, undefined)
        while (ticks < 5) yield* realSleep(5)
        aEnded = true
      })))
      yield* Deferred.await(locked)
      const ticker = setInterval(() => ticks++, 20)
      const job = yield* Effect.ensuring(b.createJob(newJob({ protocol_id: "waited" })), Effect.sync(() => clearInterval(ticker)))
      assert.isTrue(aEnded, "b waited for a's transaction to end")
      yield* Fiber.join(holder)
      assert.isAtLeast(ticks, 5, "the event loop ran while b waited")
      assert.strictEqual((yield* a.getJob(job.job_id)).protocol_id, "waited")
      assert.strictEqual((yield* b.listJobs({ limit: 10 })).items.length, 2)
    }))

  it.scoped("R17 a writer that cannot get the lock within its busy timeout fails with StorageError, not a defect", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoStores({ busyTimeoutMsOfB: 100 })
      const [locked, release] = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
      // a holds its lock until b has given up, not for a fixed time: b can only give up on its own timeout.
      const holder = yield* Effect.fork(holdWriteLock(a, locked, release))
      yield* Deferred.await(locked)
      // The store's own clock for its budget (performance.now): b never gives up before 100 ms of it.
      const started = performance.now()
      const error = expectTag(yield* failureOf(b.createJob(newJob())), "StorageError")
      const waited = performance.now() - started
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(error.operation, "JobStore.createJob")
      assert.match(String((error.cause as { readonly cause?: { readonly code?: unknown } }).cause?.code), /^SQLITE_BUSY/)
      assert.isAtLeast(waited, 100, "waited its whole budget")
      // Not an idle machine's bound: a store that ignored busyTimeoutMs would wait at least the default 5000 ms.
      assert.isBelow(waited, DEFAULT_BUSY_TIMEOUT_MS, "gave up after its own timeout, not the default one")
      // Nothing of the failed write is left, and b works again once the lock is free.
      assert.strictEqual((yield* b.listJobs()).items.length, 1)
      yield* b.createJob(newJob())
    }))

  it.scoped("R16 two stores migrating one fresh file at once: both start, the migrations run once", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const [a] = yield* Effect.all([
        Layer.build(storeWithClient(filename)),
        Layer.build(SqliteStore.layer({ filename }))
      ], { concurrency: 2 })
      const applied = yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM ai_job_model_migrations"), a)
      assert.strictEqual(applied, shippedSqliteMigrationIds.length)
    }))
})

describe("SQLite connection setup (R17)", () => {
  it.scoped("R17 the layer turns on WAL and foreign keys and takes the busy timeout (default 5000 ms) as its lock-wait budget", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const pragmas = Effect.all({
        journal: rawRows("PRAGMA journal_mode"),
        foreignKeys: rawRows("PRAGMA foreign_keys"),
        // The store does the waiting itself (issue 16.3): SQLite's own busy handler is off.
        busy: rawRows("PRAGMA busy_timeout"),
        budget: readBusyTimeout
      })
      const defaults = yield* Effect.provide(pragmas, storeWithClient(filename))
      assert.deepStrictEqual(defaults, {
        journal: [{ journal_mode: "wal" }],
        foreignKeys: [{ foreign_keys: 1 }],
        busy: [{ timeout: 0 }],
        budget: 5000
      })
      const custom = yield* Effect.provide(pragmas, storeWithClient(filename, { busyTimeoutMs: 1234 }))
      assert.deepStrictEqual([custom.busy, custom.budget], [[{ timeout: 0 }], 1234])
    }))

  it.scoped("R17 a store waits for a write lock held by another process", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
      // A separate Node process takes the write lock with better-sqlite3 and holds it until told to let go.
      const holder = yield* startProcess(["-e", [
        "const Database = require('better-sqlite3')",
        "const db = new Database(process.argv[1])",
        "db.exec('BEGIN IMMEDIATE')",
        "process.stdout.write('locked\\n')",
        "process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0) })"
      ].join(";"), filename])
      assert.strictEqual(yield* Queue.take(holder.lines), "locked")
      // Told once the write has met the lock, not after a fixed time: the write can only succeed by waiting for the other process.
      const { exit, firedAt } = yield* releasedOnSecondTry(store.createJob(newJob()), () => holder.child.stdin?.write("let go\n"))
      assert.isDefined(firedAt, "the write met the other process's lock and tried again")
      assert.strictEqual(yield* Queue.take(holder.lines), "(exit 0)", "the other process let go")
      const job = yield* exit
      assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
    }))
})

/** The lines a child process writes to stdout, then one `(exit <code>)` line when it ends. */
const stdoutLines = (child: ChildProcess) =>
  Effect.gen(function*() {
    const lines = yield* Queue.unbounded<string>()
    let buffer = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
        Queue.unsafeOffer(lines, buffer.slice(0, end))
        buffer = buffer.slice(end + 1)
      }
    })
    child.once("exit", (code) => Queue.unsafeOffer(lines, `(exit ${code})`))
    return lines
  })

/** Starts a Node child process, killed when the scope closes, and its stdout lines. */
const startProcess = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, args, { cwd: process.cwd(), stdio: ["pipe", "pipe", "inherit"] })),
      (child) => Effect.sync(() => child.kill())
    )
    return { child, lines: yield* stdoutLines(child) }
  })
