/**
 * A worker pool's drain as a run's end sees it (R8). A run whose program
 * returns while its pool shuts down has its end written on a fiber of its
 * own, registered here: when the drain time passes with that write still
 * waiting on the database (a row lock another session holds, SQLite's write
 * lock), the pool cuts it — the fiber interrupted, and its statement
 * cancelled on the server where the store can (`JobStore.cancelWritesOf`) —
 * instead of waiting up to the store's statement or busy timeout past the
 * drain time. A cut write rolled back whole: the job stays `running` under
 * its run, for recovery to stall, as a release the database refuses leaves
 * it. A run that ends while the pool is not shutting down writes its end
 * inline, as before: nothing is added to a run's way.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { JobStore } from "../../store/JobStore.js"

/** What a pool's run reads of its pool's drain. */
export interface DrainCut {
  /** Whether the pool has begun shutting down. */
  readonly draining: () => boolean
  /** Registers `job_id`'s run's end in flight and how to cut it; the function returned unregisters it. */
  readonly register: (job_id: string, cut: Effect.Effect<void>) => () => void
  /**
   * `job_id`'s program has ended (returned, failed or stopped by an interrupt): until `endOver`, what
   * its run waits for is the library's own write of its end — a release, an outcome — not the program.
   * Plain calls, no Effect step: a run's way is not lengthened.
   */
  readonly programEnded: (job_id: string) => void
  /** `job_id`'s run's end is over (written, failed or cut): what runs after it (its scope's finalizers) is the program's again. */
  readonly endOver: (job_id: string) => void
}

/** The pool's side: the writes in flight, cut at the drain time's end. */
export const makeDrainCuts = (draining: () => boolean) => {
  const writes = new Map<string, Effect.Effect<void>>()
  // Jobs whose program has ended and whose run's end is still being written: what a drain that
  // outlives its interrupt waits on is then the library's write, not a program (R8).
  const ending = new Set<string>()
  const view: DrainCut = {
    draining,
    register: (job_id, cut) => {
      writes.set(job_id, cut)
      return () => writes.delete(job_id)
    },
    programEnded: (job_id) => ending.add(job_id),
    endOver: (job_id) => ending.delete(job_id)
  }
  return {
    view,
    /** The jobs whose program has ended and whose run's end is still being written (cut or not). */
    waiting: (): ReadonlyArray<string> => [...ending],
    /** Cuts every write still in flight, `said` for each (its job's id) first. */
    cutAll: (said: (job_id: string) => Effect.Effect<void>) =>
      Effect.forEach([...writes], ([job_id, cut]) => Effect.zipRight(said(job_id), cut), { discard: true })
  }
}

/**
 * `write` (a run's end), cuttable by its pool's drain when the pool is
 * shutting down; else `write` itself. The run waits for the write's fiber to
 * end either way: written, failed, or cut (then it ends interrupted).
 */
export const cuttable = <A, E>(
  drain: DrainCut | undefined,
  store: JobStore["Type"],
  job_id: string,
  write: Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  drain === undefined || !drain.draining() ? write : Effect.flatMap(
    // Interruptible on its own fiber: only the cut interrupts it (the run's own region stays uninterruptible).
    Effect.fork(Effect.interruptible(write)),
    (fiber) => {
      const cancel = store.cancelWritesOf === undefined ? Effect.void : store.cancelWritesOf(job_id)
      const leave = drain.register(job_id, Effect.zipRight(Fiber.interruptFork(fiber), cancel))
      return Effect.ensuring(Fiber.join(fiber), Effect.sync(leave))
    }
  )
