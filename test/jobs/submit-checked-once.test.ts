/**
 * Issue 16, R2/R15: `Jobs.submit` checks a request once. The job it builds
 * from a request in the common shape (the request checked, plus its ids, the
 * policy's profile and its maximum attempts) reaches the port marked as
 * checked and is taken as it is, not walked a second time
 * (domain/newAiJobCheck.ts `submittedJob`). What the submit adds is held to
 * the same rules first: a policy that grants a profile id no job may hold is
 * bad input — a `DecodeFailure`, and nothing is written, not the job, not its
 * `queued` event — exactly as before. Run on both stores.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import { commonNewAiJob } from "../../src/domain/newAiJobCheck.js"
import type { NewAiJob } from "../../src/domain/AiJob.js"
import * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { servicesUnder } from "./services.js"

/** The store, recording every job given to its `createJob`, as the port receives it. */
const recordingStore = (store: Layer.Layer<JobStore, unknown>, given: Array<unknown>) =>
  Layer.effect(
    JobStore,
    Effect.map(JobStore, (real): JobStore["Type"] => ({
      ...real,
      createJob: (job, options) => {
        given.push(job)
        return real.createJob(job, options)
      }
    }))
  ).pipe(Layer.provide(store))

/** The built-in policy, granting every admitted job the profile `profileId` instead of its own. */
const grantingProfile = (profileId: string) =>
  Layer.effect(
    Capabilities.Capabilities,
    Effect.map(Capabilities.make(Capabilities.defaultConfig), (policy) => ({
      ...policy,
      check: (job, requested) =>
        Effect.map(policy.check(job, requested), (verdict): Capabilities.Verdict =>
          verdict._tag === "Granted" ? { ...verdict, profile_id: profileId } : verdict)
    }))
  )

const suite = (backend: Backend) =>
  describe(`issue 16 Jobs.submit checks a request once, on ${backend.name}`, () => {
    it.effect("issue 16 the job submit builds from a checked request is taken by the port as it is, and written as asked", () => {
      const given: Array<unknown> = []
      return Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const request = { ...summarize(), job_inputs: { doc: "a", nested: { list: [1, "two", null] } } }
        const job = yield* jobs.submit(request)
        assert.strictEqual(given.length, 1)
        const built = given[0] as NewAiJob
        // Marked as checked: the port's check returns the very object, no second walk.
        assert.strictEqual(commonNewAiJob(built), built)
        // A copy of it (what a caller could hold) is checked in full: a new object.
        assert.notStrictEqual(commonNewAiJob({ ...built }), built)
        assert.deepStrictEqual(commonNewAiJob({ ...built }), built)
        const stored = yield* jobs.get(job.job_id)
        assert.deepStrictEqual(stored.job_inputs, request.job_inputs)
        // The policy's profile (the request named none), as the job submit built says.
        assert.strictEqual(stored.capability_profile_id, built.capability_profile_id)
        assert.strictEqual(stored.capability_profile_id, "Analyst")
        assert.strictEqual(stored.state, "queued")
      }).pipe(Effect.provide(servicesUnder(Capabilities.layerDefault, recordingStore(backend.makeStore(), given))))
    })

    for (const [name, profileId] of [["empty", ""], ["only whitespace", " \t"], ["257 characters", "p".repeat(257)], ["with U+0000", "Ana\u0000lyst"]] as const) {
      it.effect(`issue 16 R15 a policy granting a profile id no job may hold (${name}) is a DecodeFailure, and nothing is written`, () =>
        Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          const store = yield* JobStore
          const exit = yield* Effect.exit(jobs.submit(summarize()))
          assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail" && exit.cause.error._tag === "DecodeFailure", String(exit))
          assert.strictEqual((yield* store.listJobs()).items.length, 0, "no job row")
          const events = (yield* store.listEvents({ limit: 100 })).items
          assert.isFalse(events.some((event) => event.type === "system"), "no queued event")
          assert.strictEqual(events.length, 0, "nothing at all: the decisions are written with the job or not at all")
        }).pipe(Effect.provide(servicesUnder(grantingProfile(profileId), backend.makeStore()))))
    }
  })

suite(sqliteFile)
suite(postgres("submit checked once"))
