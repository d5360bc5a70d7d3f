/**
 * R18 HSK-GC-004 a Janitor pass killed mid-pass leaves no purge unrecorded,
 * on a SQLite file and on PostgreSQL. The pass's retention batches once
 * committed on their own and its one gc_summary came with the pruning, at
 * the end: a process killed (SIGKILL, the machine gone) after a batch
 * committed and before the pruning's COMMIT had purged events no summary
 * counted, and nothing in the process could record them. Now each full batch
 * commits with its own summary and the last with the pruning.
 *
 * A real child process (kill-mid-pass-process.ts) runs the pass over the
 * database; its store stops it where the pruning is called, and the test
 * SIGKILLs it there. Then the events gone must be exactly those the
 * gc_summaries count.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { JobStore } from "../../src/store/JobStore.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { startChild } from "../reliability/children.js"
import type { WorkerMessage } from "../reliability/protocol.js"

/** The child process of these tests, from test/reliability/children.ts's folder. */
const CHILD = "../janitor/kill-mid-pass-process.ts"

const BATCH = 5
/** Eight full batches and a short one of two. */
const EVENTS = 42

const pruning = (m: WorkerMessage): m is WorkerMessage => (m as unknown as { readonly t: string }).t === "pruning"

for (const backend of sharedBackends) {
  describe(`a Janitor pass killed mid-pass on ${backend.name}`, () => {
    it.effect("R18 HSK-GC-004 a pass SIGKILLed after retention batches committed and before its pruning's COMMIT leaves every purged event counted by a gc_summary", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("janitor killed mid-pass")
        const store = yield* database.store()
        const recorder = yield* FlightRecorder.make().pipe(Effect.provide(Layer.succeed(JobStore, store)))
        // Two hours old by the child's real clock, past its recorder's one-hour window.
        yield* TestClock.setTime(Date.now() - 2 * 60 * 60 * 1000)
        for (let i = 0; i < EVENTS; i++) {
          yield* Effect.flatMap(FlightRecorder.makeEvent("diagnostic", { actor: "system", diagnostic_id: `d-${i}` }), recorder.record)
        }
        const child = yield* Effect.acquireRelease(
          Effect.promise(() => startChild(CHILD, { HSK_CHILD_ARGV: JSON.stringify([database.url, String(BATCH)]) })),
          (child) => Effect.promise(() => child.kill())
        )
        yield* Effect.promise(() => child.waitFor(pruning, 60_000))
        yield* Effect.promise(() => child.kill())
        const items = (yield* store.listEvents({ limit: 1000 })).items
        const summaries = items.filter((record) => record.body["event_name"] === "gc_summary")
        const gone = EVENTS - (items.length - summaries.length)
        const counted = summaries.reduce((sum, record) => sum + Number(record.body["events_purged"] ?? 0), 0)
        assert.strictEqual(counted, gone, "the events gone are exactly those the gc_summaries count")
        assert.strictEqual(gone, 8 * BATCH, "the full batches stay purged; the short one rolled back with the pruning")
        assert.deepStrictEqual(
          summaries.map((record) => [record.body["actor"], record.body["items_scanned"], record.body["items_pruned"], record.body["events_purged"]]),
          Array.from({ length: 8 }, () => ["system", 0, 0, BATCH]),
          "one summary per full batch, no job scanned or pruned"
        )
      }).pipe(Effect.scoped), 120_000)
  })
}
