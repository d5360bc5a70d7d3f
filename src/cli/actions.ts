/**
 * `ai-jobs jobs resume|rework|retry|fail|cancel|pin|unpin <id>`: the operator actions.
 * Each goes through the Jobs service, so it is a guarded change with its
 * Flight Recorder event (actor `human`, `--reason` as the reason), written
 * together or not at all. A job in a state the action does not apply to is
 * refused (exit 1) and nothing changes.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Refusal } from "../Capabilities.js"
import type { AiJob } from "../domain/AiJob.js"
import type { DecodeFailure, IllegalTransition } from "../domain/Errors.js"
import type { JobId } from "../domain/Ids.js"
import type { JobState } from "../domain/JobState.js"
import * as Lifecycle from "../domain/Lifecycle.js"
import type { WorkflowRun } from "../domain/WorkflowRun.js"
import * as Jobs from "../Jobs.js"
import * as Recovery from "../Recovery.js"
import type { ReadError } from "../store/JobStore.js"
import type { NotFound } from "../store/StoreErrors.js"
import { changeThenReport } from "./change.js"
import { databaseOption, resolve, storeLayer } from "./database.js"
import { BadInput, OperationFailed } from "./errors.js"
import { encodeJob, encodeRun, json } from "./format.js"
import { parseJobRef, resolveJobRef } from "./jobRef.js"
import { wrap } from "./layout.js"
import { services } from "./services.js"
import { outputWidth } from "./terminal.js"

/** The job argument of every action. */
export const jobIdArgument = Args.text({ name: "job-id" }).pipe(
  Args.withDescription("The job: its id, its start (4+ hex digits) or its short id (the last 8 hex digits, as tables print it)")
)

const reasonOption = Options.text("reason").pipe(
  Options.withPseudoName("text"),
  Options.withDescription("Why, recorded in the job's Flight Recorder event (and, for a state change, as the job's status reason)"),
  Options.optional
)

const jsonOption = Options.boolean("json").pipe(Options.withDescription("Print the job (and a new workflow run) as JSON"))

/** What an action did: the job after it, and the run it started, if any. */
interface Outcome {
  readonly before: AiJob
  readonly job: AiJob
  readonly run?: WorkflowRun
}

/** How a Jobs call can fail. */
/** A resume or rework the capability policy refuses (`Refusal`) leaves the job `failed`, reported as an operational failure. */
type ActionError = NotFound | IllegalTransition | DecodeFailure | ReadError | Refusal

interface Action {
  readonly name: string
  /** `cancelled`, as in "only queued … jobs can be cancelled". */
  readonly done: string
  readonly description: string
  /** The states it applies to, named when a job in another state is refused (pin and unpin apply to every job). */
  readonly appliesTo: ReadonlyArray<JobState>
  readonly act: (
    jobs: Jobs.Jobs["Type"],
    jobId: JobId,
    options: Jobs.TransitionOptions
  ) => Effect.Effect<{ readonly job: AiJob; readonly run?: WorkflowRun }, ActionError>
  /** The line printed when it is done. */
  readonly report: (outcome: Outcome) => string
}

const moved = (verb: string, { before, job }: Outcome) => `${verb} job ${job.job_id}: ${before.state} → ${job.state}`

