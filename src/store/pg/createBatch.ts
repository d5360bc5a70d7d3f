/**
 * `createJob` for many jobs in one statement (issue 16, group commit): each
 * new job with its own audit records, written only if its row went in — what
 * jobs.ts's statement does for one job — with one commit. A job whose id is
 * taken is not created and writes no record: its caller's own statement says
 * `AlreadyExists` (`createJobs`, by contrast, is all or nothing).
 */
import * as Effect from "effect/Effect"
import type { AiJob, NewAiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { auditRecords } from "../internal/audit.js"
import { allKnown, flatMapKnown } from "../../util/knownEffects.js"
import { newJob } from "../internal/newRows.js"
import { withNow } from "../internal/now.js"
import type { Creation } from "../JobStore.js"
import type { PgContext } from "./context.js"
import { columns, encodeJson, eventJson, instantParam } from "./rows.js"

/** One caller's `createJob` arguments. */
export interface NewJobRequest {
  readonly input: NewAiJob
  readonly options: Creation<AiJob> | undefined
}

// A new job's usual JSON columns, encoded once (as createJob does): no lists, and `JobMetrics.zero`.
const emptyListJson = Effect.runSync(encodeJson.entityRefs([]))
const zeroMetricsJson = Effect.runSync(encodeJson.metrics(JobMetrics.zero))

/** A new job's JSON columns as text. */
interface JsonColumns {
  readonly entity_refs: string
  readonly planned_operations: string
  readonly metrics: string
  readonly backoff: string | null
}

/** The columns of a new job that differ from job to job (JSON columns as their text, cast in SQL). */
const rowOf = (job: AiJob, json: JsonColumns) => ({
  id: job.job_id,
  trace_id: job.trace_id,
  job_kind: job.job_kind,
  status: job.state,
  status_reason: job.status_reason,
  protocol_id: job.protocol_id,
  profile_id: job.profile_id,
  capability_profile_id: job.capability_profile_id,
  access_mode: job.access_mode,
  safety_mode: job.safety_mode,
  entity_refs: json.entity_refs,
  planned_operations: json.planned_operations,
  metrics: json.metrics,
  // Decoded at the port (internal/portInput.ts): its JSON text is JSON.stringify's, as createJob sends it.
  job_inputs: encodeJson.portPayload(job.job_inputs),
  is_pinned: job.is_pinned,
  attempt: job.attempt,
  max_attempts: job.max_attempts,
  run_after: instantParam(job.run_after),
  priority: job.priority,
  backoff: json.backoff,
  // Its own: the jobs of one statement may each carry their submit's instant (`Creation.at`).
  created_at: instantParam(job.created_at)
})

const usualJson: JsonColumns = { entity_refs: emptyListJson, planned_operations: emptyListJson, metrics: zeroMetricsJson, backoff: null }

/** The record type of `jobRow`'s JSON, for `jsonb_to_record(set)`: its JSON columns as text, cast where inserted. */
export const NEW_JOB_RECORD = "id uuid, trace_id uuid, job_kind text, status text, status_reason text, protocol_id text, " +
  "profile_id text, capability_profile_id text, access_mode text, safety_mode text, entity_refs text, " +
  "planned_operations text, metrics text, job_inputs text, is_pinned boolean, attempt integer, max_attempts integer, " +
  "run_after timestamptz, priority integer, backoff text, created_at timestamptz"

/** A new job's row: known at once for the usual job (no lists, zero metrics, no backoff of its own), else encoded through the schemas. */
export const jobRow = (job: AiJob) =>
  job.entity_refs.length === 0 && job.planned_operations.length === 0 && job.metrics === JobMetrics.zero && job.backoff === null
    ? Effect.succeed(rowOf(job, usualJson))
    : Effect.map(
      Effect.all([
        job.entity_refs.length === 0 ? Effect.succeed(emptyListJson) : encodeJson.entityRefs(job.entity_refs),
        job.planned_operations.length === 0 ? Effect.succeed(emptyListJson) : encodeJson.plannedOperations(job.planned_operations),
        job.metrics === JobMetrics.zero ? Effect.succeed(zeroMetricsJson) : encodeJson.metrics(job.metrics),
        encodeJson.backoff(job.backoff)
      ]),
      ([entity_refs, planned_operations, metrics, backoff]) => rowOf(job, { entity_refs, planned_operations, metrics, backoff })
    )

/**
 * The statement for `requests` (distinct job ids): each caller's new job, or
 * undefined where its id was taken (nothing written for it).
 */
export const createEach = ({ sql, thenOutside }: Pick<PgContext, "sql" | "thenOutside">) => {
  const jobColumns = sql.literal(columns.job)
  const eventColumns = sql.literal(columns.event)
  const newJobRecord = sql.literal(NEW_JOB_RECORD)
  return (requests: ReadonlyArray<NewJobRequest>) =>
    withNow((now) => {
      // Each job at its creation's instant when given (`Creation.at`), else at the statement's reading.
      const jobs = requests.map(({ input, options }) => newJob(input, options?.at ?? now))
      // Every job's row and records, known at once in the usual case (internal/allKnown.ts): no step for either.
      const withRecords = (rows: ReadonlyArray<ReturnType<typeof rowOf>>) =>
        flatMapKnown(allKnown(requests.map(({ options }, i) => auditRecords(options?.events, jobs[i]!))), (built) => statement(rows, built))
      const statement = (rows: ReadonlyArray<ReturnType<typeof rowOf>>, built: ReadonlyArray<ReadonlyArray<EventRecord>>) => {
        const records = built.map((list, i) => list.map((record) => ({ owner: jobs[i]!.job_id, ...eventJson(record) })))
        return thenOutside(sql<{ readonly id: string }>`
        WITH created AS (
          INSERT INTO ai_jobs (${jobColumns})
          SELECT id, trace_id, NULL, job_kind, status, status_reason, NULL, protocol_id, profile_id,
            capability_profile_id, access_mode, safety_mode, entity_refs::jsonb, planned_operations::jsonb, metrics::jsonb,
            job_inputs::jsonb, NULL, is_pinned, created_at, created_at, attempt, max_attempts, run_after, priority,
            backoff::jsonb
          FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS j(${newJobRecord})
          ON CONFLICT (id) DO NOTHING
          RETURNING id
        ), audit AS (
          INSERT INTO flight_recorder_events (${eventColumns})
          SELECT ${eventColumns}
          FROM jsonb_to_recordset(${JSON.stringify(records.flat())}::jsonb) AS e(
            owner uuid, event_id uuid, "timestamp" timestamptz, actor text, type text,
            trace_id uuid, job_id uuid, workflow_run_id uuid, body jsonb)
          WHERE e.owner IN (SELECT id FROM created)
        )
        SELECT id FROM created`, (created) => {
          const ids = new Set(created.map((row) => row.id))
          return Effect.succeed(jobs.map((job) => ids.has(job.job_id) ? job : undefined))
        })
      }
      return flatMapKnown(allKnown(jobs.map(jobRow)), withRecords)
    })
}
