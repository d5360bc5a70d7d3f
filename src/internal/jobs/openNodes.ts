/**
 * Ending a run from outside its program (an operator's cancel, fail or
 * complete of a running job; a reported security violation) ends the node
 * executions it left running too, with the run's own end state, in the
 * move's transaction (R8, HSK-WF-001): the program's own end write for such a
 * node is refused later (`RunNotActive`), so nothing else ever would. A
 * stalled job's move ends what its stalled run left running the same way
 * (`endStalledNodes`).
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { WorkflowRunId } from "../../domain/Ids.js"
import type { TransitionTarget } from "../../domain/Lifecycle.js"
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
  endMessage(error, reason, `run ${to}`)

/** The move's error, else its reason, else `otherwise`. */
const endMessage = (error: string | null | undefined, reason: string | undefined, otherwise: string): string =>
  error ?? (reason !== undefined && reason !== "" ? reason : otherwise)

/**
 * A job's move out of `stalled` (an operator's cancel or fail, a resume under
 * a new run, a resume the policy refuses) ends the node executions its
 * stalled run left running, in the move's transaction after `lockJob` (R8,
 * HSK-WF-001). Recovery's stall left them as they were — the run's worker is
 * presumed dead, not known to be — and that worker can write nothing more
 * (`RunNotActive`), so once the job moves on nothing else would end them.
 *
 * A node ends the way the job's move ends the work: `cancelled` for a cancel,
 * `failed` for a fail (a refused resume fails the job too). A resume ends no
 * work of the job — it starts it again under a new run — so the old run's node
 * ends with its run's own state, `stalled`. The run stays `stalled`. Its
 * `error_message` is the move's error, else its reason, else what happened
 * (`run stalled, job cancelled`). Nothing at all for a job not `stalled`: only
 * moves out of `stalled` pay for this look.
 */
export const endStalledNodes = (
  store: JobStore["Type"],
  job: AiJob,
  to: TransitionTarget,
  error: string | null | undefined,
  reason: string | undefined
): Effect.Effect<void, Effect.Effect.Error<ReturnType<JobStore["Type"]["endStalledRunNodes"]>>> => {
  if (job.state !== "stalled" || job.workflow_run_id === null) return Effect.void
  const status = to === "cancelled" || to === "failed" ? to : "stalled"
  const happened = to === "running" ? "run stalled, job resumed under a new run" : `run stalled, job ${to}`
  return Effect.asVoid(store.endStalledRunNodes(job.workflow_run_id, { status, error_message: endMessage(error, reason, happened) }))
}
