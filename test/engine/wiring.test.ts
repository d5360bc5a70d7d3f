/**
 * Issue 15.3, wiring the wake-up. `Jobs.layer()` requires a `WakeUp` provided
 * to it: the composition the README shows — every layer `provideMerge`d under
 * Jobs, the wake-up and the store from one URL — wakes an idle worker at once
 * on a SQLite file and on PostgreSQL; a wake-up merged *beside* Jobs instead
 * (which used to leave the engine polling without a word) does not compile.
 * Issue 15.1, wiring the retry policy: it is an option of `Jobs.layer`, not a
 * layer of its own that could be merged beside Jobs and silently ignored; a
 * bad policy fails the layer's build with `DecodeFailure`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Capabilities, DatabaseUrl, DecodeFailure, FlightRecorder, Jobs, Recovery, SqliteJobStore, WakeUp } from "../../src/index.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { postgres, sqliteMemory, tempSqliteFile } from "../support/stores.js"
import { idlePoolStarts } from "./engine.js"

/** The README's worker composition ("Workers: handlers per kind, retries, scheduling, wake-up"), word for word. */
const readmeApp = (url: string) =>
  Jobs.layer({
    retry: {
      default: { maxAttempts: 1 },
      kinds: { doc_ingest: { maxAttempts: 3, backoff: { initial: "2 seconds", factor: 2, max: "1 minute", jitter: 0.2 } } }
    }
  }).pipe(
    Layer.provideMerge(Recovery.layerStartup()),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(WakeUp.layerFromUrl(url)),
    Layer.provideMerge(DatabaseUrl.layerFromUrl(url))
  )

const databases = [
  { name: "a SQLite file", url: Effect.sync(() => tempSqliteFile("readme wiring")), mode: "in-process" },
  { name: "PostgreSQL", url: freshPgDatabase("readme wiring"), mode: "listen" }
] as const

describe("issue 15.3 the wake-up is provided to Jobs", () => {
  for (const database of databases) {
    it.live(`issue 15.3 the README's composition on ${database.name} wakes an idle worker at once, long before its 30 s poll`, () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(readmeApp(yield* database.url))
        const wakeUp = Context.get(context, WakeUp.WakeUp)
        assert.strictEqual(wakeUp.mode, database.mode)
        yield* wakeUp.ready
        const jobs = Context.get(context, Jobs.Jobs)
        assert.isTrue(yield* idlePoolStarts(jobs, jobs.submit(summarize())), "the program started without waiting for the poll")
      }).pipe(Effect.scoped), 60_000)
  }
})

describe("issue 15.1 the retry policy is an option of Jobs.layer", () => {
  it.effect("issue 15.1 a bad retry policy, or the option misspelt, fails the layer's build with DecodeFailure naming the field", () =>
    Effect.gen(function*() {
      const store = SqliteJobStore.layer({ filename: ":memory:" })
      for (const retry of [{ default: { maxAttempts: 0 } }, { default: { maxAttempts: 2, backoff: { initial: "-1 seconds" } } }, { kinds: { doc_ingest: { maxAttempts: 2, backof: {} } } }]) {
        const failure = yield* Effect.flip(Layer.build(services(store, undefined, undefined, { retry: retry as never })))
        assert.strictEqual(failure._tag, "DecodeFailure", JSON.stringify(retry))
      }
      // The option itself misspelt was dropped: retries silently off.
      const misspelt = yield* Effect.flip(Layer.build(services(store, undefined, undefined, { retyr: { default: { maxAttempts: 3 } } } as never)))
      assert.strictEqual(misspelt._tag, "DecodeFailure")
      assert.deepStrictEqual(misspelt._tag === "DecodeFailure" ? misspelt.issues.map((issue) => issue.path) : [], ["retyr"])
      // The same composition with a good policy builds.
      yield* Layer.build(services(store, undefined, undefined, { retry: { default: { maxAttempts: 2 } } }))
    }).pipe(Effect.scoped))
})

/**
 * Misspelt keys at the policy's top level or in `default` were dropped, the
 * layer built and every job got one attempt (found by an outside probe),
 * while the same typo in `kinds.<kind>` or `backoff` was refused.
 */
