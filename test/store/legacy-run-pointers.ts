/**
 * R16a: a legacy job whose run pointer names no run (the reference schema
 * never enforces it) upgrades with the pointer cleared, the rest of its row
 * intact, and a `system` event of the job saying so — on SQLite and
 * PostgreSQL alike (internal/legacyReferences.ts). A twin of a legacy job is
 * added before the upgrade, the same row but its id and a pointer to no run;
 * after it, the twin must read as its original does, and carry the event.
 */
import { assert } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"

/** The twin's id, and the run its pointer names, which is not there (upper case: any legacy text is kept as written). */
export const danglingTwin = {
  job: "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed00d",
  run: "DDDDDDDD-DDDD-4DDD-8DDD-DDDDDDDDDDDD"
} as const

/** Adds to the legacy `ai_jobs` behind the client a copy of job `of` with the twin's id and dangling pointer. */
export const insertDanglingTwin = (of: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TEMP TABLE twin AS SELECT * FROM ai_jobs WHERE id = ${of}`,
      sql`UPDATE twin SET id = ${danglingTwin.job}, workflow_run_id = ${danglingTwin.run}`,
      sql`INSERT INTO ai_jobs SELECT * FROM twin`,
      sql`DROP TABLE twin`
    ], { discard: true }))

const encodeJob = Schema.encodeSync(AiJob)

/** Reads the upgraded twin and its original `of` through the store: the same job but for its id and pointer, and its one event. */
export const expectClearedTwin = (of: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const original = encodeJob(yield* store.getJob(JobId.make(of)))
    const twin = encodeJob(yield* store.getJob(JobId.make(danglingTwin.job)))
    assert.isNull(original.workflow_run_id, "the original had no run pointer")
    assert.isNull(twin.workflow_run_id, "the pointer to no run is cleared")
    assert.deepStrictEqual({ ...twin, job_id: of }, original, "the rest of the row is kept")
    const events = (yield* store.listEvents({ job_id: JobId.make(danglingTwin.job) })).items
    assert.strictEqual(events.length, 1, "one event records the repair")
    const [event] = events
    assert.deepStrictEqual([event?.type, event?.actor, event?.trace_id, event?.workflow_run_id], ["system", "system", twin.trace_id, null])
    const body = event?.body as Record<string, unknown>
    assert.deepStrictEqual([body.from_state, body.to_state], [twin.state, twin.state], "the job did not move")
    assert.include(body.reason, `"${danglingTwin.run}"`, "the reason names the run it named")
    assert.include(body.reason, "cleared")
    assert.strictEqual((yield* store.listEvents({ job_id: JobId.make(of) })).items.length, 0, "no other job is said to be repaired")
  })
