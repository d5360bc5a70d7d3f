/**
 * Issue 16 / R9: `stallStaleRuns({ recordRecovery: true })` — startup
 * recovery's records built by the database, set-based, in the stall's own
 * transaction. On every store: each moved run gets exactly one
 * `workflow_recovery` record that decodes as a `FlightEvent` and is the very
 * event `recoveryEvent` (the library's builder) gives for it; racing
 * recoverers still move each run once, with one record each; bad options
 * change nothing.
 */
import { assert, describe } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import { makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { DEFAULT_MAX_EVENT_BYTES } from "../../src/internal/flight/Privacy.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { recoveryEvent } from "../../src/internal/jobs/auditEvents.js"
import { JobStore, type StalledRun } from "../../src/store/JobStore.js"
import { stallAll } from "../support/drain.js"
import { type Backend, type Store, storeTest, withTwoStores } from "../support/backend.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"
import { expectTag, failureOf, recoveryEvents, STALE_MS, staleOptions, startedJob } from "./fixtures.js"

const decodeEvent = Schema.decodeUnknown(FlightEvent)
/** The library's own constructor for the events it writes, with the recorder's defaults. */
const build = makeBuild({ redactor: Redactor.make(), maxEventBytes: DEFAULT_MAX_EVENT_BYTES })

/** Stalls in batches of `limit`, recording in SQL, until nothing is stale; returns what this recoverer moved. */
const recoverInBatches = (store: Store, limit: number) =>
  stallAll(() => Effect.flatMap(staleOptions(), (scan) => store.stallStaleRuns({ ...scan, limit, recordRecovery: true })))

const recordsContract = (backend: Backend) => {
  const test = storeTest(backend)

  describe(`stallStaleRuns recording in SQL on ${backend.name}`, () => {
    test("R9 issue 16 each moved run gets one workflow_recovery record, built in SQL, that decodes as a FlightEvent and is the event recoveryEvent builds", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const stale = yield* Effect.forEach([1, 2, 3], () => startedJob())
        yield* TestClock.setTime(7_250)
        const late = yield* startedJob()
        yield* TestClock.setTime(90_000)
        const fresh = yield* startedJob()
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 100, recordRecovery: true })
        assert.strictEqual(moved.length, 4)
        for (const { run, trace_id } of moved) {
          const records = yield* store.listEvents({ workflow_run_id: run.id })
          assert.strictEqual(records.items.length, 1, "one record per moved run")
          const record = records.items[0]!
          assert.deepStrictEqual(
            [record.type, record.actor, record.job_id, record.trace_id, DateTime.formatIso(record.timestamp)],
            ["workflow_recovery", "system", run.job_id, trace_id, "1970-01-01T00:01:30.000Z"]
          )
          const built = yield* build(recoveryEvent({ run, trace_id, threshold_secs: 30 }))
          assert.deepStrictEqual(record.body, { ...built.body, event_id: record.event_id, timestamp: "1970-01-01T00:01:30.000Z" })
          const event = yield* decodeEvent(record.body)
          assert.strictEqual(event.type, "workflow_recovery")
          // The reason is the run's and the job's error message, as the reference writes it (issue 12.5).
          assert.strictEqual((yield* store.getRun(run.id)).error_message, record.body["reason"])
          assert.strictEqual((yield* store.getJob(run.job_id)).error_message, record.body["reason"])
        }
        const late_ = moved.find((s) => s.run.id === late.run.id)
        assert.strictEqual(
          (yield* store.listEvents({ workflow_run_id: late.run.id })).items[0]?.body["last_heartbeat_ts"],
          "1970-01-01T00:00:07.250Z",
          `each record names its own run's heartbeat (${String(late_?.run.id)})`
        )
        assert.sameMembers(moved.map((s) => s.run.id), [...stale, late].map((s) => s.run.id))
        assert.strictEqual((yield* store.listEvents({ workflow_run_id: fresh.run.id })).items.length, 0)
        assert.strictEqual((yield* store.getJob(fresh.job.job_id)).state, "running")
      }))

    test("R9 issue 16 recording in SQL with a limit far above the stale runs (the largest safe integer) moves them all, one record each", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const started = yield* Effect.forEach([1, 2, 3], () => startedJob())
        yield* TestClock.adjust(STALE_MS + 1_000)
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: Number.MAX_SAFE_INTEGER, recordRecovery: true })
        assert.sameMembers(moved.map((s) => s.run.id), started.map((s) => s.run.id))
        assert.strictEqual((yield* store.listEvents({ types: ["workflow_recovery"] })).items.length, 3)
      }))

    test("R9 issue 16 recording in SQL, a second scan moves nothing and writes no record", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* Effect.forEach([1, 2], () => startedJob())
        yield* TestClock.adjust(STALE_MS + 1_000)
        assert.strictEqual((yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, recordRecovery: true })).length, 2)
        assert.deepStrictEqual(yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, recordRecovery: true }), [])
        assert.strictEqual((yield* store.listEvents()).items.length, 2)
      }))

    test("R6a issue 16 recording in SQL, a stale run whose job is no longer running is stalled and recorded, its job left alone", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const waiting = yield* store.transition({ job_id: job.job_id, to: "awaiting_validation" })
        yield* TestClock.adjust(STALE_MS + 1_000)
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, recordRecovery: true })
        assert.deepStrictEqual(moved.map((s) => s.run.id), [run.id])
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        const after = yield* store.getJob(job.job_id)
        assert.deepStrictEqual([after.state, after.error_message, after.updated_at], [waiting.state, waiting.error_message, waiting.updated_at])
        assert.strictEqual((yield* store.listEvents({ workflow_run_id: run.id })).items.length, 1)
      }))

    test("R9 issue 16 recordRecovery with events as well writes both, in the one transaction", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        yield* TestClock.adjust(STALE_MS + 1_000)
        yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, recordRecovery: true, events: recoveryEvents })
        assert.strictEqual((yield* store.listEvents({ workflow_run_id: run.id })).items.length, 2)
      }))

    test("R9 issue 16 recordRecovery with a threshold that is not whole seconds is a DecodeFailure, and nothing moves", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        yield* TestClock.adjust(STALE_MS + 1_000)
        const options = yield* staleOptions()
        const error = yield* failureOf(store.stallStaleRuns({ ...options, threshold: Duration.millis(30_500), limit: 10, recordRecovery: true }))
        expectTag(error, "DecodeFailure")
        assert.strictEqual((yield* store.getRun(run.id)).status, "running")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
        assert.strictEqual((yield* store.listEvents()).items.length, 0)
      }))

    test("R9 issue 16 two recoverers recording in SQL at once never move a run twice: moved = N, records = N, one per run", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const started = yield* Effect.provideService(Effect.forEach(Array.from({ length: 40 }), () => startedJob()), JobStore, a)
          yield* TestClock.adjust(STALE_MS + 1_000)
          const [byA, byB] = yield* Effect.all([recoverInBatches(a, 3), recoverInBatches(b, 3)], { concurrency: "unbounded" })
          const moved = [...byA, ...byB].map((s: StalledRun) => s.run.id)
          assert.strictEqual(moved.length, 40, "every stale run moved once")
          assert.sameMembers(moved, started.map((s) => s.run.id))
          const records = yield* a.listEvents({ types: ["workflow_recovery"], limit: 1000 })
          assert.strictEqual(records.items.length, 40, "one record per moved run")
          assert.strictEqual(new Set(records.items.map((e) => e.workflow_run_id)).size, 40)
          assert.strictEqual((yield* a.listJobs({ states: ["stalled"], limit: 1000 })).items.length, 40)
        })), 60_000)
  })
}

recordsContract(sqliteMemory)
recordsContract(sqliteFile)
recordsContract({ ...postgres("recovery records"), concurrent: true })
