/** `failUnreadableJob` on SQLite: a job whose row does not decode, failed from its raw columns. */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { WorkflowRunId } from "../../domain/Ids.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { unreadableJobMove, unreadableJobRecord, type UnreadableJobState } from "../internal/unreadableJob.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import type { JobStore, UnreadableJobFailure } from "../JobStore.js"
import { NotFound } from "../StoreErrors.js"
import { insertText, type SqliteContext } from "./context.js"
import { storageErrors } from "./errors.js"
import { RUN_COLUMNS, storedInstant } from "./rowCodec.js"

const INSERT_RUN = insertText("workflow_runs", RUN_COLUMNS)

export const makeFailUnreadableJob = ({ exec, insertEvents, transaction }: SqliteContext): JobStore["Type"]["failUnreadableJob"] =>
  Effect.fnUntraced(
    function*(failure: UnreadableJobFailure) {
      const at = storedInstant(yield* DateTime.now)
      const { job_id, reason } = failure
      // One write transaction (the caller's when there is one): the job's raw columns, then the writes.
      return yield* transaction.join(Effect.gen(function*() {
        const [state] = yield* exec<UnreadableJobState>(
          "SELECT status, workflow_run_id, trace_id, attempt FROM ai_jobs WHERE id = ?",
          [job_id]
        )
        if (state === undefined) return yield* new NotFound({ entity: "job", id: job_id })
        const move = unreadableJobMove(state)
        if (move === null) return null
        const runId = move.from === "running" ? move.run : WorkflowRunId.make(uuidv7())
        if (move.from === "running") {
          yield* exec(
            "UPDATE ai_jobs SET status = 'failed', status_reason = ?, error_message = ?, updated_at = ? WHERE id = ?",
            [reason, reason, at, job_id]
          )
          yield* exec(
            "UPDATE workflow_runs SET status = 'failed', error_message = ?, updated_at = ? WHERE id = ? AND status = 'running'",
            [reason, at, runId]
          )
        } else {
          yield* exec(INSERT_RUN, [runId, job_id, "failed", at, reason, at, at])
          yield* exec(
            "UPDATE ai_jobs SET status = 'failed', workflow_run_id = ?, status_reason = ?, error_message = ?, updated_at = ? WHERE id = ?",
            [runId, reason, reason, at, job_id]
          )
        }
        yield* insertEvents([unreadableJobRecord(failure, state, move, runId)])
        return runId
      }))
    },
    alreadyExistsAsStorageError("JobStore.failUnreadableJob"),
    storageErrors("JobStore.failUnreadableJob")
  )