const actions: ReadonlyArray<Action> = [
  {
    name: "resume",
    done: "resumed",
    description: "Resume a stalled job under a new workflow run (stalled → running), offered to worker pools: the first pool " +
      "of its kind, in any process, takes it and runs it (at once on PostgreSQL, woken by LISTEN/NOTIFY; at its next poll on SQLite). " +
      "If no pool does, the next recovery stalls it again.",
    // Resume is leaving `stalled` for `running`; start and rework reach `running` from elsewhere.
    appliesTo: ["stalled"],
    act: (jobs, jobId, options) => jobs.resume(jobId, { ...options, handTo: "workers" }),
    report: (outcome) => `${moved("Resumed", outcome)}, under new workflow run ${outcome.run?.id ?? "-"}.`
  },
  {
    name: "rework",
    done: "reworked",
    description: "Rework a job awaiting the user, after the user's input (awaiting_user → running), under a new workflow run " +
      "offered to worker pools, as resume does: the first pool of its kind, in any process, takes it and runs it.",
    appliesTo: ["awaiting_user"],
    act: (jobs, jobId, options) => jobs.rework(jobId, { ...options, handTo: "workers" }),
    report: (outcome) => `${moved("Reworked", outcome)}, under new workflow run ${outcome.run?.id ?? "-"}.`
  },
  {
    name: "retry",
    done: "retried",
    description: "Retry a failed job (failed → queued): the next worker to claim it runs it under a new workflow run. Poisoned jobs are never retried.",
    appliesTo: Lifecycle.allowedFrom("queued"),
    act: (jobs, jobId, options) => Effect.map(jobs.retry(jobId, options), (job) => ({ job })),
    report: (outcome) => `${moved("Retried", outcome)}.`
  },
  {
    name: "fail",
    done: "failed",
    description: "Fail a job that has not finished (→ failed), the reason as its error; a running job's workflow run ends failed too. " +
      "A stalled job that should start over as a new attempt: fail it, then retry it (resume runs it again as it is).",
    appliesTo: Lifecycle.allowedFrom("failed"),
    act: (jobs, jobId, options) => Effect.map(jobs.fail(jobId, options.reason ?? "failed by an operator", options), (job) => ({ job })),
    report: (outcome) => `${moved("Failed", outcome)}.`
  },
  {
    name: "cancel",
    done: "cancelled",
    description: "Cancel a job that has not finished (→ cancelled); a running job's workflow run ends cancelled too.",
    appliesTo: Lifecycle.allowedFrom("cancelled"),
    act: (jobs, jobId, options) => Effect.map(jobs.cancel(jobId, options), (job) => ({ job })),
    report: (outcome) => `${moved("Cancelled", outcome)}.`
  },
  {
    name: "pin",
    done: "pinned",
    description: "Pin a job: pruning never deletes it. Recorded as a Flight Recorder event; pinning a pinned job changes nothing.",
    appliesTo: [],
    act: (jobs, jobId, options) => Effect.map(jobs.pin(jobId, options), (job) => ({ job })),
    report: ({ before, job }) => before.is_pinned ? `Job ${job.job_id} is already pinned; nothing changed.` : `Pinned job ${job.job_id}: pruning keeps it.`
  },
  {
    name: "unpin",
    done: "unpinned",
    description: "Unpin a job: pruning may delete it again once it is old enough. Recorded as a Flight Recorder event.",
    appliesTo: [],
    act: (jobs, jobId, options) => Effect.map(jobs.unpin(jobId, options), (job) => ({ job })),
    report: ({ before, job }) => before.is_pinned ? `Unpinned job ${job.job_id}: pruning may delete it again.` : `Job ${job.job_id} is not pinned; nothing changed.`
  }
]

/** Why an action does not apply to a job in its state, naming the states it applies to. */
const refusal = (action: Action, error: IllegalTransition) => {
  const states = action.appliesTo
  const named = states.length < 2 ? states.join("") : `${states.slice(0, -1).join(", ")} or ${states[states.length - 1]}`
  return new OperationFailed({
    message: `cannot ${action.name} job ${error.job_id}: it is ${error.from}; only jobs that are ${named} can be ${action.done}`
  })
}

const actionCommand = (action: Action) =>
  Command.make(action.name, { database: databaseOption, jobId: jobIdArgument, reason: reasonOption, json: jsonOption }, (options) =>
    Effect.gen(function*() {
      const ref = yield* parseJobRef("job id")(options.jobId)
      const database = yield* resolve(options.database)
      const transition: Jobs.TransitionOptions = {
        actor: "human",
        ...(options.reason._tag === "Some" ? { reason: options.reason.value } : {})
      }
      const change = Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const jobId = yield* resolveJobRef("job id")(ref)
        const before = yield* jobs.get(jobId)
        const after = yield* action.act(jobs, jobId, transition)
        return { before, ...after } satisfies Outcome
      }).pipe(
        Effect.catchTags({
          IllegalTransition: (error) => Effect.fail(refusal(action, error)),
          // Not a refusal that changed nothing: the refused resume or rework failed the job (begin.ts, R15).
          EscalationDenied: (error) => Effect.fail(refusedBegin(action, error)),
          CapabilityDenied: (error) => Effect.fail(refusedBegin(action, error)),
          UnknownProfile: (error) => Effect.fail(refusedBegin(action, error)),
          // The only caller input a Jobs call decodes here is the reason, in its event.
          DecodeFailure: (error) => Effect.fail(new BadInput({ message: `bad --reason: ${error.message.replace(/\s*\n\s*/g, " ")}` }))
        })
      )
      // The move stays interruptible (stopped while it waits on the job's lock, it rolls back and
      // nothing changed); once it has returned, its report is printed whatever came meanwhile.
      yield* changeThenReport(
        services(Recovery.layerNoStartupRecovery).pipe(Layer.provideMerge(storeLayer(database, { migrate: false, create: false }))),
        change,
        (outcome) =>
          options.json
            ? Console.log(json({ job: encodeJob(outcome.job), ...(outcome.run === undefined ? {} : { run: encodeRun(outcome.run) }) }))
            : Console.log(wrap(action.report(outcome), outputWidth())),
        { interruptible: true }
      )
    })).pipe(Command.withDescription(action.description))

/**
 * A resume or rework the capability policy refused, saying what it did: the job is now
 * `failed`. Its message alone read as a refusal that changed nothing, which
 * the other refused actions are (found by an outside probe).
 */
const refusedBegin = (action: Action, error: Refusal): OperationFailed =>
  new OperationFailed({ message: `${error.message}; the capability policy refused the ${action.name}, so the job is now failed (retry queues it again)` })

/** The action commands, in the order help lists them. */
export const actionCommands = actions.map(actionCommand)
