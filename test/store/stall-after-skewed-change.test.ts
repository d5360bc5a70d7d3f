/**
 * R9 R6, the Flight Recorder's order under clock skew between hosts: a stall
 * written by a recoverer whose clock is behind the job's last change is
 * lifted to that change's instant (so it is never dated before it), and
 * there it tied with the change's record. The tie went by event id, and the
 * recoverer's ids are UUIDv7s minted from its own clock, behind: smaller. So
 * the `workflow_recovery` record was listed before the change it follows, and
 * the job's last lifecycle record named a state it had left. The stall is now
 * written 1 ms after that change's record, on both stores, for recovery's
 * stale-run scan (`stallStaleRuns`) and the legacy half-finished stall
 * (`stallJobsUnderStalledRuns`).
 *
 * The skew is forced: the pin, the other host's change, is dated 100 s by
 * the TestClock and its record's id is minted a day ahead of this process's
 * real clock, as a host ahead would mint it; the recoverer reads 50 s.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { EventId } from "../../src/domain/Ids.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import type { Backend, Store } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { at, claimedOn, idMintedAt, jobEvent, millis } from "./fixtures.js"

const PIN_MS = 100_000
const RECOVERER_MS = 50_000
const THRESHOLD = Duration.seconds(30)

/**
 * A job claimed at 1 s (its heartbeat), then pinned at 100 s by a host ahead (its record's id
 * minted a day ahead of this clock); the TestClock then set back to 50 s, the recoverer's.
 */
const pinnedByAHostAhead = (store: Store) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(1_000)
    const claim = yield* claimedOn(store)
    yield* TestClock.setTime(PIN_MS)
    const pinRecord = jobEvent(claim.job, { event_id: idMintedAt(Date.now() + 86_400_000), timestamp: at(PIN_MS) })
    yield* store.setPinned(claim.job.job_id, true, { events: auditWith([pinRecord]) })
    yield* TestClock.setTime(RECOVERER_MS)
    return { ...claim, pinRecord }
  })

/** The job's history ends with the pin, then the stall 1 ms after it; the job's `updated_at` with the stall. */
const assertStallAfterPin = (store: Store, job: Parameters<Store["getJob"]>[0], pinId: EventId) =>
  Effect.gen(function*() {
    const history = (yield* store.listEvents({ job_id: job, order: "asc", limit: 20 })).items
    const last = history[history.length - 1]!
    assert.deepStrictEqual(
      history.slice(-2).map((event) => [event.event_id === pinId ? "pin" : event.type, millis(event.timestamp)]),
      [["pin", PIN_MS], ["workflow_recovery", PIN_MS + 1]],
      "the stall is listed after the pin it follows"
    )
    assert.strictEqual(last.body["timestamp"], DateTime.formatIso(at(PIN_MS + 1)), "the stall's body agrees with its column")
    const stored = yield* store.getJob(job)
    assert.strictEqual(stored.state, "stalled")
    assert.strictEqual(millis(stored.updated_at), PIN_MS + 1, "the job's updated_at is the stall's")
  })

for (const backend of [sqliteFile, postgres("stall after skewed change")] as ReadonlyArray<Backend>) {
  describe(`R9 R6 a stall on a clock behind the job's last change, made by a host ahead, on ${backend.name}`, () => {
    it.effect("R9 R6 stallStaleRuns: the stall and its workflow_recovery record, ids minted behind, are written 1 ms after the pin and listed after it", () =>
      Effect.provide(
        Effect.gen(function*() {
          const store = yield* JobStore
          const { job, pinRecord, run } = yield* pinnedByAHostAhead(store)
          const stalled = yield* store.stallStaleRuns({
            heartbeatBefore: at(RECOVERER_MS - Duration.toMillis(THRESHOLD)),
            threshold: THRESHOLD,
            limit: 10,
            recordRecovery: true
          })
          yield* assertStallAfterPin(store, job.job_id, pinRecord.event_id)
          assert.deepStrictEqual(stalled.map((s) => [s.run.id, millis(s.run.updated_at)]), [[run.id, PIN_MS + 1]], "the stall as reported")
          assert.strictEqual(millis((yield* store.getRun(run.id)).updated_at), PIN_MS + 1, "the run's stall")
        }),
        backend.makeStore()
      ), 60_000)

    it.effect("R9 R6 stallJobsUnderStalledRuns: a job left running under its stalled run, moved with its record on a clock behind the pin, is written 1 ms after the pin and listed after it", () =>
      Effect.provide(
        Effect.gen(function*() {
          const store = yield* JobStore
          const sql = yield* SqlClient.SqlClient
          const stallJobsUnderStalledRuns = store.stallJobsUnderStalledRuns
          if (stallJobsUnderStalledRuns === undefined) return assert.fail("the store has the legacy stall")
          const { job, pinRecord, run } = yield* pinnedByAHostAhead(store)
          // A reference database's half-finished stall: the run stalled, its job still running.
          yield* sql`UPDATE workflow_runs SET status = 'stalled' WHERE id = ${run.id}`
          const moved = yield* stallJobsUnderStalledRuns({ threshold: THRESHOLD })
          assert.deepStrictEqual(moved.map((s) => s.run.id), [run.id])
          yield* assertStallAfterPin(store, job.job_id, pinRecord.event_id)
        }),
        backend.makeStoreWithSql()
      ), 60_000)
  })
}
