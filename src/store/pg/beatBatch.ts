/**
 * Group commit's heartbeat (issue 16): many runs beaten in one statement, as
 * runs.ts's heartbeat beats one — its commit not waited for (runs.ts says
 * why), each run only while it is its job's active run.
 */
import type { WorkflowRunId } from "../../domain/Ids.js"
import { withNow } from "../internal/now.js"
import type { PgContext } from "./context.js"
import { fixedStatement } from "./fixedStatement.js"
import { BEATEN_COLUMNS } from "./rowCodec.js"
import { decodeEach, instantParam, qualified } from "./rows.js"
import { activeRun, decodeBeaten } from "./runs.js"

/**
 * The statement for `runIds` (distinct): each run as beaten, or undefined
 * where the statement did not beat it — missing, ended, no longer its job's,
 * or held by another transaction (skipped, so one run's lock wait is not the
 * batch's): the caller's own statement tells which.
 */
export const beatRuns = ({ sql, textThenOutside }: Pick<PgContext, "sql" | "textThenOutside">) => {
  const isActive = activeRun(sql)
  // Made once per store, not once per statement: only the columns the beat does not set (runs.ts `decodeBeaten`).
  const beatenColumns = sql.literal(qualified(BEATEN_COLUMNS, "r"))
  // The ids' array is read through a sub-select, which the planner does not look into: every
  // batch size has one plan, so the prepared statement keeps its generic plan. Given the array
  // itself, each custom plan (its elements counted) looked cheaper than the generic one, and
  // every batch was planned anew: ~0.3 ms of the server's time, more than the beat itself.
  // One text for every batch, so it is compiled once (issue 16, as the single beat's in runs.ts).
  const statement = fixedStatement<[ids: string, at: string]>(2, (ids, at) =>
    sql`
        WITH beaten AS (
          SELECT r.id FROM workflow_runs r
          WHERE r.id = ANY((SELECT ${ids}::uuid[])::uuid[]) AND ${isActive}
          FOR NO KEY UPDATE OF r SKIP LOCKED
        )
        UPDATE workflow_runs r SET last_heartbeat = ${at}::timestamptz, updated_at = GREATEST(r.created_at, ${at}::timestamptz), taken = true
        FROM beaten, (SELECT set_config('synchronous_commit', 'off', true)) AS unwaited
        WHERE r.id = beaten.id
        RETURNING ${beatenColumns}`)
  return (runIds: ReadonlyArray<WorkflowRunId>) =>
    withNow((now) =>
      textThenOutside(statement.text, statement.params(`{${runIds.join(",")}}`, instantParam(now)), (rows: ReadonlyArray<{ readonly id: string }>) => {
        const byId = new Map<string, unknown>(rows.map((row) => [row.id, row]))
        return decodeEach(runIds, (runId) => byId.get(runId), (row) => decodeBeaten(row, now))
      }))
}
