/**
 * Recovery on a clock behind the job's last change (a known gap of the last
 * release), on both stores. A stall took the recoverer's raw reading, so a
 * process whose clock was behind a change made on a host ahead (a pin, a run
 * begun at a lifted instant) wrote the `running → stalled` move, its
 * `workflow_recovery` record and the job's and run's `updated_at` before that
 * change, and the job's history listed the stall before it. Now a stall is
 * stamped at the reading, or the job's or run's last change if later (as every
 * other move is), and a stalled run's nodes end no earlier than they began.
 * Staleness is still judged by the heartbeat against the reading.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const HOUR = 60 * 60_000
const TEN_MINUTES = 10 * 60_000

/** An instant of the test as history shows it. */
const at = (ms: number) => DateTime.formatIso(DateTime.unsafeMake(ms))

/**
 * The job's history as it reads (each record's type, move and timestamp
 * column), each record's body `timestamp` text, the job's state and
 * `updated_at`, and each run's status and `updated_at`.
 */
const historyOf = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), ({ events, job, runs }) => ({
    events: events.map((event) =>
      `${event.type}${event.type === "system" ? ` ${String(event.body["from_state"])}→${String(event.body["to_state"])}` : ""} @ ${DateTime.formatIso(event.timestamp)}`
    ),
    bodyTimestamps: events.map((event) => event.body["timestamp"]),
    columnTimestamps: events.map((event) => DateTime.formatIso(event.timestamp)),
    state: job.state,
    updated_at: DateTime.formatIso(job.updated_at),
    runs: runs.map(({ run }) => [run.status, DateTime.formatIso(run.updated_at)])
  }))

for (const backend of [sqliteMemory, sqliteFile, postgres("recovery clock behind")] as ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore(), Recovery.layerNoStartupRecovery) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`recovery on a clock behind the job's last change on ${backend.name}`, () => {
    it.effect("R9 R6 a stall read 50 minutes before a pin made on a clock ahead is stamped at the pin's instant: one workflow_recovery record after it, column and body agreeing, the job's and run's updated_at with it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        yield* TestClock.setTime(T0 + HOUR)
        yield* jobs.pin(job.job_id)
        // Past the 30 s threshold from the heartbeat (T0), before the pin.
        yield* TestClock.setTime(T0 + TEN_MINUTES)
        const report = yield* Recovery.recoverStalledRuns({})
        assert.deepStrictEqual(report.recovered.map((r) => [r.id, r.status, DateTime.formatIso(r.updated_at)]), [[run.id, "stalled", at(T0 + HOUR)]])
        const again = yield* Recovery.recoverStalledRuns({})
        assert.strictEqual(again.recovered.length, 0, "stalled once")
        const history = yield* historyOf(jobs, job.job_id)
        assert.deepStrictEqual(history.events.slice(-2), [
          `system running→running @ ${at(T0 + HOUR)}`,
          `workflow_recovery @ ${at(T0 + HOUR)}`
        ], "the stall after the pin")
        assert.strictEqual(history.events.filter((e) => e.startsWith("workflow_recovery")).length, 1)
        assert.deepStrictEqual(history.bodyTimestamps, history.columnTimestamps, "every record's body agrees with its column")
        assert.strictEqual(history.state, "stalled")
        assert.strictEqual(history.updated_at, at(T0 + HOUR))
        assert.deepStrictEqual(history.runs, [["stalled", at(T0 + HOUR)]])
      })))

    it.effect("R9 R6 a run begun at a pin's instant (a clock ahead) and recovered on a clock behind it: the stall follows the start", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* TestClock.setTime(T0 + HOUR)
        yield* jobs.pin(job.job_id)
        // The start's clock is behind the pin: the run begins at the pin's instant, its heartbeat at T0.
        yield* TestClock.setTime(T0)
        yield* jobs.start(job.job_id)
        yield* TestClock.setTime(T0 + TEN_MINUTES)
        const report = yield* Recovery.recoverStalledRuns({})
        assert.deepStrictEqual(report.recovered.map((r) => DateTime.formatIso(r.updated_at)), [at(T0 + HOUR)])
        const history = yield* historyOf(jobs, job.job_id)
        assert.deepStrictEqual(history.events.slice(-2), [
          `system queued→running @ ${at(T0 + HOUR)}`,
          `workflow_recovery @ ${at(T0 + HOUR)}`
        ], "the stall after the start")
        assert.deepStrictEqual(history.bodyTimestamps, history.columnTimestamps)
        assert.strictEqual(history.updated_at, at(T0 + HOUR))
        assert.deepStrictEqual(history.runs, [["stalled", at(T0 + HOUR)]])
      })))

    it.effect("R9 a stall on a clock ahead of every change is stamped at the reading exactly, its body's timestamp the reading's text", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* TestClock.setTime(T0 + TEN_MINUTES + 7)
        const report = yield* Recovery.recoverStalledRuns({})
        assert.deepStrictEqual(report.recovered.map((r) => DateTime.formatIso(r.updated_at)), [at(T0 + TEN_MINUTES + 7)])
        const history = yield* historyOf(jobs, job.job_id)
        assert.strictEqual(history.events[history.events.length - 1], `workflow_recovery @ ${at(T0 + TEN_MINUTES + 7)}`)
        assert.strictEqual(history.bodyTimestamps[history.bodyTimestamps.length - 1], "2026-01-01T12:10:00.007Z")
        assert.strictEqual(history.updated_at, at(T0 + TEN_MINUTES + 7))
        assert.deepStrictEqual(history.runs, [["stalled", at(T0 + TEN_MINUTES + 7)]])
      })))

    it.effect("R9 a batch lifting one run's stall keeps the report in stale-scan order: oldest heartbeat first", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const first = yield* jobs.submit(summarize())
        const { run: older } = yield* jobs.start(first.job_id)
        yield* TestClock.setTime(T0 + 1_000)
        const second = yield* jobs.submit(summarize())
        const { run: newer } = yield* jobs.start(second.job_id)
        yield* TestClock.setTime(T0 + HOUR)
        yield* jobs.pin(first.job_id)
        yield* TestClock.setTime(T0 + TEN_MINUTES)
        const report = yield* Recovery.recoverStalledRuns({})
        assert.deepStrictEqual(report.recovered.map((r) => [r.id, DateTime.formatIso(r.updated_at)]), [
          [older.id, at(T0 + HOUR)],
          [newer.id, at(T0 + TEN_MINUTES)]
        ])
      })))

    it.effect("R8 HSK-WF-001 a node begun on a clock ahead, its stalled run's job cancelled on a clock behind: the node ends no earlier than it began", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        yield* TestClock.setTime(T0 + HOUR)
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n1", node_type: "llm" })
        assert.strictEqual(DateTime.formatIso(node.started_at), at(T0 + HOUR))
        yield* TestClock.setTime(T0 + TEN_MINUTES)
        const report = yield* Recovery.recoverStalledRuns({})
        assert.strictEqual(report.recovered.length, 1)
        yield* jobs.cancel(job.job_id, { reason: "not needed" })
        const [ended] = yield* store.listNodes(run.id)
        assert.deepStrictEqual(
          [ended?.status, ended?.finished_at === null || ended?.finished_at === undefined ? null : DateTime.formatIso(ended.finished_at)],
          ["cancelled", at(T0 + HOUR)]
        )
      })))
  })
}
