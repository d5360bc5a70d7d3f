/**
 * R6, the Flight Recorder's order: a running job's one-statement end
 * (finishRunningJob: complete, cancel, fail; settleRun: the run's own end) that waited for the job's row behind a pin is written after the pin.
 * The end's record was built — its clock read, its id minted — before the pin
 * read the same millisecond and minted its own. On PostgreSQL the end's
 * statement began while the pin's transaction held the row, so its snapshot
 * cannot see the pin's record; after the wait it sees the pin's `updated_at`
 * alone. It tied with the pin there, its smaller id first: the history
 * ended `running → completed`, then the pin's `running → running`, with the
 * job completed (found by an outside probe, 6 jobs in 40).
 *
 * The race is forced: the pin's transaction is held open until the end's
 * statement waits for the row (PostgreSQL's pg_stat_activity says so), then
 * committed. SQLite's writer holds the file for a whole statement, so there
 * the pin commits between the end's record and its statement — the same
 * order of events, without the wait.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { EventId, type WorkflowRunId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { auditWith, JobStore, type RunningJobEnd } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import type { Store } from "../support/backend.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { sqliteFile } from "../support/stores.js"
import { at, claimedOn, jobEvent, millis } from "./fixtures.js"
import { countWhere } from "./pg-support.js"

const freshId = () => EventId.make(uuidv7())

/** Until one statement of this database waits for a row lock (PostgreSQL). */
const untilAStatementWaits = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    let waiting = 0
    for (let tries = 0; waiting === 0 && tries < 500; tries++) {
      yield* sleepRealTime(20)
      waiting = yield* countWhere(sql`
        SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`)
    }
    assert.strictEqual(waiting, 1, "setup: the end's statement waits for the job's row")
  })

/**
 * `pinner` pins a running job at 5,000 while `end` (its record built at 5,000 with an id minted
 * before the pin's) ends it: `waiting` says when the end's statement waits behind the held pin,
 * or is undefined where the pin commits before the end's statement starts. Checks the history.
 */
const endAfterPin = (
  pinner: Store,
  reader: Store,
  end: (record: RunningJobEnd, run: WorkflowRunId) => Effect.Effect<{ readonly updated_at: DateTime.Utc } | null | undefined, unknown>,
  waiting: Effect.Effect<void, unknown> | undefined
) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(1_000)
    const claim = yield* claimedOn(pinner)
    const job = claim.job
    yield* TestClock.setTime(5_000)
    // The end reads 5,000 and mints its id; then the pin reads the same millisecond and mints its own.
    const endRecord = jobEvent(job, { event_id: freshId(), timestamp: at(5_000) })
    const pinRecord = jobEvent(job, { event_id: freshId(), timestamp: at(5_000) })
    const pinned = yield* Deferred.make<void>()
    const commit = yield* Deferred.make<void>()
    // A failed assertion below must not leave the pin's transaction open while the scope closes.
    yield* Effect.addFinalizer(() => Deferred.succeed(commit, undefined))
    const pin = yield* Effect.fork(pinner.transaction(Effect.gen(function*() {
      yield* pinner.lockJob(job.job_id)
      yield* pinner.setPinned(job.job_id, true, { events: auditWith([pinRecord]) })
      yield* Deferred.succeed(pinned, undefined)
      if (waiting !== undefined) yield* Deferred.await(commit)
    })))
    yield* Deferred.await(pinned)
    if (waiting === undefined) yield* Fiber.join(pin)
    const ending = yield* Effect.fork(end({ job_id: job.job_id, to: "completed", status_reason: "done", event: endRecord }, claim.run.id))
    if (waiting !== undefined) {
      yield* waiting
      yield* Deferred.succeed(commit, undefined)
      yield* Fiber.join(pin)
    }
    const ended = yield* Fiber.join(ending)
    if (ended === null || ended === undefined) return assert.fail("the running job ended")

    const history = (yield* reader.listEvents({ job_id: job.job_id, order: "asc", limit: 10 })).items
    assert.deepStrictEqual(
      history.slice(-2).map((event) => event.event_id),
      [pinRecord.event_id, endRecord.event_id],
      "the end comes after the pin that committed ahead of it"
    )
    assert.strictEqual(millis(history[history.length - 2]!.timestamp), 5_000, "the pin's record")
    assert.strictEqual(millis(ended.updated_at), 5_001, "the end: 1 ms after the pin")
    const last = history[history.length - 1]!
    assert.strictEqual(millis(last.timestamp), 5_001, "the end's record")
    assert.strictEqual(last.body["timestamp"], DateTime.formatIso(at(5_001)), "the end's record body")
    const stored = yield* reader.getJob(job.job_id)
    assert.strictEqual(stored.state, "completed")
    assert.isTrue(stored.is_pinned)
    assert.strictEqual(millis(stored.updated_at), 5_001, "the job's updated_at")
    assert.strictEqual(millis((yield* reader.getRun(claim.run.id)).updated_at), 5_001, "the run's end")
  })

