/**
 * Reading a whole database for the audit, with plain SQL on the drivers
 * (better-sqlite3, pg) rather than through the store under test. Each read
 * is one consistent snapshot: a SQLite read transaction, a PostgreSQL
 * REPEATABLE READ READ ONLY transaction.
 */
import { createRequire } from "node:module"
import { connectPg } from "../support/pg-database.js"

/** The columns the audit needs, as text (timestamps as ISO strings). */
export interface Snapshot {
  readonly jobs: ReadonlyArray<{ readonly id: string; readonly status: string; readonly workflow_run_id: string | null }>
  readonly runs: ReadonlyArray<{
    readonly id: string
    readonly job_id: string
    readonly status: string
    readonly created_at: string
    readonly updated_at: string
  }>
  readonly nodes: ReadonlyArray<{
    readonly id: string
    readonly workflow_run_id: string
    readonly status: string
    readonly sequence: number
    readonly finished_at: string | null
  }>
  readonly events: ReadonlyArray<{
    readonly event_id: string
    readonly type: string
    readonly job_id: string | null
    readonly workflow_run_id: string | null
    readonly timestamp: string
    readonly from_state: string | null
    readonly to_state: string | null
    readonly decision_outcome: string | null
    /** Who made a state change (`human` for an operator's action). */
    readonly actor: string | null
  }>
  /** SQLite only: `PRAGMA integrity_check` rows and `PRAGMA foreign_key_check` rows. */
  readonly integrity?: { readonly integrityCheck: ReadonlyArray<string>; readonly foreignKeyCheck: ReadonlyArray<unknown> }
}

/** The subset of better-sqlite3 the audit uses (its types are not installed). */
export interface SqliteDatabase {
  prepare(sql: string): { all(...params: ReadonlyArray<unknown>): Array<Record<string, unknown>>; run(...params: ReadonlyArray<unknown>): unknown }
  pragma(sql: string, options?: { simple?: boolean }): unknown
  exec(sql: string): void
  close(): void
}

/** Opens a SQLite file with better-sqlite3 (the same driver the store uses). */
export const openSqlite = (filename: string, options: { readonly timeout?: number } = {}): SqliteDatabase => {
  const Database = createRequire(import.meta.url)("better-sqlite3") as new (file: string, options?: { timeout?: number }) => SqliteDatabase
  return new Database(filename, { timeout: options.timeout ?? 5000 })
}

const SQL = {
  jobs: "SELECT id, status, workflow_run_id FROM ai_jobs ORDER BY id",
  runs: "SELECT id, job_id, status, created_at, updated_at FROM workflow_runs ORDER BY id",
  nodes: "SELECT id, workflow_run_id, status, sequence, finished_at FROM workflow_node_executions ORDER BY workflow_run_id, sequence"
}

const iso = (value: unknown): string => value instanceof Date ? value.toISOString() : String(value)
const isoOrNull = (value: unknown): string | null => value === null || value === undefined ? null : iso(value)
const textOrNull = (value: unknown): string | null => value === null || value === undefined ? null : String(value)

const normalise = (raw: {
  jobs: Array<Record<string, unknown>>
  runs: Array<Record<string, unknown>>
  nodes: Array<Record<string, unknown>>
  events: Array<Record<string, unknown>>
}): Omit<Snapshot, "integrity"> => ({
  jobs: raw.jobs.map((r) => ({ id: String(r["id"]), status: String(r["status"]), workflow_run_id: textOrNull(r["workflow_run_id"]) })),
  runs: raw.runs.map((r) => ({
    id: String(r["id"]),
    job_id: String(r["job_id"]),
    status: String(r["status"]),
    created_at: iso(r["created_at"]),
    updated_at: iso(r["updated_at"])
  })),
  nodes: raw.nodes.map((r) => ({
    id: String(r["id"]),
    workflow_run_id: String(r["workflow_run_id"]),
    status: String(r["status"]),
    sequence: Number(r["sequence"]),
    finished_at: isoOrNull(r["finished_at"])
  })),
  events: raw.events.map((r) => ({
    event_id: String(r["event_id"]),
    type: String(r["type"]),
    job_id: textOrNull(r["job_id"]),
    workflow_run_id: textOrNull(r["workflow_run_id"]),
    timestamp: iso(r["timestamp"]),
    from_state: textOrNull(r["from_state"]),
    to_state: textOrNull(r["to_state"]),
    decision_outcome: textOrNull(r["decision_outcome"]),
    actor: textOrNull(r["actor"])
  }))
})

/** A snapshot of a SQLite file, with its integrity checks. */
export const readSqlite = (filename: string): Snapshot => {
  const db = openSqlite(filename)
  try {
    const integrityCheck = (db.prepare("PRAGMA integrity_check").all()).map((row) => String(Object.values(row)[0]))
    const foreignKeyCheck = db.prepare("PRAGMA foreign_key_check").all()
    db.exec("BEGIN")
    try {
      const raw = {
        jobs: db.prepare(SQL.jobs).all(),
        runs: db.prepare(SQL.runs).all(),
        nodes: db.prepare(SQL.nodes).all(),
        events: db.prepare(
          `SELECT event_id, type, job_id, workflow_run_id, timestamp,
                  json_extract(body, '$.from_state') AS from_state, json_extract(body, '$.to_state') AS to_state,
                  json_extract(body, '$.decision_outcome') AS decision_outcome, json_extract(body, '$.actor') AS actor
           FROM flight_recorder_events ORDER BY timestamp, event_id`
        ).all()
      }
      return { ...normalise(raw), integrity: { integrityCheck, foreignKeyCheck } }
    } finally {
      db.exec("COMMIT")
    }
  } finally {
    db.close()
  }
}

/** A snapshot of a PostgreSQL database. */
export const readPg = async (url: string): Promise<Snapshot> => {
  const client = await connectPg(url)
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    const raw = {
      jobs: (await client.query(SQL.jobs)).rows,
      runs: (await client.query(SQL.runs)).rows,
      nodes: (await client.query(SQL.nodes)).rows,
      events: (await client.query(
        `SELECT event_id, type, job_id, workflow_run_id, timestamp,
                body->>'from_state' AS from_state, body->>'to_state' AS to_state,
                body->>'decision_outcome' AS decision_outcome, body->>'actor' AS actor
         FROM flight_recorder_events ORDER BY timestamp, event_id`
      )).rows
    }
    await client.query("COMMIT")
    return normalise(raw)
  } finally {
    await client.end().catch(() => {})
  }
}

/** How many rows a snapshot holds (for the campaign's "rows checked" figure). */
export const rowCount = (snapshot: Snapshot): number =>
  snapshot.jobs.length + snapshot.runs.length + snapshot.nodes.length + snapshot.events.length
