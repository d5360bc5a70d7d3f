/**
 * How `ai-jobs serve` stops (Ctrl-C, a service manager's SIGTERM): with a
 * deadline. It stops taking connections, gives the requests in flight up to
 * the grace period to end, then interrupts those still running — their
 * database work rolls back — and closes every connection, so the store is
 * released and the process exits before an orchestrator's SIGKILL
 * (Kubernetes waits 30 s) cuts it mid-write. Without a deadline, one request
 * stuck on a database lock held the stop as long as the lock. A repeated
 * signal ends the grace at once (`cutNow`): the same cut, said the same way.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Http from "node:http"
import { sleepRealTime } from "../util/sleepRealTime.js"

/** The grace unless told otherwise: well inside the usual 30 s before a SIGKILL. */
export const DEFAULT_SHUTDOWN_GRACE = Duration.seconds(10)

/**
 * How long the interrupted requests get to end. Most end at once (a SQLite
 * lock wait, a step between statements); one inside a PostgreSQL statement
 * does not (the store's statements are not interruptible): the store, closed
 * next, cancels that statement on the server (pg/cancelOnClose.ts), so it
 * does not commit after the process has gone (README, serve's "Stopping").
 */
const CUT_WAIT_MS = 1000

type RequestFiber = Fiber.RuntimeFiber<unknown, unknown>

/** A grace as the log lines print it: `Duration.format` prints a zero one as a bare `0`. */
const graceText = (grace: Duration.Duration): string => Duration.isZero(grace) ? "0s" : Duration.format(grace)

/**
 * Whichever of `waits` ends first. The stop runs as the main fiber's finalizer, which is
 * uninterruptible, and so would be the race's waits: the loser could not be interrupted,
 * and the race would last as long as the longer one.
 */
const first = (...waits: [Effect.Effect<void>, ...Array<Effect.Effect<void>>]) => Effect.raceAll(waits.map(Effect.interruptible))

/** The server's requests in flight, and its stop. */
export const makeServeStop = () => {
  const inFlight = new Set<RequestFiber>()
  // Completed by a repeated signal (main.ts), from outside any fiber: the grace ends then.
  const cutAsked = Deferred.unsafeMake<void>(FiberId.none)
  let graceCut = false

  /** Ends the grace now, or, before the stop has begun, skips it. */
  const cutNow = () => {
    graceCut = true
    Deferred.unsafeDone(cutAsked, Exit.void)
  }

  /** Waits until no request is in flight. */
  const drained = Effect.whileLoop({
    while: () => inFlight.size > 0,
    body: () => Fiber.await(inFlight.values().next().value!),
    step: () => undefined
  })

  /** The server's middleware: a request is in flight until its answer is handed to Node. */
  const track = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
    Effect.withFiberRuntime((fiber) => {
      inFlight.add(fiber)
      return Effect.ensuring(app, Effect.sync(() => inFlight.delete(fiber)))
    })

  /** Stops `server`: no new connections, `grace` for the requests in flight, then the rest cut. */
  const stop = (server: Http.Server, grace: Duration.Duration) =>
    Effect.gen(function*() {
      // Stops listening; Node closes the idle connections now and each busy one after its answer.
      server.close()
      const waiting = inFlight.size
      if (waiting === 0) return server.closeAllConnections()
      yield* Effect.logInfo(`stopping: no new requests; waiting up to ${graceText(grace)} for ${waiting} request(s) in flight`)
      yield* first(drained, sleepRealTime(Duration.toMillis(grace)), Deferred.await(cutAsked))
      const endedBy = graceCut ? "when a repeated signal ended" : "after"
      const cut = [...inFlight]
      if (cut.length > 0) {
        yield* Effect.forEach(cut, Fiber.interruptFork, { discard: true })
        yield* first(Effect.forEach(cut, Fiber.await, { discard: true }), sleepRealTime(CUT_WAIT_MS))
        yield* Effect.logWarning(
          `stopped: cut ${cut.length} of ${waiting} request(s) still in flight ` +
            `${endedBy} the ${graceText(grace)} grace; ` +
            "their connections closed; work not yet committed was abandoned (a statement PostgreSQL is still running is cancelled as the store closes)"
        )
      } else {
        yield* Effect.logInfo(`stopped: the ${waiting} request(s) in flight finished`)
      }
      server.closeAllConnections()
    })

  return { track, stop, cutNow }
}
