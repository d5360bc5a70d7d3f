/**
 * A worker pool's drain as a run's end sees it (R8). A run whose program
 * returns while its pool shuts down has its end written on a fiber of its
 * own, registered here: when the drain time passes with that write still
 * waiting on the database (a row lock another session holds, SQLite's write
 * lock), the pool cuts it — the fiber interrupted (a call still in group
 * commit's line, not sent, is withdrawn: store/internal/coalesce.ts), and its
 * statement cancelled on the server where the store can
 * (`JobStore.cancelWritesOf`, by the end's record id: only that write's
 * statements, never another caller's that names the job) — instead of waiting
 * up to the store's statement or busy timeout past the drain time. A cut
 * write rolled back whole: the job stays `running` under its run, for
 * recovery to stall, as a release the database refuses leaves it. The cancel
 * is sent again until the write has ended (cutAgain.ts): an end that shared a
 * group-commit statement runs again alone once that statement is cancelled,
 * and is cut in its turn, while its statement-mates' ends are written by
 * theirs. A run that ends while the pool is not shutting down writes its end
 * inline, as before: nothing is added to a run's way.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { EventId, JobId } from "../../domain/Ids.js"
import type { JobStore } from "../../store/JobStore.js"
import { cutAgain } from "./cutAgain.js"

/** What a pool's run reads of its pool's drain. */
export interface DrainCut {
  /** Whether the pool has begun shutting down. */
  readonly draining: () => boolean
  /**
   * Registers `job_id`'s run's end in flight and how to cut it; the function returned unregisters it and
   * says how the drain ended if it cut the write (`cutAll`'s `when`), else undefined.
   */
  readonly register: (job_id: string, cut: Effect.Effect<void>) => () => string | undefined
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
  const writes = new Map<string, { readonly cut: Effect.Effect<void>; when: string | undefined }>()
  // Jobs whose program has ended and whose run's end is still being written: what a drain that
  // outlives its interrupt waits on is then the library's write, not a program (R8).
  const ending = new Set<string>()
  const view: DrainCut = {
    draining,
    register: (job_id, cut) => {
      const write = { cut, when: undefined as string | undefined }
      writes.set(job_id, write)
      return () => {
        writes.delete(job_id)
        return write.when
      }
    },
    programEnded: (job_id) => ending.add(job_id),
    endOver: (job_id) => ending.delete(job_id)
  }
  return {
    view,
    /** The jobs whose program has ended and whose run's end is still being written (cut or not). */
    waiting: (): ReadonlyArray<string> => [...ending],
    /**
     * Cuts every write still in flight; `when` (how the drain ended: "time 2s passed") is for the WARN
     * each write's run logs once it knows what the cut left (`cuttable`).
     */
    cutAll: (when: string) =>
      Effect.forEach(writes.values(), (write) => {
        write.when = when
        return write.cut
      }, { discard: true })
  }
}

/**
 * The WARN for a cut run's end, once its write has ended: read back, so that
 * it says what the database holds — an end cut before it was sent, or whose
 * statement was cancelled, left the job `running` under its run; one the cut
 * came too late for (already in a statement the cancel missed) was written.
 */
const sayCut = (store: JobStore["Type"], job_id: string, workflow_run_id: string, when: string) => {
  const waited = `worker pool: job ${job_id}: the library's write of its run's end (its program had returned) still waited on the database ` +
    `when the drain ${when}`
  return Effect.annotateLogs(
    Effect.matchEffect(store.getJob(job_id as JobId), {
      onFailure: (error) =>
        Effect.logWarning(`${waited}: cut, but whether any of it was written is unknown (reading the job back failed: ${error.message})`),
      onSuccess: (job) =>
        job.state === "running" && job.workflow_run_id === workflow_run_id
          ? Effect.logWarning(`${waited}: cut (not sent, or its statement cancelled: nothing of it written); the job stays running until recovery stalls its run`)
          : Effect.logWarning(`${waited}: not cut in time (its statement had been sent and was not cancelled): it ended, the job is ${job.state} now`)
    }),
    { job_id, workflow_run_id }
  )
}

/**
 * `write` (a run's end, its record `end_id`), cuttable by its pool's drain when the pool is
 * shutting down; else `write` itself. The run waits for the write's fiber to
 * end either way: written, failed, or cut (then it ends interrupted, and the
 * WARN says what the database holds).
 */
export const cuttable = <A, E>(
  drain: DrainCut | undefined,
  store: JobStore["Type"],
  job_id: string,
  workflow_run_id: string,
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
      return Effect.onExit(Fiber.join(fiber), () => {
        const when = leave()
        return when === undefined ? Effect.void : sayCut(store, job_id, workflow_run_id, when)
      })
    }
  )
