/**
 * Issue 16, h59, R11/R15: a submit's Flight Recorder events — its capability
 * decisions, then `queued` — carry one time, read from the clock once: the
 * `queued` event takes its decisions' time, so the trail reads decisions
 * then `queued` (ordered by time, then by id) however the clock moves in
 * between. Forced with a clock that moves a millisecond on every read, on
 * both stores, for a submit built in full and for one re-addressed from the
 * recorder's memo (recordMemo.ts); and the job's own time still comes from
 * the store's read of the clock, after them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** A clock one millisecond later on every read. */
const steppingClock = (): Clock.Clock => {
  let ms = Date.parse("2031-05-06T07:08:09.000Z")
  const next = () => (ms += 1)
  const live = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: next,
    currentTimeMillis: Effect.sync(next),
    unsafeCurrentTimeNanos: () => BigInt(next()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(next()) * 1_000_000n),
    sleep: live.sleep
  }
}

const suite = (backend: Backend) =>
  describe(`issue 16 h59 a submit's events carry one time, on ${backend.name}`, () => {
    it.effect("issue 16 R11 R15 a submit's decisions and its queued event have one time, the decisions first, under a clock that moves on every read", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        // The first submit builds its events in full; the later ones re-address the memo's.
        for (let i = 0; i < 3; i++) {
          const job = yield* Effect.withClock(jobs.submit(summarize()), steppingClock())
          const events = (yield* store.listEvents({ job_id: job.job_id })).items
          assert.deepStrictEqual(events.map((event) => event.type), ["capability_action", "system"], `submit ${i}`)
          const [decision, queued] = events
          assert.strictEqual(queued!.body.to_state, "queued")
          assert.strictEqual(DateTime.formatIso(queued!.timestamp), DateTime.formatIso(decision!.timestamp), `one time, submit ${i}`)
          assert.strictEqual(queued!.body.timestamp, decision!.body.timestamp, `the stored bodies too, submit ${i}`)
          assert.isTrue(decision!.event_id < queued!.event_id, "the decision's id first")
          assert.isTrue(DateTime.lessThan(decision!.timestamp, job.created_at), "the job's time is the store's own, later read")
        }
      }).pipe(Effect.provide(services(backend.makeStore()))))
  })

suite(sqliteFile)
suite(postgres("submit one clock"))
