/**
 * The statuses `finishRun` may end a run with, checked the same way by every
 * store before any SQL runs: the port's type already excludes the others,
 * and a caller who gets past it meets the same typed error on SQLite and
 * PostgreSQL.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure, IllegalTransition } from "../../domain/Errors.js"
import { JobState, JobStates } from "../../domain/JobState.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import type { TransitionTarget } from "../../domain/Lifecycle.js"
import type { WorkflowRun } from "../../domain/WorkflowRun.js"

/** A status a run can end with. */
export type RunEndStatus = Exclude<TransitionTarget, "queued" | "running">

/** `queued` and `running` end nothing; `stalled` is written by recovery alone (R6a). */
const notAnEnd: ReadonlySet<string> = new Set(["queued", "running", "stalled"])

/** Whether `status` is one a run may end with. */
export const isRunEnd = (status: unknown): status is RunEndStatus =>
  typeof status === "string" && (JobStates as ReadonlyArray<string>).includes(status) && !notAnEnd.has(status)

/**
 * Why `run` cannot end with `status` (which `isRunEnd` refused): a job state
 * that ends no run is an `IllegalTransition` of the run's job, as
 * `transition` reports one; anything else is not a state at all.
 */
export const refuseRunEnd = (run: WorkflowRun, status: unknown): Effect.Effect<never, IllegalTransition | DecodeFailure> =>
  Schema.is(JobState)(status)
    ? Effect.fail(new IllegalTransition({ job_id: run.job_id, from: run.status, to: status }))
    : Effect.fail(
      new DecodeFailure({
        subject: "workflow run status",
        issues: [{ path: "", message: `Expected one of ${JobStates.filter((s) => isRunEnd(s)).join(", ")}` }]
      })
    )

/**
 * `settleRun`'s target, checked the same way by every store before any SQL
 * runs: a move out of `running` (`stalled` is recovery's alone, R6a);
 * anything else is the `IllegalTransition` of the settled job.
 */
export const refuseSettleTarget = (jobId: string, to: TransitionTarget): Effect.Effect<void, IllegalTransition> =>
  Lifecycle.allowedFrom(to).includes("running") ? Effect.void : Effect.fail(new IllegalTransition({ job_id: jobId, from: "running", to }))
