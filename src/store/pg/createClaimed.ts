/**
 * Eager dispatch on PostgreSQL (issue 16, pickup): `createClaimed` — a new
 * job created and, when no eligible queued job of the waiting worker's kinds
 * comes before it, claimed for that worker in the same statement: one commit
 * instead of the submit's and the claim's.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { WorkflowRunId } from "../../domain/Ids.js"
import type { JobKind } from "../../domain/JobKind.js"
import { flatMapKnown } from "../../util/knownEffects.js"
import { newJob, newRun } from "../internal/newRows.js"
import { atOrNow } from "../internal/now.js"
import { claimableOnCreation, createdOnly } from "../internal/createClaimed.js"
import { type CreatedClaim, type JobStore } from "../JobStore.js"
import { AlreadyExists } from "../StoreErrors.js"
import { queueHead } from "./claim.js"
import { isUniqueViolation, type PgContext } from "./context.js"
import { jobRow, NEW_JOB_RECORD } from "./createBatch.js"
import { storageErrors } from "./errors.js"
import { fixedPerKey, fixedStatement } from "./fixedStatement.js"
import { columns, eventsText, instantParam } from "./rows.js"
import { byTransaction } from "./transaction.js"

type Service = Context.Tag.Service<JobStore>
type Options = Parameters<NonNullable<Service["createClaimed"]>>[1]

/** How many statements (kinds × take) a store keeps compiled. */
const TEXTS_KEPT = 64

/** The records' type for `jsonb_to_recordset` (eventsText's JSON). */
const EVENT_RECORD = `event_id uuid, "timestamp" timestamptz, actor text, type text, trace_id uuid, job_id uuid, workflow_run_id uuid, body jsonb`

/** A unique violation on the runs' table: the only run key the statement writes is the given run id, so it was taken. */
const isTakenRun = (error: unknown): error is SqlError =>
  isUniqueViolation(error) && (error.cause as { readonly table?: unknown } | undefined)?.table === "workflow_runs"

/** The statement's failure on a taken run id as `AlreadyExists` naming the run (the whole statement failed: nothing written). */
const namingTakenRun = <A, E, R>(runId: WorkflowRunId, statement: Effect.Effect<A, E | SqlError, R>) =>
  Effect.catchIf(statement, isTakenRun, () => Effect.fail(new AlreadyExists({ entity: "workflow_run", id: runId })))

/**
 * `createClaimed` on `createJob` (the store's own, ungrouped): inside a
 * transaction, and for a job that cannot be claimed, it is `createJob`.
 */
