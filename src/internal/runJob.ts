/**
 * Running a job as its workflow run: the program runs while a heartbeat fiber
 * beats; node executions are persisted as they start and end (HSK-WF-001);
 * the run and job end `completed`, `failed` or `cancelled`. If recovery took
 * the run away (its heartbeat finds it no longer running), the program is
 * interrupted and nothing more is written: the operator decides what's next.
 * A program that reports a security violation poisons its job and is stopped
 * (securityViolation.ts).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import type { AiJob } from "../domain/AiJob.js"
import { DecodeFailure, formatIssues, type IllegalTransition } from "../domain/Errors.js"
import { JobMetrics } from "../domain/JobMetrics.js"
import { Json } from "../domain/Json.js"
import type { NodeExecution, WorkflowRun } from "../domain/WorkflowRun.js"
import type { FlightRecorder } from "../FlightRecorder.js"
import type { JobStore, ReadError } from "../store/JobStore.js"
import type { NotFound, RunNotActive } from "../store/StoreErrors.js"
import { lifecycleEvent } from "./auditEvents.js"
import { describeCause } from "./describeCause.js"
import { makePoison, SecurityViolation, type ViolationReport } from "./securityViolation.js"

/** The heartbeat found the run no longer running: recovery (or an operator) took it. */
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
   * sequence number are persisted; the node ends completed, failed or cancelled.
   */
  readonly node: <A extends Json | void, E, R>(
    spec: { readonly node_id: string; readonly node_type: string; readonly input?: Json },
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | NotFound | ReadError, R>
  /**
   * Reports a security violation found while the job runs. In one transaction
   * the library records a `security_violation` event and marks the job, its
   * running node executions and the run `poisoned` (never retried); then the
   * program is stopped — even if it catches this error — and `Jobs.run` fails
   * with `SecurityViolation`.
   */
  readonly securityViolation: (report: ViolationReport) => Effect.Effect<never, SecurityViolation>
}

/** How a successful program ends its job. */
export type SuccessState = "completed" | "completed_with_issues" | "awaiting_validation"

/** Options of `Jobs.run`. */
export interface RunOptions {
  /** Time between heartbeats. Default 10 s: well under the 30 s recovery threshold. */
  readonly heartbeatInterval?: Duration.DurationInput
  /** The state a successful run leaves its job in. Default `completed`. */
  readonly onSuccess?: SuccessState
}

/** Effect spans want a 32-hex trace id; a job's trace id is a UUID, i.e. 32 hex digits with dashes. */
const jobTraceParent = (job: AiJob) =>
  Tracer.externalSpan({
    traceId: job.trace_id.replaceAll("-", ""),
    spanId: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
    sampled: true
  })

