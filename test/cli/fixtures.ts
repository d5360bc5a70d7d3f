/**
 * In-process access to a database the CLI works on, through the library
 * itself: to put jobs in the states a command is then asked about, and to
 * check what a command changed (or left untouched).
 */
import { assert } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import type { AiJob, NewAiJobInput } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { Json } from "../../src/domain/Json.js"
import type { RetentionHorizon } from "../../src/domain/RetentionHorizon.js"
import type { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { FlightRecorder, makeEvent } from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { Claim } from "../../src/store/JobStore.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { services } from "../jobs/services.js"
import { at, ids } from "../store/fixtures.js"
import { runCli } from "./cli.js"

const store = (url: string) => Storage.layerFromUrl(url, { migrate: false }) as Layer.Layer<JobStore>

const withStore = <A, E>(url: string, effect: Effect.Effect<A, E, JobStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, store(url)) as Effect.Effect<A>)

const withJobs = <A, E>(url: string, effect: Effect.Effect<A, E, Jobs | JobStore | FlightRecorder>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, services(store(url))) as Effect.Effect<A>)

/** Every job in the database, oldest first. */
export const allJobs = (url: string): Promise<ReadonlyArray<AiJob>> =>
  withStore(url, Effect.flatMap(JobStore, (s) => Effect.map(s.listJobs({ limit: 1000 }), (page) => page.items)))

/** One job as it is now. */
export const jobOf = (url: string, jobId: string): Promise<AiJob> =>
  withStore(url, Effect.flatMap(JobStore, (s) => s.getJob(jobId as JobId)))

/** A job's workflow runs, oldest first. */
export const runsOf = (url: string, jobId: string): Promise<ReadonlyArray<WorkflowRun>> =>
  withStore(url, Effect.flatMap(JobStore, (s) => s.listRuns(jobId as JobId)))

/**
 * The run a worker pool's look takes for the job, as a pool in another process would
 * (`adoptOfferedRun`): looks until it takes the job's offer (offers of other jobs it meets
 * are taken too), or finds none — then null.
 */
export const adoptedRunOf = (url: string, job: AiJob): Promise<string | null> =>
  withStore(url, Effect.flatMap(JobStore, (s) =>
    Effect.gen(function*() {
      for (;;) {
        const claim = yield* s.adoptOfferedRun!({ kinds: [job.job_kind] })
        if (claim === null) return null
        if (claim.job.job_id === job.job_id) return claim.run.id as string
      }
    })))

/** A job's Flight Recorder events, oldest first. */
export const eventsOf = (url: string, jobId: string): Promise<ReadonlyArray<EventRecord>> =>
  withStore(url, Effect.flatMap(JobStore, (s) => Effect.map(s.listEvents({ job_id: jobId as JobId, limit: 1000 }), (page) => page.items)))

/** How far retention has purged the database (FR-EVT-004), null when no purge deleted an event. */
export const retentionHorizonOf = (url: string): Promise<RetentionHorizon | null> =>
  withStore(url, Effect.flatMap(JobStore, (s) => s.retentionHorizon))

/** Every event the database holds (up to 1,000), oldest first. */
export const allEvents = (url: string): Promise<ReadonlyArray<EventRecord>> =>
  withStore(url, Effect.flatMap(JobStore, (s) => Effect.map(s.listEvents({ limit: 1000 }), (page) => page.items)))

/** How many events the database holds. */
export const eventCount = (url: string): Promise<number> =>
  withStore(url, Effect.flatMap(JobStore, (s) => Effect.map(s.listEvents({ limit: 1000 }), (page) => page.items.length)))

