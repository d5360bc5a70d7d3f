/**
 * Running a job as its workflow run: the program runs while a heartbeat fiber
 * beats; node executions are persisted as they start and end (HSK-WF-001);
 * the run and job end `completed` (or the caller's success state) or
 * `failed`, each with its event, in one transaction — with the ends of any
 * nodes whose own end write failed (RefusedNodeWrites).
 *
 * Every write the worker makes for its run — heartbeat, node start and
 * finish, the final settle — checks that the run is still the job's active
 * run. If recovery stalled it, or an operator cancelled, resumed or otherwise
 * moved the job, the program is stopped, nothing more is written, and the
 * run ends with `RunLost`.
 *
 * An interrupt is not a cancel: a run interrupted before its program
 * finished (a worker pool shutting down, a caller interrupting `Jobs.run`)
 * releases its job back to `queued` (`Lifecycle.releaseTransition`), so the
 * next claim runs it again under a new run. A program that ends interrupted
 * by itself (`Effect.interrupt`, joining a fiber something else interrupted)
 * while nothing interrupted its run has failed its attempt: released, a pool
 * would claim and run it again at once, for ever.
 *
 * A program that reports a security violation (`ctx.securityViolation`)
 * poisons its job in one transaction and is stopped (securityViolation.ts).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { identity } from "effect/Function"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { AiJob } from "../../domain/AiJob.js"
import { type EventId, NodeExecutionId } from "../../domain/Ids.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import * as RetryPolicy from "../../domain/RetryPolicy.js"
import { type Capabilities, CapabilityDenied, grantDecision, type UnknownCapability, type UnknownProfile } from "../../Capabilities.js"
import { DecodeFailure, formatIssues, IllegalTransition } from "../../domain/Errors.js"
import { JobMetrics, metricBounds } from "../../domain/JobMetrics.js"
import { type Json, JsonPayload } from "../../domain/Json.js"
import type { NodeExecution, WorkflowRun } from "../../domain/WorkflowRun.js"
import type { FlightRecorder } from "../flight/recorder.js"
import type { JobStore, ReadError } from "../../store/JobStore.js"
import { type NotFound, RunNotActive, StorageError } from "../../store/StoreErrors.js"
import { changeOf } from "./committedAnnounce.js"
import { capabilityEvent, lifecycleEvent, type Prepare } from "./auditEvents.js"
import { makeEndRun } from "./endRun.js"
import { makeHeartbeatFailures } from "./heartbeatFailures.js"
import { makeNodeWrites, type NodeEnd } from "./nodeWrites.js"
import { writeAgain } from "./writeAgain.js"
import { cuttable, type DrainCut } from "./settleCut.js"
import { describeCause } from "../describeCause.js"
import { makePoison, SecurityViolation, type ViolationReport } from "./securityViolation.js"
import type { SuccessState } from "./runOptions.js"
import type { WakeUp } from "../wakeUp/wakeUp.js"
import { watchLoss } from "../engine/lossWatch.js"
import { sleep } from "../../util/clockSleep.js"
import { endSpanOf, inFiberContext } from "../flight/jobSpan.js"
import { redactCause, redactExit, withRedactedSpan } from "../redactCause.js"

/**
 * A failed attempt the retry policy takes back: the next attempt's number and
 * its wait, counted from the failure's instant (`requeue`), which the policy
 * does not know when it decides.
 */
export interface Retry {
  readonly attempt: number
  readonly delay: Duration.Duration
}

/** What the engine adds to a run: retries after a failure, and announcements that reach it. */
export interface EngineHooks {
  /** Whether a job whose attempt just failed is tried again (issue 15.1); null: it stays failed. */
  readonly retryAfter: (job: AiJob) => Effect.Effect<Retry | null>
  /** Announces a committed change in process, and lets a run hear that its job was taken (issue 15.5). */
  readonly wakeUp: WakeUp["Type"] | undefined
  /** The policy a program's `ctx.requireCapability` asks; absent, that call is a defect (Jobs always gives it). */
  readonly capabilities?: Capabilities["Type"]
}

const noHooks: EngineHooks = { retryAfter: () => Effect.succeed(null), wakeUp: undefined }

