/**
 * A store step written once as a plain synchronous function around its
 * statements (issue 16, the "client cut"): a generator that yields each
 * statement (`[text, params]`) and is given back its rows. It decodes with
 * the synchronous row decoders (rows.ts `decodeNow`) and throws its typed
 * failures (`SqlError`, `AlreadyExists`, `CorruptRow`); anything else it
 * throws is a defect.
 *
 * Why a generator and not `(run) => A`: the same step has to run two ways.
 * On the store's own client (ownClient.ts) every statement runs
 * synchronously (`runNow`, the driver's call in a loop: no Effect operation
 * per statement), and the transaction around it does too (transaction.ts
 * `change`). On a caller's client (`layerFromClient`) a statement is an
 * Effect (the client's connection is acquired asynchronously), so the same
 * generator is driven by `runThrough`, one `exec` per statement. A statement
 * that fails is thrown into the step at its `yield` on both paths, so a step's
 * `try … catch` around a statement (a taken id turned into `AlreadyExists`)
 * means the same on both. The failure of a step becomes the Effect error
 * channel once, where its caller's Effect picks it up (`exitNow`,
 * `runThrough`).
 *
 * A step is passed as a factory (`() => Step<A>`): a generator runs once,
 * and a change may be run again (a group that closed before its turn, a
 * statement retried after SQLITE_BUSY).
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { AlreadyExists, CorruptRow } from "../StoreErrors.js"

/** A row as the driver gives it. */
export type Row = Record<string, unknown>

/** One statement of a step: its text (`?` placeholders) and parameters. */
export type Statement = readonly [text: string, params: ReadonlyArray<unknown>]

/** A step: yields its statements, is given their rows, returns its result. */
export type Step<A> = Generator<Statement, A, ReadonlyArray<Row>>

/** What a step may fail with; anything else it throws is a defect. */
export type StepFailure = SqlError | AlreadyExists | CorruptRow

export const isStepFailure = (thrown: unknown): thrown is StepFailure =>
  thrown instanceof SqlError || thrown instanceof AlreadyExists || thrown instanceof CorruptRow

/** Runs a statement now; throws its `SqlError`. */
export type RunNow = (text: string, params: ReadonlyArray<unknown>) => ReadonlyArray<Row>

/** Runs `step` to its end now, each statement through `run`; throws what the step throws. */
export const runNow = <A>(step: Step<A>, run: RunNow): A => {
  let next = step.next()
  while (next.done !== true) {
    const [text, params] = next.value
    let rows: ReadonlyArray<Row>
    try {
      rows = run(text, params)
    } catch (error) {
      next = step.throw(error)
      continue
    }
    next = step.next(rows)
  }
  return next.value
}

/** A thrown value as a step's exit: a typed failure, else a defect. */
export const thrownExit = (thrown: unknown): Exit.Exit<never, StepFailure> =>
  isStepFailure(thrown) ? Exit.fail(thrown) : Exit.die(thrown)

/** Runs `make()`'s step now, as `runNow`, and gives its end as an exit (never throws). */
export const exitNow = <A>(make: () => Step<A>, run: RunNow): Exit.Exit<A, StepFailure> => {
  try {
    return Exit.succeed(runNow(make(), run))
  } catch (thrown) {
    return thrownExit(thrown)
  }
}

/** Runs one statement as an Effect: the transaction's connection inside one, else the client's (context.ts `Exec`). */
export type ExecEffect = (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, SqlError>

/**
 * Runs `make()`'s step through `exec`, one Effect per statement (a caller's client). `E` is what the step
 * throws, as its author states it (a generator's throws are not typed).
 */
export const runThrough = <A, E extends StepFailure = StepFailure>(make: () => Step<A>, exec: ExecEffect): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const step = make()
    /** Advances the step; what it throws ends the run. */
    const advance = (move: () => IteratorResult<Statement, A>): Effect.Effect<A, E> => {
      let next: IteratorResult<Statement, A>
      try {
        next = move()
      } catch (thrown) {
        return thrownExit(thrown) as Exit.Exit<never, E>
      }
      if (next.done === true) return Effect.succeed(next.value)
      return Effect.matchEffect(exec(next.value[0], next.value[1]), {
        onFailure: (error) => advance(() => step.throw(error)),
        onSuccess: (rows) => advance(() => step.next(rows))
      })
    }
    return advance(() => step.next())
  })
