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
  resume: ((effect: Effect.Effect<void>) => void) | undefined
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
    next.resume!(Effect.void)
  }

  /**
   * Takes the permit, waiting (interruptibly, through `restore`) while it is
   * held. Run inside `uninterruptibleMask`: once this succeeds the caller
   * holds the permit and must `release` it. An interrupt during the wait
   * takes nothing (or passes on a permit handed over just before it).
   */
  acquire(restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<void> {
    return Effect.suspend(() => (this.tryTake() ? Effect.void : this.wait(restore)))
  }

  private wait(restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<void> {
    const waiter: Waiter = { granted: false, resume: undefined }
    const waiting = Effect.async<void>((resume) => {
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
      return Effect.suspend(() => (this.tryTake() ? held : Effect.zipRight(this.wait(restore), held)))
    })
  }
}
