/**
 * The example application, tested the way our users test theirs: the same
 * program, with the storage layer swapped for an in-memory SQLite store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeApp, summarizeDocument } from "../../examples/summarize-app.js"
import { FlightRecorder, JobStore, SqliteJobStore } from "../../src/index.js"

describe("examples/summarize-app", () => {
  it.effect("runs a summary job on a swapped-in SQLite store, with its audit trail", () =>
    Effect.gen(function*() {
      const result = yield* summarizeDocument("doc-7", "one two three four five six seven eight nine ten")
      assert.deepStrictEqual(result.summary, { summary: "one two three four five six seven eight", words: 10 })

      const store = yield* JobStore.JobStore
      const job = yield* store.getJob(result.job_id)
      assert.strictEqual(job.state, "completed")
      const nodes = yield* store.listNodes(job.workflow_run_id!)
      assert.deepStrictEqual(nodes.map((n) => n.node_id), ["count-words", "summarize"])

      const recorder = yield* FlightRecorder.FlightRecorder
      const events = yield* recorder.list({ trace_id: result.trace_id })
      // doc.summarize decided at submit and again when the job starts; queued, running, completed.
      assert.deepStrictEqual(events.items.map((e) => e.type), ["capability_action", "system", "capability_action", "system", "system"])
    }).pipe(Effect.provide(makeApp(SqliteJobStore.layer({ filename: ":memory:" })))))
})
