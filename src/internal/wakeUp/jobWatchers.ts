/**
 * Watching one job's announcements without a subscription of its own (issue
 * 16, pickup). A run must hear that its job was taken (issue 15.5) from
 * before its program starts; a `PubSub` subscription per run cost a scope and
 * ~34 Effect operations on the path from the claim's reply to the program.
 * Here a run registers a callback under its job's id — a Map entry, no Effect
 * step — and the WakeUp service hands every signal it publishes to the
 * callbacks of the job it names, at once, in the publisher's call ("look
 * again" to every callback). A callback must not block or throw: it records
 * the signal and wakes whoever waits on it.
 */
import type { JobId } from "../../domain/Ids.js"
import type { Signal } from "./signal.js"

export type OnSignal = (signal: Signal) => void

export class JobWatchers {
  private readonly byJob = new Map<JobId, Set<OnSignal>>()

  /** Calls `onSignal` with each signal about `jobId` (and each "look again") from now on, until the returned function is called. */
  watch(jobId: JobId, onSignal: OnSignal): () => void {
    let watchers = this.byJob.get(jobId)
    if (watchers === undefined) this.byJob.set(jobId, watchers = new Set())
    watchers.add(onSignal)
    return () => {
      watchers.delete(onSignal)
      if (watchers.size === 0 && this.byJob.get(jobId) === watchers) this.byJob.delete(jobId)
    }
  }

  /** Hands `signal` to the callbacks it concerns. */
  deliver(signal: Signal): void {
    if (this.byJob.size === 0) return
    if (signal._tag === "LookAgain") {
      for (const watchers of [...this.byJob.values()]) for (const onSignal of [...watchers]) onSignal(signal)
      return
    }
    const watchers = this.byJob.get(signal.job_id)
    if (watchers !== undefined) for (const onSignal of [...watchers]) onSignal(signal)
  }

  /** How many jobs are watched (for tests: a run that ended leaves nothing behind). */
  get size(): number {
    return this.byJob.size
  }
}
