/**
 * The one span rule for Jobs (issue 16): each public operation has one span,
 * `Jobs.<op>`, whose `hsk.job_id` and `hsk.trace_id` attributes name the job
 * it acted on and the trace its Flight Recorder events carry, so a trace
 * viewer leads from the span to the job's audit trail. Store internals are
 * untraced. Annotated outside the store's transaction, whose own span would
 * otherwise be the current one. A span that ends with a failure ends with it
 * redacted as the recorder redacts caller text (R14: a `DecodeFailure`
 * quoting a bad input, an `UnknownProfile` echoing a profile), while the
 * caller gets its own error value, untouched.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Tracer from "effect/Tracer"
import { redactExit } from "../redactCause.js"

/** The recorder's redaction of caller text (`FlightRecorder.redact`), applied to what a span ends with. */
export type Redact = (text: string) => string

/** The ids a job span carries. */
export interface SpanJob {
  readonly job_id: string
  readonly trace_id: string
}

/**
 * Names the job on a span held directly: no Effect step (a `Jobs.<op>` span
 * is known to its body). An id that is no text (a JS caller's object: a whole
 * request, its inputs) is not put on the span as it is — it may hold anything
 * — only what it was; a failed call's text id is redacted (`shownExit`).
 */
export const nameJob = (span: Tracer.Span, job: Partial<SpanJob>): void => {
  if (job.job_id !== undefined) span.attribute("hsk.job_id", asIdAttribute(job.job_id))
  if (job.trace_id !== undefined) span.attribute("hsk.trace_id", asIdAttribute(job.trace_id))
}

const asIdAttribute = (id: unknown): string =>
  typeof id === "string" ? id : `(not an id: ${id === null ? "null" : Array.isArray(id) ? "an array" : typeof id})`

/**
 * Where each `Jobs.<op>` span is opened in this package, captured once per
 * name: what `Effect.useSpan` records per call (a `new Error()`, ~13 µs a
 * span, issue 16) — the frame that called `withJobSpan`, shown in a failure's
 * span trace (`Cause.pretty`). A name is always opened from the same place
 * (submit.ts, claim.ts, move.ts), so the first call's frame is every call's.
 * Not a span attribute: a `code.stacktrace` is read as the caller's code, and
 * this frame is the library's (the caller's would cost a `new Error()` a call).
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
 * `body` with the fiber's context extended by `extend` (a span as the parent
 * of the spans made inside it, a scope…), restored however `body` ends,
 * interruption included; then `after` runs, given the exit and the fiber, with
 * the caller's context back. Fibers `body` forks inherit the extended context.
 *
 * Set by the fiber's own `setFiberRef` and restored in one `onExit`: no
 * Effect step for either, where `Effect.withParentSpan`, `Effect.scoped` or a
 * `FiberRef.set` each cost several (issue 16). With no such setter (another
 * Effect version), `FiberRef.set`. The one way a `Jobs.<op>` span
 * (`withJobSpan`) and a run's span and scope (runJob.ts) go on the fiber.
 */
export const inFiberContext = <A, E, R>(
  extend: (context: Context.Context<never>) => Context.Context<never>,
  body: Effect.Effect<A, E, R>,
  after: (exit: Exit.Exit<A, E>, fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<void>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const outer = fiber.currentContext
    if (!isSettable(fiber)) {
      return Effect.onExit(
        Effect.zipRight(FiberRef.set(FiberRef.currentContext, extend(outer)), body),
        (exit) => Effect.zipRight(FiberRef.set(FiberRef.currentContext, outer), after(exit, fiber))
      )
    }
    fiber.setFiberRef(FiberRef.currentContext, extend(outer))
    return Effect.onExit(body, (exit) => {
      fiber.setFiberRef(FiberRef.currentContext, outer)
      return after(exit, fiber)
    })
  })

/** The fiber's clock now (when tracer timing is on), as `Effect.useSpan` ends a span. */
const endTimeOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): bigint =>
  fiber.getFiberRef(FiberRef.currentTracerTimingEnabled) ? Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeNanos() : 0n

/** Ends `span` at the fiber's clock (when tracer timing is on), as `Effect.useSpan` does. */
export const endSpanOf = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>, fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.sync(() => endSpan(span, exit, endTimeOf(fiber)))

/**
 * `body`, then `after` with its exit — run synchronously, however `body` ends,
 * interruption included — and that exit as the outcome: `Effect.onExit` for a
 * cleanup that is plain code. The cleanup is no Effect of its own and the
 * exit is not re-entered through a `zipRight`: 3 Effect operations fewer than
 * `onExit` (issue 16). `after` must not throw (a throw would be a defect).
 * `interrupted`, when given, runs before `after` when `body` ended interrupted
 * (so still inside what `after` ends), then the interrupt goes on — in the
 * same frame: nothing more on success.
 */
const onExitSync = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  after: (exit: Exit.Exit<A, E>) => void,
  interrupted?: () => Effect.Effect<void>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.matchCauseEffect(restore(body), {
      onFailure: (cause) => {
        const exit = Exit.failCause(cause)
        if (interrupted !== undefined && Cause.isInterrupted(cause)) {
          return Effect.zipRight(Effect.ensuring(interrupted(), Effect.sync(() => after(exit))), exit)
        }
        after(exit)
        return exit
      },
      onSuccess: (value) => {
        const exit = Exit.succeed(value)
        after(exit)
        return exit
      }
    })
  )

