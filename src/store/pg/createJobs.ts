/**
 * Batch create on PostgreSQL (issue 16): every job in one multi-row INSERT
 * (one JSON parameter, unpacked by `jsonb_to_recordset`), its events in the
 * same statement, one transaction — three round trips and one commit for a
 * whole batch, where `createJob` × n takes n statements.
 */
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AiJob, type NewAiJob } from "../../domain/AiJob.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { auditRecords } from "../internal/audit.js"
import { firstTaken, takenInBatch } from "../internal/firstTaken.js"
import { newJob } from "../internal/newRows.js"
import type { Creation, JobStore } from "../JobStore.js"
import type { PgContext } from "./context.js"
import { storageErrors } from "./errors.js"
import { columns, instantParam } from "./rows.js"

type Service = Context.Tag.Service<JobStore>

/** The columns of a new job that differ from job to job, as one JSON array for `jsonb_to_recordset`. */
const NewJobRows = Schema.parseJson(Schema.Array(Schema.Struct({
  id: AiJob.fields.job_id,
  trace_id: AiJob.fields.trace_id,
  job_kind: AiJob.fields.job_kind,
  status_reason: AiJob.fields.status_reason,
  protocol_id: AiJob.fields.protocol_id,
  profile_id: AiJob.fields.profile_id,
  capability_profile_id: AiJob.fields.capability_profile_id,
  access_mode: AiJob.fields.access_mode,
  safety_mode: AiJob.fields.safety_mode,
  entity_refs: AiJob.fields.entity_refs,
  planned_operations: AiJob.fields.planned_operations,
  // The struct of JobMetrics' fields accepts a plain object as well as an instance.
  metrics: Schema.Struct(JobMetrics.fields),
  job_inputs: AiJob.fields.job_inputs,
  is_pinned: AiJob.fields.is_pinned,
  max_attempts: AiJob.fields.max_attempts,
  run_after: AiJob.fields.run_after,
  priority: AiJob.fields.priority,
  backoff: AiJob.fields.backoff
})))
const encodeRows = Schema.encode(NewJobRows)

/** `createJobs` of the PostgreSQL store. */
export const makeBatchMethods = ({ sql, transaction, insertEvents }: PgContext) => {
  const createJobs: Service["createJobs"] = Effect.fnUntraced(
    function*(inputs: ReadonlyArray<NewAiJob>, options?: Creation<ReadonlyArray<AiJob>>) {
      if (inputs.length === 0) return []
      const now = options?.at ?? (yield* DateTime.now)
      const at = instantParam(now)
      const jobs = inputs.map((input) => newJob(input, now))
      const rows = yield* encodeRows(jobs.map(({ job_id, ...job }) => ({ ...job, id: job_id })))
      const events = yield* auditRecords(options?.events, jobs)
      return yield* transaction(Effect.gen(function*() {
        // ON CONFLICT instead of catching the unique violation: an id stored
        // already, or given twice, is missing from RETURNING and named from
        // there; the rollback then takes back the rows that did go in.
        const inserted = yield* sql<{ readonly id: string }>`
          INSERT INTO ai_jobs (${sql.literal(columns.job)})
          SELECT id, trace_id, NULL, job_kind, 'queued', status_reason, NULL, protocol_id, profile_id,
            capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics,
            job_inputs, NULL, is_pinned, ${at}::timestamptz, ${at}::timestamptz, 1, max_attempts, run_after, priority,
            backoff
          FROM jsonb_to_recordset(${rows}::jsonb) AS j(
            id uuid, trace_id uuid, job_kind text, status_reason text, protocol_id text, profile_id text,
            capability_profile_id text, access_mode text, safety_mode text, entity_refs jsonb,
            planned_operations jsonb, metrics jsonb, job_inputs jsonb, is_pinned boolean, max_attempts integer,
            run_after timestamptz, priority integer, backoff jsonb)
          ON CONFLICT (id) DO NOTHING
          RETURNING id`
        if (inserted.length < jobs.length) {
          const given = jobs.map((job) => job.job_id)
          return yield* takenInBatch("job", firstTaken(given, inserted.map((row) => row.id)), given)
        }
        yield* insertEvents(events)
        return jobs
      }))
    },
    storageErrors("JobStore.createJobs")
  )
  return { createJobs }
}