/** The store's one-statement end of a running job (an operator's complete, cancel or fail). */
const finishOn = (store: Store) => (record: RunningJobEnd) => {
  const finishRunningJob = store.finishRunningJob
  return finishRunningJob === undefined ? Effect.dieMessage("the store has the one-statement end") : finishRunningJob(record)
}

/** The store's settle of the job's run: the run's own end, as `jobs.run` writes it. */
const settleOn = (store: Store) => (record: RunningJobEnd, run: WorkflowRunId) => {
  const settleRun = store.settleRun
  return settleRun === undefined
    ? Effect.dieMessage("the store has the one-statement settle")
    : settleRun({ ...record, workflow_run_id: run, job_outputs: { ok: 1 }, duration_ms: 7 })
}

/** The last instant both stores hold (Timestamp's range ends there). */
const LAST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

describe("R6 a running job's end that waited behind a pin is written after it", () => {
  // A pin dated at the last storable instant (a writer's clock far ahead): 1 ms after it is past
  // what the database holds, so the end that waited behind it is written at that instant — it failed
  // with HSK-500 on the column's check (found by a regression probe of the fix above).
  it.scoped("R6 PostgreSQL: an end waiting behind a pin dated at the last storable instant is written at that instant, not refused", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("end after last-instant pin")
      const a = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
      const b = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
      const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
      yield* TestClock.setTime(1_000)
      const claim = yield* claimedOn(a)
      const job = claim.job
      yield* TestClock.setTime(5_000)
      const endRecord = jobEvent(job, { event_id: freshId(), timestamp: at(5_000) })
      const commit = yield* Deferred.make<void>()
      const pinned = yield* Deferred.make<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(commit, undefined))
      const pin = yield* Effect.fork(a.transaction(Effect.gen(function*() {
        yield* a.lockJob(job.job_id)
        yield* TestClock.setTime(LAST_INSTANT)
        yield* a.setPinned(job.job_id, true, { events: auditWith([jobEvent(job, { event_id: freshId(), timestamp: at(LAST_INSTANT) })]) })
        yield* Deferred.succeed(pinned, undefined)
        yield* Deferred.await(commit)
      })))
      yield* Deferred.await(pinned)
      yield* TestClock.setTime(5_000)
      const ending = yield* Effect.fork(finishOn(b)({ job_id: job.job_id, to: "completed", status_reason: "done", event: endRecord }))
      yield* untilAStatementWaits(sql)
      yield* Deferred.succeed(commit, undefined)
      yield* Fiber.join(pin)
      const ended = yield* Fiber.join(ending)
      if (ended === null || ended === undefined) return assert.fail("the running job ended")
      assert.strictEqual(millis(ended.updated_at), LAST_INSTANT, "the end: at the last instant held")
      const stored = yield* b.getJob(job.job_id)
      assert.strictEqual(stored.state, "completed")
      // Tied with the pin there (nothing later can be stored): the end's record is where its row is.
      const written = (yield* b.listEvents({ event_id: endRecord.event_id, limit: 1 })).items[0]!
      assert.strictEqual(millis(written.timestamp), LAST_INSTANT, "the end's record, where the row is")
      assert.strictEqual(written.body["timestamp"], DateTime.formatIso(at(LAST_INSTANT)), "the end's record body")
    }), 60_000)

  for (const [name, end] of [["finishRunningJob", finishOn], ["settleRun", settleOn]] as const) {
    it.scoped(`R6 PostgreSQL: ${name} waiting for the row a pin holds, its record built first, is written 1 ms after the pin`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase(`${name} after pin`)
        const a = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
        const b = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
        const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
        yield* endAfterPin(a, b, end(b), untilAStatementWaits(sql))
      }), 60_000)

    it.scoped(`R6 SQLite file: ${name} after a pin that committed once its record was built is written 1 ms after the pin`, () =>
      Effect.gen(function*() {
        const makeTwoStores = sqliteFile.makeTwoStores
        if (makeTwoStores === undefined) return assert.fail("two stores over one file")
        const [a, b] = yield* makeTwoStores()
        const pinner = Context.get(a, JobStore)
        const ender = Context.get(b, JobStore)
        yield* endAfterPin(pinner, ender, end(ender), undefined)
      }), 60_000)
  }
})
