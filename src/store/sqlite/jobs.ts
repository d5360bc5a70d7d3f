/**
 * Jobs on SQLite: create, read, list, guarded transitions, patches, pinning
 * and pruning (R5, R6, R18).
 */
import type { Fragment } from "@effect/sql/Statement"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { NewAiJob } from "../../domain/AiJob.js"
import { IllegalTransition } from "../../domain/Errors.js"
import type { JobState } from "../../domain/JobState.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { pageSize } from "../internal/cursor.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { Audit, Audited, JobFilter, JobPatch, JobStore, TransitionRequest } from "../JobStore.js"
import type { AiJob } from "../../domain/AiJob.js"
import { auditRecords } from "../internal/audit.js"
import { AlreadyExists, NotFound } from "../StoreErrors.js"
import { decodeCursor, pageOf } from "../internal/cursor.js"
import { decode, encode } from "./rows.js"
import { decodeJobIds, jobIdSearch } from "../internal/jobIdSearch.js"
import { newJob } from "../internal/newRows.js"
import {
  alreadyExistsAsStorageError,
  insertEvents,
  instantText,
  type SqliteContext,
  sqliteCode,
  storageErrors
} from "./support.js"

type Service = JobStore["Type"]

/** The states whose old jobs pruning may delete: terminal, and failed. */
const prunableStates: ReadonlyArray<JobState> = [...Lifecycle.prunableStates]

