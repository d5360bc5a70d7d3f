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
 * to stop it (`interruptedAfterChange`).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"

let reported = false

/** Whether a change ran to its end and its report was printed: an interrupt that came meanwhile stopped nothing. */
export const changeReported = (): boolean => reported

/** What `main` prints on stderr when a signal came after the change had begun. */
export const interruptedAfterChange = "note: the signal came after the change had begun: it ran to its end, reported above"

/**
 * Opens `layer` (interruptibly), runs `change` over it and prints its result
 * with `answer`, which an interrupt does not stop. `change` is not stopped
 * either, unless `interruptible`: a change that is one transaction which an
 * interrupt rolls back (a job's move) may be stopped while it waits, and a
 * change in steps that each commit (a purge's batches) between them, when
 * `stopped` prints what was done: the command then exits 128 + the signal.
 */
export const changeThenReport = <ROut, E1, A, E2, R2, E3, R3>(
  layer: Layer.Layer<ROut, E1>,
  change: Effect.Effect<A, E2, ROut | R2>,
  answer: (result: A) => Effect.Effect<void, E3, R3>,
  options: {
    readonly interruptible?: boolean
    /** Prints what an interruptible change had done when an interrupt stopped it (a purge's committed batches). */
    readonly stopped?: Effect.Effect<void, E3, R3>
  } = {}
): Effect.Effect<void, E1 | E2 | E3, Exclude<R2, ROut> | R3> =>
  Effect.scoped(Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const context = yield* restore(Layer.build(layer))
      const provided = Effect.provide(change, context)
      const exit = yield* Effect.exit(options.interruptible === true ? restore(provided) : provided)
      if (Exit.isInterrupted(exit) && options.stopped !== undefined) yield* options.stopped
      const result = yield* exit
      yield* answer(result)
      reported = true
    })
  )) as Effect.Effect<void, E1 | E2 | E3, Exclude<R2, ROut> | R3>
