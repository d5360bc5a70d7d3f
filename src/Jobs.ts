/**
 * Jobs: the lifecycle service. Submits jobs (capability-checked before
 * anything is queued), claims and starts them, runs them with heartbeats and
 * node history, and moves them through the R6 table. Every state change
 * writes its Flight Recorder event in the same transaction.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { AiJob, NewAiJobInput } from "./domain/AiJob.js"
import { NewAiJob } from "./domain/AiJob.js"
import { decodeWith } from "./domain/decode.js"
import { DecodeFailure, type IllegalTransition } from "./domain/Errors.js"
import type { JobId } from "./domain/Ids.js"
import type { JobKind } from "./domain/JobKind.js"
import { JobMetrics, type MetricNames } from "./domain/JobMetrics.js"
import type { JobState } from "./domain/JobState.js"
import type { Json } from "./domain/Json.js"
import type { TransitionTarget } from "./domain/Lifecycle.js"
import { Capabilities, CapabilityDenied, type UnknownCapability, type UnknownProfile } from "./Capabilities.js"
import { FlightRecorder } from "./FlightRecorder.js"
import { capabilityEvent, lifecycleEvent } from "./internal/auditEvents.js"
import { makeRunner, type RunContext, type RunLost, type RunOptions } from "./internal/runJob.js"
import { RecoveryGate, type RecoveryFailed } from "./Recovery.js"
import type { Claim, JobFilter, Page, ReadError } from "./store/JobStore.js"
import { JobStore } from "./store/JobStore.js"
import { uuidv7 } from "./domain/uuidv7.js"
import type { AlreadyExists, NotFound, RunNotActive, StorageError } from "./store/StoreErrors.js"

export type { RunContext, RunOptions, SuccessState } from "./internal/runJob.js"
export { RunLost } from "./internal/runJob.js"

/** A job that `run` was asked to run but that is not running (claim or start it first). */
export class JobNotRunning extends Schema.TaggedError<JobNotRunning>()("JobNotRunning", {
  job_id: Schema.String,
  state: Schema.String
}) {
  override get message(): string {
    return `Job ${this.job_id} is ${this.state}; claim or start it before running it`
  }
}

/** Why a submit can fail. */
export type SubmitError =
  | RecoveryFailed
  | DecodeFailure
  | CapabilityDenied
  | UnknownProfile
  | UnknownCapability
  | AlreadyExists
  | StorageError

/** Options of a guarded transition. */
export interface TransitionOptions {
  /** Why, stored as the job's `status_reason` and in the event. */
  readonly reason?: string
  /** Who asked: `human` for operator actions. Default `system`. */
  readonly actor?: "human" | "agent" | "system"
}

type Transition = (jobId: JobId, options?: TransitionOptions) => Effect.Effect<AiJob, NotFound | IllegalTransition | DecodeFailure | ReadError>

/** A pool of workers, for applications that want one. */
export interface WorkerOptions<E, R> {
  /** How many jobs run at once. */
  readonly concurrency: number
  /** Only claim these kinds. */
  readonly kinds?: ReadonlyArray<JobKind>
  /** How long an idle worker waits before looking again. Default 1 s. */
  readonly pollInterval?: Duration.DurationInput
  readonly run?: RunOptions
  readonly handler: (context: RunContext) => Effect.Effect<Json | void, E, R>
}

/** The Jobs service. */
export class Jobs extends Context.Tag("@handshake/ai-job-model/Jobs")<Jobs, {
  /**
   * Queues a job once startup recovery has finished. Each capability decision
   * is recorded; a denied job fails with `CapabilityDenied` and is never stored.
   */
  readonly submit: (job: NewAiJobInput | unknown) => Effect.Effect<AiJob, SubmitError>
  readonly get: (jobId: JobId) => Effect.Effect<AiJob, NotFound | ReadError>
  readonly list: (filter?: JobFilter) => Effect.Effect<Page<AiJob>, ReadError | DecodeFailure>

