/**
 * What a worker process (worker-process.ts) tells its parent, one JSON
 * object per stdout line after a `@@` marker. Lines are written with a
 * synchronous write, so everything printed before a SIGKILL reaches the parent.
 */

/** A message from a worker process. */
export type WorkerMessage =
  /** The store is open (migrated) and the services are built. */
  | { readonly t: "ready" }
  /** Startup recovery ended: the runs it moved to stalled. */
  | { readonly t: "recovered"; readonly runs: ReadonlyArray<string> }
  /** About to submit a job with this id: it may or may not be stored if the process dies now. */
  | { readonly t: "intent"; readonly job: string }
  /** The submit committed. */
  | { readonly t: "submitted"; readonly job: string }
  /** A handler started running `job` as run `run`. */
  | { readonly t: "handling"; readonly job: string; readonly run: string }
  /** A periodic recovery scan (concurrent mode) moved these runs. */
  | { readonly t: "scan"; readonly runs: ReadonlyArray<string> }
  /** Something failed that should not have: a defect, or a storage failure. */
  | { readonly t: "error"; readonly where: string; readonly tag: string; readonly code: string | null; readonly detail: string }
  /** Concurrent mode: the process finished its work and is exiting cleanly. */
  | { readonly t: "done" }
  /** sqlite-lock-holder.ts: the write lock is held (`BEGIN IMMEDIATE`), or released again. */
  | { readonly t: "locked" }
  | { readonly t: "released" }
  /** shutdown-worker.ts: SIGTERM arrived; the pool is draining. */
  | { readonly t: "stopping" }
  /** shutdown-worker.ts: the pool's scope closed (drained, unfinished jobs released) `ms` after SIGTERM. */
  | { readonly t: "stopped"; readonly ms: number }
  /** shutdown-worker.ts: a handler finished its program (its job settles next). */
  | { readonly t: "finished"; readonly job: string }
  /** The process could not start (store did not open). */
  | { readonly t: "fatal"; readonly detail: string }

/** The marker in front of every protocol line. */
export const MARK = "@@"

/** Parses one stdout line; other output (logs) is not a message. */
export const parseLine = (line: string): WorkerMessage | null =>
  line.startsWith(MARK) ? JSON.parse(line.slice(MARK.length)) as WorkerMessage : null
