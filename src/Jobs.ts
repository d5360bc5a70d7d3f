/**
 * Jobs: the lifecycle service. Submits jobs (placed under a capability
 * profile by the policy before anything is queued), claims and starts them
 * (checked against the policy again), runs them with heartbeats and node
 * history, and moves them through the R6 table. Every state change writes its
 * Flight Recorder event in the same transaction.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { AiJob, JobRequestInput } from "./domain/AiJob.js"
import { decodeWith } from "./domain/decode.js"
import { DecodeFailure, type IllegalTransition, type JobFinished } from "./domain/Errors.js"
import { unknownOptions } from "./domain/knownOptions.js"
import type { JobId } from "./domain/Ids.js"
import type { JobKind } from "./domain/JobKind.js"
import type { MetricNames } from "./domain/JobMetrics.js"
import type { Json } from "./domain/Json.js"
import { Capabilities, type Refusal } from "./Capabilities.js"
import { FlightRecorder } from "./FlightRecorder.js"
import { nameJob, withJobSpan } from "./internal/flight/jobSpan.js"
import { sayingWhenPruned } from "./internal/prunedJob.js"
import { makeAdmission } from "./internal/jobs/admission.js"
import { makePrepare } from "./internal/jobs/auditEvents.js"
import { makeClaimNext } from "./internal/jobs/claim.js"
import { makeEndRun, makeFinishRunning } from "./internal/jobs/endRun.js"
import { makeWorkerPool, type WorkerOptions } from "./internal/jobs/workerPool.js"
import { EagerDesk } from "./internal/jobs/eagerDispatch.js"
import { makeBegin } from "./internal/jobs/begin.js"
import { announcingOnCommit, changeOf } from "./internal/jobs/committedAnnounce.js"
import { makeAdoptOffered, offersLook } from "./internal/jobs/adoptOffered.js"
import { makeAddMetrics, makeSetPin } from "./internal/jobs/jobFields.js"
import { makeMove } from "./internal/jobs/move.js"
import type { BeginOptions, Operations, TransitionOptions } from "./internal/jobs/operations.js"
import { makeSubmit } from "./internal/jobs/submit.js"
import { makeSubmitMany } from "./internal/jobs/submitMany.js"
import { redactCallerText } from "./internal/redactCallerText.js"
import { makeRunner, type RunContext, type RunLost, type RunOptions } from "./internal/jobs/runJob.js"
import { checkRunOptions } from "./internal/jobs/runOptions.js"
import { refusedRun } from "./internal/jobs/refusedRun.js"
import { makeServiceClose, serviceClosed } from "./internal/jobs/serviceClose.js"
import type { SecurityViolation } from "./internal/jobs/securityViolation.js"
import { optionsRefusal, TRANSITION_OPTIONS } from "./internal/jobs/transitionOptions.js"
import { DEFAULT_THRESHOLD, RecoveryGate, type RecoveryFailed } from "./Recovery.js"
import { type AwaitOptions, type AwaitTimeout, makeAwait } from "./internal/engine/awaitJob.js"
import { type JobHistory, makeHistory } from "./internal/engine/history.js"
import * as RetryPolicy from "./domain/RetryPolicy.js"
import { WakeUp } from "./WakeUp.js"
import type { Claim, JobFilter, Page, ReadError } from "./store/JobStore.js"
import { JobStore } from "./store/JobStore.js"
import type { AlreadyExists, NotFound, RunTaken, StorageError } from "./store/StoreErrors.js"

export type { RunContext, RunOptions, SuccessState } from "./internal/jobs/runJob.js"
export { DEFAULT_DRAIN_TIMEOUT, type WorkerOptions } from "./internal/jobs/workerPool.js"
export { RunLost } from "./internal/jobs/runJob.js"
export type { WorkerPoolOptions } from "./internal/jobs/workerPool.js"
export { runWorkerMain, type WorkerMainOptions } from "./internal/jobs/workerMain.js"
export type { AwaitOptions } from "./internal/engine/awaitJob.js"
export { AwaitTimeout, settledStates } from "./internal/engine/awaitJob.js"
export type { Handlers, KindContext } from "./internal/engine/handlers.js"
export type { JobHistory } from "./internal/engine/history.js"
export type { ViolationReport } from "./internal/jobs/securityViolation.js"
export { SecurityViolation } from "./internal/jobs/securityViolation.js"

/** A job that `run` was asked to run but that is not running (claim or start it first). */
export class JobNotRunning extends Schema.TaggedError<JobNotRunning>()("JobNotRunning", {
  job_id: Schema.String,
  state: Schema.String
}) {
  override get message(): string {
    return `Job ${this.job_id} is ${this.state}; claim or start it before running it`
  }
}

