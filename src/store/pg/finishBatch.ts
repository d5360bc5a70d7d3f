/**
 * `finishRunningJob` for many jobs in one statement (issue 16, group
 * commit): what runs.ts's statement does for one job — the job moved by
 * compare-and-set on `running` under a run, its active run ended with the
 * same status, its lifecycle record written only if the job moved, in the
 * lock order — for every end of a batch, with one commit. Each end's own
 * target, reason, error and record travel in one JSON parameter — and, for
 * a worker's settle (`settleRun`), its run (the guard), outputs and duration.
 */
import type * as Statement from "@effect/sql/Statement"
import type * as SqlClient from "@effect/sql/SqlClient"
import { metricBounds } from "../../domain/JobMetrics.js"
import type { RunningJobEnd, RunSettle } from "../JobStore.js"
import type { PgContext } from "./context.js"
import * as Effect from "effect/Effect"
import { movedTimestamp, moveInstant } from "./moveInstant.js"
import { fixedStatement } from "./fixedStatement.js"
import { isRunning } from "./keyedGuard.js"
import { columns, decode, decodeEach, instantParam, qualified } from "./rows.js"

/** `metrics` with `ms` added to its `duration_ms`, saturating at the metric's bound (as `JobMetrics.add`). */
export const addDuration = (sql: SqlClient.SqlClient, metrics: Statement.Fragment, ms: Statement.Fragment) =>
  sql`jsonb_set(${metrics}, '{duration_ms}', to_jsonb(LEAST(COALESCE((${metrics} ->> 'duration_ms')::bigint, 0) + ${ms}, ${
    sql.literal(String(metricBounds.duration_ms))
  })))`

/** One end as the statement reads it (`jsonb_to_recordset`). */
const endRow = (end: RunningJobEnd | RunSettle) => ({
  job_id: end.job_id,
  target: end.to,
  reason_given: end.status_reason !== undefined,
  status_reason: end.status_reason ?? null,
  error_given: end.error_message !== undefined,
  error_message: end.error_message ?? null,
  event_id: end.event.event_id,
  event_at: instantParam(end.event.timestamp),
  actor: end.event.actor,
  type: end.event.type,
  body: end.event.body,
  run_id: "workflow_run_id" in end ? end.workflow_run_id : null,
  outputs_given: "workflow_run_id" in end && end.job_outputs !== undefined,
  outputs: "workflow_run_id" in end ? end.job_outputs ?? null : null,
  duration_ms: "workflow_run_id" in end ? end.duration_ms : null
})

/**
 * The statement for `ends` (distinct jobs, each end's target a move out of
 * `running`): each caller's moved job, or undefined where the statement did
 * not move it (nothing written for it) — its job not running under a run, or
 * locked by another transaction (skipped, so one member's lock wait is not
 * the batch's), or, for a settle, not running under its run: the caller's
 * own statement tells which.
 */
