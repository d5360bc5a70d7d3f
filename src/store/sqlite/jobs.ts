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
import type { JobFilter, JobPatch, JobStore, TransitionRequest, WithEvents } from "../JobStore.js"
import { AlreadyExists, NotFound } from "../StoreErrors.js"
import { decodeCursor, pageOf } from "../internal/cursor.js"
import { decode, encode } from "./rows.js"
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

/** The states a job never leaves: the only ones pruning may delete. */
const terminalStates: ReadonlyArray<JobState> = [...Lifecycle.terminalStates]

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
    function*(input: NewAiJob, options?: WithEvents) {
      const now = yield* DateTime.now
      const job = newJob(input, now)
      const row = yield* encode.job(job)
      yield* write(Effect.gen(function*() {
        yield* Effect.catchIf(
          sql`INSERT INTO ai_jobs ${sql.insert(row)}`,
          (error) => sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY",
          () => Effect.fail(new AlreadyExists({ entity: "job", id: job.job_id }))
        )
        yield* insertEvents(sql, options?.events ?? [])
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
        yield* insertEvents(sql, request.events ?? [])
        return updated.value
      }))
    },
    alreadyExistsAsStorageError("JobStore.transition"),
    storageErrors("JobStore.transition")
  )

  /** Sets columns of one job (and `updated_at`), writing `events` with it. */
  const patchJob = (jobId: string, columns: Parameters<typeof encode.jobColumns>[0], events: WithEvents["events"]) =>
    write(Effect.gen(function*() {
      const set = yield* encode.jobColumns({ ...columns, updated_at: yield* DateTime.now })
      const updated = yield* updateJobRow(set, [sql`id = ${jobId}`])
      if (Option.isNone(updated)) return yield* new NotFound({ entity: "job", id: jobId })
      yield* insertEvents(sql, events ?? [])
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
    function*(jobId, pinned: boolean, options?: WithEvents) {
      return yield* write(Effect.gen(function*() {
        const set = yield* encode.jobColumns({ is_pinned: pinned, updated_at: yield* DateTime.now })
        // Guarded on the flag: a job already so matches nothing, and nothing (no event either) is written.
        const updated = yield* updateJobRow(set, [sql`id = ${jobId}`, sql`is_pinned <> ${pinned ? 1 : 0}`])
        if (Option.isSome(updated)) {
          yield* insertEvents(sql, options?.events ?? [])
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
      // One set-based statement; runs and nodes go by ON DELETE CASCADE, events stay.
      const prunable = sql`
        status IN ${sql.in(terminalStates)}
        AND updated_at < ${cutoff}
        AND is_pinned = 0
        AND id NOT IN (
          SELECT id FROM ai_jobs WHERE status IN ${sql.in(terminalStates)}
          ORDER BY updated_at DESC, id DESC
          LIMIT ${keep}
        )`
      if (options.dryRun === true) {
        const [row] = yield* sql<{ readonly count: number }>`SELECT count(*) AS count FROM ai_jobs WHERE ${prunable}`
        return { deleted: row?.count ?? 0 }
      }
      const result = yield* write(sql`DELETE FROM ai_jobs WHERE ${prunable}`.raw)
      return { deleted: (result as { readonly changes?: number }).changes ?? 0 }
    },
    storageErrors("JobStore.pruneJobs")
  )

  return { createJob, getJob, listJobs, transition, updateJob, setPinned, pruneJobs }
}
