/**
 * What prune and retention delete leaves no readable trace in a SQLite file
 * (found by an outside probe: `strings jobs.db` after `ai-jobs prune` still
 * showed the pruned job's inputs and node payloads, its -wal too). The store
 * sets `secure_delete` and, after a delete that removed rows, checkpoints and
 * truncates the WAL (src/store/sqlite/erasure.ts). Read here as raw bytes of
 * the database file and its -wal while the store is still open, as a server's
 * would be (closing the last connection checkpoints the WAL by itself).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { FlightRecorder } from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import { Jobs } from "../../src/Jobs.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { tempSqliteFile } from "../support/stores.js"

const JOB_INPUT = "MARKER-JOB-INPUT-5501"
const NODE_INPUT = "MARKER-NODE-INPUT-5501"
const NODE_OUTPUT = "MARKER-NODE-OUTPUT-5501"
const EVENT_BODY = "MARKER-EVENT-BODY-5501"
const EVENT_REASON = "MARKER-EVENT-REASON-5501"
/** At the end of 20 kB of input: on overflow pages, which a delete frees whole (`secure_delete = FAST` leaves them as they were). */
const LARGE_INPUT = "MARKER-LARGE-INPUT-5501"
const JOB_MARKERS = [JOB_INPUT, LARGE_INPUT, NODE_INPUT, NODE_OUTPUT]
const EVENT_MARKERS = [EVENT_BODY, EVENT_REASON]

/** Another process's connection to the file, as better-sqlite3 opens it. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  prepare(text: string): { run(): unknown; get(): unknown }
  close(): void
}

/** The markers whose bytes are in the database file or its -wal, as they are on disk now. */
const markersOnDisk = (filename: string, markers: ReadonlyArray<string>): Array<string> => {
  const files = [filename, `${filename}-wal`].filter((file) => fs.existsSync(file)).map((file) => fs.readFileSync(file))
  return markers.filter((marker) => files.some((bytes) => bytes.includes(Buffer.from(marker))))
}

/** One finished job with a marker in its inputs (a short one, and one past 20 kB), its node's input and output, and two caller events naming it (a body's field, a reason). */
const finishedJobWithMarkers = Effect.gen(function*() {
  const jobs = yield* Jobs
  const recorder = yield* FlightRecorder
  const job = yield* jobs.submit({
    job_kind: "doc_summarize",
    protocol_id: "p",
    profile_id: "alice",
    access_mode: "analysis_only",
    safety_mode: "normal",
    job_inputs: { customer_note: JOB_INPUT, attachment: "x".repeat(20_000) + LARGE_INPUT }
  })
  yield* jobs.start(job.job_id)
  yield* jobs.run(job.job_id, (ctx) =>
    ctx.node({ node_id: "n", node_type: "llm", input: { doc: NODE_INPUT } }, Effect.succeed({ summary: NODE_OUTPUT })))
  const envelope = { timestamp: "2020-01-01T00:00:00.000Z", actor: "human", trace_id: crypto.randomUUID() } as const
  yield* recorder.record({ ...envelope, event_id: crypto.randomUUID(), type: "diagnostic", diagnostic_id: "d-1", source: EVENT_BODY })
  yield* recorder.record({
    ...envelope,
    event_id: crypto.randomUUID(),
    type: "system",
    trace_id: job.trace_id,
    job_id: job.job_id,
    from_state: "completed",
    to_state: "completed",
    reason: EVENT_REASON
  })
  return job
})

/** Lets a checkpoint queued behind a transaction that just ended run (erasure.ts); stops as soon as the -wal is empty. */
const walEmptied = (filename: string) =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 50 && fs.existsSync(`${filename}-wal`) && fs.statSync(`${filename}-wal`).size > 0; turn++) {
      yield* Effect.yieldNow()
    }
  })