/**
 * Why a submit can fail. A capability `Refusal` (`EscalationDenied`,
 * `CapabilityDenied`, `UnknownProfile`) is audited but stores no job.
 */
export type SubmitError =
  | RecoveryFailed
  | DecodeFailure
  | Refusal
  | AlreadyExists
  | StorageError

/**
 * Why start, resume or rework can fail. A `Refusal` means the policy refused
 * the stored job: it is now `failed`, with its deny events, and never ran.
 */
export type BeginError = NotFound | IllegalTransition | Refusal | DecodeFailure | ReadError

export type { BeginOptions, TransitionOptions } from "./internal/jobs/operations.js"

type Transition = (jobId: JobId, options?: TransitionOptions) => Effect.Effect<AiJob, NotFound | IllegalTransition | DecodeFailure | ReadError>

/** Options of `Jobs.layer`. */
export interface Options {
  /**
   * The retry policy (issue 15.1): attempts per kind and the backoff between
   * them. None when absent: a failed job stays failed until an operator
   * retries it. Checked when the layer is built: a bad one fails it with
   * `DecodeFailure`. An option, not a layer of its own, so it cannot be
   * merged beside Jobs and silently ignored.
   *
   * A kind's `maxAttempts` is written on each job this service *submits*
   * (`job.max_attempts`, unless the request gives its own); its backoff is
   * read when an attempt fails in this service's run. Give every process that
   * submits or runs jobs the same policy: jobs queued by a service without
   * one get a single attempt, whatever the workers' policy says.
   */
  readonly retry?: RetryPolicy.RetryPolicyInput | undefined
}

/** The Jobs service. */
export class Jobs extends Context.Tag("@handshake/ai-job-model/Jobs")<Jobs, {
  /**
   * Queues a job once startup recovery has finished, under the profile the
   * capability policy gives its kind and protocol — or the narrower one the
   * request asks for. Each capability decision is recorded; a refused job
   * (`EscalationDenied`, `CapabilityDenied`, `UnknownProfile`) is never stored.
   */
  readonly submit: (job: JobRequestInput) => Effect.Effect<AiJob, SubmitError>
  /**
   * `submit` for input nobody has checked (an HTTP body, a CLI argument, a
   * message from a queue): decoded as a `JobRequest` first, every problem
   * named in one `DecodeFailure`, and nothing stored (issue 15.7). A key the
   * request does not name, at any level, is refused (`max_attempt: is
   * unexpected`), never ignored; `submit` and `submitMany` refuse it alike.
   */
  readonly submitUntrusted: (input: unknown) => Effect.Effect<AiJob, SubmitError>
  /**
   * Queues many jobs at once, all or nothing (issue 16): each request is
   * decoded and placed by the capability policy exactly as `submit` does,
   * all before anything is queued, then every job is created in one write
   * with its events; returns them in the order given. A request that does not
   * decode fails the call with `DecodeFailure` naming each problem (paths
   * led by the request's index) and records nothing. A refused request
   * queues nothing: each refused request's decisions are recorded as
   * `submit` records them (no job row), and the call fails with the first
   * refusal. A job id stored already or given twice: `AlreadyExists`,
   * nothing written.
   */
  readonly submitMany: (jobs: ReadonlyArray<JobRequestInput>) => Effect.Effect<ReadonlyArray<AiJob>, SubmitError>
  readonly get: (jobId: JobId) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>
  readonly list: (filter?: JobFilter) => Effect.Effect<Page<AiJob>, ReadError | DecodeFailure>

