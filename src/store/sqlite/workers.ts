/**
 * Work that many processes may do at once, on SQLite: claiming queued jobs,
 * startup recovery's stale-run scan and pruning (R6, R9, R18).
 *
 * Each runs as one `BEGIN IMMEDIATE` transaction (see transaction.ts): the
 * write lock is taken before the first read, so what a claimer or recoverer
 * reads cannot change before it writes, and a second process waits its turn
 * instead of claiming the same job or stalling the same run.
 */
import type * as Statement from "@effect/sql/Statement"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { JobState } from "../../domain/JobState.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { STALLED_STATUS_REASON, stallMessageAround, thresholdSecs } from "../../domain/stallReason.js"
import { auditRecords } from "../internal/audit.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { JobStore, StalledRun } from "../JobStore.js"
import { decode, encode } from "./rows.js"
import { storageErrors } from "./errors.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import { claimStart, insertRunAfterText, makeClaimAdmitted, nextJobText, startJob, takenParam } from "./claim.js"
import type { SqliteContext } from "./context.js"
import { instantBound } from "./rows.js"
import { newRun } from "../internal/newRows.js"
import type { AiJob } from "../../domain/AiJob.js"
import type { CorruptRow } from "../StoreErrors.js"
import type { SqlError } from "@effect/sql/SqlError"
import { runThrough } from "./step.js"
import { instantAfter } from "./moveInstant.js"

type Service = JobStore["Type"]

/** A row limit SQLite accepts: absent means none (-1), never negative otherwise. */
const rowLimit = (limit: number | undefined): number =>
  limit === undefined ? -1 : Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1

/**
 * The states whose old jobs pruning may delete (terminal, and failed), as
 * literal SQL: index ai_jobs_prunable_by_updated (migration 0011) is partial
 * over exactly this WHERE, and SQLite uses it only for a query that spells
 * the same list (bound parameters would not match).
 */
export const prunableStatus: string = `status IN (${[...Lifecycle.prunableStates].map((state: JobState) => `'${state}'`).join(", ")})`

/**
 * R9's `workflow_recovery` body, built by SQLite with the fields and key
 * order of `recoveryEvent` (internal/jobs/auditEvents.ts), from the aliases
 * `m` (the event id), `r` (the run) and `j` (its job); `job_id` only when the
 * job moved with its run. `stalled` names the columns holding the stall's
 * instant and reason: the run's (`r`) or the job's (`j`).
 */
const recoveryBody = (sql: SqliteContext["sql"], secs: number, withJob: boolean, stalled: "r" | "j" = "r") => {
  const at = sql.literal(`${stalled}.updated_at`)
  const reason = sql.literal(`${stalled}.error_message`)
  const job = sql.literal(withJob ? "'job_id', r.job_id, " : "")
  return sql`json_object(
    'event_id', m.event_id, 'timestamp', ${at}, 'actor', 'system', 'trace_id', j.trace_id,
    ${job}'workflow_run_id', r.id, 'type', 'workflow_recovery',
    'from_state', 'running', 'to_state', 'stalled', 'reason', ${reason},
    'last_heartbeat_ts', r.last_heartbeat, 'threshold_secs', CAST(${secs} AS INTEGER))`
}

/** The rows a recovery record is built from: `m` (a JSON list of [run id, event id] pairs), `r` its run, `j` the run's job. */
const pairedRuns = (sql: SqliteContext["sql"], pairs: string) =>
  sql`FROM (
    SELECT json_extract(value, '$[0]') AS run_id, json_extract(value, '$[1]') AS event_id
    FROM json_each(${pairs})
  ) AS m
  JOIN workflow_runs AS r ON r.id = m.run_id
  JOIN ai_jobs AS j ON j.id = r.job_id`

