/**
 * A `Jobs.run` refused before its run was taken (a bad option, `NotFound`,
 * `JobNotRunning`, `RunTaken`, a failed read) still makes its `Jobs.run` span,
 * ended with the refusal redacted as every failed span is (R14): the look-ups
 * run before the run's own span (runJob.ts), and a refused run made no span at
 * all (found by an outside probe). Only on the failure's path.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { Redact } from "../flight/jobSpan.js"
import { withRedactedSpan } from "../redactCause.js"
import { jobTraceParent } from "./runJob.js"

/**
 * The refusal (`cause`) as the caller gets it, in a `Jobs.run` span naming `jobId` (the
 * caller's text, redacted) or, once read, the `job` — its trace continued, as
 * a run's span continues it — with the job's trace id.
 */
export const refusedRun = <E>(jobId: unknown, job: AiJob | undefined, cause: Cause.Cause<E>, redact: Redact): Effect.Effect<never, E> => {
  const attributes: Record<string, unknown> = job === undefined
    ? typeof jobId === "string" ? { "hsk.job_id": redact(jobId) } : {}
    : { "hsk.job_id": job.job_id, "hsk.trace_id": job.trace_id, "hsk.job_kind": job.job_kind }
  if (job?.workflow_run_id != null) attributes["hsk.workflow_run_id"] = job.workflow_run_id
  return withRedactedSpan(Effect.failCause(cause), "Jobs.run", {
    ...(job === undefined ? {} : { parent: jobTraceParent(job) }),
    attributes,
    // As a run's span: the frame would point here, not at the caller's code.
    captureStackTrace: false
  }, redact)
}
