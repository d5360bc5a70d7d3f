/**
 * FR-EVT-004 (spec §11.5): evidence missing due to retention is shown as
 * missing. A live job whose events the retention purge removed showed an
 * empty trail (`events: []`) with no word of the purge, as if nothing had
 * happened. The store now keeps the newest cutoff of a purge that deleted
 * events (migration 0031), and a job's views — `Jobs.history`, `GET
 * /jobs/:id` — say when the job started before it. Runs unchanged on both
 * stores, each test on a fresh database under TestClock (the jobs' instants
 * are the test's; the database's own clock only bounds the cutoff).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import { FlightRecorder, makeEvent } from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { apiServer, summarize, typedClient } from "../http/server.js"

const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR

/** What each view says of one job: Jobs.history's and GET /jobs/:id's `evidence_missing`, and the events each lists. */
const viewsOf = (jobId: JobId) =>
  Effect.gen(function*() {
    const history = yield* (yield* Jobs).history(jobId)
    const detail = yield* (yield* typedClient()).jobs.get({ path: { job_id: jobId } })
    return {
      history: history.evidence_missing,
      detail: detail.evidence_missing,
      events: [history.events.length, detail.events.length]
    }
  })

/** A job submitted and started now (TestClock time): its `queued` and `running` events and its run start now. */
const startedJob = Effect.gen(function*() {
  const jobs = yield* Jobs
  const job = yield* jobs.submit(summarize())
  yield* jobs.start(job.job_id)
  return job
})

export const runEvidenceMissingSuite = (backend: Backend) => {
  const withApi = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, apiServer(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`FR-EVT-004 evidence missing due to retention on ${backend.name}`, () => {
    it.effect("FR-EVT-004 a live job whose events retention purged says so in Jobs.history and GET /jobs/:id, naming the cutoff; a job started after the cutoff, and every job before any purge, says nothing", () =>
      withApi(Effect.gen(function*() {
        yield* TestClock.setTime(1 * DAY)
        const old = yield* startedJob
        yield* TestClock.setTime(10 * DAY)
        const store = yield* JobStore
        // Never purged: no horizon, no marker, the whole trail there.
        assert.isNull(yield* store.retentionHorizon)
        const before = yield* viewsOf(old.job_id)
        assert.isNull(before.history)
        assert.isNull(before.detail)
        assert.isAbove(before.events[0]!, 0)

        // The default 7-day window, at day 10: events before day 3 go, the old job's whole trail.
        const purged = yield* (yield* FlightRecorder).enforceRetention()
        assert.isAbove(purged, 0)
        const cutoff = DateTime.unsafeMake(3 * DAY)
        const horizon = yield* store.retentionHorizon
        assert.deepStrictEqual(horizon?.cutoff, cutoff)
        const fresh = yield* startedJob

        const after = yield* viewsOf(old.job_id)
        assert.deepStrictEqual(after.events, [0, 0], "the running job's trail is gone")
        for (const missing of [after.history, after.detail]) {
          assert.strictEqual(missing?.reason, "retention")
          assert.deepStrictEqual(missing?.cutoff, cutoff)
          assert.deepStrictEqual(missing?.purged_at, horizon?.purged_at)
          // The policy's window, though the database's clock (today) is decades past this test's (1970).
          assert.strictEqual(missing?.window, "7d")
          assert.isNull(missing?.requested_cutoff)
          assert.strictEqual(missing?.message, "events before 1970-01-04T00:00:00.000Z were removed by the retention policy (7d)")
        }
        assert.deepStrictEqual(after.history, after.detail, "the library and the API say the same")
        const newer = yield* viewsOf(fresh.job_id)
        assert.isNull(newer.history)
        assert.isNull(newer.detail)
      })))

    it.effect("FR-EVT-004 a purge from a host whose clock is ahead of the database's, its cutoff capped at the database's clock, records the window asked (not 0) and says the cutoff was capped", () =>
      withApi(Effect.gen(function*() {
        // The database's clock is the real one; this host's (TestClock) is set around it.
        const databaseNow = Date.now()
        yield* TestClock.setTime(databaseNow - 10 * DAY)
        const old = yield* startedJob
        // Two hours ahead of the database; a 1-hour window asks for events before the database's now + 1 h.
        yield* TestClock.setTime(databaseNow + 2 * HOUR)
        const asked = DateTime.unsafeMake(databaseNow + HOUR)
        assert.isAbove(yield* (yield* FlightRecorder).enforceRetention({ cutoff: asked }), 0)
        const horizon = yield* (yield* JobStore).retentionHorizon
        assert.isNotNull(horizon)
        assert.isTrue(DateTime.lessThan(horizon!.cutoff, asked), "the database capped the cutoff at its own clock")
        assert.strictEqual(horizon!.window_ms, HOUR)
        assert.deepStrictEqual(horizon!.requested_cutoff, asked)
        const views = yield* viewsOf(old.job_id)
        const message = `events before ${DateTime.formatIso(horizon!.cutoff)} were removed by the retention policy ` +
          `(1h; it asked for events before ${DateTime.formatIso(asked)}, past the database's clock, which capped the cutoff)`
        for (const missing of [views.history, views.detail]) {
          assert.strictEqual(missing?.window, "1h")
          assert.deepStrictEqual(missing?.requested_cutoff, asked)
          assert.strictEqual(missing?.message, message)
        }
      })))

    it.effect("FR-EVT-004 a purge that deletes nothing leaves no horizon: an old job whose events are all newer than the cutoff shows no marker", () =>
      withApi(Effect.gen(function*() {
        yield* TestClock.setTime(5 * DAY)
        const job = yield* startedJob
        // Day 1 is before every event: nothing to purge.
        assert.strictEqual(yield* (yield* FlightRecorder).enforceRetention({ cutoff: DateTime.unsafeMake(1 * DAY) }), 0)
        assert.isNull(yield* (yield* JobStore).retentionHorizon)
        const views = yield* viewsOf(job.job_id)
        assert.isNull(views.history)
        assert.isNull(views.detail)
      })))

    it.effect("FR-EVT-004 the horizon is the newest cutoff a purge applied: a later purge at an earlier cutoff that deletes an older event leaves it", () =>
      withApi(Effect.gen(function*() {
        yield* TestClock.setTime(1 * DAY)
        const old = yield* startedJob
        yield* TestClock.setTime(10 * DAY)
        const recorder = yield* FlightRecorder
        const store = yield* JobStore
        assert.isAbove(yield* recorder.enforceRetention({ cutoff: DateTime.unsafeMake(3 * DAY) }), 0)
        const first = yield* store.retentionHorizon
        // An event stamped before both cutoffs, recorded after the first purge, and purged at the earlier one.
        yield* Effect.flatMap(makeEvent("diagnostic", { actor: "system", diagnostic_id: "late", timestamp: DateTime.formatIso(DateTime.unsafeMake(DAY / 2)) }), recorder.record)
        assert.strictEqual(yield* recorder.enforceRetention({ cutoff: DateTime.unsafeMake(DAY) }), 1)
        assert.deepStrictEqual(yield* store.retentionHorizon, first)
        assert.deepStrictEqual((yield* viewsOf(old.job_id)).detail?.cutoff, DateTime.unsafeMake(3 * DAY))
      })))
  })
}
