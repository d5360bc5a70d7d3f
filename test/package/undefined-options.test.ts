/**
 * README, "Input rules": "An option given as `undefined` counts as left out."
 * Held twice here, as a consumer compiling with `exactOptionalPropertyTypes`
 * (this project's own setting) meets it:
 *
 * - the types: every optional key of every options, filter and config type
 *   the package takes accepts `undefined` (`readonly x?: T | undefined`).
 *   `npm run typecheck` compiles this file, so a type that says `x?: T`
 *   fails it, naming the type;
 * - the behaviour: calls given `undefined` for their options, against a real
 *   in-memory SQLite store, do what the calls leaving them out do.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  Capabilities,
  type DatabaseUrl,
  FlightRecorder,
  Janitor,
  type JobId,
  Jobs,
  type JobRequestInput,
  type JobsApi,
  JobStore,
  type PgJobStore,
  Recovery,
  type Redactor,
  type RetryPolicy,
  SqliteJobStore,
  WakeUp
} from "../../src/index.js"

/** The keys of `T` a caller may leave out. */
type OptionalKeys<T> = { [K in keyof T]-?: Pick<T, K> extends Required<Pick<T, K>> ? never : K }[keyof T]

/**
 * Whether every optional key of `T` (of each member, for a union) may be
 * given as `undefined`: under `exactOptionalPropertyTypes`, `x?: T` refuses
 * `{ x: undefined }` and `x?: T | undefined` takes it.
 */
type TakesUndefined<T> = T extends unknown
  ? ({ readonly [K in OptionalKeys<T>]: undefined } extends Pick<T, OptionalKeys<T>> ? true : false)
  : never

/** `true` at compile time when `T` takes `undefined` for its optional keys; a type error (`false` is not `true`) otherwise. */
const takesUndefined = <T>(): TakesUndefined<T> => true as TakesUndefined<T>

type Store = JobStore.JobStore["Type"]
type JobsService = Jobs.Jobs["Type"]
type Recorder = FlightRecorder.FlightRecorder["Type"]
type KindPolicyInput = NonNullable<RetryPolicy.RetryPolicyInput["default"]>
type Arg<F, I extends number> = F extends (...args: infer A) => unknown ? NonNullable<A[I]> : never

