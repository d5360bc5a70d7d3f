/**
 * A status guard on a row a statement finds by its key (issue 16, h61).
 *
 * Spelt plainly, `id = $1 AND status = 'running'` lets the planner serve the
 * lookup from an index led by status — ai_jobs' (status, created_at, id), the
 * runs' stale-scan order (status, last_heartbeat, id) — instead of the primary
 * key. With statistics taken when no row had that status, the planner finds
 * that index the cheaper one, and it reads every row with the status (dead
 * versions too) to find one: a complete's cost grew with the running runs.
 * `(status = 'running') IS TRUE` is the same test (a NULL status passes
 * neither) that no index can serve, so the key is the only way in.
 * test/store/pg-hot-plans.test.ts holds every hot statement to it.
 *
 * Not for a statement that finds rows by their status (the claim, recovery's
 * scan): their partial and ordered indexes need the plain form.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** `column = 'running'` as a check only; `column` a (qualified) status column. */
export const isRunning = (sql: SqlClient.SqlClient, column: string): Statement.Fragment =>
  sql.literal(`(${column} = 'running') IS TRUE`)
