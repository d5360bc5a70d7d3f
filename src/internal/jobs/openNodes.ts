/**
 * Ending a run from outside its program (an operator's cancel, fail or
 * complete of a running job; a reported security violation) ends the node
 * executions it left running too, with the run's own end state, in the
 * move's transaction (R8, HSK-WF-001): the program's own end write for such a
 * node is refused later (`RunNotActive`), so nothing else ever would.
 */
import * as Effect from "effect/Effect"
import type { WorkflowRunId } from "../../domain/Ids.js"
import type { NodeEndStatus } from "../../domain/WorkflowRun.js"
import type { JobStore } from "../../store/JobStore.js"

/**
 * Ends `runId`'s running nodes with `status` and `error`. In the caller's
 * transaction, after `lockJob` and while the run is still its job's active
 * run (a node write requires it), so before the job moves. The run's lock is
 * taken before its nodes are listed: a node start in flight commits first
 * and is listed, and any later one waits and then finds the run ended.
 */
export const endOpenNodes = (store: JobStore["Type"], runId: WorkflowRunId, status: NodeEndStatus, error: string) =>
  Effect.gen(function*() {
    yield* store.lockRun(runId)
    const nodes = yield* store.listNodes(runId)
    for (const node of nodes) {
      if (node.status === "running") yield* store.finishNode(node.id, { status, error_message: error })
    }
  })

/** What an ended node says when the move gave no error: the move's reason, else the run's end. */
export const nodeEndMessage = (to: string, error: string | null | undefined, reason: string | undefined): string =>
  error ?? (reason !== undefined && reason !== "" ? reason : `run ${to}`)