export const finishRunningJobs = ({ sql, textThenOutside: thenOutside }: Pick<PgContext, "sql" | "textThenOutside">) => {
  const jobColumns = sql.literal(qualified(columns.job, "j"))
  const eventColumns = sql.literal(columns.event)
  // Status checks on rows found by their key (keyedGuard.ts), made once per store.
  const jobRunning = isRunning(sql, "j.status")
  const runRunning = isRunning(sql, "r.status")
  /** The statement for a batch with settles (`settled`) and moves from outside the program (`moves`) among its ends. */
  const template = (settled: boolean, moves: boolean) =>
    fixedStatement<[endsJson: string, count: string]>(2, (endsJson, count) => {
      // Settles also write outputs and duration; a batch of moves alone leaves those columns out of the SET.
      const settles = settled
        ? sql`,
            job_outputs = CASE WHEN e.outputs_given THEN NULLIF(e.outputs, 'null'::jsonb) ELSE j.job_outputs END,
            metrics = CASE WHEN e.duration_ms IS NULL THEN j.metrics ELSE ${addDuration(sql, sql`j.metrics`, sql`e.duration_ms`)} END`
        : sql``
      // Each end's job (and, for a move, its run) is looked up by its key, in a LATERAL subquery
      // of its own: the planner cannot start from a scan of the table instead. Joined plainly, on a
      // database without statistics yet it guessed that 0.5% of the runs have no node open (or of
      // the jobs run) and scanned them all to match the ends against — in a generic plan, kept as
      // the tables grew (9 ms a batch at 10,000 runs).
      // Moves from outside the program (not settles): only a job whose run has no node running,
      // the run not held by another transaction either (runs.ts `freeToEnd` says why).
      const locked = moves
        ? sql`
          SELECT k.id FROM ends e, LATERAL (
            SELECT j.id FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id
            WHERE j.id = e.job_id AND ${jobRunning} AND (e.run_id IS NULL OR j.workflow_run_id = e.run_id) AND r.open_nodes = 0
            FOR NO KEY UPDATE OF j, r SKIP LOCKED) k`
        : sql`
          SELECT k.id FROM ends e, LATERAL (
            SELECT j.id FROM ai_jobs j
            WHERE j.id = e.job_id AND ${jobRunning} AND j.workflow_run_id IS NOT NULL AND (e.run_id IS NULL OR j.workflow_run_id = e.run_id)
            FOR NO KEY UPDATE OF j SKIP LOCKED) k`
      // And the ends are few: a LIMIT of their count (it cuts nothing) keeps the planner's guess of
      // them small — it cannot count a JSON parameter's rows and takes 100 — so the moved jobs' and
      // ended runs' updates look each row up by key too, whatever the tables' statistics. The count
      // is a sub-select, which the planner does not read: as a plain parameter each custom plan (the
      // count known) looked cheaper than the generic one, and every batch was planned anew.
      return sql`
        WITH ends AS (
          SELECT * FROM jsonb_to_recordset(${endsJson}::jsonb) AS e(
            job_id uuid, target text, reason_given boolean, status_reason text, error_given boolean, error_message text,
            event_id uuid, event_at timestamptz, actor text, type text, body jsonb,
            run_id uuid, outputs_given boolean, outputs jsonb, duration_ms bigint)
          LIMIT (SELECT ${count}::bigint)
        ), locked AS (${locked}
        ), moved AS (
          UPDATE ai_jobs j SET status = e.target,
            updated_at = ${moveInstant(sql, { reading: sql`e.event_at`, job: "j", firstId: sql`e.event_id` })},
            status_reason = CASE WHEN e.reason_given THEN e.status_reason ELSE j.status_reason END,
            error_message = CASE WHEN e.error_given THEN e.error_message ELSE j.error_message END${settles}
          FROM ends e JOIN locked l ON l.id = e.job_id
          WHERE j.id = e.job_id
          RETURNING ${jobColumns}
        ), ended AS (
          UPDATE workflow_runs r SET status = m.status, error_message = e.error_message, updated_at = m.updated_at
          FROM moved m JOIN ends e ON e.job_id = m.id
          WHERE r.id = m.workflow_run_id AND ${runRunning}
        ), audit AS (
          INSERT INTO flight_recorder_events (${eventColumns})
          SELECT e.event_id, m.updated_at, e.actor, e.type, m.trace_id, m.id, m.workflow_run_id,
            e.body || jsonb_build_object('trace_id', m.trace_id, 'workflow_run_id', m.workflow_run_id, 'attempt', m.attempt) ||
              ${movedTimestamp(sql, { written: "m.updated_at", reading: sql`e.event_at` })}
          FROM moved m JOIN ends e ON e.job_id = m.id
        )
        SELECT * FROM moved`
    })
  // Three texts in all (a batch has a settle, a move or both), each compiled once (issue 16:
  // built from its fragments, the statement was garbage and a walk of every fragment on every batch).
  const texts = { moves: template(false, true), settles: template(true, false), both: template(true, true) }
  return (ends: ReadonlyArray<RunningJobEnd | RunSettle>) =>
    Effect.suspend(() => {
      const settled = ends.some((end) => "workflow_run_id" in end)
      const moves = ends.some((end) => !("workflow_run_id" in end))
      const statement = settled ? (moves ? texts.both : texts.settles) : texts.moves
      return thenOutside(
        statement.text,
        statement.params(JSON.stringify(ends.map(endRow)), String(ends.length)),
        (rows: ReadonlyArray<{ readonly id: string }>) => {
          const byId = new Map<string, unknown>(rows.map((row) => [row.id, row]))
          return decodeEach(ends, (end) => byId.get(end.job_id), decode.aiJob)
        }
      )
    })
}
