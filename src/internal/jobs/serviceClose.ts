/**
 * The Jobs service's end: when the scope of its layer closes (a
 * `ManagedRuntime.dispose()`, an application's shutdown), the `Jobs.run`
 * calls still in flight are interrupted — each releases its job to `queued`,
 * as any interrupt of a run does — and waited for, before the store's own
 * finalizer closes the database (Jobs depends on the store, so its finalizer
 * runs first). Effect interrupts no fiber a caller started (`runPromise`): left
 * running, such a run ended after the store had closed, its end never written,
 * its job `running` until recovery. The worker pools (`Jobs.worker`) running
 * on the service are stopped the same way, in the same bound: a pool's scope
 * is its caller's and may outlive the service, and its loops went on running
 * and claiming against the closed store. Every call made after the close
 * fails at once with a `StorageError` saying so.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { StorageError } from "../../store/StoreErrors.js"

/** How long a closing service waits for its interrupted runs to hand their jobs back. */
export const CLOSE_RELEASE_TIMEOUT = Duration.seconds(10)

/** What a call to a closed Jobs service fails with. */
export const serviceClosed = (operation: string) =>
  new StorageError({ operation, cause: new Error("the Jobs service was closed (the scope of its layer closed)") })

/** The reason a pool's job records when the service's close stopped its program. */
export const releasedOnClose = "released: the Jobs service was closed before the job finished"

/**
 * A worker pool's part in the close: `stop` ends its claiming and interrupts
 * its loops (their runs release their jobs); the close then waits until the
 * pool calls the `done` it was given, once every loop has ended.
 */
export type TrackPool = (stop: (closer: FiberId.FiberId) => Effect.Effect<void>) => (() => void) | undefined

/** The `Jobs.run` calls and worker pools in flight in one service, and whether the service has closed. */
export const makeServiceClose = () => {
  // One entry per call (a fiber may run one job's program inside another's).
  const inFlight = new Set<{ readonly fiber: Fiber.RuntimeFiber<unknown, unknown> }>()
  // One entry per pool, not per job: tracking costs a pool's runs nothing.
  const pools = new Set<{ readonly stop: (closer: FiberId.FiberId) => Effect.Effect<void> }>()
  let closed = false
  const drained = Deferred.unsafeMake<void>(FiberId.none)
  const settled = () => {
    if (closed && inFlight.size === 0 && pools.size === 0) Deferred.unsafeDone(drained, Exit.void)
  }

  /** `run` tracked while it is in flight, or refused once the service has closed. */
  const track = <A, E, R>(operation: string, run: Effect.Effect<A, E, R>): Effect.Effect<A, E | StorageError, R> =>
    Effect.withFiberRuntime((fiber) => {
      if (closed) return Effect.fail(serviceClosed(operation))
      const entry = { fiber }
      inFlight.add(entry)
      return Effect.ensuring(
        run,
        Effect.sync(() => {
          inFlight.delete(entry)
          settled()
        })
      )
    })

  /** A pool tracked until it calls the function returned; undefined once the service has closed. */
  const trackPool: TrackPool = (stop) => {
    if (closed) return undefined
    const entry = { stop }
    pools.add(entry)
    return () => {
      pools.delete(entry)
      settled()
    }
  }

  /** The service's finalizer: refuse new calls, interrupt the runs and stop the pools in flight, wait (bounded) for their releases. */
  const close = Effect.fiberIdWith((closer) =>
    Effect.suspend(() => {
      closed = true
      if (inFlight.size === 0 && pools.size === 0) return Effect.void
      for (const { fiber } of inFlight) fiber.unsafeInterruptAsFork(closer)
      const stopping = Effect.forEach([...pools], ({ stop }) => stop(closer), { discard: true })
      // A finalizer runs uninterruptibly, and a timeout waits for what it times to stop: the wait itself is
      // made interruptible, or a program that ignores the interrupt held the close until it ended.
      return Effect.asVoid(Effect.timeoutOption(Effect.interruptible(Effect.zipRight(stopping, Deferred.await(drained))), CLOSE_RELEASE_TIMEOUT))
    })
  )

  return { track, trackPool, close, isClosed: () => closed }
}
