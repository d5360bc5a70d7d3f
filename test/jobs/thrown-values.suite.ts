/**
 * Values that throw when read, values of the wrong type, and ids used twice
 * (found by outside probes), run unchanged on each store. Each case is a
 * typed failure that changes nothing, or, for a program's own failure, a job
 * that still settles: never a defect, a throw from the call itself, or a job
 * left `running` with nobody to end it.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** "Fail:<tag>", "Die", "Success", or "Threw" when the call itself threw before giving an Effect. */
const outcomeOf = (make: () => Effect.Effect<unknown, unknown, never>) =>
  Effect.suspend(() => {
    let effect: Effect.Effect<unknown, unknown>
    try {
      effect = make()
    } catch {
      return Effect.succeed("Threw")
    }
    return Effect.map(Effect.exit(effect), (exit) => {
      if (exit._tag === "Success") return "Success"
      if (exit.cause._tag !== "Fail") return "Die"
      try {
        return `Fail:${String((exit.cause.error as { readonly _tag?: unknown })._tag)}`
      } catch {
        return "Fail:(a value that throws when read)"
      }
    })
  })

/** An object whose `reason` getter throws, and a Proxy whose key listing throws. */
const throwingGetter = (key: string) => Object.defineProperty({}, key, { enumerable: true, get: () => { throw new Error("getter") } })
const throwingKeys = () => new Proxy({}, { ownKeys: () => { throw new Error("ownKeys") } })

/** A Proxy whose get trap throws: a walk of its own keys finds none, so only reading an option throws. */
const throwingGet = () => new Proxy({}, { get: () => { throw new Error("get") } })

/** The three ways an argument throws when read, each holding (or seeming to hold) `key`. */
const throwingShapes = (key: string): ReadonlyArray<readonly [string, () => object]> => [
  ["a throwing getter", () => throwingGetter(key)],
  ["a Proxy whose key listing throws", throwingKeys],
  ["a Proxy whose get trap throws", throwingGet]
]

/** Failure values a program may give whose every description throws. */
const undescribable: Record<string, () => unknown> = {
  "toJSON and toString throw": () => ({ toJSON: () => { throw new Error("toJSON") }, toString: () => { throw new Error("toString") } }),
  "a Proxy whose get trap throws": () => new Proxy({}, { get: () => { throw new Error("get") } }),
  "a Proxy whose getPrototypeOf trap throws": () => new Proxy({}, { getPrototypeOf: () => { throw new Error("getPrototypeOf") } })
}

