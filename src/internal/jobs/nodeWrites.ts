/**
 * A run's node writes — a node's start and its end — written again while
 * the database fails (an outage, a connection lost or ended by the server),
 * as the run's end is (writeAgain.ts): given up at once, a short restart
 * failed every job whose node was starting or ending, its attempt spent,
 * though the node's work was done (found by a fault-injection probe). Which
 * failures count as the database failing is the store's rule
 * (store/internal/outage.ts); a refusal — a constraint, an output no
 * database stores — is the write's answer at once, as before.
 *
 * Safe to write again: a try whose commit landed but whose answer was lost
 * is found by the next try before it writes. A start carries the node's id,
 * chosen here (`JobStore.startNode`'s `id`): found by it, the start is done,
 * not a second node. An end whose node is found ended with the same status
 * is done, not written twice: while its run is its job's active run, only
 * its worker writes the node.
 */
import * as Effect from "effect/Effect"
import type { NodeExecutionId } from "../../domain/Ids.js"
import type { NodeExecution, WorkflowRun } from "../../domain/WorkflowRun.js"
import type { JobStore } from "../../store/JobStore.js"
import { isOutage } from "../../store/internal/outage.js"
import { writeAgain } from "./writeAgain.js"

type Store = JobStore["Type"]

/** A node's start as its worker writes it: with the node's id, so a try written again finds an earlier one. */
export type NodeStart = Parameters<Store["startNode"]>[0] & { readonly id: NodeExecutionId }

/** A node's end as its program saw it, for `JobStore.finishNode`. */
export type NodeEnd = Parameters<Store["finishNode"]>[1]

/** What a failed try is told (the runner notes the nodes a failed write may have left open). */
type OnFailure = (error: unknown) => Effect.Effect<void>

export const makeNodeWrites = (store: Store) => {
  const durably = <E>(run: WorkflowRun, what: string, write: Effect.Effect<NodeExecution, E>, again: Effect.Effect<NodeExecution, E>) =>
    writeAgain(store, {
      write,
      again,
      outage: (error) => isOutage(store.dialect, error),
      // A closed store is the node's error, as any refusal: the run's end then says the store was closed.
      closed: Effect.fail,
      job_id: run.job_id,
      workflow_run_id: run.id,
      what,
      inTransaction: "",
      interrupted: "the node is ended with its run"
    })
  /** `run`'s node `id`, if written. */
  const stored = (run: WorkflowRun, id: NodeExecutionId) =>
    Effect.map(store.listNodes(run.id), (nodes) => nodes.find((node) => node.id === id))

  /** Starts `run`'s node `input.id`. */
  const start = (run: WorkflowRun, input: NodeStart, onFailure: OnFailure) => {
    const write = Effect.tapError(store.startNode(input), onFailure)
    return durably(
      run,
      `node execution ${input.id}'s start`,
      write,
      Effect.flatMap(stored(run, input.id), (found) => found !== undefined ? Effect.succeed(found) : write)
    )
  }

  /** Ends `run`'s node `node` as its program saw it end. */
  const finish = (run: WorkflowRun, node: NodeExecution, end: NodeEnd, onFailure: OnFailure) => {
    const write = Effect.tapError(store.finishNode(node.id, end), onFailure)
    return durably(
      run,
      `node execution ${node.id}'s end`,
      write,
      // The node's own row only (its sequence is known), not the run's every node and payload.
      Effect.flatMap(store.listNodes(run.id, { after: node.sequence > 0 ? node.sequence - 1 : undefined, limit: 1 }), ([found]) =>
        found !== undefined && found.id === node.id && found.status === end.status ? Effect.succeed(found) : write)
    )
  }

  return { start, finish }
}
