/**
 * The one span rule for Jobs (issue 16): each public operation has one span,
 * `Jobs.<op>`, whose `hsk.job_id` and `hsk.trace_id` attributes name the job
 * it acted on and the trace its Flight Recorder events carry, so a trace
 * viewer leads from the span to the job's audit trail. Store internals are
 * untraced. Annotated outside the store's transaction, whose own span would
 * otherwise be the current one.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Tracer from "effect/Tracer"

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

/** Names the job on a span held directly: no Effect step (a `Jobs.<op>` span is known to its body). */
export const nameJob = (span: Tracer.Span, job: Partial<SpanJob>): void => {
  if (job.job_id !== undefined) span.attribute("hsk.job_id", job.job_id)
  if (job.trace_id !== undefined) span.attribute("hsk.trace_id", job.trace_id)
}

/**
 * `body` as the span `name`, given the span itself so it names its job with
 * `nameJob` — plain attribute writes, where `Effect.annotateCurrentSpan`
 * costs ~7 Effect operations each (issue 16) — wherever the current span is,
 * a store transaction's own included. The same span `Effect.fn(name)` makes,
 * the parent of the spans made inside `body`.
 */
export const withJobSpan = <A, E, R>(name: string, body: (span: Tracer.Span) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, (span) => asParent(span, body(span)))

/**
 * `Effect.withParentSpan(effect, span)` in ~14 Effect operations instead of
 * ~25 (issue 16: a third of a Jobs span's cost): the fiber's context is set
 * and restored around `effect` with `ensuring`, where `provideService`'s
 * `fiberRefLocally` pays a full acquire/release. The restore runs however
 * `effect` ends, interruption included; fibers `effect` forks inherit the
 * span as they would.
 */
const asParent = <A, E, R>(span: Tracer.Span, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const outer = fiber.currentContext
    return Effect.ensuring(
      Effect.zipRight(FiberRef.set(FiberRef.currentContext, Context.add(outer, Tracer.ParentSpan, span)), effect),
      FiberRef.set(FiberRef.currentContext, outer)
    )
  })
