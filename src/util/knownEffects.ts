/**
 * Effect helpers for results that are usually known already (issue 16): a
 * fast row decode or a vouched record list gives `Effect.succeed(value)`,
 * which is an `Exit`, so their values can be read without running an Effect
 * operation for each.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/** The values of `effects` in order, the first failure failing it all — as `Effect.all`, which runs them when any is not a known success. */
export const allKnown = <A, E, R>(effects: ReadonlyArray<Effect.Effect<A, E, R>>): Effect.Effect<Array<A>, E, R> => {
  const values: Array<A> = []
  for (const effect of effects) {
    if (!Exit.isExit(effect) || Exit.isFailure(effect)) return Effect.all(effects)
    values.push(effect.value as A)
  }
  return Effect.succeed(values)
}

/** `Effect.flatMap` for an effect that is usually a known success: `f` of its value at once, no Effect operation for it. */
export const flatMapKnown = <A, E, R, B, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  f: (value: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> =>
  Exit.isExit(effect) && Exit.isSuccess(effect) ? f(effect.value as A) : Effect.flatMap(effect, f)

/** `Effect.map` for an effect that is usually a known success: the mapped value as a known success, no Effect operation for it. */
export const mapKnown = <A, E, R, B>(effect: Effect.Effect<A, E, R>, f: (value: A) => B): Effect.Effect<B, E, R> =>
  Exit.isExit(effect) && Exit.isSuccess(effect) ? Exit.succeed(f(effect.value as A)) : Effect.map(effect, f)
