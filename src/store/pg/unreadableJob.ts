/** `failUnreadableJob` on PostgreSQL: a job whose row does not decode, failed from its raw columns. */
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { WorkflowRunId } from "../../domain/Ids.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { unreadableJobMove, unreadableJobRecord, type UnreadableJobState } from "../internal/unreadableJob.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import type { JobStore, UnreadableJobFailure } from "../JobStore.js"
import { NotFound } from "../StoreErrors.js"
import type { PgContext } from "./context.js"
import { storageErrors } from "./errors.js"
import { isRunning } from "./keyedGuard.js"
import { columns, instantParam } from "./rows.js"

type Service = Context.Tag.Service<JobStore>

export const makeFailUnreadableJob = ({ atomic, insertEvents, sql }: PgContext): Service["failUnreadableJob"] => {
  // The run is found by its key; its state is a check only (keyedGuard.ts).
  const runRunning = isRunning(sql, "status")
  return Effect.fnUntraced(
    function*(failure: UnreadableJobFailure) {
      const at = instantParam(yield* DateTime.now)
      const { job_id, reason } = failure
      // The job first (the lock order), its raw columns only.
      const [state] = yield* sql<UnreadableJobState>`
        SELECT status, workflow_run_id, trace_id, attempt FROM ai_jobs WHERE id = ${job_id} FOR NO KEY UPDATE`
      if (state === undefined) return yield* new NotFound({ entity: "job", id: job_id })
      const move = unreadableJobMove(state)
      if (move === null) return null
      const runId = move.from === "running" ? move.run : WorkflowRunId.make(uuidv7())
      if (move.from === "running") {
        yield* sql`
          UPDATE ai_jobs SET status = 'failed', status_reason = ${reason}, error_message = ${reason}, updated_at = ${at}::timestamptz
          WHERE id = ${job_id}`
        yield* sql`
          UPDATE workflow_runs SET status = 'failed', error_message = ${reason}, updated_at = ${at}::timestamptz
          WHERE id = ${runId} AND ${runRunning}`
      } else {
        yield* sql`
          INSERT INTO workflow_runs (${sql.literal(columns.run)})
          VALUES (${runId}, ${job_id}, 'failed', ${at}::timestamptz, ${reason}, ${at}::timestamptz, ${at}::timestamptz)`
        yield* sql`
          UPDATE ai_jobs SET status = 'failed', workflow_run_id = ${runId}, status_reason = ${reason}, error_message = ${reason},
            updated_at = ${at}::timestamptz
          WHERE id = ${job_id}`
      }
      yield* insertEvents([unreadableJobRecord(failure, state, move, runId)])
      return runId
    },
    atomic,
    alreadyExistsAsStorageError("JobStore.failUnreadableJob"),
    storageErrors("JobStore.failUnreadableJob")
  )
}