  /** Takes the oldest queued job (of `kinds`), creates its run, moves it to running. Null if none. */
  readonly claimNext: (options?: { readonly kinds?: ReadonlyArray<JobKind> }) => Effect.Effect<Claim | null, DecodeFailure | ReadError>
  /** Starts one named queued job with a new run. */
  readonly start: (jobId: JobId, options?: TransitionOptions) => Effect.Effect<Claim, NotFound | IllegalTransition | DecodeFailure | ReadError>
  /** Operator action: a stalled job runs again, under a new workflow run (R6c). */
  readonly resume: (jobId: JobId, options?: TransitionOptions) => Effect.Effect<Claim, NotFound | IllegalTransition | DecodeFailure | ReadError>
  /** After user input: an `awaiting_user` job runs again (rework), under a new workflow run. */
  readonly rework: (jobId: JobId, options?: TransitionOptions) => Effect.Effect<Claim, NotFound | IllegalTransition | DecodeFailure | ReadError>

  /**
   * Runs `program` as the job's current workflow run, heartbeating while it
   * runs; the run and job end completed (or `onSuccess`), failed with the
   * error recorded, or cancelled when interrupted.
   */
  readonly run: <A extends Json | void, E, R>(
    jobId: JobId,
    program: (context: RunContext) => Effect.Effect<A, E, R>,
    options?: RunOptions
  ) => Effect.Effect<A, E | JobNotRunning | RunLost | NotFound | RunNotActive | IllegalTransition | DecodeFailure | ReadError, R>
  /** A scoped pool: `concurrency` loops that claim and run jobs until the scope closes. */
  readonly worker: <E, R>(options: WorkerOptions<E, R>) => Effect.Effect<void, never, R | Scope.Scope>

  readonly complete: Transition
  readonly completeWithIssues: Transition
  readonly awaitValidation: Transition
  readonly awaitUser: Transition
  readonly cancel: Transition
  readonly poison: Transition
  /** failed → queued. The next claim creates a new workflow run (R6c). Poisoned jobs never retry (R6b). */
  readonly retry: Transition
  readonly fail: (jobId: JobId, error: string, options?: TransitionOptions) => Effect.Effect<AiJob, NotFound | IllegalTransition | DecodeFailure | ReadError>
  /**
   * Operator action: pruning never deletes a pinned job (R18). Audited like a
   * transition: one `system` event (the state is the same before and after,
   * the reason says `pinned`), written with the change. Pinning a pinned job
   * changes nothing and writes no event.
   */
  readonly pin: (jobId: JobId, options?: TransitionOptions) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
  /** Operator action: the job may be pruned again. Audited as `pin` is. */
  readonly unpin: (jobId: JobId, options?: TransitionOptions) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
  /** Adds to a job's metrics (counters are summed; the result must stay in range). */
  readonly addMetrics: (
    jobId: JobId,
    delta: Partial<Record<typeof MetricNames[number], number>>
  ) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
}>() {}

