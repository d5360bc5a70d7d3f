/**
 * Draining loops the concurrency tests share: claim until the queue is empty,
 * stall until nothing is stale. Each takes the step to repeat (a thunk, so
 * whatever arguments the port's method takes stay the caller's business) and
 * returns what this caller got, for the test to check that no two callers got
 * the same job or run.
 */
import * as Effect from "effect/Effect"

/** Runs `claimNext` until it finds nothing; returns every claim it made, in order. */
export const claimAll = <C, E, R>(claimNext: () => Effect.Effect<C | null, E, R>): Effect.Effect<Array<C>, E, R> =>
  Effect.gen(function*() {
    const claims: Array<C> = []
    for (;;) {
      const claim = yield* claimNext()
      if (claim === null) return claims
      claims.push(claim)
    }
  })

/** Runs `stallBatch` until a batch comes back empty; returns every run it moved, in order. */
export const stallAll = <S, E, R>(stallBatch: () => Effect.Effect<ReadonlyArray<S>, E, R>): Effect.Effect<Array<S>, E, R> =>
  Effect.gen(function*() {
    const moved: Array<S> = []
    for (;;) {
      const batch = yield* stallBatch()
      if (batch.length === 0) return moved
      moved.push(...batch)
    }
  })
