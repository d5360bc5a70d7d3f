/**
 * A worker pool's drain as a run's end sees it (R8). A run whose program
 * returns while its pool shuts down has its end written on a fiber of its
 * own, registered here: when the drain time passes with that write still
 * waiting on the database (a row lock another session holds, SQLite's write
 * lock), the pool cuts it — the fiber interrupted, and its statement
 * cancelled on the server where the store can (`JobStore.cancelWritesOf`, by
 * the end's record id: only that write's statements, never another caller's
 * that names the job) — instead of waiting up to the store's statement or
 * busy timeout past the drain time. A cut write rolled back whole: the job
 * stays `running` under its run, for recovery to stall, as a release the
 * database refuses leaves it. The cancel is sent again until the write has
 * ended (cutAgain.ts): an end that shared a group-commit statement runs again
 * alone once that statement is cancelled, and is cut in its turn, while its
 * statement-mates' ends are written by theirs. A run that ends while the pool
 * is not shutting down writes its end inline, as before: nothing is added to
 * a run's way.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { EventId } from "../../domain/Ids.js"
import type { JobStore } from "../../store/JobStore.js"
import { cutAgain } from "./cutAgain.js"

/** What a pool's run reads of its pool's drain. */
export interface DrainCut {
  /** Whether the pool has begun shutting down. */
  readonly draining: () => boolean
  /** Registers `job_id`'s run's end in flight and how to cut it; the function returned unregisters it. */
  readonly register: (job_id: string, cut: Effect.Effect<void>) => () => void
}

/** The pool's side: the writes in flight, cut at the drain time's end. */
export const makeDrainCuts = (draining: () => boolean) => {
  const writes = new Map<string, Effect.Effect<void>>()
  const view: DrainCut = {
    draining,
    register: (job_id, cut) => {
      writes.set(job_id, cut)
      return () => writes.delete(job_id)
    }
  }
  return {
    view,
    /** The jobs whose run's end is still being written. */
    waiting: (): ReadonlyArray<string> => [...writes.keys()],
    /** Cuts every write still in flight, `said` for each (its job's id) first. */
    cutAll: (said: (job_id: string) => Effect.Effect<void>) =>
      Effect.forEach([...writes], ([job_id, cut]) => Effect.zipRight(said(job_id), cut), { discard: true })
  }
}

/**
 * `write` (a run's end, its record `end_id`), cuttable by its pool's drain
 * when the pool is shutting down; else `write` itself. The run waits for the
 * write's fiber to end either way: written, failed, or cut (then it ends interrupted).
 */
export const cuttable = <A, E>(
  drain: DrainCut | undefined,
  store: JobStore["Type"],
  job_id: string,
  end_id: EventId,
  write: Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  drain === undefined || !drain.draining() ? write : Effect.flatMap(
    // Interruptible on its own fiber: only the cut interrupts it (the run's own region stays uninterruptible).
    Effect.fork(Effect.interruptible(write)),
    (fiber) => {
      const cancel = store.cancelWritesOf
      // Cancelled again until the write has ended (its statement may be sent again: see above); forked, so
      // the pool's other cuts do not wait for it.
      const cut = cancel === undefined
        ? Fiber.interruptFork(fiber)
        : Effect.zipRight(Fiber.interruptFork(fiber), Effect.fork(Effect.raceFirst(cutAgain(cancel(end_id)), Fiber.await(fiber))))
      const leave = drain.register(job_id, Effect.asVoid(cut))
      return Effect.ensuring(Fiber.join(fiber), Effect.sync(leave))
    }
  )
