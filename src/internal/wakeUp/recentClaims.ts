/**
 * The jobs a worker pool claimed lately, so the second announcement of the
 * same queued job does not wake it again (issue 16, pickup). On PostgreSQL a
 * job submitted in this process is announced twice: at once by `Jobs`, to
 * this process's waiters, and at commit by the database, to every process,
 * this one included. The pool that claimed the job on the first would
 * otherwise look again, for nothing, on the second. (It would find nothing —
 * a claim is guarded — but it is a statement per job.)
 *
 * A job is known by its id and eligible time: a retry (a new attempt, a new
 * `run_after`) is new work. Once the job is announced in any other state
 * than `queued` or `running` (its run ended, an operator moved it), it is
 * forgotten, so a later `queued` with the same eligible time (a resume,
 * back from `awaiting_user`) wakes the pool again. Bounded: the oldest is
 * forgotten first, which costs at most one claim that finds nothing.
 */
import type { JobId } from "../../domain/Ids.js"
import type { JobChanged } from "./signal.js"

const LIMIT = 1024

export class RecentClaims {
  private readonly runAfter = new Map<JobId, number>()

  /** This pool has just claimed `job`. */
  note(job: { readonly job_id: JobId; readonly run_after: number }): void {
    this.runAfter.delete(job.job_id)
    this.runAfter.set(job.job_id, job.run_after)
    if (this.runAfter.size > LIMIT) this.runAfter.delete(this.runAfter.keys().next().value!)
  }

  /**
   * Whether `change` announces a job this pool claimed in the state it
   * claimed it from (a second announcement of the same submit): nothing to
   * look for. Forgets a job announced past its run.
   */
  claimed(change: JobChanged): boolean {
    if (change.state === "queued") return this.runAfter.get(change.job_id) === change.run_after
    if (change.state !== "running") this.runAfter.delete(change.job_id)
    return false
  }
}