export const makeRunner = (store: JobStore["Type"], recorder: FlightRecorder["Type"]) => {
  const prepare = (event: Effect.Effect<unknown>) => Effect.orDie(Effect.flatMap(event, recorder.prepare))

  const poison = makePoison(store, recorder)

  /** Settled by a reported violation: stops the program with the error `Jobs.run` returns. */
  type Stop = Deferred.Deferred<never, SecurityViolation | NotFound | ReadError>

  /** Whether a reported violation has poisoned the run (not when its transaction failed). */
  const poisonedBy = (stop: Stop): Effect.Effect<boolean> =>
    Effect.flatMap(Deferred.poll(stop), Option.match({
      onNone: () => Effect.succeed(false),
      onSome: (stopped) => Effect.map(Effect.flip(stopped), (error) => error instanceof SecurityViolation && error.poisoned)
    }))

  const nodeRunner = (run: WorkflowRun, stop: Stop): RunContext["node"] => (spec, effect) =>
    // Start and finish records are written even if the run is interrupted meanwhile; only the node's own work is interruptible.
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const node: NodeExecution = yield* store.startNode({
          workflow_run_id: run.id,
          node_id: spec.node_id,
          node_type: spec.node_type,
          input_payload: spec.input ?? null
        })
        const exit = yield* Effect.exit(restore(Effect.withSpan(effect, "Jobs.node", {
          attributes: { "hsk.node_id": spec.node_id, "hsk.node_type": spec.node_type, "hsk.sequence": node.sequence }
        })))
        if (yield* poisonedBy(stop)) {
          // The violation's transaction poisoned the nodes running then; this one may have started since.
          yield* Effect.ignore(store.finishNode(node.id, { status: "poisoned", error_message: "Security violation reported" }))
          return yield* exit
        }
        yield* store.finishNode(node.id, Exit.match(exit, {
          onSuccess: (value) => ({ status: "completed" as const, output_payload: (value ?? null) as Json | null }),
          onFailure: (cause) =>
            Cause.isInterruptedOnly(cause)
              ? { status: "cancelled" as const, error_message: "interrupted" }
              : { status: "failed" as const, error_message: describeCause(cause) }
        }))
        return yield* exit
      })
    )

  /** Ends the run and moves the job, with its event, in one transaction. */
  const settle = (job: AiJob, run: WorkflowRun, outcome: {
    readonly to: SuccessState | "failed" | "cancelled"
    readonly error: string | null
    readonly outputs?: Json | null
    readonly durationMs: number
  }) =>
    // Job row first, then the run: the same lock order as every other transition,
    // so a concurrent cancel and a finishing run cannot deadlock on PostgreSQL.
    store.transaction(Effect.gen(function*() {
      const record = yield* prepare(lifecycleEvent({ job, from: "running", to: outcome.to, workflow_run_id: run.id }))
      const moved = yield* store.transition({
        job_id: job.job_id,
        from: "running",
        to: outcome.to,
        error_message: outcome.error,
        events: [record]
      })
      yield* store.updateJob(job.job_id, {
        metrics: new JobMetrics({ ...moved.metrics, duration_ms: moved.metrics.duration_ms + outcome.durationMs }),
        ...(outcome.outputs !== undefined ? { job_outputs: outcome.outputs } : {})
      })
      yield* store.finishRun(run.id, outcome.to, { error_message: outcome.error })
    }))

  return <A extends Json | void, E, R>(
    job: AiJob,
    run: WorkflowRun,
    program: (context: RunContext) => Effect.Effect<A, E, R>,
    options: RunOptions = {}
  ): Effect.Effect<A, E | RunLost | SecurityViolation | NotFound | RunNotActive | ReadError | IllegalTransition | DecodeFailure, R> => {
    const interval = options.heartbeatInterval ?? Duration.seconds(10)
    const heartbeats = store.heartbeat(run.id).pipe(
      Effect.catchTag("RunNotActive", (e) =>
        Effect.fail(new RunLost({ job_id: job.job_id, workflow_run_id: run.id, status: e.status }))),
      // A failed beat is not fatal: the next one may succeed, and if none does, recovery takes the run.
      Effect.catchTags({
        StorageError: (e) => Effect.logWarning("heartbeat failed", e),
        CorruptRow: (e) => Effect.logWarning("heartbeat failed", e),
        NotFound: (e) => Effect.fail(new RunLost({ job_id: job.job_id, workflow_run_id: e.id, status: "deleted" }))
      }),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.zipRight(Effect.never)
    )
    const reportViolation = (stop: Stop) => (report: ViolationReport) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const poisoned = yield* Effect.either(poison(job, run, report))
        const violation = new SecurityViolation({
          job_id: job.job_id,
          workflow_run_id: run.id,
          violation: report.violation,
          ...(report.detail !== undefined ? { detail: report.detail } : {}),
          poisoned: Either.getOrElse(poisoned, () => false)
        })
        yield* Deferred.fail(stop, Either.isLeft(poisoned) ? poisoned.left : violation)
        return yield* violation
      }))

    // Only the program is interruptible: the settling writes always happen, and a
    // caller may wrap this whole effect as uninterruptible without making the program so.
    return Effect.uninterruptible(
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const stop: Stop = yield* Deferred.make<never, SecurityViolation | NotFound | ReadError>()
        const context: RunContext = { job, run, node: nodeRunner(run, stop), securityViolation: reportViolation(stop) }
        const exit = yield* Effect.exit(Effect.interruptible(
          Effect.raceFirst(Effect.raceFirst(program(context), heartbeats), Deferred.await(stop))
        ))
        // A reported violation has already ended the job (poisoned): nothing to settle, whatever the program did after.
        const reported = yield* Deferred.poll(stop)
        if (Option.isSome(reported)) return yield* reported.value
        const durationMs = Number((yield* Clock.currentTimeMillis) - started)
        if (Exit.isFailure(exit)) {
          const lost = Cause.failureOption(exit.cause)
          if (lost._tag === "Some" && lost.value instanceof RunLost) return yield* exit
          const interrupted = Cause.isInterruptedOnly(exit.cause)
          yield* settle(job, run, {
            to: interrupted ? "cancelled" : "failed",
            error: interrupted ? "interrupted" : describeCause(exit.cause),
            durationMs
          })
          return yield* exit
        }
        // Outputs neither database can store (too deep, U+0000…) fail the job, named,
        // rather than failing the settling write and stranding the job in `running`.
        const outputs = Schema.decodeUnknownEither(Json)(exit.value ?? null)
        if (Either.isLeft(outputs)) {
          const error = new DecodeFailure({ subject: "job outputs", issues: formatIssues(outputs.left) })
          yield* settle(job, run, { to: "failed", error: error.message, durationMs })
          return yield* error
        }
        yield* settle(job, run, { to: options.onSuccess ?? "completed", error: null, outputs: outputs.right, durationMs })
        return exit.value
      })
    ).pipe(Effect.withSpan("Jobs.run", {
      parent: jobTraceParent(job),
      attributes: { "hsk.job_id": job.job_id, "hsk.trace_id": job.trace_id, "hsk.workflow_run_id": run.id, "hsk.job_kind": job.job_kind }
    }))
  }
}
