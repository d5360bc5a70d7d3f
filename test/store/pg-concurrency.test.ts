/**
 * Concurrency on PostgreSQL with several stores, each its own layer and
 * connection pool over one database, as separate processes would be:
 * guarded transitions, claiming, recovery and node numbering never do the
 * same work twice, start-up migrations serialise, and a statement the
 * server refuses comes back as a StorageError that keeps the driver error.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobState } from "../../src/domain/JobState.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { claimAll, stallAll } from "../support/drain.js"
import { expectTag, failureOf, jobEvent, newJob, recoveryEvents, STALE_MS, staleOptions, startedJob } from "./fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { countWhere, driverError, shippedPgMigrationIds } from "./pg-support.js"

type Store = Context.Tag.Service<JobStore>

/** `count` stores over `url`, each a separately built layer with its own small pool, built at once. */
const storesOn = (url: string, count: number) =>
  Effect.forEach(
    Array.from({ length: count }),
    () => Effect.map(Layer.build(PgStore.layer({ url, maxConnections: 3 })), (context) => Context.get(context, JobStore)),
    { concurrency: "unbounded" }
  )

/** A fresh database with `count` stores on it, and a raw client for counting behind their backs. */
const setup = (label: string, count: number) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const stores = yield* storesOn(url, count)
    const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
    return { url, stores, sql }
  })

const claimUntilEmpty = (store: Store) =>
  claimAll(() => store.claimNext({ events: (c) => [jobEvent(c.job, { workflow_run_id: c.run.id })] }))

const stallUntilNoneLeft = (store: Store, limit: number) =>
  stallAll(() => Effect.flatMap(staleOptions(), (scan) => store.stallStaleRuns({ ...scan, limit, events: recoveryEvents })))

/** Puts `count` jobs in `running` with a running run each, through `store`, with the clock at 0. */
const runningJobs = (store: Store, count: number) =>
  Effect.provideService(Effect.forEach(Array.from({ length: count }), () => startedJob()), JobStore, store)