/** Builds the service from the store, recorder, capabilities and recovery gate in context. */
export const make = Effect.gen(function*() {
  const store = yield* JobStore
  const recorder = yield* FlightRecorder
  const capabilities = yield* Capabilities
  const gate = yield* RecoveryGate
  const runner = makeRunner(store, recorder)
  // An event built from caller input (a 70 kB reason, say) can fail its schema or size
  // bound: that is bad input, reported as DecodeFailure, and nothing is written.
  const prepare = (event: Effect.Effect<unknown>) =>
    Effect.flatMap(event, (input) =>
      Effect.mapError(recorder.prepare(input), (error) =>
        new DecodeFailure({
          subject: "Flight Recorder event",
          issues: error._tag === "InvalidEvent" ? error.reasons : [{ path: "", message: error.message }]
        })))
  const decodeNewJob = decodeWith(NewAiJob, "NewAiJob")

  const submit = Effect.fn("Jobs.submit")(function*(input: unknown) {
    yield* gate.await
    const job = yield* decodeNewJob(input)
    const ids = { job_id: job.job_id ?? uuidv7() as JobId, trace_id: job.trace_id ?? uuidv7() as AiJob["trace_id"] }
    yield* Effect.annotateCurrentSpan({ "hsk.job_id": ids.job_id, "hsk.trace_id": ids.trace_id, "hsk.job_kind": job.job_kind })
    const decisions = yield* capabilities.decide(job.capability_profile_id, job.job_kind)
    const decisionRecords = yield* Effect.forEach(decisions, (decision) =>
      prepare(capabilityEvent({ ...ids, profile_id: job.capability_profile_id, decision, actor_id: job.profile_id })))
    const missing = decisions.filter((d) => d.outcome === "deny").map((d) => d.capability_id)
    if (missing.length > 0) {
      // The denial is audited, but no job row is ever written (R15).
      yield* store.appendEvents(decisionRecords)
      return yield* new CapabilityDenied({ profile_id: job.capability_profile_id, job_kind: job.job_kind, missing })
    }
    const queued = yield* prepare(lifecycleEvent({ job: ids, from: null, to: "queued" }))
    return yield* store.createJob({ ...job, ...ids }, { events: [...decisionRecords, queued] })
  })

  /** One guarded transition with its event; ends the job's active run too when the job leaves `running`. */
  const move = (to: TransitionTarget, span: string) =>
    Effect.fn(span)(function*(jobId: JobId, options: TransitionOptions & { readonly error?: string } = {}) {
      return yield* store.transaction(Effect.gen(function*() {
        const before = yield* store.getJob(jobId)
        const record = yield* prepare(lifecycleEvent({
          job: before,
          from: before.state,
          to,
          workflow_run_id: before.workflow_run_id,
          ...(options.reason !== undefined ? { reason: options.reason } : {}),
          ...(options.actor !== undefined ? { actor: options.actor } : {})
        }))
        // Compare-and-set on the state we read: a concurrent change makes this an IllegalTransition, never an overwrite.
        const after = yield* store.transition({
          job_id: jobId,
          to,
          from: before.state,
          ...(options.reason !== undefined ? { status_reason: options.reason } : {}),
          ...(options.error !== undefined ? { error_message: options.error } : {}),
          events: [record]
        })
        if (before.state === "running" && before.workflow_run_id !== null && to !== "queued" && to !== "running") {
          yield* store.finishRun(before.workflow_run_id, to, { error_message: options.error ?? null }).pipe(
            Effect.catchTag("RunNotActive", () => Effect.void)
          )
        }
        return after
      }))
    })

  /** `from → running` under a new workflow run: start, resume and rework. */
  const begin = (from: JobState, span: string) =>
    Effect.fn(span)(function*(jobId: JobId, options: TransitionOptions = {}) {
      return yield* store.transaction(Effect.gen(function*() {
        const before = yield* store.getJob(jobId)
        const run = yield* store.createRun(jobId)
        const record = yield* prepare(lifecycleEvent({
          job: before,
          from,
          to: "running",
          workflow_run_id: run.id,
          ...(options.reason !== undefined ? { reason: options.reason } : {}),
          ...(options.actor !== undefined ? { actor: options.actor } : {})
        }))
        const job = yield* store.transition({
          job_id: jobId,
          from,
          to: "running",
          workflow_run_id: run.id,
          ...(options.reason !== undefined ? { status_reason: options.reason } : {}),
          events: [record]
        })
        return { job, run } satisfies Claim
      }))
    })

  const claimNext = Effect.fn("Jobs.claimNext")(function*(options: { readonly kinds?: ReadonlyArray<JobKind> } = {}) {
    return yield* store.transaction(Effect.gen(function*() {
      const claim = yield* store.claimNext(options.kinds !== undefined ? { kinds: options.kinds } : {})
      if (claim === null) return null
      const record = yield* prepare(lifecycleEvent({ job: claim.job, from: "queued", to: "running", workflow_run_id: claim.run.id }))
      yield* store.appendEvents([record]).pipe(Effect.catchTag("AlreadyExists", Effect.die))
      return claim
    }))
  })

  const run = <A extends Json | void, E, R>(
    jobId: JobId,
    program: (context: RunContext) => Effect.Effect<A, E, R>,
    options?: RunOptions
  ) =>
    // Uninterruptible up to the program itself: an interrupt that arrives during the
    // lookups takes effect once the program starts, so the job still ends `cancelled`.
    Effect.uninterruptible(Effect.gen(function*() {
      const job = yield* store.getJob(jobId)
      if (job.state !== "running" || job.workflow_run_id === null) {
        return yield* new JobNotRunning({ job_id: jobId, state: job.state })
      }
      const current = yield* store.getRun(job.workflow_run_id)
      return yield* runner(job, current, program, options)
    }))

  const worker = <E, R>(options: WorkerOptions<E, R>) =>
    Effect.gen(function*() {
      const poll = options.pollInterval ?? Duration.seconds(1)
      // Uninterruptible between claim and program start, so closing the pool never
      // strands a claimed job in `running`: it is either not claimed or settled.
      const loop = Effect.uninterruptible(Effect.gen(function*() {
        const claim = yield* claimNext(options.kinds !== undefined ? { kinds: options.kinds } : {})
        if (claim === null) return yield* Effect.interruptible(Effect.sleep(poll))
        // The job's own failure is recorded on the job; the worker carries on.
        yield* Effect.ignoreLogged(runner(claim.job, claim.run, options.handler, options.run))
      })).pipe(
        Effect.catchAllCause((cause) => Effect.zipRight(Effect.logWarning("worker iteration failed", cause), Effect.sleep(poll))),
        Effect.forever
      )
      for (let i = 0; i < Math.max(1, options.concurrency); i++) yield* Effect.forkScoped(loop)
    })

  const addMetrics = Effect.fn("Jobs.addMetrics")(function*(
    jobId: JobId,
    delta: Partial<Record<typeof MetricNames[number], number>>
  ) {
    return yield* store.transaction(Effect.gen(function*() {
      const job = yield* store.getJob(jobId)
      const summed: Record<string, number> = { ...job.metrics }
      for (const [name, value] of Object.entries(delta)) summed[name] = (summed[name] ?? 0) + (value ?? 0)
      const metrics = yield* decodeWith(JobMetrics, "JobMetrics")(summed)
      return yield* store.updateJob(jobId, { metrics })
    }))
  })

  /** Sets a job's pin, with its event, when that changes it (the store writes nothing otherwise). */
  const setPin = (pinned: boolean, span: string) =>
    Effect.fn(span)(function*(jobId: JobId, options: TransitionOptions = {}) {
      return yield* store.transaction(Effect.gen(function*() {
        const before = yield* store.getJob(jobId)
        if (before.is_pinned === pinned) return before
        const what = pinned ? "pinned" : "unpinned"
        const record = yield* prepare(lifecycleEvent({
          job: before,
          from: before.state,
          to: before.state,
          workflow_run_id: before.workflow_run_id,
          reason: options.reason === undefined || options.reason === "" ? what : `${what}: ${options.reason}`,
          ...(options.actor !== undefined ? { actor: options.actor } : {})
        }))
        return yield* store.setPinned(jobId, pinned, { events: [record] })
      }))
    })

  const fail = move("failed", "Jobs.fail")

  return Jobs.of({
    submit,
    get: store.getJob,
    list: store.listJobs,
    claimNext,
    start: begin("queued", "Jobs.start"),
    resume: begin("stalled", "Jobs.resume"),
    rework: begin("awaiting_user", "Jobs.rework"),
    run,
    worker,
    complete: move("completed", "Jobs.complete"),
    completeWithIssues: move("completed_with_issues", "Jobs.completeWithIssues"),
    awaitValidation: move("awaiting_validation", "Jobs.awaitValidation"),
    awaitUser: move("awaiting_user", "Jobs.awaitUser"),
    cancel: move("cancelled", "Jobs.cancel"),
    poison: move("poisoned", "Jobs.poison"),
    retry: move("queued", "Jobs.retry"),
    fail: (jobId, error, options) => fail(jobId, { ...options, error }),
    pin: setPin(true, "Jobs.pin"),
    unpin: setPin(false, "Jobs.unpin"),
    addMetrics
  })
})

/** The Jobs service; needs a JobStore, FlightRecorder, Capabilities and a RecoveryGate. */
export const layer: Layer.Layer<Jobs, never, JobStore | FlightRecorder | Capabilities | RecoveryGate> = Layer.effect(Jobs, make)