/** What a program gave back, as an Effect: anything else (a Promise, undefined) is a defect naming it. */
const programOf = <A, E, R>(given: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.isEffect(given) ? given : Effect.die(new TypeError(`Jobs.run: the program returned ${given === null ? "null" : typeof given}, not an Effect`))

/**
 * A write for the run (heartbeat, node start or finish, settle) found it no
 * longer its job's active run: recovery stalled it, or an operator moved the
 * job on. The program was stopped and nothing more was written for the run.
 * `status` is the run's status as found (`stalled`, `cancelled`, …).
 */
export class RunLost extends Schema.TaggedError<RunLost>()("RunLost", {
  job_id: Schema.String,
  workflow_run_id: Schema.String,
  status: Schema.String
}) {
  override get message(): string {
    return `Workflow run ${this.workflow_run_id} of job ${this.job_id} is ${this.status}; the run was stopped`
  }
}

/** What a job's program gets: its job, its run, and a way to record nodes. */
export interface RunContext {
  readonly job: AiJob
  readonly run: WorkflowRun
  /**
   * Runs `effect` as one node execution: its input, output or error and its
   * sequence number are persisted; the node ends completed, failed or
   * cancelled (interrupted). If the run was taken away, nothing is written
   * and the program is stopped right there: `Jobs.run` fails with `RunLost`.
   * A write of the node the database fails (unreachable, the connection
   * lost) is written again, as the run's end is, for up to a minute
   * (nodeWrites.ts). One it refuses, or still fails past that, fails the
   * node with that error, and its end is written with the run's end, in that
   * write's transaction: no node stays `running` in a run its worker ended.
   * Called after the run has ended (from a fiber that outlived `Jobs.run`),
   * it writes nothing and fails at once with `RunNotActive` (the run's status).
   */
  readonly node: <A extends Json | void, E, R>(
    spec: { readonly node_id: string; readonly node_type: string; readonly input?: Json | undefined },
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RunNotActive | NotFound | DecodeFailure | ReadError, R>
  /**
   * Reports a security violation found while the job runs. In one transaction
   * the library records a `security_violation` event and marks the job, its
   * running node executions and the run `poisoned` (never retried). The
   * program gets this error back first (it may catch it, e.g. to clean up);
   * then it is stopped — even if it caught the error — and `Jobs.run` fails
   * with `SecurityViolation`. Reported after the run has ended (from a fiber
   * that outlived `Jobs.run`), the violation is recorded on the job and
   * nothing is poisoned: the error names the status the run had ended with.
   */
  readonly securityViolation: (report: ViolationReport) => Effect.Effect<never, SecurityViolation>
  /**
   * Asks the capability policy, before an operation that needs it, whether
   * the job's profile (`job.capability_profile_id`) grants `capabilityId` —
   * an id or an axis with a scope (`proc.exec`, `fs.write:/srv/out`) — and
   * records the decision as one `capability_action` event of the job (R15:
   * actor id the job's `profile_id`, `allow` or `deny`). Granted, it
   * succeeds; denied, it fails with `CapabilityDenied` (`missing` names the
   * id) for the program to handle or let fail the job. An id the registry
   * does not know is `UnknownCapability` (HSK-4001), recorded nowhere: an
   * error, not a decision.
   */
  readonly requireCapability: (
    capabilityId: string
  ) => Effect.Effect<void, CapabilityDenied | UnknownCapability | UnknownProfile | DecodeFailure | StorageError>
}

/** How a successful program ends its job (runOptions.ts checks it before a run is taken). */
export type { SuccessState } from "./runOptions.js"

/** Options of `Jobs.run`. */
export interface RunOptions {
  /**
   * Time between heartbeats. Default 10 s: well under the 30 s recovery
   * threshold. A pool's run beats first one interval after its claim (which
   * wrote the run's heartbeat); `Jobs.run` one interval after its take
   * (`JobStore.takeRun`, which wrote the heartbeat as it took the run).
   */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /**
   * The state a successful run leaves its job in. Default `completed`.
   * Anything else (past the types) is a `DecodeFailure` before the run is
   * taken: `Jobs.run` starts no program and writes nothing; `Jobs.worker` dies.
   */
  readonly onSuccess?: SuccessState | undefined
}

/** Effect spans want a 32-hex trace id; a job's trace id is a UUID, i.e. 32 hex digits with dashes. */
export const jobTraceParent = (job: AiJob) =>
  Tracer.externalSpan({
    traceId: job.trace_id.replaceAll("-", ""),
    spanId: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
    sampled: true
  })

/** The reason a release records when nobody gave one: `Jobs.run` itself was interrupted. */
export const interruptedReason = "released: Jobs.run was interrupted before its program finished"

/** The error of an attempt whose program ended interrupted while nothing interrupted its run. */
export const selfInterrupted = "the program ended interrupted from within (nothing interrupted its run): the attempt failed"

/**
 * A run's node writes that failed (the database refused them: an outage, a
 * dropped statement): each end, as the program saw it, is written again with
 * the run's end, in its transaction, or the node stayed `running` in an ended
 * run for good. Present (perhaps empty) once any node write failed: a failed
 * start may have committed all the same (its answer lost), and such a node,
 * which never ran, ends `cancelled` there too.
 */
type RefusedNodeWrites = Map<NodeExecutionId, NodeEnd>

/** What a node left open by a refused start (its answer lost, its work never begun) ends with. */
export const nodeStartRefused = "not run: the database refused its start (if the start was written all the same, its answer was lost)"

/** How a run ends, as its own worker writes it. */
type Outcome =
  | { readonly to: SuccessState | "failed"; readonly error: string | null; readonly outputs?: Json | null }
  | { readonly to: "queued"; readonly reason: string }

export const makeRunner = (store: JobStore["Type"], recorder: FlightRecorder["Type"], prepare: Prepare, hooks: EngineHooks = noHooks) => {
  const poison = makePoison(store, recorder, prepare)
  const nodeWrites = makeNodeWrites(store)
  const endRun = makeEndRun(store, prepare)

  /** The `RunLost` of a run that is no longer its job's active run, with the run's status as found. */
  const lostRun = (job: AiJob, run: WorkflowRun) =>
    Effect.flatMap(
      Effect.either(store.getRun(run.id)),
      (found) =>
        Effect.fail(new RunLost({
          job_id: job.job_id,
          workflow_run_id: run.id,
          status: Either.isRight(found) ? found.right.status : "deleted"
        }))
    )

  /** `ctx.requireCapability`: the policy's answer for the job's profile, recorded as its `capability_action` event. */
  const checkCapability = (capabilities: Capabilities["Type"], job: AiJob, capabilityId: string) =>
    Effect.gen(function*() {
      // Past the types an id may be no string at all: bad input, not a decision (nor a defect in the policy).
      if (typeof capabilityId !== "string") {
        return yield* new DecodeFailure({ subject: "capability id", issues: [{ path: "", message: "Expected a capability id (a string)" }] })
      }
      const profileId = job.capability_profile_id
      const granted = yield* capabilities.profileCan(profileId, capabilityId)
      const record = yield* prepare(capabilityEvent({
        job_id: job.job_id,
        trace_id: job.trace_id,
        actor_id: job.profile_id,
        decision: grantDecision(profileId, capabilityId, granted)
      }))
      // A fresh event id: AlreadyExists cannot happen, and would be a defect.
      yield* Effect.catchTag(store.appendEvents([record]), "AlreadyExists", Effect.die)
      if (!granted) return yield* new CapabilityDenied({ profile_id: profileId, job_kind: job.job_kind, missing: [capabilityId] })
    })

  /**
   * A failed attempt the retry policy takes back (issue 15.1): the job, just
   * failed, goes back to the queue for attempt `retry.attempt`. In the
   * caller's transaction, with the failure.
   */
  const requeue = (job: AiJob, run: WorkflowRun, before: AiJob, retry: Retry, failed: AiJob) =>
    Effect.gen(function*() {
      const reason = `retry: attempt ${retry.attempt} of ${before.max_attempts}`
      // One instant with the failure it follows (`failed`: the job as its failure left it, its
      // `updated_at` the failure's, never before its last change), not a clock read of its own:
      // each record read the clock, up to a second apart under load, and `run_after` a third
      // reading, so a retry could be due before its own event (found by a new-user probe). Its
      // record sorts after the failure's by event id: minted here, after the failure's (a run's
      // `endId`, this process's), and uuidv7 ids only grow within a process. A clock stepped back
      // cannot put it first either (found by an outside probe).
      const timestamp = failed.updated_at
      // Eligible the chosen wait after the failure: `run_after − failure` is exactly the backoff.
      const run_after = RetryPolicy.eligibleAt(timestamp, retry.delay)
      const requeued = yield* prepare(lifecycleEvent({
        job,
        from: "failed",
        to: "queued",
        workflow_run_id: run.id,
        reason,
        attempt: retry.attempt,
        run_after,
        timestamp
      }))
      return yield* store.transition({
        job_id: job.job_id,
        from: "failed",
        to: "queued",
        attempt: retry.attempt,
        run_after,
        status_reason: reason,
        events: () => [requeued],
        at: timestamp
      })
    })

  /**
   * What the settle records once the run has ended — `ended` is the job as
   * its move left it, `before` as it was while running: the run's duration
   * added to its metrics and its outputs; then, for a failed attempt with
   * attempts left, the job back in the queue. In the caller's transaction.
   */
  const record = (job: AiJob, run: WorkflowRun, before: AiJob, ended: AiJob, outcome: Outcome, durationMs: number) =>
    Effect.gen(function*() {
      const updated = yield* store.updateJob(job.job_id, {
        // Saturating: settling never fails on arithmetic (a huge duration would strand the job).
        metrics: JobMetrics.add(ended.metrics, { duration_ms: durationMs }),
        ...(outcome.to !== "queued" && outcome.outputs !== undefined ? { job_outputs: outcome.outputs } : {}),
        // Part of the move: at its instant, where its record and its run's end are — a clock read
        // now (later) put the job's updated_at past them (found by an outside probe).
        at: ended.updated_at
      })
      const retry = outcome.to === "failed" ? yield* hooks.retryAfter(before) : null
      return retry === null ? updated : yield* requeue(job, run, before, retry, updated)
    })

  /**
   * Ends the nodes a refused write left `running` (RefusedNodeWrites): as
   * the program saw them end, or `cancelled` if their start was refused. A
   * refused end whose commit landed all the same ended its node already. In
   * the caller's transaction, the job locked, before the run ends; the run's
   * lock is taken before its nodes are listed (openNodes.ts). Every program
   * fiber has stopped by then, so no other node is open.
   */
  const endRefusedNodes = (run: WorkflowRun, refused: RefusedNodeWrites) =>
    Effect.gen(function*() {
      yield* store.lockRun(run.id)
      for (const node of yield* store.listNodes(run.id)) {
        if (node.status !== "running") continue
        yield* store.finishNode(node.id, refused.get(node.id) ?? { status: "cancelled", error_message: nodeStartRefused })
      }
    })

  /**
   * Ends the run (endRun.ts) and records its duration and outputs on the job,
   * in one transaction — if the run is still the job's active run; otherwise
   * `RunLost` and nothing is written. The job is locked first, so the check
   * and the writes see the same job. The path of a release (`queued`), and of
   * a store without `settleRun`.
   */
  const settleLocked = (job: AiJob, run: WorkflowRun, outcome: Outcome, durationMs: number, endId: EventId, refused?: RefusedNodeWrites) =>
    store.transaction(Effect.gen(function*() {
      const current = yield* store.lockJob(job.job_id)
      if (current.state !== "running" || current.workflow_run_id !== run.id) return yield* lostRun(job, run)
      if (refused !== undefined) yield* endRefusedNodes(run, refused)
      const ended = yield* endRun(current, run.id, outcome.to === "queued"
        ? { to: "queued", reason: outcome.reason, event_id: endId }
        : { to: outcome.to, error: outcome.error, event_id: endId })
      return yield* record(job, run, current, ended, outcome, durationMs)
    }))

  /**
   * The settle as one write where the store has it (`JobStore.settleRun`):
   * the job moves and its run ends — guarded in that write on the run still
   * being the job's active run — with its outputs, its duration and its
   * lifecycle record (the one `makeEndRun` builds). On PostgreSQL, concurrent
   * workers' settles share that statement and its commit. A run no longer
   * active fails with `RunNotActive` and nothing is written (→ `RunLost`).
   * A failed attempt the retry policy takes back is requeued in the same
   * transaction as its failure.
   */
  const settleRun = store.settleRun
  const settleOne = settleRun === undefined
    ? undefined
    : (job: AiJob, run: WorkflowRun, outcome: Outcome & { readonly to: SuccessState | "failed" }, durationMs: number, endId: EventId) =>
      Effect.gen(function*() {
        // The job as claimed is the job while running: its attempt and retry settings do not change under a run.
        const retry = outcome.to === "failed" ? yield* hooks.retryAfter(job) : null
        const event = yield* prepare(lifecycleEvent({ job, from: "running", to: outcome.to, workflow_run_id: run.id, attempt: job.attempt, event_id: endId }))
        const settle = settleRun({
          job_id: job.job_id,
          workflow_run_id: run.id,
          to: outcome.to,
          // A state change: the run's own end gives no reason, so none stays (not a resume's, R6).
          status_reason: "",
          // A failure's error replaces the job's; a success gives none, so the job keeps an earlier
          // failure's (README: kept until a later failure replaces it) and the run's is null.
          ...(outcome.error !== null ? { error_message: outcome.error } : {}),
          ...(outcome.outputs !== undefined ? { job_outputs: outcome.outputs } : {}),
          // Saturating, as `JobMetrics.add`: settling never fails on arithmetic (nor on a clock stepped back).
          duration_ms: Math.min(Math.max(0, Math.floor(durationMs)), metricBounds.duration_ms),
          event
        })
        return yield* retry === null ? settle : store.transaction(Effect.flatMap(settle, (failed) => requeue(job, run, job, retry, failed)))
      })

  /**
   * A run's end, its lifecycle record `endId`. The same id on every try
   * (settleDurably): a try whose commit landed but whose answer was lost
   * left that record, and the next try, finding the run ended, finds it
   * there — the end is this settle's own, done, not a run taken away.
   * (Written by anyone else, the end has another record: `RunLost`.)
   */
  const settle = (job: AiJob, run: WorkflowRun, outcome: Outcome, durationMs: number, endId: EventId, refused?: RefusedNodeWrites) =>
    // A node write the database refused takes the general path, which ends that node (settleOne writes no node).
    (outcome.to === "queued" || settleOne === undefined || refused !== undefined
      ? settleLocked(job, run, outcome, durationMs, endId, refused)
      : settleOne(job, run, outcome, durationMs, endId)).pipe(
        // Told after the commit: a waiter in this process reads what was committed.
        Effect.tap((settled) => announce(settled)),
        // The run is no longer its job's active run (recovery stalled it, an operator moved the job): not ours.
        Effect.catchIf(
          (error): error is IllegalTransition | RunNotActive => error instanceof IllegalTransition || error instanceof RunNotActive,
          () => lostRun(job, run)
        ),
        Effect.catchIf((error): error is RunLost => error instanceof RunLost, (lost) => endedByItself(job, endId, lost))
      )

  /**
   * `lost`, unless the run's end record `endId` is stored: then an earlier
   * try of this settle committed (its answer lost), and the job as it is now
   * is told to this process's waiters, as that try would have. A failed read
   * is the settle's `StorageError`: tried again with it.
   */
  const endedByItself = (job: AiJob, endId: EventId, lost: RunLost) =>
    Effect.flatMap(store.listEvents({ event_id: endId, limit: 1 }), (found) =>
      !found.items.some((event) => event.event_id === endId)
        ? Effect.fail(lost)
        : Effect.flatMap(Effect.orElseSucceed(store.getJob(job.job_id), () => undefined), (ended) =>
          ended === undefined ? Effect.succeed(job) : Effect.as(announce(ended), ended)))

  /** Tells this process's waiters of a committed change (a no-op where the database announces). */
  const announce = (job: Pick<AiJob, "job_id" | "state" | "job_kind" | "run_after">) =>
    hooks.wakeUp === undefined ? Effect.void : hooks.wakeUp.announce(changeOf(job))

  /**
   * `settle`, written again while the database fails (writeAgain.ts): given
   * up, the job stayed `running` under a run nobody runs and the program's
   * outcome was lost — in a long-lived process with no recovery sweep, for
   * good. A failed settle wrote nothing (one statement or one transaction),
   * so writing it again is safe; a try whose commit landed but whose answer
   * was lost is found by its end record on the next (settle): done, not
   * lost. Past the minute the `StorageError` is returned and the run is
   * recovery's, as before; so it is at once when the run was interrupted
   * (an interrupted run waits for nothing) or inside the caller's
   * transaction. A store that was closed says so at once.
   */
  const settleDurably = (
    job: AiJob,
    run: WorkflowRun,
    outcome: Outcome,
    durationMs: number,
    refused: RefusedNodeWrites | undefined,
    // One end record id for every try: how a try knows an earlier one's commit landed (settle).
    endId: EventId = uuidv7() as EventId
  ) => {
    return writeAgain(store, {
      write: settle(job, run, outcome, durationMs, endId, refused),
      // Any failure of a settle is tried again: it wrote nothing, and a run's end left unwritten is a job stranded.
      outage: () => true,
      closed: (error) => {
        const closed = new StorageError({
          operation: "Jobs.run, writing the run's end (the store was closed: not tried again; the job stays running until recovery stalls its run)",
          cause: error.cause
        })
        return Effect.zipRight(
          Effect.annotateLogs(Effect.logWarning(`job ${job.job_id}: ${closed.message}`), { job_id: job.job_id, workflow_run_id: run.id }),
          Effect.fail(closed)
        )
      },
      job_id: job.job_id,
      workflow_run_id: run.id,
      what: "its run's end",
      inTransaction: "; rolled back, the job is as before it; committed without the end, the run is recovery's",
      interrupted: "the job stays running until recovery stalls its run (its heartbeat late)"
    })
  }

  /**
   * Hands a claimed job back to `queued`, with `reason`: a run interrupted
   * before its program finished, or a claim a closing pool never started. A
   * run already taken away has nothing to hand back.
   */
  const release = (
    job: AiJob,
    claimed: WorkflowRun,
    reason: string,
    durationMs = 0,
    refused?: RefusedNodeWrites
  ): Effect.Effect<void, ReadError | DecodeFailure | StorageError | NotFound> =>
    Effect.asVoid(Effect.catchIf(
      settleDurably(job, claimed, { to: "queued", reason }, durationMs, refused),
      (error) => error instanceof RunLost,
      () => Effect.void
    ))

  /**
   * Closes the scope the program's finalizers (`Effect.addFinalizer`) were added to, once the
   * run's end is written. A finalizer that fails then changes nothing the run wrote: its failure
   * is logged, redacted as a job's error is (R14), and the run answers as its end was written —
   * a completed job is no failed `Jobs.run`, nor a pool's "did not complete".
   */
  const closeRunScope = (scope: Scope.CloseableScope, exit: Exit.Exit<unknown, unknown>, job: AiJob, run: WorkflowRun) =>
    Effect.catchAllCause(Scope.close(scope, exit), (cause) =>
      Effect.annotateLogs(
        Effect.logWarning(`job ${job.job_id}: a finalizer of its program failed after its run ended (what the run wrote stands)`, redactCause(cause, recorder.redact)),
        { job_id: job.job_id, workflow_run_id: run.id }
      ))

  const run = <A extends Json | void, E, R>(
    job: AiJob,
    run: WorkflowRun,
    program: (context: RunContext) => Effect.Effect<A, E, R>,
    options: RunOptions = {},
    /** Read when the run is released (a pool's reason says why it stopped: its drain time, or the service's close). */
    releaseReason: string | (() => string) = interruptedReason,
    /**
     * The run's heartbeat was written just now (a pool runs what it has just
     * claimed or adopted, and the claim wrote it; `Jobs.run` took the run,
     * and the take wrote it): the first beat comes one interval later, the
     * same margin as between any two. Otherwise the first beat is at once.
     */
    justBeaten: boolean = false,
    /** A pool's drain: a run's end written while it shuts down is cut when its drain time passes (drainCut.ts). */
    drain?: DrainCut
  ): Effect.Effect<A, E | RunLost | SecurityViolation | NotFound | ReadError | DecodeFailure, R> => {
    const interval = options.heartbeatInterval ?? Duration.seconds(10)
    // Done once the run's end is written and its scope closed: what a context call that
    // outlived the run (a fiber the program forked as a daemon) waits for before it fails.
    const finished = Deferred.unsafeMake<void>(FiberId.none)

    type Ending = E | RunLost | SecurityViolation | NotFound | ReadError | DecodeFailure
    // Only the program is interruptible: the settling writes always happen, and a
    // caller may wrap this whole effect as uninterruptible without making the program so.
    const body = (scope: Scope.Scope) =>
      Effect.gen(function*() {
        // Completed by the first of: the program's exit, a lost run, a reported violation, a
        // failed watch. Built without Effect steps (as the two below): nothing the run sets up
        // before its program starts costs more than it must (issue 16, pickup).
        const ended = Deferred.unsafeMake<A, Ending>(FiberId.none)
        // Set while a reported violation is written: its own transaction moves the run, so a
        // beat or watch that finds the run taken meanwhile must not end it (and interrupt the
        // program) first. The report ends the run itself, once written, and the program sees
        // the report's error before it is stopped, whatever the interleaving.
        let reporting = false
        /** Ends the run with a failure of the heartbeat or the loss watch, unless a report is being written. */
        const endUnlessReporting = (exit: Exit.Exit<never, Ending>) => {
          if (!reporting) Deferred.unsafeDone(ended, exit)
        }
        // Failed by the first write that finds the run taken away.
        const lost = Deferred.unsafeMake<never, RunLost>(FiberId.none)
        const loseRun = (status: string) =>
          Effect.sync(() => {
            const failed = Exit.fail(new RunLost({ job_id: job.job_id, workflow_run_id: run.id, status }))
            Deferred.unsafeDone(lost, failed)
            endUnlessReporting(failed)
          })
        /** A worker write for this run: if the run is no longer active, report it lost and go on with `then`. */
        const own = <X, Y, Z, Then>(write: Effect.Effect<X, Y, Z>, then: Effect.Effect<never, Then>) =>
          Effect.catchIf(
            write,
            (error): error is Extract<Y, RunNotActive> => error instanceof RunNotActive,
            (error) => Effect.zipRight(loseRun(error.status), then)
          ) as Effect.Effect<X, Exclude<Y, RunNotActive> | Then, Z>

        // Set by the first node write that fails: the nodes it left open are ended with the run.
        let refused: RefusedNodeWrites | undefined
        const refusedWrites = (): RefusedNodeWrites => (refused ??= new Map())
        // Set once the race below has ended: the program is being stopped and the run's end written.
        let over = false
        // Set while the program's fibers are being stopped (their cleanups run): the run waits for them.
        let stopping = false
        const notActive = Effect.flatMap(store.getRun(run.id), (found) => Effect.fail(new RunNotActive({ workflow_run_id: run.id, status: found.status })))
        /**
         * A context call after the run has ended: nothing is written, and nothing would ever stop
         * the fiber (the race that stopped the program is over). Once the end is written, it fails
         * with `RunNotActive` naming the run's status: `RunLost` is `Jobs.run`'s answer, and that
         * call has returned. Made by the program's own cleanup while it is being stopped
         * (`Effect.ensuring`, `onInterrupt`, a release), it fails at once, with the run's status as
         * it then is: the end is written only once that cleanup is over, and waiting for it would
         * hang the run for good (found by an outside probe).
         */
        const runOver = Effect.suspend(() => stopping ? notActive : Effect.zipRight(Deferred.await(finished), notActive))
        const node: RunContext["node"] = (spec, effect) =>
          // Start and finish records are written even if the run is interrupted meanwhile; only the node's own work is interruptible.
          // A node write that finds the run taken away never returns to the program (which might
          // swallow the failure): it waits, interruptibly, for the race below to stop the program —
          // or, in a fiber the race does not stop (forked as a daemon), for the run to end.
          // Read when the node runs, not when it is built: an effect built during the run may run after it.
          Effect.suspend(() => over ? runOver : Effect.uninterruptibleMask((restore) => {
            const stopped = restore(runOver)
            return Effect.gen(function*() {
              const started: NodeExecution = yield* own(
                nodeWrites.start(run, {
                  // Chosen before the write: a start written again after its answer was lost finds it (nodeWrites.ts).
                  id: NodeExecutionId.make(uuidv7()),
                  workflow_run_id: run.id,
                  node_id: spec.node_id,
                  node_type: spec.node_type,
                  input_payload: spec.input ?? null
                }, (error) => error instanceof RunNotActive ? Effect.void : Effect.sync(refusedWrites)),
                stopped
              )
              const exit = yield* Effect.exit(restore(withRedactedSpan(effect, "Jobs.node", {
                attributes: { "hsk.node_id": spec.node_id, "hsk.node_type": spec.node_type, "hsk.sequence": started.sequence },
                // As the run's span: the frame would be redactCause.ts's, not the caller's code.
                captureStackTrace: false
              }, recorder.redact)))
              const end: NodeEnd = Exit.match(exit, {
                onSuccess: (value) => ({ status: "completed" as const, output_payload: (value ?? null) as Json | null }),
                onFailure: (cause) =>
                  Cause.isInterruptedOnly(cause)
                    ? { status: "cancelled" as const, error_message: "interrupted" }
                    : { status: "failed" as const, error_message: describeCause(cause) }
              })
              yield* own(
                nodeWrites.finish(run, started, end, (error) =>
                  error instanceof RunNotActive ? Effect.void : Effect.sync(() =>
                    // An end the port refused (an output no database stores) would be refused again: the node failed, named.
                    refusedWrites().set(started.id, error instanceof DecodeFailure ? { status: "failed", error_message: `its end could not be stored: ${error.message}` } : end))),
                stopped
              )
              return yield* exit
            })
          }))
        // Settled by a reported violation, after its transaction: the error `Jobs.run` returns.
        const stop = Deferred.unsafeMake<never, SecurityViolation | NotFound | DecodeFailure | ReadError>(FiberId.none)
        const securityViolation = (report: ViolationReport) =>
          Effect.uninterruptible(Effect.gen(function*() {
            // After the run has ended, its end is written first: the report then finds the job as the run left it.
            // Made by the program's cleanup while it is being stopped, it is a report made during the run: the
            // end is written only once that cleanup is over, so waiting for it would hang the run for good.
            const late = over && !stopping
            if (late) yield* Deferred.await(finished)
            reporting = true
            const poisoned = yield* Effect.either(poison(job, run, report))
            // Not poisoned because the run had ended by itself (not taken away): the status it ended with.
            const endedAs = late && Either.isRight(poisoned) && !poisoned.right.poisoned && Option.isNone(yield* Deferred.poll(lost))
              ? yield* Effect.option(store.getRun(run.id))
              : Option.none()
            const detail: unknown = report?.detail
            const violation = new SecurityViolation({
              job_id: job.job_id,
              workflow_run_id: run.id,
              // The code as recorded: a report's code no event can hold is recorded (and told) as `unrecordable_violation`.
              violation: Either.isRight(poisoned) ? poisoned.right.violation : typeof report?.violation === "string" ? report.violation : "unspecified",
              ...(typeof detail === "string" ? { detail } : {}),
              poisoned: Either.isRight(poisoned) && poisoned.right.poisoned,
              ...(Option.isSome(endedAs) ? { run_ended: endedAs.value.status } : {})
            })
            const stopped = Exit.fail(Either.isLeft(poisoned) ? poisoned.left : violation)
            Deferred.unsafeDone(stop, stopped)
            Deferred.unsafeDone(ended, stopped)
            return yield* violation
          }))
        const requireCapability = (capabilityId: string) =>
          hooks.capabilities === undefined
            ? Effect.dieMessage("ctx.requireCapability: this runner was built without a capability policy")
            : checkCapability(hooks.capabilities, job, capabilityId)
        const context: RunContext = { job, run, node, securityViolation, requireCapability }

        // Announcements that the job was taken (a cancel from any process) stop the program
        // at once; without them, the next heartbeat does (issue 15.5). Watched from here, before
        // the program starts, so a cancel in between is heard; closed with the run's scope.
        const watch = hooks.wakeUp === undefined ? undefined : watchLoss(hooks.wakeUp, job.job_id, run.id, store.getJob)
        if (watch !== undefined) yield* Scope.addFinalizer(scope, Effect.sync(watch.close))
        const started = yield* Clock.currentTimeMillis
        // A program that throws, or returns no Effect, fails its job as a defect would: outside
        // the fiber, a throw ended this body with the job and its run left `running`.
        // The fiber ends with the program's exit as its value, never failed: a fiber that fails
        // has its raw cause logged by Effect ("Fiber terminated with an unhandled error", at
        // DEBUG) and added to the `Jobs.run` span as an event, the secret the job stores redacted
        // in every logger and tracer (R14, found by an outside probe). The run reports the
        // failure itself, redacted.
        const working = yield* Effect.fork(Effect.exit(Effect.interruptible(Effect.suspend(() => programOf(program(context))))))
        working.addObserver((exit) => {
          // From here the run waits on the library's writes, not the program: its pool's drain says which (settleCut.ts).
          drain?.programEnded(job.job_id)
          Deferred.unsafeDone(ended, Exit.isSuccess(exit) ? exit.value : Exit.failCause(exit.cause))
        })
        // The program's fiber runs first, up to its first wait: the heartbeat and the loss
        // watch are built and forked once it has started, off the way from the claim to the
        // program (issue 16, pickup). Nothing is missed meanwhile: the watch above already
        // records announcements, a node write that finds the run taken fails `lost` itself,
        // and the first beat is due an interval after the claim. A failure of theirs other
        // than an interrupt ends the run like the program's would.
        yield* Effect.yieldNow()
        const beatFailures = makeHeartbeatFailures(job.job_id, run.id)
        // Any interval, longer than Node's longest timer too (on which Effect's Clock would never wake).
        const betweenBeats = sleep(Duration.decode(interval))
        const heartbeats = own(store.heartbeat(run.id), Deferred.await(lost)).pipe(
          // A failed beat is not fatal: the next one may succeed, and if none does, recovery takes the run.
          // Said once a streak (heartbeatFailures.ts), not once a beat.
          Effect.matchEffect({
            onFailure: (e) =>
              e._tag === "StorageError" || e._tag === "CorruptRow"
                ? beatFailures.failed(e)
                : e._tag === "NotFound"
                ? Effect.zipRight(loseRun("deleted"), Deferred.await(lost))
                : Effect.fail(e),
            onSuccess: beatFailures.succeeded
          }),
          Effect.zipRight(betweenBeats),
          Effect.forever,
          justBeaten ? (beats) => Effect.zipRight(betweenBeats, beats) : identity
        )
        const endOnFailure = (exit: Exit.Exit<unknown, Ending>) => {
          if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) endUnlessReporting(exit as Exit.Exit<never, Ending>)
        }
        // Not a child of this fiber: an interrupt of the run (a pool's shutdown, its caller) reaches the
        // children it forked at once, and a program that ignores it runs on — a run whose heartbeat stopped
        // then would be stalled by another process's recovery while its program still runs, and its end
        // refused. It beats until the program has really stopped (`Fiber.interrupt(working)` below).
        const beating = yield* Effect.forkDaemon(Effect.interruptible(heartbeats))
        beating.addObserver(endOnFailure)
        const watching = watch === undefined
          ? undefined
          : yield* Effect.fork(Effect.interruptible(Effect.flatMap(watch.lost, loseRun)))
        watching?.addObserver(endOnFailure)
        // Whichever ends first, failure or success: the program, a lost run, a reported violation.
        const exit = yield* Effect.exit(Effect.interruptible(Deferred.await(ended)))
        over = true
        // However that ended (the program finished, the run was lost, this fiber was
        // interrupted): stop them all and wait until they have, so a node's last write lands
        // before the run is settled or released.
        stopping = true
        yield* Fiber.interrupt(working)
        stopping = false
        yield* Fiber.interrupt(beating)
        if (watching !== undefined) yield* Fiber.interrupt(watching)
        const durationMs = Number((yield* Clock.currentTimeMillis) - started)
        /** The run's end, cut by its pool's drain time when written while the pool shuts down. */
        const settleOwn = (outcome: Outcome) => {
          // The end's record id: what a drain's cut names its statements by (settleCut.ts).
          const endId = uuidv7() as EventId
          return cuttable(drain, store, job.job_id, run.id, endId, settleDurably(job, run, outcome, durationMs, refused, endId))
        }
        // A reported violation has already ended the job (poisoned, or recorded if the run was taken): nothing to settle.
        const reported = yield* Deferred.poll(stop)
        if (Option.isSome(reported)) return yield* reported.value
        // The run was taken away: stop here, whatever the program made of it.
        if (Option.isSome(yield* Deferred.poll(lost))) return yield* Deferred.await(lost)
        if (Exit.isFailure(exit)) {
          if (Cause.isInterruptedOnly(exit.cause)) {
            // Whether this fiber was interrupted (a pool's shutdown, the caller), read from the
            // fiber itself: an interrupt reaches it before it reaches the program it forked (the
            // runtime records the interruptor, then tells the children), so a program stopped that
            // way may well have ended first — only the fiber's own record tells the two apart.
            const interruptedFromOutside = yield* Effect.descriptorWith((fiber) => Effect.succeed(HashSet.size(fiber.interruptors) > 0))
            // An interrupt is not a cancel: hand the job back. But if nobody is shutting down, the
            // program interrupted itself: handed back, the same pool would run it again at once, for ever.
            yield* interruptedFromOutside
              ? release(job, run, typeof releaseReason === "string" ? releaseReason : releaseReason(), durationMs, refused)
              : settleOwn({ to: "failed", error: selfInterrupted })
            return yield* exit
          }
          yield* settleOwn({ to: "failed", error: describeCause(exit.cause) })
          return yield* exit
        }
        // Outputs neither database can store (too deep, U+0000, past MAX_JSON_BYTES…) fail the job, named,
        // rather than failing the settling write and stranding the job in `running`.
        const outputs = Schema.decodeUnknownEither(JsonPayload)(exit.value ?? null)
        if (Either.isLeft(outputs)) {
          const error = new DecodeFailure({ subject: "job outputs", issues: formatIssues(outputs.left) })
          yield* settleOwn({ to: "failed", error: error.message })
          return yield* error
        }
        yield* settleOwn({ to: options.onSuccess ?? "completed", error: null, outputs: outputs.right })
        return exit.value
      })
    // The run's span is the parent of the spans made inside it, and a scope of its own the `Scope`
    // its program sees (closed with the body's exit, after the settle, as `Effect.scoped` did): both
    // put on the fiber and taken off in one `onExit` (inFiberContext), where `Effect.useSpan`,
    // `withParentSpan` and `Effect.scoped` paid ~25 Effect operations more before the program
    // could start (issue 16, pickup). Fibers the body forks inherit both.
    return Effect.uninterruptible(Effect.flatMap(
      Effect.makeSpan("Jobs.run", {
        parent: jobTraceParent(job),
        attributes: { "hsk.job_id": job.job_id, "hsk.trace_id": job.trace_id, "hsk.workflow_run_id": run.id, "hsk.job_kind": job.job_kind },
        // The trace would point here, not at the caller's code: not worth a `new Error()` per run.
        captureStackTrace: false
      }),
      (span) =>
        Effect.flatMap(Scope.make(), (scope) =>
          inFiberContext(
            (context) => Context.add(Context.add(context, Tracer.ParentSpan, span), Scope.Scope, scope),
            body(scope),
            // The span records the failure as the job stores it, redacted (R14): a tracer is outside the database.
            (exit, fiber) => {
              Deferred.unsafeDone(finished, Exit.void)
              drain?.endOver(job.job_id)
              return Effect.zipRight(closeRunScope(scope, exit, job, run), endSpanOf(span, redactExit(exit, recorder.redact), fiber))
            }
          ))
    ))
  }

  return Object.assign(run, { release })
}