describe("R6 R9 PostgreSQL concurrency across separate pools", () => {
  it.scoped("R16 four stores starting at once on a fresh database migrate it exactly once and all work", () =>
    Effect.gen(function*() {
      const { stores, sql } = yield* setup("pg concurrent migrate", 4)
      const migrations = yield* sql<{ readonly migration_id: number }>`
        SELECT migration_id FROM ai_job_model_migrations ORDER BY migration_id`
      assert.deepStrictEqual(migrations.map((m) => m.migration_id), shippedPgMigrationIds)
      const created = yield* Effect.forEach(stores, (store) => store.createJob(newJob()), { concurrency: "unbounded" })
      const [first] = stores
      if (first === undefined) return assert.fail("setup: four stores")
      assert.strictEqual((yield* first.listJobs()).items.length, 4)
      for (const store of stores) {
        for (const job of created) assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
      }
    }), 60_000)

  it.scoped("R6 two concurrent guarded transitions of the same job: exactly one wins, the other gets IllegalTransition", () =>
    Effect.gen(function*() {
      const { stores: [a, b] } = yield* setup("pg concurrent transition", 2)
      if (a === undefined || b === undefined) return assert.fail("setup: two stores")
      const jobs = yield* Effect.forEach(Array.from({ length: 25 }), () => a.createJob(newJob()))
      // Same target, no compare-and-set: the loser finds `running`, from which running is illegal.
      const sameTarget = yield* Effect.forEach(jobs, (job) =>
        Effect.all([
          Effect.exit(a.transition({ job_id: job.job_id, to: "running" })),
          Effect.exit(b.transition({ job_id: job.job_id, to: "running" }))
        ], { concurrency: 2 }), { concurrency: "unbounded" })
      for (const outcomes of sameTarget) {
        assert.strictEqual(outcomes.filter(Exit.isSuccess).length, 1, "exactly one winner")
        const loser = outcomes.find(Exit.isFailure)
        if (loser === undefined) return assert.fail("a loser")
        const error = expectTag(yield* failureOf(loser), "IllegalTransition")
        assert.deepStrictEqual([error.from, error.to], ["running", "running"])
      }
      // Different targets, both legal from running: the compare-and-set decides.
      const different = yield* Effect.forEach(jobs, (job) =>
        Effect.all([
          Effect.exit(a.transition({ job_id: job.job_id, from: "running", to: "completed" })),
          Effect.exit(b.transition({ job_id: job.job_id, from: "running", to: "cancelled" }))
        ], { concurrency: 2 }), { concurrency: "unbounded" })
      for (const [index, [completed, cancelled]] of different.entries()) {
        const winner: JobState = Exit.isSuccess(completed) ? "completed" : "cancelled"
        assert.strictEqual([completed, cancelled].filter(Exit.isSuccess).length, 1, "exactly one winner")
        const error = expectTag(yield* failureOf(Exit.isSuccess(completed) ? cancelled : completed), "IllegalTransition")
        assert.strictEqual(error.from, winner, "the loser names the state it found")
        const job = jobs[index]
        if (job !== undefined) assert.strictEqual((yield* b.getJob(job.job_id)).state, winner)
      }
    }), 60_000)

  it.scoped("R6 four stores claiming at once over 100 queued jobs claim each exactly once", () =>
    Effect.gen(function*() {
      const { stores, sql } = yield* setup("pg concurrent claim", 4)
      const [first] = stores
      if (first === undefined) return assert.fail("setup: four stores")
      const jobs = []
      for (let i = 0; i < 100; i++) {
        yield* TestClock.setTime(i)
        jobs.push(yield* first.createJob(newJob()))
      }
      const perStore = yield* Effect.all(stores.map(claimUntilEmpty), { concurrency: "unbounded" })
      const claims = perStore.flat()
      const claimedJobs = claims.map((c) => c.job.job_id)
      assert.strictEqual(claimedJobs.length, 100, "100 claims in all")
      assert.sameMembers(claimedJobs, jobs.map((job) => job.job_id), "each job claimed exactly once")
      assert.strictEqual(new Set(claims.map((c) => c.run.id)).size, 100, "one new run per claim")
      assert.isTrue(perStore.filter((mine) => mine.length > 0).length > 1, "the work was shared, not serialised into one store")
      assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM workflow_runs`), 100)
      assert.strictEqual(yield* countWhere(sql`
        SELECT count(*) AS n FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id AND r.job_id = j.id
        WHERE j.status = 'running' AND r.status = 'running'`), 100, "every job points at its own running run")
      assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM flight_recorder_events`), 100, "one event per claim")
    }), 60_000)

  for (const [how, limit, repeat] of [["in batches of 3", 3, true], ["in one call each", 100, false]] as const) {
    it.scoped(`R9 four concurrent stallStaleRuns over 40 stale runs (${how}) move exactly 40 and write exactly 40 events`, () =>
      Effect.gen(function*() {
        const { stores, sql } = yield* setup("pg concurrent stall", 4)
        const [first] = stores
        if (first === undefined) return assert.fail("setup: four stores")
        const started = yield* runningJobs(first, 40)
        yield* TestClock.adjust(STALE_MS + 1_000)
        // Started at the new now: not stale.
        const fresh = yield* runningJobs(first, 1)
        const scan = yield* staleOptions()
        const perStore = yield* Effect.all(
          stores.map((store) =>
            repeat ? stallUntilNoneLeft(store, limit) : store.stallStaleRuns({ ...scan, limit, events: recoveryEvents })
          ),
          { concurrency: "unbounded" }
        )
        const moved = perStore.flat().map((s) => s.run.id)
        assert.strictEqual(moved.length, 40, "40 moves in all")
        assert.sameMembers(moved, started.map((s) => s.run.id), "each stale run moved exactly once")
        assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM flight_recorder_events WHERE type = 'workflow_recovery'`), 40)
        assert.strictEqual(
          yield* countWhere(sql`SELECT count(DISTINCT workflow_run_id) AS n FROM flight_recorder_events`),
          40,
          "one event per run"
        )
        assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM workflow_runs WHERE status = 'stalled'`), 40)
        assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM ai_jobs WHERE status = 'stalled'`), 40)
        for (const { run } of fresh) assert.strictEqual((yield* first.getRun(run.id)).status, "running", "the beating run is left alone")
      }), 60_000)
  }

  // A batch is one statement (issue 16): the stale runs' jobs are locked, then their runs, and a
  // run whose lock it had to wait for is re-read as it is once locked. Forced here: a heartbeat
  // holds its run's row (uncommitted) while the batch runs; the batch must wait for it — not skip
  // it, not stall it on the heartbeat it read before — and leave it running once the beat commits.
  it.scoped("R9 a heartbeat committing while a recovery batch waits for its run's lock keeps the run running; the batch moves the others", () =>
    Effect.gen(function*() {
      const { stores: [store], sql } = yield* setup("pg stall waits for a beat", 1)
      if (store === undefined) return assert.fail("setup: a store")
      const started = yield* runningJobs(store, 3)
      const [beating, ...silent] = started
      if (beating === undefined) return assert.fail("setup: three running jobs")
      yield* TestClock.adjust(STALE_MS + 1_000)
      const scan = yield* staleOptions()
      const beatHeld = yield* Deferred.make<void>()
      const commitBeat = yield* Deferred.make<void>()
      const beat = yield* Effect.fork(store.transaction(Effect.gen(function*() {
        yield* store.heartbeat(beating.run.id)
        yield* Deferred.succeed(beatHeld, undefined)
        yield* Deferred.await(commitBeat)
      })))
      yield* Deferred.await(beatHeld)
      const stall = yield* Effect.fork(store.stallStaleRuns({ ...scan, limit: 10, recordRecovery: true }))
      // Until the batch is blocked on the beating run's row lock (real time: the wait is the server's).
      let waiting = 0
      for (let tries = 0; waiting === 0 && tries < 500; tries++) {
        yield* sleepRealTime(20)
        waiting = yield* countWhere(sql`
          SELECT count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%stale_jobs%'`)
      }
      assert.strictEqual(waiting, 1, "the batch waits for the run's lock instead of skipping the run")
      assert.isNull(stall.unsafePoll(), "the batch has not finished while the beat holds the run")
      yield* Deferred.succeed(commitBeat, undefined)
      yield* Fiber.join(beat)
      const moved = yield* Fiber.join(stall)
      assert.sameMembers(moved.map((s) => s.run.id), silent.map((s) => s.run.id), "the silent runs moved, the beating one not")
      assert.strictEqual((yield* store.getRun(beating.run.id)).status, "running")
      assert.strictEqual((yield* store.getJob(beating.job.job_id)).state, "running")
      for (const { job } of silent) assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
      assert.strictEqual(yield* countWhere(sql`
        SELECT count(*) AS n FROM flight_recorder_events
        WHERE type = 'workflow_recovery' AND workflow_run_id = ${beating.run.id}`), 0, "no record for the beating run")
      assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM flight_recorder_events WHERE type = 'workflow_recovery'`), 2)
    }), 60_000)

  // @effect/sql-pg answers an interrupt with pg_cancel_backend for the statement's connection and
  // hands the connection back once that returns; the server acts on the cancel asynchronously, so it
  // could land on the next statement on that connection (the four-process campaign saw a submit fail
  // with 57014 after a worker's heartbeat was interrupted at the end of its job). Forced here: the
  // heartbeat is blocked on its run's row lock when it is interrupted; it must still be waiting on the
  // server afterwards (no cancel sent), and commit once the lock is released.
  it.scoped("R10 interrupting a store call does not cancel its statement on the server: it finishes, then the interrupt takes effect", () =>
    Effect.gen(function*() {
      const { stores: [store], sql } = yield* setup("pg interrupt finishes the statement", 1)
      if (store === undefined) return assert.fail("setup: a store")
      const [started] = yield* runningJobs(store, 1)
      if (started === undefined) return assert.fail("setup: a running job")
      yield* TestClock.adjust(5_000)
      const held = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
        yield* sql`SELECT id FROM workflow_runs WHERE id = ${started.run.id} FOR UPDATE`
        yield* Deferred.succeed(held, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(held)
      // A failed assertion below must not leave the lock held while the test's scope closes.
      yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
      const beat = yield* Effect.fork(store.heartbeat(started.run.id))
      const waitingBeats = countWhere(sql`
        SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%last_heartbeat%'`)
      let waiting = 0
      for (let tries = 0; waiting === 0 && tries < 500; tries++) {
        yield* sleepRealTime(20)
        waiting = yield* waitingBeats
      }
      assert.strictEqual(waiting, 1, "setup: the heartbeat waits for its run's lock")
      yield* Fiber.interruptFork(beat)
      // Time for a cancel to reach the server and end the statement, had one been sent.
      yield* sleepRealTime(500)
      assert.strictEqual(yield* waitingBeats, 1, "the interrupted heartbeat still waits on the server: no cancel was sent")
      assert.isNull(beat.unsafePoll(), "the interrupt waits for the statement")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const exit = yield* Fiber.await(beat)
      assert.isTrue(Exit.isInterrupted(exit), "the caller's interrupt took effect once the statement finished")
      const run = yield* store.getRun(started.run.id)
      assert.strictEqual(
        DateTime.toEpochMillis(run.last_heartbeat) - DateTime.toEpochMillis(started.run.last_heartbeat),
        5_000,
        "the heartbeat was written, at the clock's time"
      )
    }), 60_000)

  it.scoped("R8 two stores starting nodes on one run at once number them 0..n-1 with no gap or duplicate", () =>
    Effect.gen(function*() {
      const { stores: [a, b] } = yield* setup("pg concurrent nodes", 2)
      if (a === undefined || b === undefined) return assert.fail("setup: two stores")
      const [started] = yield* runningJobs(a, 1)
      if (started === undefined) return assert.fail("setup: a running job")
      const run = started.run
      const nodes = yield* Effect.forEach(Array.from({ length: 30 }), (_, i) =>
        (i % 2 === 0 ? a : b).startNode({ workflow_run_id: run.id, node_id: `node-${i}`, node_type: "step" }), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(nodes.map((n) => n.sequence).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i))
      const listed = yield* b.listNodes(run.id)
      assert.deepStrictEqual(listed.map((n) => n.id), [...nodes].sort((x, y) => x.sequence - y.sequence).map((n) => n.id))
    }), 60_000)

  it.scoped("R10 a statement the server refuses (lock timeout) is a StorageError keeping the SqlError and its SQLSTATE", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg storage error")
      const [store] = yield* storesOn(url, 1)
      if (store === undefined) return assert.fail("setup: a store")
      const job = yield* store.createJob(newJob())
      // A second store whose sessions give up on a lock after 200 ms.
      const impatientUrl = `${url}?options=${encodeURIComponent("-c lock_timeout=200")}`
      const [impatient] = yield* storesOn(impatientUrl, 1)
      if (impatient === undefined) return assert.fail("setup: an impatient store")
      const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
      // The lock is held in a fiber of its own: @effect/sql's transaction
      // context is one tag for every client, so a store call made inside the
      // raw client's transaction would run on that very connection.
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
        yield* sql`LOCK TABLE ai_jobs IN ACCESS EXCLUSIVE MODE`
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(locked)
      const error = yield* failureOf(impatient.getJob(job.job_id))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const storageError = expectTag(error, "StorageError")
      assert.strictEqual(storageError.operation, "JobStore.getJob")
      assert.instanceOf(storageError.cause, SqlError)
      assert.strictEqual(driverError(storageError.cause as SqlError).code, "55P03", "lock_not_available")
      assert.match(storageError.message, /lock timeout/)
      assert.strictEqual(storageError.code, "HSK-500-DB")
      // The store is not broken by it: once the lock is gone the same read works.
      assert.strictEqual((yield* impatient.getJob(job.job_id)).job_id, job.job_id)
    }), 60_000)
})