/** A job id that starts with `prefix` (hex digits), the rest random. */
export const idStartingWith = (prefix: string): JobId => {
  const hex = (prefix + randomBytes(16).toString("hex")).slice(0, 32).split("")
  hex[12] = "4"
  hex[16] = "8"
  const text = hex.join("")
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}` as JobId
}

const newJob = (overrides: Partial<NewAiJobInput> = {}): NewAiJobInput => ({
  job_kind: "doc_summarize",
  protocol_id: "hsk.test.v1",
  profile_id: "tester",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal",
  ...overrides
})

/** A queued job, submitted `ago` in the past (now by default). */
export const queuedJob = (url: string, overrides: Partial<NewAiJobInput> = {}, ago?: Duration.DurationInput): Promise<AiJob> =>
  withJobs(url, Effect.flatMap(Jobs, (jobs) => jobs.submit(newJob(overrides))).pipe(
    ago === undefined ? (effect) => effect : Effect.withClock(pastClock(ago))
  ))

/** A queued job created at the instant `at` exactly (to the millisecond), as a clock that reads it makes one. */
export const queuedJobAt = (url: string, at: Date): Promise<AiJob> =>
  withJobs(url, TestClock.setTime(at.getTime()).pipe(
    Effect.zipRight(Effect.flatMap(Jobs, (jobs) => jobs.submit(newJob()))),
    Effect.provide(TestContext.TestContext)
  ))

/** A job whose run failed. */
export const failedJob = (url: string, overrides: Partial<NewAiJobInput> = {}): Promise<AiJob> =>
  withJobs(url, Effect.gen(function*() {
    const jobs = yield* Jobs
    const job = yield* jobs.submit(newJob(overrides))
    yield* jobs.start(job.job_id)
    return yield* jobs.fail(job.job_id, "ToolError: the tool crashed")
  }))

/** A job its program handed to the user (R6): started, awaiting validation, then awaiting the user. */
export const awaitingUserJob = (url: string, overrides: Partial<NewAiJobInput> = {}): Promise<AiJob> =>
  withJobs(url, Effect.gen(function*() {
    const jobs = yield* Jobs
    const job = yield* jobs.submit(newJob(overrides))
    yield* jobs.start(job.job_id)
    yield* jobs.awaitValidation(job.job_id)
    return yield* jobs.awaitUser(job.job_id, { reason: "needs the user's choice" })
  }))

/** A job that ran to completion. */
export const completedJob = (url: string, overrides: Partial<NewAiJobInput> = {}): Promise<AiJob> =>
  withJobs(url, Effect.gen(function*() {
    const jobs = yield* Jobs
    const job = yield* jobs.submit(newJob(overrides))
    yield* jobs.start(job.job_id)
    return yield* jobs.complete(job.job_id)
  }))

/** A running job whose first run has `nodes` node executions, and `moreRuns` runs made after it (as retries and resumes make them). */
export const jobWithNodes = (url: string, nodes: number, moreRuns = 0, input: (i: number) => Json | undefined = () => undefined): Promise<AiJob> =>
  withJobs(url, Effect.gen(function*() {
    const jobs = yield* Jobs
    const store = yield* JobStore
    const job = yield* jobs.submit(newJob())
    const { run } = yield* jobs.start(job.job_id)
    for (let i = 0; i < nodes; i++) yield* store.startNode({ workflow_run_id: run.id, node_id: `node-${i}`, node_type: "step", input_payload: input(i) })
    for (let i = 0; i < moreRuns; i++) yield* store.createRun(job.job_id)
    return job
  }))

/** What a worker that died ten minutes ago leaves: a job claimed then, its run `running` with a stale heartbeat. */
export const crashedRun = (url: string, overrides: Partial<NewAiJobInput> = {}): Promise<Claim> =>
  withJobs(url, Effect.flatMap(Jobs, (jobs) => Effect.flatMap(jobs.submit(newJob(overrides)), (job) => jobs.start(job.job_id))).pipe(
    Effect.withClock(pastClock("10 minutes"))
  ))

/** A stalled job: a crashed worker's run, recovered. */
export const stalledJob = (url: string, overrides: Partial<NewAiJobInput> = {}): Promise<AiJob> =>
  crashedRun(url, overrides).then(({ job }) =>
    withJobs(url, Effect.zipRight(Recovery.recoverStalledRuns({ threshold: Duration.seconds(60) }), Effect.flatMap(Jobs, (jobs) => jobs.get(job.job_id)))))

/**
 * Records `count` events from 1970, a millisecond apart, oldest first; returns their ids in that order.
 * Recorded as an application records its own (`recordMany`): `diagnostic` events the commands read back.
 * (The store's contract fixture `eventRecord` has a body no recorder writes, which `ai-jobs events` calls corrupt.)
 */
export const oldEvents = (url: string, count: number): Promise<ReadonlyArray<string>> =>
  withJobs(url, Effect.flatMap(FlightRecorder, (recorder) =>
    recorder.recordMany(Array.from({ length: count }, (_, i) => ({
      type: "diagnostic" as const,
      actor: "system" as const,
      event_id: ids.event(),
      timestamp: DateTime.formatIso(at(i)),
      diagnostic_id: `old-${i}`
    }))))).then((records) => records.map((record) => record.event_id))

/** A queued job with `count` more events of its own (diagnostics), all at its creation's millisecond, as its `queued` event is. */
export const jobWithEventsInOneMillisecond = async (url: string, count: number): Promise<AiJob> => {
  const job = await queuedJob(url)
  const timestamp = DateTime.formatIso(job.created_at)
  await withJobs(url, Effect.flatMap(FlightRecorder, (recorder) =>
    Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      Effect.flatMap(
        makeEvent("diagnostic", { actor: "system", diagnostic_id: `d${i}`, job_id: job.job_id, trace_id: job.trace_id, timestamp }),
        recorder.record
      ))))
  return job
}

/**
 * A crashed worker's run (see `crashedRun`) and a second run of its job, as
 * stale, that the job does not run under (`lone`): recovery stalls the first
 * with its job, the second alone.
 */
export const crashedRunAndLoneRun = (url: string): Promise<Claim & { readonly lone: WorkflowRun }> =>
  withJobs(url, Effect.gen(function*() {
    const claim = yield* Effect.flatMap(Jobs, (jobs) => Effect.flatMap(jobs.submit(newJob()), (job) => jobs.start(job.job_id)))
    const lone = yield* (yield* JobStore).createRun(claim.job.job_id)
    return { ...claim, lone }
  }).pipe(Effect.withClock(pastClock("10 minutes"))))

/** `count` crashed workers' runs (see `crashedRun`), made through one connection. */
export const crashedRuns = (url: string, count: number): Promise<ReadonlyArray<Claim>> =>
  withJobs(url, Effect.flatMap(Jobs, (jobs) =>
    Effect.forEach(Array.from({ length: count }), () => Effect.flatMap(jobs.submit(newJob()), (job) => jobs.start(job.job_id)))).pipe(
      Effect.withClock(pastClock("10 minutes"))
    ))

/** `count` jobs submitted and cancelled 40 days ago, old enough for any prune, made through one connection. */
export const oldCancelledJobs = (url: string, count: number): Promise<ReadonlyArray<AiJob>> =>
  withJobs(url, Effect.flatMap(Jobs, (jobs) =>
    Effect.flatMap(jobs.submitMany(Array.from({ length: count }, () => newJob())), (made) => Effect.forEach(made, (job) => jobs.cancel(job.job_id)))).pipe(
      Effect.withClock(pastClock("40 days"))
    ))

/** One pass of the Janitor (as its schedule runs it), through the library: no retention window, so it only prunes. */
export const janitorPass = (url: string, config: Janitor.JanitorConfig): Promise<Janitor.JanitorReport> =>
  withJobs(url, Janitor.runOnce(config))

/** The bodies of every `gc_summary` event stored, oldest first. */
export const gcSummaries = (url: string): Promise<ReadonlyArray<Record<string, unknown>>> =>
  withStore(url, Effect.flatMap(JobStore, (s) =>
    Effect.gen(function*() {
      const bodies: Array<Record<string, unknown>> = []
      let cursor: string | undefined
      do {
        const page = yield* s.listEvents({ types: ["system"], limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
        bodies.push(...page.items.map((event) => event.body).filter((body) => body["event_name"] === "gc_summary"))
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      return bodies
    })))

/** The database at `url` migrated by the CLI itself (`ai-jobs migrate`), as an operator would. */
export const migratedByCli = async (url: string): Promise<void> => {
  const migrated = await runCli(["migrate", "--database", url])
  assert.strictEqual(migrated.code, 0, migrated.stderr)
}
