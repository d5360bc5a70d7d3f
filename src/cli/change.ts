/**
 * A command's change and its report, so an interrupt (Ctrl-C, SIGTERM) never
 * leaves the change committed and the operator told nothing. The store's
 * writes are not interrupted once begun (a COMMIT cut short would leave it
 * unknown whether they happened), so an interrupt that came while one waited
 * (on a lock another transaction held) used to land just after it committed:
 * exit 130, nothing printed, the change done.
 *
 * Opening the database stays interruptible: stopped there, nothing changed,
 * and the command exits 128 + the signal's number. Once the change has begun,
 * it runs to its end and its report is printed; the command then exits 0 —
 * it did what it was asked — and says on stderr that the signal came too late
 * to stop it (`interruptedAfterChange`). One that failed fails the command
 * as it would have without the signal: its error line, exit 1 (`changeFailure`).
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"

let reported = false
let begun = false
let failure: Cause.Cause<unknown> | undefined

/** Whether a change ran to its end and its report was printed: an interrupt that came meanwhile stopped nothing. */
export const changeReported = (): boolean => reported

/**
 * Why a change that had begun failed by itself (not stopped by a signal). An
 * interrupt pending meanwhile (a signal that stopped nothing) drops the failure
 * from the fiber's exit before `main` can print it (Effect keeps only the
 * interruption once a handler is met), so `main` reports it from here.
 */
export const changeFailure = (): Cause.Cause<unknown> | undefined => failure

/**
 * Whether a change has begun: a further signal must not end the process from
 * then on (main.ts), or the change would stop half done, or its report be
 * cut short, with nothing said.
 */
export const changeBegun = (): boolean => begun

/** What `main` prints on stderr when a signal came after the change had begun. */
export const interruptedAfterChange = "note: the signal came after the change had begun: it ran to its end, reported above"

/** What `main` prints on stderr, once, when a further signal comes while a change is under way. */
export const finishingChange = "note: finishing the change already begun, then reporting it; the signal does not stop it"

/**
 * Where a change in steps that each commit (a purge's batches) may be stopped
 * by a signal: between them, the rest of the change staying uninterruptible.
 * Interruptible throughout, a step that failed while a signal waited lost its
 * failure at the first handler after the step (Effect then keeps only the
 * interruption): the command said it was stopped and exited 143, the error
 * unsaid, though the signal had stopped nothing.
 */
export const betweenSteps: Effect.Effect<void> = Effect.interruptible(Effect.void)

/**
 * Opens `layer` (interruptibly), runs `change` over it and prints its result
 * with `answer`, which an interrupt does not stop. `change` is not stopped
 * either, unless `interruptible` — a change that is one transaction which an
 * interrupt rolls back (a job's move) may be stopped while it waits — or at
 * its own `betweenSteps`. A change in steps that ends early — stopped so, or
 * failed part-way — has `partial` print what its committed steps did;
 * stopped, the command then exits 128 + the signal, failed, it fails with the
 * change's error.
 */
export const changeThenReport = <ROut, E1, A, E2, R2, E3, R3>(
  layer: Layer.Layer<ROut, E1>,
  change: Effect.Effect<A, E2, ROut | R2>,
  answer: (result: A) => Effect.Effect<void, E3, R3>,
  options: {
    readonly interruptible?: boolean
    /** Prints what a change in steps had done when it ended early: stopped by an interrupt, or failed. */
    readonly partial?: (ended: "stopped" | "failed") => Effect.Effect<void, E3, R3>
  } = {}
): Effect.Effect<void, E1 | E2 | E3, Exclude<R2, ROut> | R3> =>
  Effect.scoped(Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const context = yield* restore(Layer.build(layer))
      const provided = Effect.provide(change, context)
      begun = true
      const exit = yield* Effect.exit(options.interruptible === true ? restore(provided) : provided)
      if (Exit.isFailure(exit)) {
        const ended = Exit.isInterrupted(exit) ? "stopped" : "failed"
        if (ended === "failed") failure = exit.cause
        if (options.partial !== undefined) yield* options.partial(ended)
      }
      const result = yield* exit
      yield* answer(result)
      reported = true
    })
  )) as Effect.Effect<void, E1 | E2 | E3, Exclude<R2, ROut> | R3>