/** The job methods of the SQLite store. */
export const makeJobMethods = ({ sql, write }: SqliteContext) => {
  /** A job by id, if it exists (inside or outside a transaction). */
  const findJob = (jobId: string) =>
    Effect.flatMap(
      sql`SELECT * FROM ai_jobs WHERE id = ${jobId}`,
      ([row]) => (row === undefined ? Effect.succeedNone : Effect.asSome(decode.job(row)))
    )

  /** Runs `UPDATE ai_jobs SET ... WHERE <guards> RETURNING *` and decodes the row, if one matched. */
  const updateJobRow = (set: Record<string, unknown>, guards: ReadonlyArray<Fragment>) =>
    Effect.flatMap(
      sql`UPDATE ai_jobs SET ${sql.update(set)} WHERE ${sql.and(guards)} RETURNING *`,
      ([row]) => (row === undefined ? Effect.succeedNone : Effect.asSome(decode.job(row)))
    )

  const createJob: Service["createJob"] = Effect.fn("JobStore.createJob")(
    function*(input: NewAiJob, options?: Audited<AiJob>) {
      const now = yield* DateTime.now
      const job = newJob(input, now)
      const row = yield* encode.job(job)
      yield* write(Effect.gen(function*() {
        yield* Effect.catchIf(
          sql`INSERT INTO ai_jobs ${sql.insert(row)}`,
          (error) => sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY",
          () => Effect.fail(new AlreadyExists({ entity: "job", id: job.job_id }))
        )
        yield* insertEvents(sql, yield* auditRecords(options?.events, job))
      }))
      // What was written is exactly what a read gives back (timestamps are whole milliseconds).
      return job
    },
    storageErrors("JobStore.createJob")
  )

  const getJob: Service["getJob"] = Effect.fn("JobStore.getJob")(
    function*(jobId) {
      const job = yield* findJob(jobId)
      if (Option.isNone(job)) return yield* new NotFound({ entity: "job", id: jobId })
      return job.value
    },
    storageErrors("JobStore.getJob")
  )

  // Under the write transaction's lock (a savepoint inside the caller's
  // transaction): nothing changes the job until the caller's transaction ends.
  const lockJob: Service["lockJob"] = Effect.fn("JobStore.lockJob")(
    function*(jobId) {
      const job = yield* write(findJob(jobId))
      if (Option.isNone(job)) return yield* new NotFound({ entity: "job", id: jobId })
      return job.value
    },
    storageErrors("JobStore.lockJob")
  )

  const listJobs: Service["listJobs"] = Effect.fn("JobStore.listJobs")(
    function*(filter: JobFilter = {}) {
      const limit = pageSize(filter.limit)
      const descending = filter.order === "desc"
      const where: Array<Fragment> = []
      if (filter.states !== undefined) where.push(sql.in("status", filter.states))
      if (filter.kinds !== undefined) where.push(sql.in("job_kind", filter.kinds))
      if (filter.created_after !== undefined) where.push(sql`created_at > ${instantText(filter.created_after)}`)
      if (filter.created_before !== undefined) where.push(sql`created_at < ${instantText(filter.created_before)}`)
      if (filter.trace_id !== undefined) where.push(sql`trace_id = ${filter.trace_id}`)
      if (filter.workflow_run_id !== undefined) where.push(sql`workflow_run_id = ${filter.workflow_run_id}`)
      if (filter.cursor !== undefined) {
        const { at, id } = yield* decodeCursor(filter.cursor)
        where.push(descending ? sql`(created_at, id) < (${at}, ${id})` : sql`(created_at, id) > (${at}, ${id})`)
      }
      const order = descending ? sql.literal("created_at DESC, id DESC") : sql.literal("created_at, id")
      const rows = yield* sql`
        SELECT * FROM ai_jobs WHERE ${sql.and(where)}
        ORDER BY ${order}
        LIMIT ${limit + 1}`
      const items = yield* decodeRows(decode.job)(rows.slice(0, limit))
      return pageOf(items, rows.length > limit, (job) => [job.created_at, job.job_id])
    },
    storageErrors("JobStore.listJobs")
  )

  const findJobIds: Service["findJobIds"] = Effect.fn("JobStore.findJobIds")(
    function*(text: string, options?: { readonly limit?: number }) {
      const { abbreviation, limit } = yield* jobIdSearch(text, options)
      const { ending } = abbreviation
      // Ids that start with it: a range of the primary key.
      const starting = sql`SELECT id FROM ai_jobs WHERE id BETWEEN ${abbreviation.first} AND ${abbreviation.last}`
      // Ids that end with it: `substr(id, 29)` is spelled exactly as index ai_jobs_by_short_id (migration 0006) has it.
      const rows = ending === null
        ? yield* sql`${starting} ORDER BY id LIMIT ${limit}`
        : yield* sql`
          ${starting}
          UNION
          SELECT id FROM ai_jobs WHERE substr(id, 29) = ${ending.shortId} AND substr(id, ${37 - ending.text.length}) = ${ending.text}
          ORDER BY id LIMIT ${limit}`
      return yield* decodeJobIds(rows)
    },
    storageErrors("JobStore.findJobIds")
  )

  const transition: Service["transition"] = Effect.fn("JobStore.transition")(
    function*(request: TransitionRequest) {
      return yield* write(Effect.gen(function*() {
        const set = yield* encode.jobColumns({
          status: request.to,
          updated_at: yield* DateTime.now,
          ...(request.status_reason !== undefined ? { status_reason: request.status_reason } : {}),
          ...(request.error_message !== undefined ? { error_message: request.error_message } : {}),
          ...(request.workflow_run_id !== undefined ? { workflow_run_id: request.workflow_run_id } : {})
        })
        // The lifecycle table is the guard: `stalled` has no allowed source here (R6a).
        const guards: Array<Fragment> = [sql`id = ${request.job_id}`, sql.in("status", Lifecycle.allowedFrom(request.to))]
        if (request.from !== undefined) guards.push(sql`status = ${request.from}`)
        const updated = yield* updateJobRow(set, guards)
        if (Option.isNone(updated)) {
          const current = yield* findJob(request.job_id)
          if (Option.isNone(current)) return yield* new NotFound({ entity: "job", id: request.job_id })
          return yield* new IllegalTransition({ job_id: request.job_id, from: current.value.state, to: request.to })
        }
        yield* insertEvents(sql, yield* auditRecords(request.events, updated.value))
        return updated.value
      }))
    },
    alreadyExistsAsStorageError("JobStore.transition"),
    storageErrors("JobStore.transition")
  )

  /** Sets columns of one job (and `updated_at`), writing `events` with it. */
  const patchJob = (jobId: string, columns: Parameters<typeof encode.jobColumns>[0], events: Audit<AiJob> | undefined) =>
    write(Effect.gen(function*() {
      const set = yield* encode.jobColumns({ ...columns, updated_at: yield* DateTime.now })
      const updated = yield* updateJobRow(set, [sql`id = ${jobId}`])
      if (Option.isNone(updated)) return yield* new NotFound({ entity: "job", id: jobId })
      yield* insertEvents(sql, yield* auditRecords(events, updated.value))
      return updated.value
    }))

  const updateJob: Service["updateJob"] = Effect.fn("JobStore.updateJob")(
    function*(jobId, patch: JobPatch) {
      return yield* patchJob(jobId, {
        ...(patch.metrics !== undefined ? { metrics: patch.metrics } : {}),
        ...(patch.job_outputs !== undefined ? { job_outputs: patch.job_outputs } : {}),
        ...(patch.status_reason !== undefined ? { status_reason: patch.status_reason } : {}),
        ...(patch.error_message !== undefined ? { error_message: patch.error_message } : {})
      }, patch.events)
    },
    alreadyExistsAsStorageError("JobStore.updateJob"),
    storageErrors("JobStore.updateJob")
  )

  const setPinned: Service["setPinned"] = Effect.fn("JobStore.setPinned")(
    function*(jobId, pinned: boolean, options?: Audited<AiJob>) {
      return yield* write(Effect.gen(function*() {
        const set = yield* encode.jobColumns({ is_pinned: pinned, updated_at: yield* DateTime.now })
        // Guarded on the flag: a job already so matches nothing, and nothing (no event either) is written.
        const updated = yield* updateJobRow(set, [sql`id = ${jobId}`, sql`is_pinned <> ${pinned ? 1 : 0}`])
        if (Option.isSome(updated)) {
          yield* insertEvents(sql, yield* auditRecords(options?.events, updated.value))
          return updated.value
        }
        const current = yield* findJob(jobId)
        if (Option.isNone(current)) return yield* new NotFound({ entity: "job", id: jobId })
        return current.value
      }))
    },
    alreadyExistsAsStorageError("JobStore.setPinned"),
    storageErrors("JobStore.setPinned")
  )

  const pruneJobs: Service["pruneJobs"] = Effect.fn("JobStore.pruneJobs")(
    function*(options) {
      const cutoff = instantText(options.olderThan)
      // SQLite reads LIMIT -1 as "no limit": never let a negative through.
      const keep = Number.isFinite(options.keepNewest) ? Math.max(0, Math.floor(options.keepNewest)) : 0
      const old = sql`status IN ${sql.in(prunableStates)} AND updated_at < ${cutoff}`
      // The window: the newest `keep` unpinned prunable jobs, whatever their age.
      const kept = sql`
        SELECT id FROM ai_jobs WHERE status IN ${sql.in(prunableStates)} AND is_pinned = 0
        ORDER BY updated_at DESC, id DESC
        LIMIT ${keep}`
      // Counted and deleted under one write lock, so the report is what happened.
      return yield* write(Effect.gen(function*() {
        const [counts] = yield* sql<{ readonly scanned: number; readonly spared_pinned: number; readonly spared_window: number }>`
          SELECT count(*) AS scanned,
            coalesce(sum(is_pinned = 1), 0) AS spared_pinned,
            coalesce(sum(is_pinned = 0 AND id IN (${kept})), 0) AS spared_window
          FROM ai_jobs WHERE ${old}`
        const scanned = counts?.scanned ?? 0
        const spared_pinned = counts?.spared_pinned ?? 0
        if (options.dryRun === true) {
          const spared_window = counts?.spared_window ?? 0
          return { scanned, pruned: scanned - spared_pinned - spared_window, spared_pinned, spared_window }
        }
        // One set-based statement; runs and nodes go by ON DELETE CASCADE, events stay.
        const result = yield* sql`DELETE FROM ai_jobs WHERE ${old} AND is_pinned = 0 AND id NOT IN (${kept})`.raw
        const pruned = (result as { readonly changes?: number }).changes ?? 0
        const report = { scanned, pruned, spared_pinned, spared_window: scanned - spared_pinned - pruned }
        yield* insertEvents(sql, yield* auditRecords(options.events, report))
        return report
      }))
    },
    alreadyExistsAsStorageError("JobStore.pruneJobs"),
    storageErrors("JobStore.pruneJobs")
  )

  return { createJob, getJob, lockJob, listJobs, findJobIds, transition, updateJob, setPinned, pruneJobs }
}