  /**
   * Takes the next queued job (of `kinds`) whose time has come — the highest
   * priority, then the one eligible longest, then the oldest — that the capability policy admits,
   * creates its run, moves it to running. A job the policy refuses is failed
   * on the way (with its deny events, and no run) and the search goes on. Null if none.
   * Once a second, a run offered to workers (`resume(id, { handTo: "workers" })`) of those
   * kinds comes first: the claim is then that job's current run, its heartbeat set now.
   * The claim's run is left for the caller to run with `run`, which takes it.
   */
  readonly claimNext: (options?: { readonly kinds?: ReadonlyArray<JobKind> | undefined }) => Effect.Effect<Claim | null, DecodeFailure | ReadError>
  /** Starts one named queued job with a new run, if the capability policy still admits it. */
  readonly start: (jobId: JobId, options?: BeginOptions) => Effect.Effect<Claim, BeginError>
  /** Operator action: a stalled job runs again, under a new workflow run (R6c), if the policy admits it. */
  readonly resume: (jobId: JobId, options?: BeginOptions) => Effect.Effect<Claim, BeginError>
  /** After user input: an `awaiting_user` job runs again (rework), under a new workflow run, if the policy admits it. */
  readonly rework: (jobId: JobId, options?: BeginOptions) => Effect.Effect<Claim, BeginError>

  /**
   * Runs `program` as the job's current workflow run, heartbeating while it
   * runs; the run and job end completed (or `onSuccess`), or failed with the
   * error recorded. Interrupted before the program finished, the job is
   * released back to `queued` (an interrupt is not a cancel: use `cancel`).
   * If recovery or an operator takes the run away meanwhile, the program is
   * stopped and `run` fails with `RunLost`, writing nothing more.
   * A program that reports a security violation (`ctx.securityViolation`)
   * poisons its job, is stopped, and `run` fails with `SecurityViolation`.
   * A run is run once: if another `run` call, in any process, or a worker
   * pool (a job it claimed, an offered run it adopted) already began the
   * job's run, `run` fails with `RunTaken` and the program does not start.
   */
  readonly run: <A extends Json | void, E, R>(
    jobId: JobId,
    program: (context: RunContext) => Effect.Effect<A, E, R>,
    options?: RunOptions
  ) => Effect.Effect<A, E | JobNotRunning | RunTaken | RunLost | SecurityViolation | NotFound | DecodeFailure | ReadError, R>
  /**
   * A scoped pool: `concurrency` loops that claim and run jobs. When the
   * scope closes the pool stops claiming, lets running programs finish for
   * up to `drainTimeout`, then interrupts the rest, releasing their jobs to
   * `queued` for another worker. A pool's shutdown never cancels a job.
   * Closing this service (its layer's scope) stops the pool at once, no
   * drain time: its programs interrupted, their jobs released, before the
   * store closes. Called once the service has closed, it fails with the
   * `StorageError` every other call fails with, and starts nothing.
   */
  readonly worker: <E, R>(options: WorkerOptions<E, R>) => Effect.Effect<void, StorageError | DecodeFailure, R | Scope.Scope>
  /**
   * Waits until the job is in one of `until` (default: a terminal state or
   * `failed`) and returns it; woken by the same announcements as workers,
   * reading again every `pollInterval` otherwise. Fails with `AwaitTimeout`
   * after `timeout` (on Effect's `Clock`).
   */
  readonly await: (jobId: JobId, options?: AwaitOptions) => Effect.Effect<AiJob, AwaitTimeout | NotFound | DecodeFailure | ReadError>
  /**
   * The job, its oldest 100 runs each with its first 1000 node executions
   * (cursors say where more follow: `JobStore.listRuns`/`listNodes` read
   * on), and all its Flight Recorder events, oldest first; `evidence_missing`
   * says when retention may have removed some of them (FR-EVT-004).
   */
  readonly history: (jobId: JobId) => Effect.Effect<JobHistory, NotFound | DecodeFailure | ReadError>

  readonly complete: Transition
  readonly completeWithIssues: Transition
  readonly awaitValidation: Transition
  readonly awaitUser: Transition
  readonly cancel: Transition
  readonly poison: Transition
  /**
   * failed → queued, eligible at once, as a new attempt. The next claim
   * creates a new workflow run (R6c). Poisoned jobs never retry (R6b).
   */
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
  /**
   * Adds to a job's metrics: each amount a whole number in its metric's
   * range (else `DecodeFailure` naming it), each sum held at the metric's
   * bound, as a settle's duration is. A job in a terminal state is refused with `JobFinished`,
   * nothing changed: its metrics are final.
   */
  readonly addMetrics: (
    jobId: JobId,
    delta: { readonly [K in typeof MetricNames[number]]?: number | undefined }
  ) => Effect.Effect<AiJob, NotFound | JobFinished | DecodeFailure | ReadError>
}>() {}