export const makeCreateClaimed = (
  { namingTakenEvent, sql, textThenOutside }: Pick<PgContext, "sql" | "textThenOutside" | "namingTakenEvent">,
  createJob: Service["createJob"]
): NonNullable<Service["createClaimed"]> => {
  const jobColumns = sql.literal(columns.job)
  const runColumns = sql.literal(columns.run)
  const eventColumns = sql.literal(columns.event)
  const newJobRecord = sql.literal(NEW_JOB_RECORD)
  const eventRecord = sql.literal(EVENT_RECORD)
  const reported = storageErrors("JobStore.createClaimed")

  const createOnly = createdOnly(createJob)

  const template = (kinds: ReadonlyArray<JobKind> | undefined, take: boolean) =>
    fixedStatement<[at: string, row: string, runId: string, jobId: string, events: string, claimRecords: string]>(
      6,
      (at, row, runId, jobId, events, claimRecords) =>
        sql`
        WITH head AS (
          ${queueHead(sql, at, kinds)}
        ), decided AS (
          SELECT j.*, NOT EXISTS (
            SELECT 1 FROM head h
            WHERE h.priority > j.priority
              OR (h.priority = j.priority AND (h.run_after, h.created_at, h.id) < (j.run_after, ${at}::timestamptz, j.id))
          ) AS claimed
          FROM jsonb_to_record(${row}::jsonb) AS j(${newJobRecord})
        ), created AS (
          INSERT INTO ai_jobs (${jobColumns})
          SELECT id, trace_id, CASE WHEN claimed THEN ${runId}::uuid END, job_kind,
            CASE WHEN claimed THEN 'running' ELSE status END, CASE WHEN claimed THEN '' ELSE status_reason END, NULL,
            protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, entity_refs::jsonb,
            planned_operations::jsonb, metrics::jsonb, job_inputs::jsonb, NULL, is_pinned,
            ${at}::timestamptz, ${at}::timestamptz, attempt, max_attempts, run_after, priority, backoff::jsonb
          FROM decided
          ON CONFLICT (id) DO NOTHING
          RETURNING status
        ), new_run AS (
          INSERT INTO workflow_runs (${runColumns}, taken)
          SELECT ${runId}::uuid, ${jobId}::uuid, 'running', ${at}::timestamptz, NULL, ${at}::timestamptz, ${at}::timestamptz,
            ${sql.literal(take ? "true" : "false")}
          FROM created WHERE status = 'running'
        ), audit AS (
          INSERT INTO flight_recorder_events (${eventColumns})
          SELECT ${eventColumns} FROM jsonb_to_recordset(${events}::jsonb) AS e(${eventRecord})
          WHERE EXISTS (SELECT 1 FROM created)
          UNION ALL
          SELECT ${eventColumns} FROM jsonb_to_recordset(${claimRecords}::jsonb) AS e(${eventRecord})
          WHERE EXISTS (SELECT 1 FROM created WHERE status = 'running')
        )
        SELECT status FROM created`
    )
  // The text varies only with the waiting worker's kinds and whether it takes the run: each
  // pair's is compiled once (issue 16, pickup: built from its fragments, the statement was
  // garbage and a walk of every fragment on every submit an idle worker waits for).
  const textFor = fixedPerKey(
    TEXTS_KEPT,
    (kinds: ReadonlyArray<JobKind> | undefined, take: boolean) => `${take ? "take" : "offer"} ${kinds === undefined ? "*" : kinds.join(" ")}`,
    template
  )

  /**
   * The statement: the head of the queue the claim would see (`nextJob`'s
   * order and index, unlocked and not skipping a locked job: one held by a
   * claimer is still ahead); the job inserted already `running` under the
   * run when nothing there comes before it (a CTE cannot update a sibling's
   * new row; the two rows' foreign keys are checked at the statement's end),
   * else `queued`; the run only then (taken with `take`); the creation's records whenever the
   * job went in, the claim's only with the run. A taken job id inserts
   * nothing (ON CONFLICT), so nothing else is written either.
   */
  const write = (job: AiJob, now: DateTime.Utc, options: Options) => {
    const runId: WorkflowRunId = options.claim.run_id
    const records: ReadonlyArray<EventRecord> = [...options.events, ...options.claim.records]
    const claimOf = (): CreatedClaim["claim"] => ({
      job: { ...job, workflow_run_id: runId, state: "running", status_reason: "" },
      run: newRun(job.job_id, now, runId)
    })
    const statement = textFor(options.kinds, options.take === true)
    return flatMapKnown(jobRow(job), (row) =>
      namingTakenEvent(records)(namingTakenRun(
        runId,
        textThenOutside(
          statement.text,
          statement.params(instantParam(now), JSON.stringify(row), runId, job.job_id, eventsText(options.events), eventsText(options.claim.records)),
          ([created]: ReadonlyArray<{ readonly status: string }>): Effect.Effect<CreatedClaim, AlreadyExists> =>
            created === undefined
              ? Effect.fail(new AlreadyExists({ entity: "job", id: job.job_id }))
              : Effect.succeed({ created: job, claim: created.status === "running" ? claimOf() : null })
        )
      )))
  }

  return (input, options) =>
    // Inside a transaction, never claimed: a worker handed the job could run it before a rollback.
    byTransaction(
      () => createOnly(input, options),
      () =>
        atOrNow(options.at, (now) => {
          const job = newJob(input, now)
          // Retried whole after a transient failure: the same job, instant and records.
          return claimableOnCreation(job, options.kinds) ? reported(write(job, now, options)) : createOnly(input, options)
        })
    )
}