describe("SQLite erasure", () => {
  it.effect("R18 a pruned job's inputs, node input and output are in neither the database file nor its -wal (Janitor.prune, as ai-jobs prune)", () => {
    const filename = tempSqliteFile("erasure-prune")
    return Effect.gen(function*() {
      yield* finishedJobWithMarkers
      assert.deepStrictEqual(markersOnDisk(filename, [...JOB_MARKERS, ...EVENT_MARKERS]), [...JOB_MARKERS, ...EVENT_MARKERS])
      const report = yield* Janitor.prune({ olderThan: DateTime.unsafeMake("2100-01-01T00:00:00.000Z"), keepNewest: 0 })
      assert.strictEqual(report.pruned, 1)
      assert.deepStrictEqual(markersOnDisk(filename, JOB_MARKERS), [])
      // Pruning keeps events: theirs are still there, so the bytes are read where they would be.
      assert.deepStrictEqual(markersOnDisk(filename, EVENT_MARKERS), EVENT_MARKERS)
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))
  })

  it.effect("R13 events purged by retention (ai-jobs retention) leave neither their body nor their reason in the database file or its -wal", () => {
    const filename = tempSqliteFile("erasure-retention")
    return Effect.gen(function*() {
      yield* finishedJobWithMarkers
      assert.deepStrictEqual(markersOnDisk(filename, EVENT_MARKERS), EVENT_MARKERS)
      // A cutoff is never later than now (migration 0028): the clock moves on instead.
      yield* TestClock.setTime(Date.parse("2100-01-01T00:00:00.000Z"))
      const purged = yield* Janitor.purgeEvents({ cutoff: yield* DateTime.now })
      assert.isAbove(purged, 2)
      // Each batch commits in a transaction with its summary: the checkpoint runs once it has ended.
      yield* walEmptied(filename)
      assert.deepStrictEqual(markersOnDisk(filename, EVENT_MARKERS), [])
      // What is left (the purge's own summaries) names none of them.
      const left = JSON.stringify((yield* (yield* FlightRecorder).list()).items)
      assert.deepStrictEqual(EVENT_MARKERS.filter((marker) => left.includes(marker)), [])
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))
  })

  it.effect("R18 R13 a Janitor pass (retention, then pruning in its last batch's transaction) leaves none of the job's or its events' markers on disk", () => {
    const filename = tempSqliteFile("erasure-pass")
    return Effect.gen(function*() {
      yield* finishedJobWithMarkers
      assert.deepStrictEqual(markersOnDisk(filename, [...JOB_MARKERS, ...EVENT_MARKERS]), [...JOB_MARKERS, ...EVENT_MARKERS])
      // A century on: the job is past any age, its events past the recorder's window.
      yield* TestClock.setTime(Date.parse("2100-01-01T00:00:00.000Z"))
      const report = yield* Janitor.runOnce({ olderThan: "0 millis", keepNewest: 0 })
      assert.strictEqual(report.pruned, 1)
      yield* walEmptied(filename)
      assert.deepStrictEqual(markersOnDisk(filename, [...JOB_MARKERS, ...EVENT_MARKERS]), [])
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))
  })

  it.effect("R18 a prune while another connection reads an older snapshot still succeeds; the WAL it could not empty is emptied by the next prune, which removes nothing", () => {
    const filename = tempSqliteFile("erasure-reader")
    return Effect.gen(function*() {
      yield* finishedJobWithMarkers
      const reader = new Database(filename)
      try {
        reader.prepare("BEGIN").run()
        reader.prepare("SELECT count(*) FROM ai_jobs").get()
        const olderThan = DateTime.unsafeMake("2100-01-01T00:00:00.000Z")
        assert.strictEqual((yield* Janitor.prune({ olderThan, keepNewest: 0 })).pruned, 1)
        reader.prepare("COMMIT").run()
        assert.strictEqual((yield* Janitor.prune({ olderThan, keepNewest: 0 })).pruned, 0)
        assert.deepStrictEqual(markersOnDisk(filename, JOB_MARKERS), [])
      } finally {
        reader.close()
      }
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))
  })
})
