/**
 * The one span rule for Jobs (issue 16): each public operation has one span,
 * `Jobs.<op>`, whose `hsk.job_id` and `hsk.trace_id` attributes name the job
 * it acted on and the trace its Flight Recorder events carry, so a trace
 * viewer leads from the span to the job's audit trail. Store internals are
 * untraced. Annotated outside the store's transaction, whose own span would
 * otherwise be the current one.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
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
 * Where each `Jobs.<op>` span is opened in this package, captured once per
 * name: what `Effect.useSpan` records per call (a `new Error()`, ~13 µs a
 * span, issue 16) — the frame that called `withJobSpan`, shown as the span's
 * `code.stacktrace` when it fails and in a failure's span trace. A name is
 * always opened from the same place (submit.ts, claim.ts, move.ts), so the
 * first call's frame is every call's.
 */
const openedAt = new Map<string, () => string | undefined>()
const stackTraceOf = (name: string): () => string | undefined => {
  let trace = openedAt.get(name)
  if (trace === undefined) {
    const error = new Error()
    // Line 0 is "Error", 1 this function, 2 `withJobSpan`, 3 its caller.
    const frame = error.stack?.split("\n")[3]?.trim()
    trace = () => frame
    openedAt.set(name, trace)
  }
  return trace
}

/** FiberRuntime's own `setFiberRef` (not in the public `RuntimeFiber` type): a fiber-local change without an Effect step. */
interface SettableFiber {
  readonly setFiberRef: <X>(fiberRef: FiberRef.FiberRef<X>, value: X) => void
}
const isSettable = (fiber: object): fiber is SettableFiber => typeof (fiber as Partial<SettableFiber>).setFiberRef === "function"

/**
 * `body` as the span `name`, given the span itself so it names its job with
 * `nameJob` — plain attribute writes, where `Effect.annotateCurrentSpan`
 * costs ~7 Effect operations each (issue 16) — wherever the current span is,
 * a store transaction's own included. The same span `Effect.useSpan(name)`
 * makes, and the parent of the spans made inside `body` as
 * `Effect.withParentSpan` would make it.
 *
 * In ~13 Effect operations where `useSpan` with `withParentSpan` took ~36
 * (issue 16): the span is made once, set as the parent in the fiber's own
 * context by the fiber's `setFiberRef` (with no such setter, `useSpan` and
 * `withParentSpan` as before), and one `onExit` both restores the caller's
 * context and ends the span — however `body` ends, interruption included (the caller's
 * finalizers already see the caller's span). Fibers `body` forks inherit the span.
 */
export const withJobSpan = <A, E, R>(name: string, body: (span: Tracer.Span) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const captureStackTrace = stackTraceOf(name)
  return Effect.withFiberRuntime<A, E, R>((fiber) => {
    // Without the fiber's own setter (another Effect version), Effect's own way: the same span, in more steps.
    if (!isSettable(fiber)) return Effect.useSpan(name, { captureStackTrace }, (span) => Effect.withParentSpan(body(span), span))
    return Effect.flatMap(Effect.makeSpan(name, { captureStackTrace }), (span) => {
      const outer = fiber.currentContext
      fiber.setFiberRef(FiberRef.currentContext, Context.add(outer, Tracer.ParentSpan, span))
      const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      return Effect.onExit(body(span), (exit) =>
        Effect.sync(() => {
          fiber.setFiberRef(FiberRef.currentContext, outer)
          endSpan(span, exit, timed ? clock.unsafeCurrentTimeNanos() : 0n)
        }))
    })
  })
}

/** Ends `span` as `Effect.useSpan` ends its own: a failure carries where the span was opened. */
const endSpan = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>, endTime: bigint): void => {
  if (span.status._tag === "Ended") return
  if (Exit.isFailure(exit)) {
    const trace = openedAt.get(span.name)?.()
    if (trace !== undefined) span.attribute("code.stacktrace", trace)
  }
  span.end(endTime, exit)
}
