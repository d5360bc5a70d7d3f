/**
 * One check in flight at a time, shared by every caller that asks while it
 * runs. `GET /health` needs no token, so anyone can send many at once: each
 * used to ask the database on its own, and 400 concurrent calls filled the
 * pool until checks timed out and a healthy PostgreSQL read "unreachable"
 * (found by an outside attacker's probe). Now a flood costs one query per
 * check, and every caller gets that check's answer, never an older one.
 *
 * The check runs in `scope`, not in the caller's fiber: a caller that goes
 * away (a client hanging up) leaves it running for the others.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"

/** `check`, shared: a call while one runs waits for that one's result; a call after it ends starts a new one. */
export const sharedCheck = <A, E>(check: Effect.Effect<A, E>, scope: Scope.Scope): Effect.Effect<A, E> => {
  let running: Fiber.RuntimeFiber<A, E> | undefined
  const start = Effect.suspend(() =>
    running !== undefined
      ? Effect.succeed(running)
      : Effect.tap(
        Effect.forkIn(Effect.ensuring(check, Effect.sync(() => { running = undefined })), scope),
        (fiber) => Effect.sync(() => { if (fiber.unsafePoll() === null) running = fiber })
      )
  )
  // Starting is uninterruptible so that a fiber is never forked and then lost to an interrupt before it is recorded.
  return Effect.flatMap(Effect.uninterruptible(start), Fiber.join)
}
