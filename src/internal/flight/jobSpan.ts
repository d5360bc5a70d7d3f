/**
 * The one span rule for Jobs (issue 16): each public operation has one span,
 * `Jobs.<op>`, whose `hsk.job_id` and `hsk.trace_id` attributes name the job
 * it acted on and the trace its Flight Recorder events carry, so a trace
 * viewer leads from the span to the job's audit trail. Store internals are
 * untraced. Annotated outside the store's transaction, whose own span would
 * otherwise be the current one.
 */
import * as Effect from "effect/Effect"

/** The ids a job span carries. */
export interface SpanJob {
  readonly job_id: string
  readonly trace_id: string
}

/** Sets `hsk.job_id` and `hsk.trace_id` on the current span. */
export const annotateJob = (job: SpanJob): Effect.Effect<void> =>
  Effect.annotateCurrentSpan({ "hsk.job_id": job.job_id, "hsk.trace_id": job.trace_id })

/** Runs `effect` and annotates the current span with the job it returns. */
export const tapJob = <A extends SpanJob, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tap(effect, annotateJob)
