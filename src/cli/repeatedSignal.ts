/**
 * What a signal repeated while the CLI stops (a second Ctrl-C, a service
 * manager's SIGTERM again) does, when the command running says: `serve` ends
 * its shutdown grace at once, cuts the requests still in flight, closes the
 * store and exits (serveStop.ts). A command that says nothing gets main.ts's
 * rule: the process ends, unless a change has begun (change.ts).
 *
 * main.ts used to end `serve` at once on a repeated signal: no WARN line,
 * no store closed, the requests in flight dropped unanswered.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

let taker: (() => void) | undefined

/** Hands repeated signals to `onRepeat` until the scope closes: for a command that stops in steps it can shorten. */
export const takeRepeatedSignals = (onRepeat: () => void): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      taker = onRepeat
    }),
    () =>
      Effect.sync(() => {
        taker = undefined
      })
  )

/** What takes a repeated signal now, if a command took them. */
export const repeatedSignalTaker = (): (() => void) | undefined => taker
