/**
 * The one permit of the store's own SQLite connection (ownClient.ts): whoever
 * holds it is the only one running statements on the connection (one
 * transaction at a time per process).
 *
 * Why not Effect's `Semaphore` (issue 16, h50): taking a free permit there is
 * an async registration resumed at once — 12 Effect operations — and holding
 * it around a change (`withPermits`) 31, on every statement and write
 * transaction. Here a free permit is taken synchronously (`tryTake`), in the
 * caller's uninterruptible region, and given back synchronously (`release`);
 * only a caller that finds it held pays for an async wait.
 *
 * Order: a free permit goes to whoever asks first (as with Effect's
 * semaphore); a released permit is handed to the longest waiter directly,
 * so nobody takes it in between.
 */
import * as Effect from "effect/Effect"

/** A caller waiting for the permit. */
interface Waiter {
  /** Set by `release` when the permit was handed to this waiter. */
  granted: boolean
  /** A writer (`acquireWriter`): `markWaiting` marks it and `failWaitedOut` may fail it. */
  readonly writer: boolean
  /** Set by `markWaiting` (a lock wait's failure path only): this writer has waited since then at the latest. */
  since: number | undefined
  resume: ((effect: Effect.Effect<number | undefined, unknown>) => void) | undefined
}

export class ConnectionLock {
  private held = false
  private readonly waiters: Array<Waiter> = []

  /** Takes the permit if it is free, now. */
  tryTake(): boolean {
    if (this.held) return false
    this.held = true
    return true
  }

  /** Gives the permit back: to the longest waiter, else free. Only its holder calls this. */
  release(): void {
    const next = this.waiters.shift()
    if (next === undefined) {
      this.held = false
      return
    }
    next.granted = true
    next.resume!(Effect.succeed(next.since))
  }

  /**
   * Marks every caller now waiting as waiting since `at` at the latest (one already marked keeps its
   * earlier mark): called when the holder starts waiting for SQLite's write lock, so a writer behind
   * it counts that time against its own budget (transaction.ts `waitingForWriteLock`).
   */
  markWaiting(at: number): void {
    for (const waiter of this.waiters) if (waiter.writer) waiter.since ??= at
  }

  /**
   * Fails, with `error` and without the permit, every writer marked as waiting since `before` or
   * earlier: the holder's wait for SQLite's write lock ran out, and these have waited as long.
   */
  failWaitedOut(before: number, error: unknown): void {
    for (let i = 0; i < this.waiters.length;) {
      const waiter = this.waiters[i]!
      if (waiter.writer && waiter.since !== undefined && waiter.since <= before) {
        this.waiters.splice(i, 1)
        waiter.resume!(Effect.fail(error))
      } else i++
    }
  }

  /**
   * Takes the permit, waiting (interruptibly, through `restore`) while it is
   * held. Run inside `uninterruptibleMask`: once this succeeds the caller
   * holds the permit and must `release` it. An interrupt during the wait
   * takes nothing (or passes on a permit handed over just before it). Its value: since when the caller
   * has waited at the latest, when `markWaiting` marked it; else undefined.
   */
  acquire(restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<void> {
    return Effect.suspend(() => (this.tryTake() ? Effect.void : this.wait(restore, false) as Effect.Effect<unknown, never>))
  }

  /**
   * `acquire` for a writer, which waits for SQLite's write lock once it holds the permit: its value is
   * since when it has waited, when a lock wait ahead of it marked it (`markWaiting`), else undefined;
   * it fails with the error `failWaitedOut` gives it.
   */
  acquireWriter<E>(restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<number | undefined, E> {
    return Effect.suspend(() => (this.tryTake() ? Effect.succeed(undefined) : this.wait(restore, true) as Effect.Effect<number | undefined, E>))
  }

  private wait(
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    writer: boolean
  ): Effect.Effect<number | undefined, unknown> {
    const waiter: Waiter = { granted: false, writer, since: undefined, resume: undefined }
    const waiting = Effect.async<number | undefined, unknown>((resume) => {
      waiter.resume = resume
      this.waiters.push(waiter)
      // Interrupted while waiting: leave the line (a waiter already handed the permit is no longer in it).
      return Effect.sync(() => {
        const at = this.waiters.indexOf(waiter)
        if (at >= 0) this.waiters.splice(at, 1)
      })
    })
    return Effect.onInterrupt(restore(waiting), () => Effect.sync(() => waiter.granted && this.release()))
  }

  /** Runs `effect` holding the permit (interruptible while it waits and while `effect` runs, as `withPermits(1)`). */
  holding<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.uninterruptibleMask((restore) => {
      // Uninterruptible but for `effect`, whose every end `exit` catches: the permit always goes back.
      const held = Effect.flatMap(Effect.exit(restore(effect)), (exit) => {
        this.release()
        return exit
      })
      return Effect.suspend(() => (this.tryTake() ? held : Effect.zipRight(this.wait(restore, false) as Effect.Effect<unknown, never>, held)))
    })
  }
}
