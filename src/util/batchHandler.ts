/**
 * A caller's `onBatch`, told of a committed batch (Janitor.prune and
 * purgeEvents, FlightRecorder.enforceRetention, Recovery's scans). An Effect
 * it returns is run. A JS caller's plain function may return a Promise (an
 * `async` handler) or any thenable: it is awaited, so each batch's handler has
 * finished before the next batch starts, and its rejection is never left
 * unhandled (Node ends the process on one). Any other value is ignored.
 *
 * A throw or a rejection ends the caller's loop as an Effect handler's failure
 * does: the handler's type has no error channel, so it is a defect
 * (`Effect.die` with what was thrown), after the batches that committed.
 */
import * as Effect from "effect/Effect"

/** What an `onBatch` may be: an Effect handler, or a JS caller's plain or `async` function. */
export type BatchHandler<A> = (batch: A) => Effect.Effect<void> | PromiseLike<unknown> | void

/** `onBatch` told of `batch` (nothing when there is none), as the module says. */
export const tellBatch = <A>(onBatch: BatchHandler<A> | undefined, batch: A): Effect.Effect<void> =>
  onBatch === undefined ? Effect.void : Effect.suspend(() => {
    const told: unknown = onBatch(batch)
    if (Effect.isEffect(told)) return told as Effect.Effect<void>
    // Promise.resolve adopts a thenable: a `then` that throws becomes a rejection, and so a defect.
    return isThenable(told) ? Effect.promise(() => Promise.resolve(told)) : Effect.void
  })

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { readonly then?: unknown }).then === "function"
