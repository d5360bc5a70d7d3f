/**
 * A worker pool (issue 15): `concurrency` loops that claim a job of the
 * pool's kinds and run it. An idle loop waits for the first of: a wake-up
 * that work of its kinds may be there (WakeUp: LISTEN/NOTIFY on PostgreSQL,
 * in process on SQLite), its poll interval — a sleep on Effect's `Clock`, so
 * a test drives it with `TestClock` — or the pool closing.
 *
 * Closing the pool's scope is a graceful shutdown: it stops claiming, lets
 * programs already running finish for up to `drainTimeout` (real time: a
 * `TestClock` never stalls a shutdown), then interrupts the rest, whose jobs
 * the runner releases back to `queued`.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { JobKind } from "../../domain/JobKind.js"
import type { Claim } from "../../store/JobStore.js"
import * as WakeUp from "../../WakeUp.js"
import { sleepRealTime } from "../sleepRealTime.js"

export interface PoolConfig<R> {
  readonly concurrency: number
  readonly pollInterval: Duration.Duration
  readonly drainTimeout: Duration.Duration
  /** The kinds this pool claims; all when absent. */
  readonly kinds: ReadonlyArray<JobKind> | undefined
  /** Claims the next job of `kinds`, or null when there is none. */
  readonly claim: (kinds: ReadonlyArray<JobKind> | undefined) => Effect.Effect<Claim | null, unknown>
  /** Runs a claimed job; `releaseReason` is what a release on shutdown records. */
  readonly run: (claim: Claim, releaseReason: string) => Effect.Effect<unknown, unknown, R>
  /** Where wake-ups come from; none: the pool polls. */
  readonly wakeUp: WakeUp.WakeUp["Type"] | undefined
}

/** Starts the pool in the current scope. */
export const start = <R>(config: PoolConfig<R>): Effect.Effect<void, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const released = `released: the worker shut down before the job finished (drain time ${Duration.format(config.drainTimeout)})`
    // Set when the pool's scope closes: no loop claims again.
    const closing = yield* Deferred.make<void>()
    // One subscription for the pool, taken before the first claim: a job
    // announced while every loop is busy wakes the next loop that goes idle.
    const subscription = config.wakeUp === undefined ? undefined : yield* config.wakeUp.subscribe
    const kinds = config.kinds === undefined ? undefined : new Set(config.kinds)
    const idle = Effect.raceAll([
      Effect.sleep(config.pollInterval),
      Deferred.await(closing),
      ...(subscription === undefined ? [] : [WakeUp.awaitWork(subscription, kinds)])
    ])
    // Uninterruptible between claim and program start, so closing the pool never
    // strands a claimed job in `running`: it is either not claimed, or runs, or is released.
    const iteration = Effect.uninterruptible(Effect.gen(function*() {
      const claim = yield* config.claim(config.kinds)
      if (claim === null) return yield* Effect.interruptible(idle)
      // The job's own failure is recorded on the job; the worker carries on.
      yield* Effect.ignoreLogged(config.run(claim, released))
    })).pipe(
      Effect.catchAllCause((cause) => Effect.zipRight(Effect.logWarning("worker iteration failed", cause), idle))
    )
    const loop: Effect.Effect<void, never, R> = Effect.flatMap(
      Deferred.isDone(closing),
      (done) => (done ? Effect.void : Effect.zipRight(iteration, Effect.suspend(() => loop)))
    )
    const loops: Array<Fiber.RuntimeFiber<void>> = []
    for (let i = 0; i < Math.max(1, config.concurrency); i++) loops.push(yield* Effect.forkScoped(loop))
    // Runs before the scope interrupts the loops (finalizers run in reverse order, and
    // this one is added last): stop claiming, drain, then release what is still running.
    // Finalizers are uninterruptible — and the fiber closing the scope may itself be
    // interrupted already — so the drain deadline runs on a fiber of its own.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Deferred.succeed(closing, undefined)
        const deadline = yield* Effect.forkDaemon(Effect.interruptible(Effect.gen(function*() {
          yield* sleepRealTime(Duration.toMillis(config.drainTimeout))
          yield* Effect.logInfo(`worker pool: drain time ${Duration.format(config.drainTimeout)} passed, releasing unfinished jobs`)
          yield* Fiber.interruptAll(loops)
        })))
        yield* Fiber.awaitAll(loops)
        yield* Fiber.interrupt(deadline)
      })
    )
  })
