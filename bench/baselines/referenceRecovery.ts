/**
 * The reference implementation's recovery, rebuilt for comparison (SPEC,
 * "Known weaknesses"): select the stale runs, then for each run update the
 * run, update the job and insert the `workflow_recovery` event — three
 * separate statements, each its own autocommit, as the reference does. Raw
 * drivers and prepared statements, so the loop is as fast as it can be.
 */
import type pg from "pg"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import type { SqliteDatabase } from "../drivers.js"

const THRESHOLD_SECS = 30

const eventBody = (eventId: string, now: string, run: { id: string; job_id: string; last_heartbeat: string }, traceId: string) =>
  JSON.stringify({
    event_id: eventId,
    timestamp: now,
    actor: "system",
    type: "workflow_recovery",
    trace_id: traceId,
    job_id: run.job_id,
    workflow_run_id: run.id,
    from_state: "running",
    to_state: "stalled",
    reason: `no heartbeat for more than ${THRESHOLD_SECS}s at startup (HSK-WF-003)`,
    last_heartbeat_ts: run.last_heartbeat,
    threshold_secs: THRESHOLD_SECS
  })

/** The per-row loop on SQLite; returns how many runs it moved. */
export const referenceRecoverySqlite = (db: SqliteDatabase): number => {
  const cutoff = new Date(Date.now() - THRESHOLD_SECS * 1000).toISOString()
  const stale = db.prepare(
    `SELECT id, job_id, last_heartbeat FROM workflow_runs WHERE status = 'running' AND last_heartbeat < ?`
  ).all(cutoff) as Array<{ id: string; job_id: string; last_heartbeat: string }>
  const updateRun = db.prepare(`UPDATE workflow_runs SET status = 'stalled', updated_at = ? WHERE id = ?`)
  const updateJob = db.prepare(`UPDATE ai_jobs SET status = 'stalled', updated_at = ? WHERE id = ? RETURNING trace_id`)
  const insertEvent = db.prepare(
    `INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
     VALUES (?, ?, 'system', 'workflow_recovery', ?, ?, ?, ?)`
  )
  for (const run of stale) {
    const now = new Date().toISOString()
    updateRun.run(now, run.id)
    const job = updateJob.get(now, run.job_id) as { trace_id: string }
    const eventId = uuidv7()
    insertEvent.run(eventId, now, job.trace_id, run.job_id, run.id, eventBody(eventId, now, run, job.trace_id))
  }
  return stale.length
}

/** The per-row loop on PostgreSQL; returns how many runs it moved. */
export const referenceRecoveryPg = async (client: pg.Client): Promise<number> => {
  const { rows } = await client.query<{ id: string; job_id: string; last_heartbeat: Date }>(
    `SELECT id, job_id, last_heartbeat FROM workflow_runs WHERE status = 'running' AND last_heartbeat < now() - make_interval(secs => $1)`,
    [THRESHOLD_SECS]
  )
  for (const run of rows) {
    const now = new Date()
    await client.query({ name: "ref_run", text: `UPDATE workflow_runs SET status = 'stalled', updated_at = $1 WHERE id = $2`, values: [now, run.id] })
    const job = await client.query<{ trace_id: string }>({
      name: "ref_job",
      text: `UPDATE ai_jobs SET status = 'stalled', updated_at = $1 WHERE id = $2 RETURNING trace_id`,
      values: [now, run.job_id]
    })
    const traceId = job.rows[0]?.trace_id ?? ""
    const eventId = uuidv7()
    await client.query({
      name: "ref_event",
      text: `INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
             VALUES ($1, $2, 'system', 'workflow_recovery', $3, $4, $5, $6)`,
      values: [eventId, now, traceId, run.job_id, run.id,
        eventBody(eventId, now.toISOString(), { ...run, last_heartbeat: run.last_heartbeat.toISOString() }, traceId)]
    })
  }
  return rows.length
}
