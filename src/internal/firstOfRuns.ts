/**
 * A job's runs and a run's node executions, bounded for display (R14: no
 * unbounded output inline). Both are unbounded — a run may have any number
 * of nodes, and every retry, resume or release makes a run — so a job's
 * detail (`GET /jobs/:id`, `ai-jobs jobs show`, `Jobs.history`) reads the first ones of each
 * and says where the rest begin.
 */
import * as Effect from "effect/Effect"
import type { JobId, WorkflowRunId } from "../domain/Ids.js"
import type { NodeExecution, WorkflowRun } from "../domain/WorkflowRun.js"
import type { JobStore } from "../store/JobStore.js"

type Store = JobStore["Type"]

/** The most runs a job's detail (`GET /jobs/:id`, `Jobs.history`) gives inline, the oldest. */
export const DETAIL_RUNS = 100

/** The most node executions of each run a job's detail gives inline, the first in sequence order. */
export const DETAIL_NODES = 1000

/** The first `limit` items read, and the key the rest continue after (null when nothing more follows). */
export interface FirstOf<A, K> {
  readonly items: ReadonlyArray<A>
  readonly next: K | null
}

/** One more than shown is read, so "more follow" is known without a count. */
const cut = <A, K>(read: ReadonlyArray<A>, limit: number, keyOf: (item: A) => K): FirstOf<A, K> =>
  read.length > limit ? { items: read.slice(0, limit), next: keyOf(read[limit - 1]!) } : { items: read, next: null }

/** A run's first `limit` nodes (after sequence `after`, when given), in sequence order; `next`: the last one's sequence. */
export const firstNodes = (store: Store, runId: WorkflowRunId, limit: number, after?: number) =>
  Effect.map(
    store.listNodes(runId, { limit: limit + 1, ...(after === undefined ? {} : { after }) }),
    (read): FirstOf<NodeExecution, number> => cut(read, limit, (node) => node.sequence)
  )

/** A job's first `limit` runs (after the run `after`, when given), oldest first; `next`: the last one's id. */
export const firstRuns = (store: Store, jobId: JobId, limit: number, after?: WorkflowRunId) =>
  Effect.map(
    store.listRuns(jobId, { limit: limit + 1, ...(after === undefined ? {} : { after }) }),
    (read): FirstOf<WorkflowRun, WorkflowRunId> => cut(read, limit, (run) => run.id)
  )