/** How often `claimNext` looks for runs offered to workers before the queue (adoptOffered.ts `offersLook`). */
const OFFERS_LOOK_INTERVAL_MS = 1_000

/** The options `claimNext` names. */
const CLAIM_OPTIONS: ReadonlyArray<string> = ["kinds"]

/** The options `Jobs.make` names. */
const JOBS_OPTIONS: ReadonlyArray<string> = ["retry"]

/**
 * Builds the service from the store, recorder, capabilities, recovery gate and
 * wake-up in context. Scoped: when the scope closes, the `Jobs.run` calls in
 * flight are interrupted (their jobs released to `queued`) and waited for, and
 * every later call fails at once with a `StorageError` (serviceClose.ts).
 */
export const make = (options: Options = {}) => Effect.gen(function*() {
  // A misspelt `retyr` dropped would leave retries off without a word.
  const unknown = unknownOptions(options, JOBS_OPTIONS, "JobsOptions")
  if (unknown !== undefined) return yield* unknown
  const recorder = yield* FlightRecorder
  // Caller text stored on jobs, runs and nodes is redacted like the events about it (R14).
  const store = redactCallerText(yield* JobStore, recorder.redact)
  const capabilities = yield* Capabilities
  const gate = yield* RecoveryGate
  // What a run's heartbeatInterval must stay under: this process's recovery threshold (runOptions.ts).
  const recoveryThreshold = gate.threshold ?? DEFAULT_THRESHOLD
  const retries = options.retry === undefined
    ? RetryPolicy.noRetries
    : yield* decodeWith(RetryPolicy.RetryPolicy, "RetryPolicy")(options.retry)
  // Required, not optional: a WakeUp merged beside this layer instead of provided to it would
  // otherwise leave the engine polling without a word. `WakeUp.layerPollOnly` says "poll" out loud.
  const wakeService = yield* WakeUp
  // Tells this process's waiters of a committed change — inside a caller's transaction, once it has
  // committed (committedAnnounce.ts); absent where no one listens (polling only).
  const afterCommit = yield* FiberSet.make<void>()
  const wakeUp = wakeService.mode === "poll"
    ? undefined
    : announcingOnCommit(wakeService, store, (effect) => Effect.asVoid(FiberSet.run(afterCommit, effect)))
  const announce = wakeUp === undefined ? undefined : (job: AiJob) => wakeUp.announce(changeOf(job))
  /** `announce` for a job whose new run was offered to worker pools: pools of its kind look at once. */
  const announceOffer = wakeUp === undefined ? undefined : (job: AiJob) => wakeUp.announce({ ...changeOf(job), offered: true })
  /** `effect`, then its job announced — no step at all where there is no one to tell. */
  const announced = <A, E>(effect: Effect.Effect<A, E>, jobOf: (a: A) => AiJob | undefined): Effect.Effect<A, E> =>
    announce === undefined ? effect : Effect.tap(effect, (a) => {
      const job = jobOf(a)
      return job === undefined ? Effect.void : announce(job)
    })
  // One policy for an event the recorder refuses (auditEvents.ts): bad input, a DecodeFailure, nothing written.
  const prepare = makePrepare(recorder)
  const runner = makeRunner(store, recorder, prepare, {
    wakeUp,
    capabilities,
    // A failed attempt with attempts left: the next one's number and when it becomes eligible (issue 15.1).
    retryAfter: (job) =>
      Effect.gen(function*() {
        const decision = RetryPolicy.decide(job, RetryPolicy.backoffOf(retries, job), yield* Random.next)
        if (decision._tag === "GiveUp") return null
        // The wait alone: the requeue counts it from the failure's instant (runJob.ts `requeue`).
        return { attempt: decision.attempt, delay: decision.delay }
      })
  })
  // A failed operation's span ends with its failure redacted as caller text is (R14; jobSpan.ts).
  const redact = recorder.redact
  const operations: Operations = { store, prepare, announce, announceOffer, redact }
  const admission = makeAdmission(store, capabilities, prepare)
  // Runs offered to workers (`handTo: "workers"`): a pool looks for them itself; `claimNext` once a second.
  const adoptOffered = makeAdoptOffered(store, prepare)
  // claimNext's offered runs go to its caller, who runs them with `run` (which takes them).
  const adoptForCaller = makeAdoptOffered(store, prepare, true)
  const claims = makeClaimNext(store, admission, prepare, redact, offersLook(adoptForCaller, yield* Effect.clock, OFFERS_LOOK_INTERVAL_MS), {
    announce: announce === undefined ? undefined : (claim) => announce(claim.job),
    release: (claim, reason) => runner.release(claim.job, claim.run, reason)
  })
  const claimQueued = (options?: Parameters<typeof claims.claimQueued>[0]) =>
    announced(claims.claimQueued(options), (claim) => claim?.job)
  const claimNext = (options?: { readonly kinds?: ReadonlyArray<JobKind> | undefined }) => {
    // A misspelt `kind` dropped would claim a job of any kind: refused, nothing claimed.
    const refused = unknownOptions(options, CLAIM_OPTIONS, "ClaimOptions")
    // Announced by `claims.claimNext` itself, inside what releases a claim an interrupt lost.
    return refused !== undefined ? Effect.fail(refused) : claims.claimNext(options)
  }
  // Eager dispatch (eagerDispatch.ts): where the store can create and claim in one write and the
  // policy's verdicts may be remembered (the claim's records are then the submit's to build).
  const desk = store.createClaimed !== undefined && admission.deterministic ? new EagerDesk() : undefined
  const submit = makeSubmit(operations, { intakeOpen: gate.await, admission, retries, desk })
  const submitMany = makeSubmitMany(operations, { intakeOpen: gate.await, admission, retries })
  const move = makeMove(operations, makeEndRun(store, prepare), makeFinishRunning(store, prepare))
  const begin = makeBegin(operations, admission, (claim, reason) => runner.release(claim.job, claim.run, reason))
  const setPin = makeSetPin(operations)

  // `Jobs.run` calls and worker pools in flight, interrupted (their jobs released) when the layer's scope closes.
  const closing = makeServiceClose()
  const run = <A extends Json | void, E, R>(
    jobId: JobId,
    program: (context: RunContext) => Effect.Effect<A, E, R>,
    options?: RunOptions
  ) =>
    // Uninterruptible up to the program itself: an interrupt that arrives during the
    // lookups takes effect once the program starts, so the job is still released.
    Effect.uninterruptible(Effect.suspend(() => {
      // The job once read, for a refusal's span; `taken` once the run is the runner's, whose span says how it ended.
      let found: AiJob | undefined
      let taken = false
      return Effect.catchAllCause(
        Effect.gen(function*() {
          // Before anything is read or written: a bad option must not take the run nor start the program.
          const checked = yield* checkRunOptions(options, recoveryThreshold)
          const job = found = yield* store.getJob(jobId)
          if (job.state !== "running" || job.workflow_run_id === null) {
            return yield* new JobNotRunning({ job_id: job.job_id, state: job.state })
          }
          // The run is run once: taken here (its first heartbeat), or `RunTaken` if a pool or another
          // `run` already began it — its program is not started a second time.
          const current = yield* Effect.catchTag(
            store.takeRun(job.workflow_run_id),
            "RunNotActive",
            // Moved on since it was read (ended, recovered): not running any more.
            (lost) => new JobNotRunning({ job_id: job.job_id, state: lost.status })
          )
          taken = true
          return yield* runner(job, current, program, checked, undefined, true)
        }),
        // Refused before the run was taken: the refusal in a `Jobs.run` span of its own (refusedRun.ts).
        (cause) => taken ? Effect.failCause(cause) : refusedRun(jobId, found, cause, redact)
      )
    })).pipe((running) => closing.track("Jobs.run", running))

  const fail = move("failed", "Jobs.fail")
  const awaitJob = makeAwait(store.getJob, wakeUp)

  const service: Jobs["Type"] = {
    submit,
    submitUntrusted: submit,
    submitMany,
    get: (jobId) =>
      withJobSpan("Jobs.get", (span) => {
        nameJob(span, { job_id: jobId })
        return Effect.tap(sayingWhenPruned(store, jobId, store.getJob(jobId)), (job) => nameJob(span, job))
      }, redact),
    list: (filter) => withJobSpan("Jobs.list", () => store.listJobs(filter), redact),
    claimNext,
    start: begin("queued", "start", "Jobs.start"),
    resume: begin("stalled", "resume", "Jobs.resume"),
    rework: begin("awaiting_user", "rework", "Jobs.rework"),
    run,
    worker: makeWorkerPool(claimQueued, runner, wakeUp, desk, adoptOffered, recorder.redact, recoveryThreshold, closing.trackPool, store.cancelWritesOf),
    await: (jobId, options) =>
      withJobSpan("Jobs.await", (span) => {
        nameJob(span, { job_id: jobId })
        // The job as read names the span, an `AwaitTimeout`'s too.
        const named = (job: AiJob) => nameJob(span, job)
        return Effect.tap(awaitJob(jobId, options, named), named)
      }, redact),
    history: makeHistory(store, redact),
    complete: move("completed", "Jobs.complete"),
    completeWithIssues: move("completed_with_issues", "Jobs.completeWithIssues"),
    awaitValidation: move("awaiting_validation", "Jobs.awaitValidation"),
    awaitUser: move("awaiting_user", "Jobs.awaitUser"),
    cancel: move("cancelled", "Jobs.cancel"),
    poison: move("poisoned", "Jobs.poison"),
    retry: move("queued", "Jobs.retry"),
    fail: (jobId, error, options) => {
      // Past the types: an error that is no string (`null` failed the job with none), or an `error` among the options.
      const refused = typeof error !== "string"
        ? new DecodeFailure({ subject: "Jobs.fail", issues: [{ path: "error", message: "Expected a string (the error to record)" }] })
        : optionsRefusal(options, "TransitionOptions", TRANSITION_OPTIONS)
      if (refused === undefined) return fail(jobId, { ...options, error })
      // Refused before the move: its span all the same, as every refused move's.
      return withJobSpan("Jobs.fail", (span) => {
        nameJob(span, { job_id: jobId })
        return Effect.fail(refused)
      }, redact)
    },
    pin: setPin(true, "Jobs.pin"),
    unpin: setPin(false, "Jobs.unpin"),
    addMetrics: makeAddMetrics(operations)
  }
  // A call once the layer has closed fails at once: its store is closed, and startup recovery's gate
  // (which `submit` waits for) or a wait for a change may never open. One check per call. `worker`
  // too (it died with the error, a defect no caller could catch as the StorageError it is).
  const guarded = Object.fromEntries(Object.entries(service).map(([name, method]) => {
    if (name === "run") return [name, method]
    const refused = Effect.fail(serviceClosed(`Jobs.${name}`))
    return [name, (...args: ReadonlyArray<unknown>) => closing.isClosed() ? refused : (method as (...args: ReadonlyArray<unknown>) => unknown)(...args)]
  }))
  // Runs before the store's finalizer (the store was built first): its runs release their jobs while it is open.
  yield* Effect.addFinalizer(() => closing.close)
  return Jobs.of(guarded as unknown as Jobs["Type"])
})

/**
 * The Jobs service; needs a JobStore, FlightRecorder, Capabilities, a
 * RecoveryGate and a WakeUp — provided *to* it (`Layer.provideMerge`), so a
 * wake-up merged beside it instead does not compile. `WakeUp.layerFromUrl(url)`
 * for LISTEN/NOTIFY or in-process wake-up, `WakeUp.layerPollOnly` to poll.
 * The retry policy is an option (`{ retry }`); a bad one fails the layer with
 * `DecodeFailure`. (Every `layer` of this package is a function, options or not.)
 */
export function layer(): Layer.Layer<Jobs, never, Requirements>
export function layer(options: Options): Layer.Layer<Jobs, DecodeFailure, Requirements>
export function layer(options: Options = {}): Layer.Layer<Jobs, DecodeFailure, Requirements> {
  return Layer.scoped(Jobs, make(options))
}

/** What `Jobs.layer` needs provided to it. */
type Requirements = JobStore | FlightRecorder | Capabilities | RecoveryGate | WakeUp
