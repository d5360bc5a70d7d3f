/**
 * Issue 16, h59, R11/R15: a submit's Flight Recorder events — its capability
 * decisions, then `queued` — carry one time, read from the clock once: the
 * `queued` event takes its decisions' time, so the trail reads decisions
 * then `queued` (ordered by time, then by id) however the clock moves in
 * between. Forced with a clock that moves a millisecond on every read, on
 * both stores, for a submit built in full and for one re-addressed from the
 * recorder's memo (recordMemo.ts). The job is created at that same instant
 * (`created_at`, `updated_at`, `run_after`): its `queued` event was stamped
 * 1–34 ms before the job existed when the store read the clock again (found
 * by an outside tester). The same for `submitMany`, and for the store's
 * `createClaimed` (eager dispatch) given the instant.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../src/domain/AiJob.js"
import * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { steppingClock } from "../support/steppingClock.js"
import { createClaimedCall, failureOf, tagOf } from "../store/fixtures.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** `job` created at `at`: its `created_at`, `updated_at` and (not scheduled) `run_after`; or each as given. */
const assertCreatedAt = (
  job: AiJob,
  at: DateTime.Utc | { readonly created: DateTime.Utc; readonly updated: DateTime.Utc; readonly run_after: DateTime.Utc },
  what: string
) => {
  const want = DateTime.isDateTime(at) ? { created: at, updated: at, run_after: at } : at
  assert.deepStrictEqual(
    [job.created_at, job.updated_at, job.run_after].map(DateTime.formatIso),
    [want.created, want.updated, want.run_after].map(DateTime.formatIso),
    `${what}: created_at, updated_at, run_after`
  )
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
          assertCreatedAt(job, queued!.timestamp, `submit ${i}`)
          assertCreatedAt(yield* store.getJob(job.job_id), queued!.timestamp, `stored, submit ${i}`)
        }
      }).pipe(Effect.provide(services(backend.makeStore()))))

    it.effect("a submitMany's decisions, queued events and jobs have one instant, under a clock that moves on every read", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const created = yield* Effect.withClock(jobs.submitMany([summarize(), summarize(), summarize()]), steppingClock())
        const at = created[0]!.created_at
        for (const [i, job] of created.entries()) {
          const events = (yield* store.listEvents({ job_id: job.job_id })).items
          assert.deepStrictEqual(events.map((event) => event.type), ["capability_action", "system"], `job ${i}`)
          for (const event of events) assert.strictEqual(DateTime.formatIso(event.timestamp), DateTime.formatIso(at), `job ${i}'s ${event.type}`)
          assertCreatedAt(job, at, `job ${i}`)
          assertCreatedAt(yield* store.getJob(job.job_id), at, `stored job ${i}`)
        }
      }).pipe(Effect.provide(services(backend.makeStore()))))

    it.effect("the port refuses a creation instant that is no stored instant (before 1970, not UTC, not a DateTime) with DecodeFailure, and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const bad: ReadonlyArray<unknown> = [DateTime.unsafeMake(-1), DateTime.unsafeMakeZoned(0, { timeZone: "Europe/Paris" }), new Date(0), "2031-01-01T00:00:00Z"]
        for (const at of bad) {
          const [job, options] = createClaimedCall()
          assert.strictEqual(tagOf(yield* failureOf(store.createJob(job, { at } as never))), "DecodeFailure", `createJob ${String(at)}`)
          assert.strictEqual(tagOf(yield* failureOf(store.createJobs([job], { at } as never))), "DecodeFailure", `createJobs ${String(at)}`)
          assert.strictEqual(tagOf(yield* failureOf(store.createClaimed!(job, { ...options, at } as never))), "DecodeFailure", `createClaimed ${String(at)}`)
        }
        assert.strictEqual((yield* store.listJobs({})).items.length, 0)
      }).pipe(Effect.provide(backend.makeStore())))

    it.effect("concurrent submits (on PostgreSQL, group commit may write them in one statement) each create their job at their events' instant", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const created = yield* Effect.forEach(
          Array.from({ length: 12 }, () => Effect.withClock(jobs.submit(summarize()), steppingClock())),
          (submit) => submit,
          { concurrency: "unbounded" }
        )
        for (const [i, job] of created.entries()) {
          const events = (yield* store.listEvents({ job_id: job.job_id })).items
          const queued = events.find((event) => event.type === "system")!
          assertCreatedAt(yield* store.getJob(job.job_id), queued.timestamp, `submit ${i}`)
        }
      }).pipe(Effect.provide(services(backend.makeStore()))))

    it.effect("createClaimed (eager dispatch) given its instant creates, claims and runs the job at it, claimed or not, under a clock that moves on every read", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const at = DateTime.unsafeMake("2031-05-06T07:08:09.000Z")
        const [job, options] = createClaimedCall()
        const claimed = yield* Effect.withClock(store.createClaimed!(job, { ...options, at }), steppingClock())
        assert.isNotNull(claimed.claim)
        assertCreatedAt(claimed.created, at, "created")
        assertCreatedAt(yield* store.getJob(claimed.created.job_id), { created: at, updated: at, run_after: at }, "claimed, stored")
        const run = yield* store.getRun(claimed.claim!.run.id)
        assert.strictEqual(DateTime.formatIso(run.created_at), DateTime.formatIso(at), "the run's time")
        // A job the waiting kinds do not take is only created (`createJob`): at its given instant too.
        const [other, otherOptions] = createClaimedCall()
        const later = DateTime.unsafeMake("2031-05-06T07:08:10.000Z")
        const queued = yield* Effect.withClock(store.createClaimed!(other, { ...otherOptions, kinds: ["doc_ingest"], at: later }), steppingClock())
        assert.isNull(queued.claim)
        assertCreatedAt(queued.created, later, "created only")
        assertCreatedAt(yield* store.getJob(queued.created.job_id), later, "created only, stored")
      }).pipe(Effect.provide(backend.makeStore())))
  })

suite(sqliteFile)
suite(postgres("submit one clock"))