/** Every options, filter and config type a caller hands the package, by the name a reader looks for. */
const everyInputTakesUndefined: Readonly<Record<string, true>> = {
  // Jobs
  "Jobs.Options": takesUndefined<Jobs.Options>(),
  "Jobs.TransitionOptions": takesUndefined<Jobs.TransitionOptions>(),
  "Jobs.BeginOptions": takesUndefined<Jobs.BeginOptions>(),
  "Jobs.AwaitOptions": takesUndefined<Jobs.AwaitOptions>(),
  "Jobs.RunOptions": takesUndefined<Jobs.RunOptions>(),
  "Jobs.WorkerPoolOptions": takesUndefined<Jobs.WorkerPoolOptions>(),
  "Jobs.WorkerOptions": takesUndefined<Jobs.WorkerOptions<never, never>>(),
  "Jobs.Handlers": takesUndefined<Jobs.Handlers<never, never>>(),
  "Jobs.ViolationReport": takesUndefined<Jobs.ViolationReport>(),
  "Jobs.claimNext options": takesUndefined<Arg<JobsService["claimNext"], 0>>(),
  "Jobs.addMetrics delta": takesUndefined<Arg<JobsService["addMetrics"], 1>>(),
  "RunContext.node spec": takesUndefined<Arg<Jobs.RunContext["node"], 0>>(),
  // Retry policy
  "RetryPolicy.RetryPolicyInput": takesUndefined<RetryPolicy.RetryPolicyInput>(),
  "RetryPolicy kind policy": takesUndefined<KindPolicyInput>(),
  "RetryPolicy backoff": takesUndefined<NonNullable<KindPolicyInput["backoff"]>>(),
  // The JobStore port
  "JobStore.Audited": takesUndefined<JobStore.Audited<unknown>>(),
  "JobStore.JobFilter": takesUndefined<JobStore.JobFilter>(),
  "JobStore.EventFilter": takesUndefined<JobStore.EventFilter>(),
  "JobStore.TransitionRequest": takesUndefined<JobStore.TransitionRequest>(),
  "JobStore.RunningJobEnd": takesUndefined<JobStore.RunningJobEnd>(),
  "JobStore.RunSettle": takesUndefined<JobStore.RunSettle>(),
  "JobStore.JobPatch": takesUndefined<JobStore.JobPatch>(),
  "JobStore.findJobIds options": takesUndefined<Arg<Store["findJobIds"], 1>>(),
  "JobStore.finishRun options": takesUndefined<Arg<Store["finishRun"], 2>>(),
  "JobStore.releaseRun options": takesUndefined<Arg<Store["releaseRun"], 1>>(),
  "JobStore.startNode input": takesUndefined<Arg<Store["startNode"], 0>>(),
  "JobStore.finishNode outcome": takesUndefined<Arg<Store["finishNode"], 1>>(),
  "JobStore.claimNext options": takesUndefined<Arg<Store["claimNext"], 0>>(),
  "JobStore.claimAdmitted options": takesUndefined<Arg<NonNullable<Store["claimAdmitted"]>, 0>>(),
  "JobStore.createClaimed options": takesUndefined<Arg<NonNullable<Store["createClaimed"]>, 1>>(),
  "JobStore.adoptOfferedRun options": takesUndefined<Arg<NonNullable<Store["adoptOfferedRun"]>, 0>>(),
  "JobStore.findStaleRuns options": takesUndefined<Arg<Store["findStaleRuns"], 0>>(),
  "JobStore.stallStaleRuns options": takesUndefined<Arg<Store["stallStaleRuns"], 0>>(),
  "JobStore.pruneJobs options": takesUndefined<Arg<Store["pruneJobs"], 0>>(),
  // The stores
  "SqliteJobStore.SqliteStoreOptions": takesUndefined<SqliteJobStore.SqliteStoreOptions>(),
  "SqliteJobStore.makeWith options": takesUndefined<Arg<typeof SqliteJobStore.makeWith, 0>>(),
  "SqliteJobStore.configureConnection options": takesUndefined<Arg<typeof SqliteJobStore.configureConnection, 0>>(),
  "PgJobStore.PgStoreOptions": takesUndefined<PgJobStore.PgStoreOptions>(),
  "PgJobStore.PgStoreBehaviour": takesUndefined<PgJobStore.PgStoreBehaviour>(),
  "DatabaseUrl.StorageOptions": takesUndefined<DatabaseUrl.StorageOptions>(),
  // Flight Recorder, Janitor, Recovery, WakeUp
  "FlightRecorder.FlightRecorderConfig": takesUndefined<FlightRecorder.FlightRecorderConfig>(),
  "FlightRecorder.enforceRetention options": takesUndefined<Arg<Recorder["enforceRetention"], 0>>(),
  "Redactor.make options": takesUndefined<Arg<typeof Redactor.make, 0>>(),
  "Janitor.JanitorConfig": takesUndefined<Janitor.JanitorConfig>(),
  "Janitor.prune options": takesUndefined<Arg<typeof Janitor.prune, 0>>(),
  "Recovery.RecoveryOptions": takesUndefined<Recovery.RecoveryOptions>(),
  "Recovery.StartupOptions": takesUndefined<Recovery.StartupOptions>(),
  "WakeUp.PgOptions": takesUndefined<WakeUp.PgOptions>(),
  "WakeUp.layerFromUrl options": takesUndefined<Arg<typeof WakeUp.layerFromUrl, 1>>(),
  // A caller's own capability policy (`Capabilities.of({ ..., deterministic })`)
  "Capabilities service": takesUndefined<Capabilities.Capabilities["Type"]>(),
  // HTTP
  "JobsApi.ServerOptions": takesUndefined<JobsApi.ServerOptions>(),
  "JobsApi.client options": takesUndefined<Arg<typeof JobsApi.client, 0>>()
}

const summarize: JobRequestInput = {
  job_kind: "doc_summarize",
  protocol_id: "hsk.undefined-options.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
}

// What a strict consumer holds: values that may or may not be there.
const absent = <T>(): T | undefined => undefined
const reason = absent<string>()
const limit = absent<number>()

/** The application over an in-memory SQLite store, every layer's options given as `undefined`. */
const app = (retry: Jobs.Options["retry"]) =>
  Jobs.layer({ retry }).pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer({ retention: undefined, purgeBatchSize: limit, maxEventBytes: limit, debug: undefined, redactionRules: undefined })),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(SqliteJobStore.layer({
      filename: ":memory:",
      migrate: undefined,
      readonly: undefined,
      busyTimeoutMs: limit,
      durability: undefined,
      groupCommit: undefined
    }))
  )

