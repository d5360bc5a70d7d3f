/**
 * Batch create on SQLite (issue 16): every job in one `BEGIN IMMEDIATE`
 * transaction of multi-row INSERTs (prepared once per batch size and cached
 * by the client), its events in the same transaction — one commit for a
 * whole batch, where `createJob` × n would take n statements and savepoints.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob, NewAiJob } from "../../domain/AiJob.js"
import { auditRecords } from "../internal/audit.js"
import { firstTaken } from "../internal/firstTaken.js"
import { newJob } from "../internal/newRows.js"
import type { Audited, JobStore } from "../JobStore.js"
import { AlreadyExists } from "../StoreErrors.js"
import type { SqliteContext } from "./context.js"
import { storageErrors } from "./errors.js"

type Service = JobStore["Type"]

// 24 columns per row: 500 rows stay far below SQLite's bound-parameter limit (32766).
const JOBS_PER_STATEMENT = 500

/**
 * The `ai_jobs` row of a new job, built by hand: every value came through
 * the port's decode (NewAiJob) and `newJob`, so it is already in the domain;
 * what is left is the stored form — JSON as text, the flag as 0/1,
 * instants in the one text form — which Schema's row encode would spend
 * most of a batch's time re-checking (issue 16). The table's CHECK
 * constraints still hold every column.
 */
const newJobRow = (job: AiJob) => {
  const at = DateTime.formatIso(job.created_at)
  return {
    id: job.job_id,
    trace_id: job.trace_id,
    workflow_run_id: null,
    job_kind: job.job_kind,
    status: job.state,
    status_reason: job.status_reason,
    error_message: null,
    protocol_id: job.protocol_id,
    profile_id: job.profile_id,
    capability_profile_id: job.capability_profile_id,
    access_mode: job.access_mode,
    safety_mode: job.safety_mode,
    entity_refs: JSON.stringify(job.entity_refs),
    planned_operations: JSON.stringify(job.planned_operations),
    metrics: JSON.stringify(job.metrics),
    job_inputs: job.job_inputs === null ? null : JSON.stringify(job.job_inputs),
    job_outputs: null,
    is_pinned: job.is_pinned ? 1 : 0,
    created_at: at,
    updated_at: at,
    attempt: job.attempt,
    max_attempts: job.max_attempts,
    run_after: DateTime.formatIso(job.run_after),
    priority: job.priority
  }
}

/** `createJobs` of the SQLite store. */
export const makeBatchMethods = ({ sql, transaction, insertEvents }: SqliteContext) => {
  const createJobs: Service["createJobs"] = Effect.fnUntraced(
    function*(inputs: ReadonlyArray<NewAiJob>, options?: Audited<ReadonlyArray<AiJob>>) {
      if (inputs.length === 0) return []
      const now = yield* DateTime.now
      const jobs = inputs.map((input) => newJob(input, now))
      const rows = jobs.map(newJobRow)
      const events = yield* auditRecords(options?.events, jobs)
      yield* transaction(Effect.gen(function*() {
        for (let start = 0; start < rows.length; start += JOBS_PER_STATEMENT) {
          const chunk = rows.slice(start, start + JOBS_PER_STATEMENT)
          // ON CONFLICT instead of catching the constraint error: an id stored
          // already, or given twice, is missing from RETURNING and named from
          // there; the rollback then takes back the rows that did go in.
          const inserted = yield* sql<{ readonly id: string }>`
            INSERT INTO ai_jobs ${sql.insert(chunk)} ON CONFLICT (id) DO NOTHING RETURNING id`
          if (inserted.length < chunk.length) {
            const id = firstTaken(chunk.map((row) => row.id), inserted.map((row) => row.id))
            return yield* new AlreadyExists({ entity: "job", id })
          }
        }
        yield* insertEvents(events)
      }))
      // What was written is exactly what a read gives back (timestamps are whole milliseconds).
      return jobs
    },
    storageErrors("JobStore.createJobs")
  )
  return { createJobs }
}
