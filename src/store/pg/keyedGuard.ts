/**
 * A status guard on a row a statement finds by its key (issue 16, h61, h62).
 *
 * Spelt plainly, `id = $1 AND status = 'running'` lets the planner serve the
 * lookup from an index led by status — ai_jobs' (status, created_at, id), the
 * runs' stale-scan order (status, last_heartbeat, id) — or from an index
 * partial on that status whose columns end with the id (the queue's
 * `ai_jobs_claim_idx`, the running runs' heartbeat index), instead of the
 * primary key. With statistics taken when no row had that status, the
 * planner finds that index the cheaper one, and it reads every row with the
 * status (dead versions too) to find one: a complete's cost grew with the
 * running runs, a cancel's with the queue. `(status = 'running') IS TRUE` is
 * the same test (a NULL status passes neither) that no index can serve, so
 * the key is the only way in. test/store/pg-hot-plans.test.ts and
 * pg-keyed-guards.test.ts hold every such statement to it.
 *
 * Not for a statement that finds rows by their status (the claim, recovery's
 * scan, the janitor's and the listings'): their indexes need the plain form.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** `column = 'running'` as a check only; `column` a (qualified) status column. The state is in the text: one text for every call. */
export const isRunning = (sql: SqlClient.SqlClient, column: string): Statement.Fragment =>
  sql.literal(`(${column} = 'running') IS TRUE`)

/** `column = state` as a check only, `state` a parameter (a state the caller names, as a transition's `from`). */
export const hasStatus = (sql: SqlClient.SqlClient, column: string, state: string): Statement.Fragment =>
  sql`(${sql.literal(column)} = ${state}) IS TRUE`

/** `column IN (states)` as a check only (`sql.in`'s own form inside, so no states is `1=0`). */
export const hasStatusIn = (sql: SqlClient.SqlClient, column: string, states: ReadonlyArray<string>): Statement.Fragment =>
  sql`(${sql.in(column, states)}) IS TRUE`
