/**
 * An event row whose envelope columns disagree with its body, on both stores.
 * Found by an outside probe: a raw INSERT copying a job's event under another
 * job (a new event_id, job_id and timestamp, the old body) was accepted by the
 * database, listed under the new job and time, and shown from the body — an
 * event claiming the first job, its id twice in the log. Now every read of
 * event rows (FlightRecorder.list, so the CLI and GET /events; JobStore.listEvents;
 * Jobs.history) fails with `CorruptRow` naming the table, the row and the
 * column. Rows the library or an earlier release wrote still read.
 */
import { assert, describe, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { CorruptRow } from "../../src/store/StoreErrors.js"
import type { Backend } from "../support/backend.js"
import { copyOf, insertRaw, type RawRow } from "../support/rawEvents.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { uuid } from "./fixtures.js"

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0)

const assertCorrupt = (error: unknown, rowId: string, columns: ReadonlyArray<string>) => {
  assert.strictEqual((error as { readonly _tag?: string })._tag, "CorruptRow")
  const corrupt = error as CorruptRow
  assert.strictEqual(corrupt.table, "flight_recorder_events")
  assert.strictEqual(corrupt.row_id, rowId)
  assert.strictEqual(corrupt.column, columns[0])
  assert.deepStrictEqual(corrupt.issues.map((issue) => issue.path), columns)
}

for (const backend of [sqliteFile, postgres("event envelope")] as ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStoreWithSql(), Recovery.layerNoStartupRecovery) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`an event row disagreeing with its body on ${backend.name}`, () => {
    it.effect("R10 a job's event copied under another job (new event_id, job_id and timestamp, the old body) is CorruptRow naming the column, from FlightRecorder.list, JobStore.listEvents and Jobs.history", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const recorder = yield* FlightRecorder.FlightRecorder
        const a = yield* jobs.submit(summarize())
        const b = yield* jobs.submit(summarize())
        const ofA = (yield* store.listEvents({ job_id: a.job_id })).items.map((event) => event.event_id)
        const [original] = (yield* store.listEvents({ job_id: a.job_id, limit: 1 })).items
        assert.isDefined(original)
        const copyId = uuid()
        yield* insertRaw(copyOf(original!, { event_id: copyId, job_id: b.job_id, timestamp: "2026-01-01T00:00:00.000Z" }))
        const columns = ["event_id", "job_id", "timestamp"]
        assertCorrupt(yield* Effect.flip(recorder.list({ job_id: b.job_id })), copyId, columns)
        assertCorrupt(yield* Effect.flip(store.listEvents({ job_id: b.job_id })), copyId, columns)
        assertCorrupt(yield* Effect.flip(jobs.history(b.job_id)), copyId, columns)
        // The job the body names reads as before: only the row that contradicts itself is refused.
        assert.deepStrictEqual((yield* recorder.list({ job_id: a.job_id })).items.map((event) => event.event_id), ofA)
      })))

    it.effect("R10 a row whose type, actor, trace or run column alone disagrees with its body is CorruptRow naming that column", () =>
      provide(Effect.gen(function*() {
        yield* TestClock.setTime(T0)
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(summarize())
        const [original] = (yield* store.listEvents({ job_id: job.job_id, limit: 1 })).items
        assert.isDefined(original)
        const cases: ReadonlyArray<[string, Partial<RawRow>, Record<string, unknown>]> = [
          ["type", { type: "diagnostic" }, {}],
          ["actor", { actor: original!.actor === "human" ? "agent" : "human" }, {}],
          ["trace_id", { trace_id: uuid() }, {}],
          // The body names a run its row does not.
          ["workflow_run_id", { workflow_run_id: null }, { workflow_run_id: uuid() }]
        ]
        for (const [column, change, inBody] of cases) {
          const rowId = uuid()
          // The body's own event_id goes with the row: only `column` disagrees.
          yield* insertRaw(copyOf(original!, { ...change, event_id: rowId, body: { ...original!.body, ...inBody, event_id: rowId } }))
          const error = yield* Effect.flip(store.listEvents({ event_id: rowId as never }))
          assertCorrupt(error, rowId, [column])
        }
      })))

    it.effect("R10 rows an earlier release wrote still read: body ids in upper case, a body timestamp with more digits or an offset, a body without job_id", () =>
      provide(Effect.gen(function*() {
        const recorder = yield* FlightRecorder.FlightRecorder
        const trace = uuid()
        const job = uuid()
        const legacy = (eventId: string, columnTime: string, bodyTime: string, withJob: boolean): RawRow => ({
          event_id: eventId,
          timestamp: columnTime,
          actor: "agent",
          type: "diagnostic",
          trace_id: trace,
          job_id: withJob ? job : null,
          workflow_run_id: null,
          body: {
            event_id: eventId.toUpperCase(),
            timestamp: bodyTime,
            actor: "agent",
            trace_id: trace.toUpperCase(),
            ...(withJob ? { job_id: job.toUpperCase() } : {}),
            type: "diagnostic",
            severity: "warning",
            code: "W1",
            message: "as 0.1.0 wrote it"
          }
        })
        const rows: Array<RawRow> = [
          legacy(uuid(), "2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00.123456789Z", true),
          legacy(uuid(), "2026-01-01T00:00:01.000Z", "2026-01-01T01:00:01+01:00", true),
          legacy(uuid(), "2026-01-01T00:00:02.000Z", "2026-01-01t00:00:02.000z", false)
        ]
        if (backend.dialect === "pg") {
          // A row stored before migration 0019: its column with microseconds, read cut to the millisecond.
          const sql = yield* SqlClient.SqlClient
          yield* sql`ALTER TABLE flight_recorder_events DROP CONSTRAINT flight_recorder_events_timestamp_valid`
          rows.push(legacy(uuid(), "2026-01-01T00:00:03.003456Z", "2026-01-01T00:00:03.003Z", true))
        }
        for (const row of rows) yield* insertRaw(row)
        const page = yield* recorder.list({ trace_id: trace as never })
        assert.deepStrictEqual(page.items.map((event) => event.event_id), rows.map((row) => row.event_id))
      })))
  })
}