const cancelled = (jobs: JobsService, jobId: JobId, options?: Jobs.TransitionOptions) =>
  Effect.map(jobs.cancel(jobId, options), (job) => ({ state: job.state, status_reason: job.status_reason }))

describe("an option given as undefined counts as left out (README, Input rules)", () => {
  it("types: every options, filter and config type the package takes accepts undefined for its optional keys", () => {
    // The check is the compilation (npm run typecheck); here only that the list was built.
    assert.isTrue(Object.values(everyInputTakesUndefined).every((ok) => ok === true))
    assert.isAbove(Object.keys(everyInputTakesUndefined).length, 40)
  })

  it.effect("Jobs: cancel, list and await given undefined options behave as without them", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const a = yield* jobs.submit(summarize)
      const b = yield* jobs.submit(summarize)
      // The outside probe's calls: a `string | undefined` reason, a `number | undefined` limit, an undefined timeout.
      const withUndefined = yield* cancelled(jobs, a.job_id, { reason, actor: undefined })
      const leftOut = yield* cancelled(jobs, b.job_id)
      assert.deepStrictEqual(withUndefined, leftOut)
      assert.strictEqual(withUndefined.state, "cancelled")

      const page = yield* jobs.list({ limit, states: undefined, kinds: undefined, order: undefined, cursor: undefined })
      assert.deepStrictEqual(page.items.map((job) => job.job_id), [a.job_id, b.job_id])
      const awaited = yield* jobs.await(a.job_id, { timeout: undefined, until: undefined, pollInterval: undefined })
      assert.strictEqual(awaited.state, "cancelled")
      assert.isNull(yield* jobs.claimNext({ kinds: undefined }))
    }).pipe(Effect.provide(app(undefined))))

  it.effect("Jobs.layer: a retry policy whose fields are undefined is the default policy, not a DecodeFailure", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const job = yield* jobs.submit(summarize)
      // The default policy: one attempt, so a failed job stays failed.
      const claim = yield* jobs.start(job.job_id, { handTo: undefined, reason: undefined })
      const failed = yield* jobs.fail(claim.job.job_id, "boom", { reason })
      assert.strictEqual(failed.state, "failed")
      assert.strictEqual(failed.max_attempts, 1)
    }).pipe(Effect.provide(app({
      default: { maxAttempts: undefined, backoff: { initial: undefined, factor: undefined, max: undefined, jitter: undefined } },
      kinds: undefined
    }))))

  it.effect("JobStore, FlightRecorder, Recovery and Janitor: filters and options given as undefined behave as without them", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const store = yield* JobStore.JobStore
      const recorder = yield* FlightRecorder.FlightRecorder
      const job = yield* jobs.submit(summarize)

      const listed = yield* store.listJobs({ limit, trace_id: undefined, created_after: undefined })
      assert.deepStrictEqual(listed.items.map((item) => item.job_id), [job.job_id])
      assert.deepStrictEqual(yield* store.findJobIds(job.job_id.slice(0, 8), { limit }), [job.job_id])
      const events = yield* recorder.list({ job_id: job.job_id, limit, types: undefined, since: undefined })
      const allEvents = yield* recorder.list({ job_id: job.job_id })
      assert.deepStrictEqual(events.items.map((event) => event.event_id), allEvents.items.map((event) => event.event_id))
      assert.isAbove(events.items.length, 0)

      const recovered = yield* Recovery.recoverStalledRuns({ threshold: undefined, batchSize: limit, concurrency: limit, retries: limit })
      assert.strictEqual(recovered.recovered.length, 0)
      assert.strictEqual(yield* recorder.enforceRetention({ cutoff: undefined }), 0)

      const report = yield* Janitor.runOnce({ interval: undefined, olderThan: undefined, keepNewest: limit, dryRun: undefined })
      assert.strictEqual(report.dry_run, false)
      assert.strictEqual(report.pruned, 0)
      const janitor = yield* Effect.provide(Janitor.Janitor, Janitor.layer({ keepNewest: limit }))
      assert.strictEqual((yield* janitor.runOnce).pruned, 0)
      assert.isTrue(DateTime.isDateTime(report.cutoff))
    }).pipe(Effect.scoped, Effect.provide(app(undefined))))
})