/** The worker, recovery and pruning methods of the SQLite store. */
export const makeWorkerMethods = (context: SqliteContext) => {
  const { afterErasure, exec, insertEvents, sql, transaction } = context
  /**
   * Recovery's writes for a batch of stale runs read under the write lock,
   * set-based whatever the batch size: each run `stalled` with the recovery
   * reason naming its heartbeat (issue 12.5); its job too, only while it is
   * running under that run (R6a); and, with `record`, R9's
   * `workflow_recovery` record per run, built by SQLite with the fields and
   * key order of `recoveryEvent` (internal/jobs/auditEvents.ts) — no
   * JavaScript per run. Each run's stall is stamped at the batch's reading,
   * or after its job's or its run's last change if that is not before it
   * (`stalledAt`, the expression the batch's SELECT read as the run's
   * `updated_at`, on the same rows under the same write lock): the run's
   * `updated_at` first, and the job's and the record's (column and body)
   * are then read from it.
   */
  const stall = (stalled: ReadonlyArray<StalledRun>, batch: {
    readonly at: string
    readonly stalledAt: Statement.Fragment
    readonly why: { readonly before: string; readonly after: string }
    readonly threshold: Duration.Duration
    readonly record: boolean
  }) =>
    Effect.gen(function*() {
      const runIds = JSON.stringify(stalled.map(({ run }) => run.id))
      const secs = thresholdSecs(batch.threshold)
      const why = batch.why
      yield* sql`
        UPDATE workflow_runs SET status = 'stalled', error_message = ${why.before} || last_heartbeat || ${why.after},
          updated_at = ${batch.stalledAt}
        WHERE id IN (SELECT value FROM json_each(${runIds}))`
      if (batch.record) {
        // Event ids are made here (time-ordered UUIDv7, in the batch's order), each paired with its run.
        const pairs = JSON.stringify(stalled.map(({ run }) => [run.id, uuidv7()]))
        // Written before the jobs move, so each record sees whether its job moves with its run: only
        // while it is running under it (the UPDATE below). One that is not — a reference database's
        // half-finished move left it completed, or still queued — stays as it is, and the record
        // names the run alone: it claims no move of the job.
        const jobMoves = sql.literal("j.status = 'running' AND j.workflow_run_id = r.id")
        yield* sql`
          INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
          SELECT m.event_id, r.updated_at, 'system', 'workflow_recovery', j.trace_id,
            CASE WHEN ${jobMoves} THEN r.job_id END, r.id,
            CASE WHEN ${jobMoves} THEN ${recoveryBody(sql, secs, true)} ELSE ${recoveryBody(sql, secs, false)} END
          ${pairedRuns(sql, pairs)}`
      }
      // `workflow_run_id` in the subquery is the job's: workflow_runs has no such column. `+status`
      // keeps the planner off the status index (every running job) and on the workflow_run_id one.
      yield* sql`
        UPDATE ai_jobs SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON},
          error_message = (SELECT r.error_message FROM workflow_runs AS r WHERE r.id = workflow_run_id),
          updated_at = (SELECT r.updated_at FROM workflow_runs AS r WHERE r.id = workflow_run_id)
        WHERE +status = 'running' AND workflow_run_id IN (SELECT value FROM json_each(${runIds}))`
    })

  const claimNext: Service["claimNext"] = Effect.fnUntraced(
    function*(options = {}) {
      const { at, now, runId } = yield* claimStart
      const kinds = options.kinds ?? []
      return yield* transaction.join(Effect.gen(function*() {
        // The run is created for the job the claim takes, in the statement that picks it (claim.ts).
        // Minted before the records `events` builds from the claim, whose ids (this process's) are larger.
        const firstId = uuidv7()
        const [picked] = yield* exec<{ readonly job_id: string; readonly created_at: string }>(
          insertRunAfterText(nextJobText("id, updated_at", options.kinds)),
          [runId, at, takenParam(options.take), at, at, firstId, at, ...kinds]
        )
        if (picked === undefined) return null
        // The claim's instant as written (insertRunAfterText): the reading, or after the job's last change.
        const job = yield* runThrough<AiJob, CorruptRow | SqlError>(() => startJob({ job_id: picked.job_id, runId, at: picked.created_at, operation: "claimNext" }), exec)
        const claim = { job, run: newRun(job.job_id, job.updated_at, runId, now) }
        yield* insertEvents(yield* auditRecords(options.events, claim))
        return claim
      }))
    },
    alreadyExistsAsStorageError("JobStore.claimNext"),
    storageErrors("JobStore.claimNext")
  )

  const findStaleRuns: Service["findStaleRuns"] = Effect.fnUntraced(
    function*(options) {
      const cutoff = instantBound(options.heartbeatBefore)
      const rows = yield* sql`
        SELECT * FROM workflow_runs
        WHERE status = 'running' AND last_heartbeat < ${cutoff}
        ORDER BY last_heartbeat, id
        LIMIT ${rowLimit(options.limit)}`
      return yield* decodeRows(decode.run)(rows)
    },
    storageErrors("JobStore.findStaleRuns")
  )

  const stallStaleRuns: Service["stallStaleRuns"] = Effect.fnUntraced(
    function*(options) {
      return yield* transaction(Effect.gen(function*() {
        const cutoff = instantBound(options.heartbeatBefore)
        const at = yield* encode.timestamp(yield* DateTime.now)
        // Each run's `updated_at` as `stall` writes it (the same expression on the same rows, under
        // the write lock): the reading, or if its job or itself changed at or after it, after that
        // change — 1 ms after the job's latest record when that record would sort at or after the
        // stall's first id (moveInstant.ts `instantAfter`). A change on a clock ahead of this one's
        // is never followed by a stall dated before it, nor one listed before it at its instant
        // because this clock, behind, minted smaller ids. `firstId` is minted before the stall's
        // records' ids, which are larger (UUIDv7 within one process).
        const firstId = uuidv7()
        const stalledAt = (run: string, job: Statement.Fragment) =>
          instantAfter(sql, {
            reading: at,
            last: sql`max(${sql.literal(run)}.updated_at, ${job})`,
            jobId: sql.literal(`${run}.job_id`),
            firstId
          })
        const rows = yield* sql`
          SELECT r.id, r.job_id, r.status, r.last_heartbeat, r.error_message, r.created_at,
            ${stalledAt("r", sql`j.updated_at`)} AS updated_at, j.trace_id AS job_trace_id
          FROM workflow_runs AS r JOIN ai_jobs AS j ON j.id = r.job_id
          WHERE r.status = 'running' AND r.last_heartbeat < ${cutoff}
          ORDER BY r.last_heartbeat, r.id
          LIMIT ${rowLimit(options.limit)}`
        if (rows.length === 0) return []
        const why = stallMessageAround(thresholdSecs(options.threshold), options.pass)
        // The runs as `stall` leaves them, built from what it writes, with no RETURNING to read: the
        // status, the reason around the heartbeat's stored text (the row's own, as the UPDATE
        // concatenates it) and the stall's instant as stored (the SELECT's `updated_at`).
        // Built field by field, in the domain's order (WorkflowRun), with no rest or spread copy of the row.
        const stalled: Array<StalledRun> = (yield* decodeRows(decode.stalledRun)(rows)).map(
          ({ id, job_id, last_heartbeat, created_at, updated_at, job_trace_id }, i): StalledRun => ({
            run: {
              id,
              job_id,
              status: "stalled",
              last_heartbeat,
              error_message: why.before + (rows[i] as { readonly last_heartbeat: string }).last_heartbeat + why.after,
              created_at,
              updated_at
            },
            trace_id: job_trace_id
          })
        )
        yield* stall(stalled, {
          at,
          stalledAt: stalledAt("workflow_runs", sql`(SELECT j.updated_at FROM ai_jobs AS j WHERE j.id = workflow_runs.job_id)`),
          why,
          threshold: options.threshold, record: options.recordRecovery === true })
        yield* insertEvents(yield* auditRecords(options.events, stalled))
        return stalled
      }))
    },
    alreadyExistsAsStorageError("JobStore.stallStaleRuns"),
    storageErrors("JobStore.stallStaleRuns")
  )

  const stallJobsUnderStalledRuns: NonNullable<Service["stallJobsUnderStalledRuns"]> = Effect.fnUntraced(
    function*(options) {
      return yield* transaction(Effect.gen(function*() {
        const at = yield* encode.timestamp(yield* DateTime.now)
        // Under the write lock: what is read here is what the writes below find.
        const rows = yield* sql`
          SELECT r.id, r.job_id, r.status, r.last_heartbeat, r.error_message, r.created_at, r.updated_at,
            j.trace_id AS job_trace_id
          FROM ai_jobs AS j JOIN workflow_runs AS r ON r.id = j.workflow_run_id AND r.job_id = j.id
          WHERE j.status = 'running' AND r.status = 'stalled'
          ORDER BY r.last_heartbeat, r.id`
        if (rows.length === 0) return []
        const stalled = yield* decodeRows(decode.stalledRun)(rows)
        const secs = thresholdSecs(options.threshold)
        const why = stallMessageAround(secs, options.pass)
        const runIds = JSON.stringify(stalled.map(({ id }) => id))
        const minted = stalled.map(({ id }) => [id, uuidv7()] as const)
        const pairs = JSON.stringify(minted)
        // As `stall` moves a job: the reason around its run's heartbeat, at the reading or, if the job
        // or its run changed at or after it, after that change (moveInstant.ts `instantAfter`).
        const stalledAt = instantAfter(sql, {
          reading: at,
          last: sql`max(updated_at, (SELECT r.updated_at FROM workflow_runs AS r WHERE r.id = workflow_run_id))`,
          jobId: sql.literal("ai_jobs.id"),
          firstId: minted[0]![1]
        })
        yield* sql`
          UPDATE ai_jobs SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON},
            error_message = ${why.before} || (SELECT r.last_heartbeat FROM workflow_runs AS r WHERE r.id = workflow_run_id) || ${why.after},
            updated_at = ${stalledAt}
          WHERE status = 'running' AND workflow_run_id IN (SELECT value FROM json_each(${runIds}))`
        yield* sql`
          INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
          SELECT m.event_id, j.updated_at, 'system', 'workflow_recovery', j.trace_id, j.id, r.id,
            ${recoveryBody(sql, secs, true, "j")}
          ${pairedRuns(sql, pairs)}`
        return stalled.map(({ job_trace_id, ...run }): StalledRun => ({ run, trace_id: job_trace_id }))
      }))
    },
    alreadyExistsAsStorageError("JobStore.stallJobsUnderStalledRuns"),
    storageErrors("JobStore.stallJobsUnderStalledRuns")
  )

  const pruneJobs: Service["pruneJobs"] = Effect.fnUntraced(
    function*(options) {
      const cutoff = instantBound(options.olderThan)
      // SQLite reads LIMIT -1 as "no limit": never let a negative through.
      const keep = Number.isFinite(options.keepNewest) ? Math.max(0, Math.floor(options.keepNewest)) : 0
      const prunable = sql.literal(prunableStatus)
      // Named, so the planner never prefers the status index and a sort (it would on a young database).
      const prunableJobs = sql.literal("ai_jobs INDEXED BY ai_jobs_prunable_by_updated")
      const old = sql`${prunable} AND updated_at < ${cutoff}`
      // The window: the newest `keep` unpinned prunable jobs, whatever their age.
      const kept = sql`
        SELECT id FROM ${prunableJobs} WHERE ${prunable} AND is_pinned = 0
        ORDER BY updated_at DESC, id DESC
        LIMIT ${keep}`
      const batchSize = options.dryRun === true ? undefined : options.batchSize
      // One batch: the oldest `batchSize` jobs the prune would delete, deleted and then, when the
      // batch is short (the last), the old ones it spared counted, all under one write lock.
      const batch = (size: number) => Effect.gen(function*() {
        const result = yield* sql`
          DELETE FROM ai_jobs WHERE id IN (
            SELECT id FROM ${prunableJobs} WHERE ${old} AND is_pinned = 0 AND id NOT IN (${kept})
            ORDER BY updated_at, id
            LIMIT ${size}
          )`.raw
        const pruned = (result as { readonly changes?: number }).changes ?? 0
        if (pruned > 0) yield* sql`DELETE FROM run_offers WHERE NOT EXISTS (SELECT 1 FROM ai_jobs WHERE ai_jobs.id = run_offers.job_id)`
        // A full batch may leave more to prune: it counts only what it pruned (JobStore.pruneJobs).
        if (pruned === size) return { scanned: pruned, pruned, spared_pinned: 0, spared_window: 0 }
        // Every old unpinned prunable job left is in the window, or this batch would have taken it.
        const [left] = yield* sql<{ readonly old: number; readonly spared_pinned: number }>`
          SELECT count(*) AS old, coalesce(sum(is_pinned = 1), 0) AS spared_pinned
          FROM ${prunableJobs} WHERE ${old}`
        const spared_pinned = left?.spared_pinned ?? 0
        return { scanned: pruned + (left?.old ?? 0), pruned, spared_pinned, spared_window: (left?.old ?? 0) - spared_pinned }
      })
      if (batchSize !== undefined) {
        const report = yield* transaction.join(Effect.gen(function*() {
          const report = yield* batch(batchSize)
          yield* insertEvents(yield* auditRecords(options.events, report))
          return report
        }))
        // A short batch ends a prune: the pruned jobs' bytes leave the WAL then (erasure.ts).
        yield* afterErasure(report.pruned, report.pruned < batchSize)
        return report
      }
      // Counted and deleted under one write lock, so the report is what happened.
      const report = yield* transaction.join(Effect.gen(function*() {
        const [counts] = yield* sql<{ readonly scanned: number; readonly spared_pinned: number; readonly spared_window: number }>`
          SELECT count(*) AS scanned,
            coalesce(sum(is_pinned = 1), 0) AS spared_pinned,
            coalesce(sum(is_pinned = 0 AND id IN (${kept})), 0) AS spared_window
          FROM ${prunableJobs} WHERE ${old}`
        const scanned = counts?.scanned ?? 0
        const spared_pinned = counts?.spared_pinned ?? 0
        if (options.dryRun === true) {
          const spared_window = counts?.spared_window ?? 0
          return { scanned, pruned: scanned - spared_pinned - spared_window, spared_pinned, spared_window }
        }
        // One set-based statement; runs and nodes go by ON DELETE CASCADE, events stay.
        const result = yield* sql`DELETE FROM ${prunableJobs} WHERE ${old} AND is_pinned = 0 AND id NOT IN (${kept})`.raw
        const pruned = (result as { readonly changes?: number }).changes ?? 0
        // Offers have no reference to cascade by (migration 0016 says why): a pruned job's go here.
        if (pruned > 0) yield* sql`DELETE FROM run_offers WHERE NOT EXISTS (SELECT 1 FROM ai_jobs WHERE ai_jobs.id = run_offers.job_id)`
        const report = { scanned, pruned, spared_pinned, spared_window: scanned - spared_pinned - pruned }
        yield* insertEvents(yield* auditRecords(options.events, report))
        return report
      }))
      // The pruned jobs' inputs, outputs and node payloads leave the WAL too (erasure.ts).
      if (options.dryRun !== true) yield* afterErasure(report.pruned, true)
      return report
    },
    alreadyExistsAsStorageError("JobStore.pruneJobs"),
    storageErrors("JobStore.pruneJobs")
  )

  return { claimNext, ...makeClaimAdmitted(context), findStaleRuns, stallStaleRuns, stallJobsUnderStalledRuns, pruneJobs }
}