/**
 * `body` as the span `name`, given the span itself so it names its job with
 * `nameJob` — plain attribute writes, where `Effect.annotateCurrentSpan`
 * costs ~7 Effect operations each (issue 16) — wherever the current span is,
 * a store transaction's own included. The same span `Effect.useSpan(name)`
 * makes, and the parent of the spans made inside `body` as
 * `Effect.withParentSpan` would make it; ended however `body` ends,
 * interruption included (the caller's finalizers already see the caller's
 * span). The context is set by the fiber's own `setFiberRef` and restored,
 * with the span ended, in one synchronous cleanup (`onExitSync`): ~10 Effect
 * operations where `useSpan` with `withParentSpan` took ~36 (issue 16).
 * A failure ends the span passed through `redact` (`redactExit`: each
 * failure's name, message and stack, nothing else of the value), in the
 * frame that ends it: a call that succeeds pays one check for it; `body`'s
 * own failure is what the caller gets. Every `Jobs.<op>` passes the
 * recorder's; only a benchmark's bare span (bench/) leaves it out, and then
 * a failure ends the span as it is.
 */
export const withJobSpan = <A, E, R>(
  name: string,
  body: (span: Tracer.Span) => Effect.Effect<A, E, R>,
  redact?: Redact
): Effect.Effect<A, E, R> => spanned(name, stackTraceOf(name), redact, noNote, body)

const noNote = () => undefined

/**
 * What `span` ends with: a failure passed through `redact` (none given: as
 * it is). A failed call's `hsk.job_id` is redacted too: it is the id the
 * caller gave, which is a job's (and holds no secret) only when the call got
 * as far as a job — a `jobs.get("password=…")` is refused, and its span named
 * the text. Only on the failure path.
 */
const shownExit = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>, redact: Redact | undefined) => {
  if (redact === undefined || Exit.isSuccess(exit)) return exit
  const jobId = span.attributes.get("hsk.job_id")
  if (typeof jobId === "string") {
    const shown = redact(jobId)
    if (shown !== jobId) span.attribute("hsk.job_id", shown)
  }
  return redactExit(exit, redact)
}

/**
 * `withJobSpan`, with a `note` made for each run of it and given to `body`;
 * when `body` ends interrupted, `interrupted(note)` runs — uninterruptible,
 * inside the span, as the parent of what it does, the span ended after it —
 * before the interrupt goes on. In the frame that ends
 * the span: a call that is not interrupted pays no Effect operation for it
 * (a claim whose answer an interrupt lost, claimAnswerLost.ts). The one way a
 * `Jobs.<op>` says what to do when it ends interrupted, with what it noted:
 * claimNext, submit, the moves, and start, resume and rework (begin.ts).
 */
export const withJobSpanNoted = <A, E, R, N>(
  name: string,
  redact: Redact,
  note: () => N,
  body: (span: Tracer.Span, note: N) => Effect.Effect<A, E, R>,
  interrupted?: (note: N) => Effect.Effect<void>
): Effect.Effect<A, E, R> => spanned(name, stackTraceOf(name), redact, note, body, interrupted)

/** `withJobSpanNoted`, where the operation was opened given (`stackTraceOf` counts the frames to its caller). */
const spanned = <A, E, R, N>(
  name: string,
  captureStackTrace: () => string | undefined,
  redact: Redact | undefined,
  note: () => N,
  body: (span: Tracer.Span, note: N) => Effect.Effect<A, E, R>,
  interrupted?: (note: N) => Effect.Effect<void>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.makeSpan(name, { captureStackTrace }), (span) =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const noted = note()
      const lost = interrupted === undefined ? undefined : () => interrupted(noted)
      if (!isSettable(fiber)) {
        // The interrupt's path inside the span, as below: before the context is restored and the span ended.
        const inside = lost === undefined ? body(span, noted) : Effect.onExit(body(span, noted), (exit) =>
          Exit.isFailure(exit) && Cause.isInterrupted(exit.cause) ? lost() : Effect.void)
        return inFiberContext((context) => Context.add(context, Tracer.ParentSpan, span), inside, (exit, fiber) => endSpanOf(span, shownExit(span, exit, redact), fiber))
      }
      const outer = fiber.currentContext
      fiber.setFiberRef(FiberRef.currentContext, Context.add(outer, Tracer.ParentSpan, span))
      return onExitSync(body(span, noted), (exit) => {
        fiber.setFiberRef(FiberRef.currentContext, outer)
        // Redacted for the span only: `exit` itself, the caller's error, goes on unchanged.
        endSpan(span, shownExit(span, exit, redact), endTimeOf(fiber))
      }, lost)
    }))

/**
 * Ends `span` as `Effect.useSpan` ends its own, without its `code.stacktrace`: that named where in
 * this package the span was opened (move.ts, Jobs.ts), read as the caller's code (found by an
 * outside probe).
 */
const endSpan = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>, endTime: bigint): void => {
  if (span.status._tag === "Ended") return
  span.end(endTime, exit)
}
