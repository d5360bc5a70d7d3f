/**
 * Issue 16: `Jobs.submitMany`, many submits as one, all or nothing, on
 * SQLite (memory, file) and PostgreSQL. Each request meets `submit`'s own
 * checks before anything is queued; bad input records nothing; a refused
 * request queues nothing and is audited as `submit` audits it; accepted jobs
 * are written with the very events `submit` writes; intake waits for
 * startup recovery (R9).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"
import { settleIo, summarize } from "./jobs.suite.js"
import { services } from "./services.js"

const everything = Effect.gen(function*() {
  const store = yield* JobStore
  return {
    jobs: (yield* store.listJobs({ limit: 1000 })).items,
    events: (yield* store.listEvents({ limit: 1000 })).items
  }
})

/** What an event says, without its own id and time: comparable between a submit and a submitMany. */
const gist = (body: Record<string, unknown>) => {
  const { event_id: _id, timestamp: _at, job_id: _job, trace_id: _trace, ...rest } = body
  return rest
}

const suite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`Jobs.submitMany on ${backend.name}`, () => {
    it.effect("issue 16 submitMany queues every job, in the order given, with the very events submit writes for each", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const requests: ReadonlyArray<JobRequestInput> = [
          summarize({ job_inputs: { i: 0 } }),
          summarize({ job_kind: "debug_bundle_export", capability_profile_id: "Analyst", priority: 5 }),
          summarize({ job_kind: "terminal_exec", run_after: "1970-01-01T00:10:00.000Z" })
        ]
        const queued = yield* jobs.submitMany(requests)
        assert.deepStrictEqual(queued.map((job) => job.job_kind), ["doc_summarize", "debug_bundle_export", "terminal_exec"])
        assert.deepStrictEqual(queued.map((job) => job.state), ["queued", "queued", "queued"])
        assert.strictEqual(queued[1]?.capability_profile_id, "Analyst")
        const batched = yield* everything
        // The same requests one by one through submit, on a fresh store: the same jobs and events.
        const single = yield* provide(Effect.gen(function*() {
          const one = yield* Jobs
          for (const request of requests) yield* one.submit(request)
          return yield* everything
        }))
        const shape = (state: typeof batched) => ({
          jobs: state.jobs.map(({ capability_profile_id, job_kind, max_attempts, priority, run_after }) => ({
            capability_profile_id, job_kind, max_attempts, priority, run_after: String(run_after)
          })).sort((a, b) => a.job_kind.localeCompare(b.job_kind)),
          events: state.events.map((event) => JSON.stringify(gist(event.body))).sort()
        })
        assert.deepStrictEqual(shape(batched), shape(single))
        for (const job of queued) {
          const events = (yield* (yield* JobStore).listEvents({ job_id: job.job_id })).items
          assert.isAbove(events.length, 0)
          for (const event of events) {
            assert.strictEqual(event.trace_id, job.trace_id)
            yield* Schema.decodeUnknown(FlightEvent)(event.body)
          }
        }
      })))

    it.effect("issue 16 submitMany with one request that does not decode fails with DecodeFailure naming it, and stores and records nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const error = yield* Effect.flip(jobs.submitMany([
          summarize(),
          { ...summarize(), job_kind: "doc_test" } as unknown as JobRequestInput,
          summarize({ job_kind: "terminal_exec", capability_profile_id: "Analyst" })
        ]))
        assert.strictEqual(error._tag, "DecodeFailure")
        if (error._tag === "DecodeFailure") assert.deepStrictEqual(error.issues.map((issue) => issue.path), ["1.job_kind"])
        const state = yield* everything
        assert.deepStrictEqual([state.jobs.length, state.events.length], [0, 0])
      })))

    it.effect("issue 16 submitMany of 1,000 bad requests lists at most 50 issues, as a single decode does, and counts the rest in one last issue — an item's own count included; nothing stored", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        // First a request with 60 unknown keys, whose own decode lists 50 and counts 10; then 1,000 of a wrong kind.
        const manyKeys = { ...summarize(), ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, 1])) }
        const wrongKind = { ...summarize(), job_kind: "doc_test" }
        const error = yield* Effect.flip(jobs.submitMany([manyKeys, ...Array.from({ length: 1000 }, () => wrongKind)] as unknown as ReadonlyArray<JobRequestInput>))
        assert.strictEqual(error._tag, "DecodeFailure")
        if (error._tag === "DecodeFailure") {
          assert.strictEqual(error.issues.length, 51)
          assert.isTrue(error.issues.slice(0, 50).every((issue) => issue.path.startsWith("0.k")), JSON.stringify(error.issues.slice(0, 3)))
          assert.deepStrictEqual(error.issues[50], { path: "", message: "… and 1010 more issues" })
          assert.isBelow(error.message.length, 20_000)
        }
        const state = yield* everything
        assert.deepStrictEqual([state.jobs.length, state.events.length], [0, 0])
      })))

    it.effect("issue 16 R15 submitMany with one refused request queues nothing, records that request's deny decisions as submit does, and fails with its refusal", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const error = yield* Effect.flip(jobs.submitMany([
          summarize(),
          summarize({ job_kind: "terminal_exec", capability_profile_id: "Analyst" }),
          summarize({ capability_profile_id: "SuperUser" })
        ]))
        assert.strictEqual(error._tag, "EscalationDenied", "the first refusal")
        const state = yield* everything
        assert.strictEqual(state.jobs.length, 0, "no job row for any request")
        assert.isTrue(state.events.every((event) => event.type === "capability_action" && event.body.decision_outcome === "deny"))
        // The escalation's five denials, and the unknown profile's one: what two submits would record.
        // (R12: the events carry the capability, not the profile; the unknown profile's is the kind's requirement.)
        assert.deepStrictEqual(
          state.events.map((event) => event.body.capability_id).sort(),
          ["diagnostics.read", "doc.summarize", "export.debug_bundle", "export.include_payloads", "fr.read", "jobs.read"]
        )
      })))

    it.effect("issue 16 submitMany with a job id already taken, or given twice, fails with AlreadyExists and writes nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const first = yield* jobs.submit(summarize())
        const before = yield* everything
        const taken = yield* Effect.flip(jobs.submitMany([summarize(), summarize({ job_id: first.job_id })]))
        assert.strictEqual(taken._tag, "AlreadyExists")
        const twice = crypto.randomUUID()
        const repeated = yield* Effect.flip(jobs.submitMany([summarize({ job_id: twice }), summarize({ job_id: twice })]))
        assert.strictEqual(repeated._tag, "AlreadyExists")
        const after = yield* everything
        assert.deepStrictEqual([after.jobs.length, after.events.length], [before.jobs.length, before.events.length])
      })))

    it.effect("issue 16 R9 a submitMany issued while startup recovery runs completes only after it", () =>
      Effect.gen(function*() {
        const latch = yield* Deferred.make<void>()
        const real = Context.get(yield* Layer.build(backend.makeStore()), JobStore)
        const slowStore = Layer.succeed(JobStore, {
          ...real,
          stallStaleRuns: (options) => Effect.zipRight(Deferred.await(latch), real.stallStaleRuns(options))
        })
        yield* Effect.provide(Effect.gen(function*() {
          const jobs = yield* Jobs
          const submitted = yield* Effect.fork(jobs.submitMany([summarize(), summarize()]))
          yield* settleIo
          assert.isTrue(Option.isNone(yield* Fiber.poll(submitted)), "submitMany finished before recovery")
          assert.strictEqual((yield* real.listJobs()).items.length, 0)
          yield* Deferred.succeed(latch, undefined)
          assert.strictEqual((yield* Fiber.join(submitted)).length, 2)
        }), services(slowStore, Recovery.layerStartup()))
      }).pipe(Effect.scoped))

    it.effect("issue 16 submitMany of no requests queues nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* jobs.submitMany([]), [])
        const state = yield* everything
        assert.deepStrictEqual([state.jobs.length, state.events.length], [0, 0])
      })))
  })
}

suite(sqliteMemory)
suite(sqliteFile)
suite(postgres("submit many"))
