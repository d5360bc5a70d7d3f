/**
 * Jobs on SQLite: create, read, list, guarded transitions, patches and
 * pinning (R5, R6).
 */
import type { Fragment } from "@effect/sql/Statement"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { NewAiJob } from "../../domain/AiJob.js"
import { IllegalTransition } from "../../domain/Errors.js"
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
import { sqliteCode, storageErrors } from "./errors.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import type { SqliteContext } from "./context.js"
import { instantBound } from "./rows.js"

type Service = JobStore["Type"]

/** The job methods of the SQLite store. */
export const makeJobMethods = ({ sql, transaction, insertEvents }: SqliteContext) => {
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
      yield* transaction(Effect.gen(function*() {
        yield* Effect.catchIf(
          sql`INSERT INTO ai_jobs ${sql.insert(row)}`,
          (error) => sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY",
          () => Effect.fail(new AlreadyExists({ entity: "job", id: job.job_id }))
        )
        yield* insertEvents(yield* auditRecords(options?.events, job))
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
      const job = yield* transaction(findJob(jobId))
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
      if (filter.created_after !== undefined) where.push(sql`created_at > ${instantBound(filter.created_after)}`)
      if (filter.created_before !== undefined) where.push(sql`created_at < ${instantBound(filter.created_before)}`)
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
      return yield* transaction(Effect.gen(function*() {
        const set = yield* encode.jobColumns({
          status: request.to,
          updated_at: yield* DateTime.now,
          ...(request.status_reason !== undefined ? { status_reason: request.status_reason } : {}),
          ...(request.error_message !== undefined ? { error_message: request.error_message } : {}),
          ...(request.workflow_run_id !== undefined ? { workflow_run_id: request.workflow_run_id } : {}),
          ...(request.attempt !== undefined ? { attempt: request.attempt } : {}),
          ...(request.run_after !== undefined ? { run_after: request.run_after } : {})
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
        yield* insertEvents(yield* auditRecords(request.events, updated.value))
        return updated.value
      }))
    },
    alreadyExistsAsStorageError("JobStore.transition"),
    storageErrors("JobStore.transition")
  )

  /** Sets columns of one job (and `updated_at`), writing `events` with it. */
  const patchJob = (jobId: string, columns: Parameters<typeof encode.jobColumns>[0], events: Audit<AiJob> | undefined) =>
    transaction(Effect.gen(function*() {
      const set = yield* encode.jobColumns({ ...columns, updated_at: yield* DateTime.now })
      const updated = yield* updateJobRow(set, [sql`id = ${jobId}`])
      if (Option.isNone(updated)) return yield* new NotFound({ entity: "job", id: jobId })
      yield* insertEvents(yield* auditRecords(events, updated.value))
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
      return yield* transaction(Effect.gen(function*() {
        const set = yield* encode.jobColumns({ is_pinned: pinned, updated_at: yield* DateTime.now })
        // Guarded on the flag: a job already so matches nothing, and nothing (no event either) is written.
        const updated = yield* updateJobRow(set, [sql`id = ${jobId}`, sql`is_pinned <> ${pinned ? 1 : 0}`])
        if (Option.isSome(updated)) {
          yield* insertEvents(yield* auditRecords(options?.events, updated.value))
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

  return { createJob, getJob, lockJob, listJobs, findJobIds, transition, updateJob, setPinned }
}