export const runThrownValuesSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, store: Layer.Layer<JobStore, unknown> = backend.makeStore()) =>
    Effect.provide(effect, services(store) as Layer.Layer<Exclude<R, never>, unknown>)

  /** Rows of every kind this suite could write, counted through the port. */
  const everything = Effect.gen(function*() {
    const store = yield* JobStore
    const jobs = (yield* store.listJobs({ limit: 1000 })).items
    const runs = yield* Effect.forEach(jobs, (job) => store.listRuns(job.job_id))
    return {
      jobs: jobs.map((job) => `${job.job_id} ${job.state} ${job.status_reason}`).sort(),
      runs: runs.flat().map((run) => `${run.id} ${run.status}`).sort(),
      events: (yield* store.listEvents({ limit: 1000 })).items.length
    }
  })

  const started = Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const job = yield* jobs.submit(summarize())
    return yield* jobs.start(job.job_id)
  })

  describe(`Values that throw, wrong types and reused ids on ${backend.name}`, () => {
    it.effect("R5 a program that throws, returns no Effect, or fails with a value whose every description throws: its job and run settle failed, never left running", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const programs: Record<string, () => unknown> = {
          "throws before giving an Effect": () => {
            throw new Error("thrown by the program")
          },
          "returns a Promise": () => Promise.resolve(1),
          "returns undefined": () => undefined,
          ...Object.fromEntries(Object.entries(undescribable).flatMap(([name, value]) => [
            [`fails with ${name}`, () => Effect.fail(value())],
            [`dies with ${name}`, () => Effect.die(value())]
          ])),
          // Effect.die itself reads the value: a Proxy whose `has` trap throws throws from the program.
          "dies with a Proxy whose has trap throws": () => Effect.die(new Proxy({}, { has: () => { throw new Error("has") } }))
        }
        for (const [name, program] of Object.entries(programs)) {
          const { job, run } = yield* started
          const outcome = yield* outcomeOf(() => jobs.run(job.job_id, program as never))
          assert.notStrictEqual(outcome, "Success", name)
          assert.notStrictEqual(outcome, "Threw", name)
          const after = yield* jobs.get(job.job_id)
          assert.strictEqual(after.state, "failed", name)
          assert.strictEqual((yield* store.getRun(run.id)).status, "failed", name)
          assert.isString(after.error_message, name)
        }
      })))

    it.effect("R6b a violation code no event can hold (U+0000, a lone surrogate, 100,000 characters, none) still poisons the job, recorded as unrecordable_violation; never failed, never retried", () =>
      Effect.provide(
        Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          const store = yield* JobStore
          const reports: Record<string, { readonly violation: unknown; readonly recorded: string }> = {
            "U+0000": { violation: "prompt\u0000injection", recorded: "unrecordable_violation" },
            "a lone surrogate": { violation: "x\uD800", recorded: "unrecordable_violation" },
            "100,000 characters": { violation: "v".repeat(100_000), recorded: "unrecordable_violation" },
            "no code at all": { violation: undefined, recorded: "unspecified" },
            "a number": { violation: 7, recorded: "unspecified" },
            "a code an event holds": { violation: "prompt_injection", recorded: "prompt_injection" }
          }
          for (const [name, { recorded, violation }] of Object.entries(reports)) {
            const { job } = yield* started
            const exit = yield* Effect.exit(jobs.run(job.job_id, (ctx) => ctx.securityViolation({ violation } as never)))
            assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Fail" && exit.cause.error._tag === "SecurityViolation", `${name}: ${String(exit)}`)
            if (exit._tag === "Failure" && exit.cause._tag === "Fail" && exit.cause.error._tag === "SecurityViolation") {
              assert.strictEqual(exit.cause.error.violation, recorded, name)
              assert.isTrue(exit.cause.error.poisoned, name)
            }
            const after = yield* jobs.get(job.job_id)
            // Poisoned, although the retry policy below would have queued a failed job again.
            assert.strictEqual(after.state, "poisoned", name)
            assert.strictEqual(after.status_reason, `poisoned: ${recorded}`, name)
            const events = (yield* store.listEvents({ job_id: job.job_id, types: ["security_violation"] })).items
            assert.deepStrictEqual(events.map((event) => event.body["violation"]), [recorded], name)
          }
        }),
        // With retries, a violation that ended `failed` would be queued again at once.
        services(backend.makeStore(), Recovery.layerNoStartupRecovery, undefined, { retry: { default: { maxAttempts: 3 } } }) as Layer.Layer<Jobs.Jobs | JobStore, unknown>
      ))

    it.effect("R5 a job id that is no string is DecodeFailure for every move, as for get; nothing changes", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* started
        const before = yield* everything
        for (const id of [5, null, undefined, {}]) {
          const calls: Record<string, () => Effect.Effect<unknown, unknown>> = {
            get: () => jobs.get(id as never),
            cancel: () => jobs.cancel(id as never),
            complete: () => jobs.complete(id as never),
            fail: () => jobs.fail(id as never, "broken"),
            poison: () => jobs.poison(id as never)
          }
          for (const [name, call] of Object.entries(calls)) {
            assert.strictEqual(yield* outcomeOf(call), "Fail:DecodeFailure", `${name}(${JSON.stringify(id)})`)
          }
        }
        assert.deepStrictEqual(yield* everything, before)
      })))

    it.effect("R5 options whose getter or key listing throws are DecodeFailure, from the Effect and never the call itself; nothing claimed, listed, moved or recorded", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const recorder = yield* FlightRecorder.FlightRecorder
        const { job } = yield* started
        const queued = yield* jobs.submit(summarize())
        const before = yield* everything
        for (const [shape, options] of [["a throwing getter", () => throwingGetter("reason")], ["a Proxy", throwingKeys]] as const) {
          const calls: Record<string, () => Effect.Effect<unknown, unknown>> = {
            "cancel": () => jobs.cancel(queued.job_id, options() as never),
            "pin": () => jobs.pin(queued.job_id, options() as never),
            "fail": () => jobs.fail(job.job_id, "broken", options() as never),
            "complete": () => jobs.complete(job.job_id, options() as never),
            "list": () => jobs.list(options() as never),
            "claimNext": () => jobs.claimNext(options() as never),
            "JobStore.listJobs": () => store.listJobs(options() as never),
            "JobStore.listEvents": () => store.listEvents(options() as never),
            "FlightRecorder.list": () => recorder.list(options() as never),
            "enforceRetention": () => recorder.enforceRetention(options() as never),
            "recoverStalledRuns": () => Effect.provideService(Recovery.recoverStalledRuns(options() as never), JobStore, store)
          }
          for (const [name, call] of Object.entries(calls)) {
            assert.strictEqual(yield* outcomeOf(call as never), "Fail:DecodeFailure", `${name} with ${shape}`)
          }
        }
        assert.deepStrictEqual(yield* everything, before)
      })))

    it.effect("R5 addMetrics' delta, findJobIds' options and FlightRecorder.layer's config whose getter or Proxy trap throws are DecodeFailure from the Effect; Recovery.layerStartup's close intake with it; a worker's fail with it at start; nothing changed", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const { job } = yield* started
        const before = yield* everything
        // A delta is its own keys (a Proxy with none is an empty delta): the get trap alone is never reached.
        for (const [shape, make] of throwingShapes("total_tokens").slice(0, 2)) {
          assert.strictEqual(yield* outcomeOf(() => jobs.addMetrics(job.job_id, make() as never)), "Fail:DecodeFailure", `addMetrics with ${shape}`)
        }
        for (const [shape, make] of throwingShapes("limit")) {
          assert.strictEqual(yield* outcomeOf(() => store.findJobIds(job.job_id.slice(0, 8), make() as never)), "Fail:DecodeFailure", `findJobIds with ${shape}`)
        }
        for (const [shape, make] of throwingShapes("retention")) {
          const built = () => Effect.scoped(Effect.provideService(Layer.build(FlightRecorder.layer(make() as never)), JobStore, store))
          assert.strictEqual(yield* outcomeOf(built), "Fail:DecodeFailure", `FlightRecorder.layer with ${shape}`)
        }
        for (const [shape, make] of throwingShapes("threshold")) {
          // Its error channel is `never`: built, with intake closed for the reason, as for a misspelt option.
          const gate = yield* Effect.scoped(Effect.flatMap(
            Effect.provideService(Layer.build(Recovery.layerStartup(make() as never)), JobStore, store),
            (context) => Effect.flip(Context.get(context, Recovery.RecoveryGate).result)
          ))
          assert.strictEqual(gate._tag, "RecoveryFailed", `layerStartup with ${shape}`)
          assert.strictEqual((gate.cause as { readonly _tag?: unknown })._tag, "DecodeFailure", `layerStartup with ${shape}`)
        }
        for (const [shape, make] of throwingShapes("concurrency")) {
          // Its error channel has DecodeFailure since this stop (f131): bad options fail typed, nothing started.
          assert.strictEqual(yield* outcomeOf(() => Effect.scoped(jobs.worker(make() as never))), "Fail:DecodeFailure", `worker with ${shape}`)
        }
        assert.deepStrictEqual(yield* everything, before)
      })))

    it.effect("R5 claimNext with a kind that is none names ClaimOptions and the kind's path, not the store method that refused it; nothing claimed", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* jobs.submit(summarize())
        const before = yield* everything
        const exit = yield* Effect.exit(jobs.claimNext({ kinds: ["doc_summarize", "nope" as never] }))
        const error = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "DecodeFailure", String(exit))
        // It said "Invalid adoptOfferedRun" or "Invalid claimAdmitted" (found by an outside probe).
        assert.match(String(error?.message), /^Invalid ClaimOptions:/)
        assert.deepStrictEqual((error as { readonly issues: ReadonlyArray<{ readonly path: string }> }).issues.map((issue) => issue.path), ["kinds.1"])
        assert.deepStrictEqual(yield* everything, before)
      })))

    it.effect("R18 Janitor.prune refuses an eventsPurged no summary can hold, options of the wrong shape and a misspelt key with DecodeFailure, before anything is pruned", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.cancel(job.job_id)
        const before = yield* everything
        const olderThan = DateTime.add(yield* DateTime.now, { days: 1 })
        for (const eventsPurged of [Number.NaN, -5, 1.5, 2 ** 60]) {
          assert.strictEqual(yield* outcomeOf(() => Janitor.prune({ olderThan, keepNewest: 0, eventsPurged }) as never), "Fail:DecodeFailure", String(eventsPurged))
        }
        const shapes = { null: null, undefined, "a number": 5, "a misspelt key": { olderThan, keepNewest: 0, dryrun: true }, "a throwing getter": throwingGetter("olderThan") }
        for (const [name, options] of Object.entries(shapes)) {
          assert.strictEqual(yield* outcomeOf(() => Janitor.prune(options as never) as never), "Fail:DecodeFailure", name)
        }
        assert.deepStrictEqual(yield* everything, before)
        // The same call with a count a summary holds prunes, and records it.
        const report = yield* Janitor.prune({ olderThan, keepNewest: 0, eventsPurged: 3 })
        assert.strictEqual(report.pruned, 1)
        assert.strictEqual(report.events_purged, 3)
      })))

    it.effect("R10 recordManyUntrusted of what is no array, and build of what is no library event, are InvalidEvent; an abbreviation that is no string is DecodeFailure; nothing recorded", () =>
      provide(Effect.gen(function*() {
        const recorder = yield* FlightRecorder.FlightRecorder
        const store = yield* JobStore
        const before = yield* everything
        for (const events of [null, {}, 5, "events"]) {
          assert.strictEqual(yield* outcomeOf(() => recorder.recordManyUntrusted(events as never)), "Fail:InvalidEvent", JSON.stringify(events))
        }
        for (const event of [null, 5, {}, { kind: "nonsense" }, { kind: "toString" }]) {
          assert.strictEqual(yield* outcomeOf(() => recorder.build(event as never)), "Fail:InvalidEvent", JSON.stringify(event))
        }
        for (const abbreviation of [5, null, {}]) {
          assert.strictEqual(yield* outcomeOf(() => store.findJobIds(abbreviation as never)), "Fail:DecodeFailure", JSON.stringify(abbreviation))
        }
        assert.deepStrictEqual(yield* everything, before)
      })))

    it.effect("R13/R18 a pruned job's id is not given to a new job while its audit trail is kept: submit and submitMany are AlreadyExists, nothing written; a refused request's id may be sent again", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const first = yield* jobs.submit(summarize({ job_inputs: { which: "first" } }))
        yield* jobs.start(first.job_id)
        yield* jobs.complete(first.job_id)
        const report = yield* Janitor.prune({ olderThan: DateTime.add(yield* DateTime.now, { minutes: 1 }), keepNewest: 0 })
        assert.strictEqual(report.pruned, 1)
        const trail = (yield* store.listEvents({ job_id: first.job_id })).items.map((event) => event.event_id)
        assert.isAbove(trail.length, 0, "the pruned job's events are kept (retention decides)")
        const before = yield* everything
        const again = summarize({ job_id: first.job_id, job_inputs: { which: "second" } })
        assert.strictEqual(yield* outcomeOf(() => jobs.submit(again)), "Fail:AlreadyExists")
        assert.strictEqual(yield* outcomeOf(() => jobs.submit({ ...again, job_id: first.job_id.toUpperCase() })), "Fail:AlreadyExists", "upper-case: the same id")
        assert.strictEqual(yield* outcomeOf(() => jobs.submitMany([summarize(), again])), "Fail:AlreadyExists")
        assert.deepStrictEqual(yield* everything, before)
        assert.deepStrictEqual((yield* store.listEvents({ job_id: first.job_id })).items.map((event) => event.event_id), trail)
        // An id whose request the policy refused left decisions and no job: it may be sent again.
        const id = randomUUID()
        const refusal = yield* outcomeOf(() => jobs.submit(summarize({ job_id: id, capability_profile_id: "Coder" })))
        assert.match(refusal, /^Fail:(Escalation|Capability)Denied$/)
        assert.isAbove((yield* store.listEvents({ job_id: id as never })).items.length, 0, "the refusal is audited under the id")
        assert.strictEqual((yield* jobs.submit(summarize({ job_id: id }))).job_id as string, id)
      })))

    it.effect("R13/R18 the refusal of a pruned job's id says the id is named by the pruned job's kept audit trail, not that a job exists; a live job's id is refused as one that exists", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const gone = yield* jobs.submit(summarize({ job_inputs: { which: "gone" } }))
        yield* jobs.cancel(gone.job_id, { actor: "human", reason: "not needed" })
        const report = yield* Janitor.prune({ olderThan: DateTime.add(yield* DateTime.now, { minutes: 1 }), keepNewest: 0 })
        assert.strictEqual(report.pruned, 1)
        const live = yield* jobs.submit(summarize({ job_inputs: { which: "live" } }))
        for (const refused of [
          yield* Effect.flip(jobs.submit(summarize({ job_id: gone.job_id }))),
          yield* Effect.flip(jobs.submitMany([summarize({ job_id: gone.job_id })]))
        ]) {
          assert.strictEqual(refused._tag, "AlreadyExists")
          assert.strictEqual(refused.message, `The id ${gone.job_id} is still named by the audit trail kept of a pruned job: give the new job another id`)
        }
        const taken = yield* Effect.flip(jobs.submit(summarize({ job_id: live.job_id })))
        assert.strictEqual(taken._tag, "AlreadyExists")
        assert.strictEqual(taken.message, `A job with id ${live.job_id} already exists`)
      })))
  })
}
