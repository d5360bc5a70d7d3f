/**
 * A job's runs and a run's node executions, bounded for display (R14: no
 * unbounded output inline). Both are unbounded — a run may have any number
 * of nodes, and every retry, resume or release makes a run — so a job's
 * detail (`GET /jobs/:id`, `ai-jobs jobs show`, `Jobs.history`) reads the first ones of each
 * and says where the rest begin.
 */
import * as Effect from "effect/Effect"
import type { JobId, WorkflowRunId } from "../domain/Ids.js"
import type { NodeExecution, NodeSummary, WorkflowRun } from "../domain/WorkflowRun.js"
import type { JobStore } from "../store/JobStore.js"
import { NotFound } from "../store/StoreErrors.js"

type Store = JobStore["Type"]

/** The most runs a job's detail (`GET /jobs/:id`, `Jobs.history`) gives inline, the oldest. */
export const DETAIL_RUNS = 100

/** The most node executions of each run a job's detail gives inline, the first in sequence order. */
export const DETAIL_NODES = 1000

/**
 * The longest payload a job's detail gives inline, in bytes of its stored
 * JSON text: a node's payloads are unbounded, and a detail of 1000 nodes with
 * 40 KB payloads was tens of megabytes (R14). A longer one is a reference.
 */
export const INLINE_PAYLOAD_BYTES = 4096

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

/**
 * `firstNodes` for a view (a job's detail, a page of a run's nodes): each
 * payload longer than `INLINE_PAYLOAD_BYTES` left out by the store (`listNodeSummaries`).
 */
export const firstNodeSummaries = (store: Store, runId: WorkflowRunId, limit: number, after?: number) =>
  Effect.map(
    store.listNodeSummaries(runId, { limit: limit + 1, inlineBytes: INLINE_PAYLOAD_BYTES, ...(after === undefined ? {} : { after }) }),
    (read): FirstOf<NodeSummary, number> => cut(read, limit, (node) => node.sequence)
  )

/**
 * A node summary as a detail shows it: the node's fields, and beside each
 * payload `input_payload_ref` / `output_payload_ref` — null when the payload
 * is inline (or absent), else `{ bytes, ...where }` with the payload null.
 * A client tells them apart by the reference, never by the payload's value.
 */
export const withPayloadRefs = <W extends object>(node: NodeSummary, where: W) => {
  const { input_payload_bytes, output_payload_bytes, ...fields } = node
  return {
    ...fields,
    input_payload_ref: input_payload_bytes === null ? null : { bytes: input_payload_bytes, ...where },
    output_payload_ref: output_payload_bytes === null ? null : { bytes: output_payload_bytes, ...where }
  }
}

/**
 * A run's node at `sequence` in full, as a detail refers to it: one row of
 * the run's sequence key. The run first, in one committed state: a missing
 * run is its own `NotFound`, a missing node the node's (`<run id>/<sequence>`).
 */
export const nodeInFull = (store: Store, runId: WorkflowRunId, sequence: number) =>
  store.readConsistent(Effect.zipRight(
    store.getRun(runId),
    Effect.flatMap(
      store.listNodes(runId, { limit: 1, ...(sequence === 0 ? {} : { after: sequence - 1 }) }),
      ([node]): Effect.Effect<NodeExecution, NotFound> =>
        node?.sequence === sequence ? Effect.succeed(node) : new NotFound({ entity: "node_execution", id: `${runId}/${sequence}` })
    )
  ))

/** A job's first `limit` runs (after the run `after`, when given), oldest first; `next`: the last one's id. */
export const firstRuns = (store: Store, jobId: JobId, limit: number, after?: WorkflowRunId) =>
  Effect.map(
    store.listRuns(jobId, { limit: limit + 1, ...(after === undefined ? {} : { after }) }),
    (read): FirstOf<WorkflowRun, WorkflowRunId> => cut(read, limit, (run) => run.id)
  )
