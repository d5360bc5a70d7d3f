/**
 * The physical-limit baseline of "create": the raw driver inserting the same
 * row `createJob` stores (every column, JSON encoded, fresh UUIDv7 ids), with
 * no validation, no decoding and no Effect.
 */
import type pg from "pg"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import type { SqliteDatabase } from "../drivers.js"
import { NEW_JOB, ZERO_METRICS } from "../fixtures.js"

const COLUMNS = `id, trace_id, workflow_run_id, job_kind, status, status_reason, error_message, protocol_id, profile_id,
  capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics, job_inputs, job_outputs,
  is_pinned, created_at, updated_at`

const INPUTS = JSON.stringify(NEW_JOB.job_inputs)

const values = (now: string | Date, pinned: number | boolean): Array<unknown> => [
  uuidv7(), uuidv7(), null, NEW_JOB.job_kind, "queued", "", null, NEW_JOB.protocol_id, NEW_JOB.profile_id,
  NEW_JOB.capability_profile_id, NEW_JOB.access_mode, NEW_JOB.safety_mode, "[]", "[]", ZERO_METRICS, INPUTS, null,
  pinned, now, now
]

/**
 * better-sqlite3: one prepared INSERT; `insertOne` runs it in its own
 * transaction, `insertBatch(n)` runs n of them inside one transaction.
 */
export const rawSqliteInsert = (db: SqliteDatabase) => {
  const insert = db.prepare(`INSERT INTO ai_jobs (${COLUMNS}) VALUES (${Array(20).fill("?").join(", ")})`)
  const one = () => insert.run(...values(new Date().toISOString(), 0))
  const insertOne = db.transaction(one)
  const insertBatch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) one()
  })
  return { insertOne, insertBatch }
}

const PG_INSERT = `INSERT INTO ai_jobs (${COLUMNS}) VALUES (${Array.from({ length: 20 }, (_, i) => `$${i + 1}`).join(", ")})`

/** `pg`: a parameterised INSERT, alone (autocommit) or n of them between BEGIN and COMMIT. */
export const rawPgInsert = (client: pg.Client) => ({
  insertOne: async (): Promise<void> => {
    await client.query({ name: "bench_insert", text: PG_INSERT, values: values(new Date(), false) })
  },
  insertBatch: async (n: number): Promise<void> => {
    await client.query("BEGIN")
    try {
      for (let i = 0; i < n; i++) {
        await client.query({ name: "bench_insert", text: PG_INSERT, values: values(new Date(), false) })
      }
      await client.query("COMMIT")
    } catch (error) {
      await client.query("ROLLBACK")
      throw error
    }
  }
})