const misspeltPolicies: ReadonlyArray<readonly [unknown, string]> = [
  [{ defualt: { maxAttempts: 3 } }, "defualt"],
  [{ kind: { doc_summarize: { maxAttempts: 3 } } }, "kind"],
  [{ default: { maxAttemps: 3 } }, "default.maxAttemps"],
  [{ default: { max_attempts: 3 } }, "default.max_attempts"],
  [{ kinds: { doc_summarize: { maxAttemps: 3 } } }, "kinds.doc_summarize.maxAttemps"],
  [{ default: { maxAttempts: 3, backoff: { intial: "5 seconds" } } }, "default.backoff.intial"]
]

describe("issue 15.1 a misspelt key anywhere in the retry policy is refused", () => {
  for (const backend of [sqliteMemory, postgres("retry misspelt")]) {
    it.effect(`issue 15.1 Jobs.layer({ retry }) with a misspelt key at the top level, in default, kinds or backoff fails with DecodeFailure naming it on ${backend.name}`, () =>
      Effect.gen(function*() {
        for (const [retry, path] of misspeltPolicies) {
          const failure = yield* Effect.flip(Layer.build(services(backend.makeStore(), undefined, undefined, { retry: retry as never })))
          assert.instanceOf(failure, DecodeFailure, JSON.stringify(retry))
          assert.deepStrictEqual((failure as DecodeFailure).issues.map((issue) => issue.path), [path], JSON.stringify(retry))
        }
        // Correctly spelt, the policy stands: the job gets its kind's attempts.
        const context = yield* Layer.build(services(backend.makeStore(), undefined, undefined, { retry: { default: { maxAttempts: 3 } } }))
        const job = yield* Context.get(context, Jobs.Jobs).submit(summarize())
        assert.strictEqual(job.max_attempts, 3)
      }).pipe(Effect.scoped), 60_000)
  }
})

describe("R1a the retry policy reads term_exec as terminal_exec", () => {
  for (const backend of [sqliteMemory, postgres("retry term_exec")]) {
    it.effect(`R1a Jobs.layer({ retry: { kinds: { term_exec } } }) gives terminal_exec jobs that policy; term_exec beside terminal_exec is refused naming kinds on ${backend.name}`, () =>
      Effect.gen(function*() {
        const retry = { kinds: { term_exec: { maxAttempts: 4 } } } as const
        const context = yield* Layer.build(services(backend.makeStore(), undefined, undefined, { retry }))
        const job = yield* Context.get(context, Jobs.Jobs).submit(summarize({ job_kind: "terminal_exec", capability_profile_id: "Coder" }))
        assert.strictEqual(job.max_attempts, 4)
        const both = { kinds: { term_exec: { maxAttempts: 4 }, terminal_exec: { maxAttempts: 2 } } } as const
        const failure = yield* Effect.flip(Layer.build(services(backend.makeStore(), undefined, undefined, { retry: both })))
        assert.instanceOf(failure, DecodeFailure)
        assert.deepStrictEqual((failure as DecodeFailure).issues.map((issue) => [issue.path, issue.message]), [
          ["kinds", "Expected terminal_exec or its legacy alias term_exec, not both: write terminal_exec alone"]
        ])
      }).pipe(Effect.scoped), 60_000)
  }
})

// @ts-expect-error there is no retry-policy layer to merge beside Jobs (and have ignored): it is `Jobs.layer({ retry })`
export const _retryLayer = Jobs.retryPolicy

/** The mistake: a wake-up merged beside Jobs, not provided to it. Jobs' need for a WakeUp stays unmet. */
const besideJobs = Layer.merge(Jobs.layer(), WakeUp.layerInProcess).pipe(
  Layer.provideMerge(Recovery.layerNoStartupRecovery),
  Layer.provideMerge(FlightRecorder.layer()),
  Layer.provideMerge(Capabilities.layerDefault),
  Layer.provideMerge(SqliteJobStore.layer({ filename: ":memory:" }))
)
/** The same layers with the wake-up provided to Jobs: complete. */
const underJobs = Jobs.layer().pipe(
  Layer.provideMerge(Recovery.layerNoStartupRecovery),
  Layer.provideMerge(WakeUp.layerInProcess),
  Layer.provideMerge(FlightRecorder.layer()),
  Layer.provideMerge(Capabilities.layerDefault),
  Layer.provideMerge(SqliteJobStore.layer({ filename: ":memory:" }))
)
export const _provided: Effect.Effect<void, unknown, never> = Effect.provide(Effect.void, underJobs)
// @ts-expect-error a WakeUp merged beside Jobs.layer() leaves Jobs needing one: the program does not compile
export const _besideJobs: Effect.Effect<void, unknown, never> = Effect.provide(Effect.void, besideJobs)
