/**
 * Jobs on SQLite: create, read, list, guarded transitions, patches and
 * pinning (R5, R6).
 */
import { SqlError } from "@effect/sql/SqlError"
import type { Fragment } from "@effect/sql/Statement"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { NewAiJob } from "../../domain/AiJob.js"
import { IllegalTransition } from "../../domain/Errors.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { pageSize } from "../internal/cursor.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { Audit, Change, Creation, JobFilter, JobPatch, JobStore, TransitionRequest } from "../JobStore.js"
import type { AiJob } from "../../domain/AiJob.js"
import { auditRecords } from "../internal/audit.js"
import { AlreadyExists, NotFound } from "../StoreErrors.js"
import { decodeMillisecondCursor, pageOf } from "../internal/cursor.js"
import { decode } from "./rows.js"
import { JOB_COLUMNS, jobValues, jsonText, storedInstant } from "./rowCodec.js"
import { decodeJobIds, jobIdSearch } from "../internal/jobIdSearch.js"
import { newJob } from "../internal/newRows.js"
import { sqliteCode, storageErrors } from "./errors.js"
import { atOrNow } from "../internal/now.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import { insertEventsStep, insertText, type SqliteContext } from "./context.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { runThrough, type Step } from "./step.js"
import { filterBound } from "./rows.js"
import { flatMapKnown } from "../../util/knownEffects.js"

type Service = JobStore["Type"]

/** Column assignments for `UPDATE ... SET`: the columns are the store's own names, never input. */
type Assignments = ReadonlyArray<readonly [column: string, value: unknown]>

const INSERT_JOB = insertText("ai_jobs", JOB_COLUMNS)

/** Writes a new job and its records (step.ts); a taken job id is `AlreadyExists` naming it. */
export function* insertJob(job: AiJob, records: ReadonlyArray<EventRecord>): Step<void> {
  try {
    yield [INSERT_JOB, jobValues(job)]
  } catch (error) {
    throw error instanceof SqlError && sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY"
      ? new AlreadyExists({ entity: "job", id: job.job_id })
      : error
  }
  yield* insertEventsStep(records)
}

/** `insertJob`, giving the job written. */
function* insertedJob(job: AiJob, records: ReadonlyArray<EventRecord>): Step<AiJob> {
  yield* insertJob(job, records)
  return job
}

/** The job methods of the SQLite store. */
export const makeJobMethods = ({ change, exec, insertEvents, sql, transaction }: SqliteContext) => {
  /** A job by id, if it exists (inside or outside a transaction). */
  const findJob = (jobId: string) =>
    Effect.flatMap(
      exec("SELECT * FROM ai_jobs WHERE id = ?", [jobId]),
      ([row]) => (row === undefined ? Effect.succeedNone : Effect.asSome(decode.job(row)))
    )

  /** Runs `UPDATE ai_jobs SET ... WHERE <where> RETURNING *` and decodes the row, if one matched. */
  /**
   * A column's assignment; `updated_at` never goes back before the job's last
   * change (one text form: text order is time order). A clock stepped back,
   * or another host's behind it, wrote a change before the one it follows.
   */
  const assignment = (column: string): string => column === "updated_at" ? "updated_at = max(updated_at, ?)" : `${column} = ?`

  const updateJobRow = (set: Assignments, where: string, whereParams: ReadonlyArray<unknown>) =>
    Effect.flatMap(
      exec(
        `UPDATE ai_jobs SET ${set.map(([column]) => assignment(column)).join(", ")} WHERE ${where} RETURNING *`,
        [...set.map(([, value]) => value), ...whereParams]
      ),
      ([row]) => (row === undefined ? Effect.succeedNone : Effect.asSome(decode.job(row)))
    )

  /**
   * A change of one job row and its events: the row's statement alone when
   * the change is not audited (one statement is atomic by itself), else one
   * transaction — the caller's when there is one (joined: a failure there
   * ends it, so the row is never left without its events).
   */
  const auditedChange = <A, E, R>(events: unknown, change: Effect.Effect<A, E | SqlError, R>) =>
    events === undefined ? transaction.single(change) : transaction.join(change)

  /** Without a generator: it runs once per job (issue 16). */
  const createJob: Service["createJob"] = (input: NewAiJob, options?: Creation<AiJob>) =>
    storageErrors("JobStore.createJob")(atOrNow(options?.at, (now) => {
      const job = newJob(input, now)
      // The records are a function of the job, known before it is written: usually at once, no Effect step for them.
      return flatMapKnown(auditRecords(options?.events, job), (records) =>
        // With records one transaction (the caller's when there is one), run as a step that gives the job; without, the INSERT alone.
        // What was written is exactly what a read gives back (timestamps are whole milliseconds).
        records.length === 0
          ? Effect.as(transaction.single(runThrough<void, AlreadyExists | SqlError>(() => insertJob(job, records), exec)), job)
          : change<AiJob, AlreadyExists | SqlError>(() => insertedJob(job, records)))
    }))

  const getJob: Service["getJob"] = Effect.fnUntraced(
    function*(jobId) {
      const job = yield* findJob(jobId)
      if (Option.isNone(job)) return yield* new NotFound({ entity: "job", id: jobId })
      return job.value
    },
    storageErrors("JobStore.getJob")
  )

  // Inside the caller's transaction, which took the write lock at its BEGIN
  // IMMEDIATE: nothing changes the job until that transaction ends. Outside
  // one it is a plain read (see JobStore.lockJob).
  const lockJob: Service["lockJob"] = getJob

  const listJobs: Service["listJobs"] = Effect.fnUntraced(
    function*(filter: JobFilter = {}) {
      const limit = pageSize(filter.limit)
      // A cursor continues in its own order (cursor.ts): it decides when given.
      const key = filter.cursor === undefined ? undefined : yield* decodeMillisecondCursor(filter.cursor, "jobs", filter.order)
      const descending = (key?.order ?? filter.order) === "desc"
      const where: Array<Fragment> = []
      if (filter.states !== undefined) where.push(sql.in("status", filter.states))
      if (filter.kinds !== undefined) where.push(sql.in("job_kind", filter.kinds))
      if (filter.created_after !== undefined) where.push(sql`created_at > ${filterBound(filter.created_after)}`)
      if (filter.created_before !== undefined) where.push(sql`created_at < ${filterBound(filter.created_before)}`)
      if (filter.trace_id !== undefined) where.push(sql`trace_id = ${filter.trace_id}`)
      if (filter.workflow_run_id !== undefined) where.push(sql`workflow_run_id = ${filter.workflow_run_id}`)
      if (key !== undefined) {
        const { at, id } = key
        where.push(descending ? sql`(created_at, id) < (${at}, ${id})` : sql`(created_at, id) > (${at}, ${id})`)
      }
      const order = descending ? sql.literal("created_at DESC, id DESC") : sql.literal("created_at, id")
      const rows = yield* sql`
        SELECT * FROM ai_jobs WHERE ${sql.and(where)}
        ORDER BY ${order}
        LIMIT ${limit + 1}`
      const items = yield* decodeRows(decode.job)(rows.slice(0, limit))
      return pageOf(items, rows.length > limit, (job) => [job.created_at, job.job_id], {
        listing: "jobs",
        order: descending ? "desc" : "asc"
      })
    },
    storageErrors("JobStore.listJobs")
  )

  const findJobIds: Service["findJobIds"] = Effect.fnUntraced(
    function*(text: string, options?: { readonly limit?: number | undefined }) {
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

  const transition: Service["transition"] = Effect.fnUntraced(
    function*(request: TransitionRequest) {
      // The move's instant when its caller chose one (JobStore.ts `Change`), else the clock's.
      const now = storedInstant(request.at ?? (yield* DateTime.now))
      const set: Array<readonly [string, unknown]> = [["status", request.to], ["updated_at", now]]
      if (request.status_reason !== undefined) set.push(["status_reason", request.status_reason])
      if (request.error_message !== undefined) set.push(["error_message", request.error_message])
      if (request.workflow_run_id !== undefined) set.push(["workflow_run_id", request.workflow_run_id])
      if (request.attempt !== undefined) set.push(["attempt", request.attempt])
      if (request.run_after !== undefined) set.push(["run_after", storedInstant(request.run_after)])
      // The lifecycle table is the guard: `stalled` has no allowed source here (R6a).
      const allowed = Lifecycle.allowedFrom(request.to)
      const where = `id = ? AND status IN (${allowed.map(() => "?").join(", ")})${request.from !== undefined ? " AND status = ?" : ""}`
      const whereParams = [request.job_id, ...allowed, ...(request.from !== undefined ? [request.from] : [])]
      return yield* auditedChange(request.events, Effect.gen(function*() {
        const updated = yield* updateJobRow(set, where, whereParams)
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

  /** Sets columns of one job (and `updated_at`: `at`, else now), writing `events` with it. */
  const patchJob = (jobId: string, columns: Assignments, events: Audit<AiJob> | undefined, at: DateTime.Utc | undefined) =>
    Effect.flatMap(at === undefined ? DateTime.now : Effect.succeed(at), (now) =>
      auditedChange(events, Effect.gen(function*() {
        const updated = yield* updateJobRow([...columns, ["updated_at", storedInstant(now)]], "id = ?", [jobId])
        if (Option.isNone(updated)) return yield* new NotFound({ entity: "job", id: jobId })
        yield* insertEvents(yield* auditRecords(events, updated.value))
        return updated.value
      })))

  const updateJob: Service["updateJob"] = Effect.fnUntraced(
    function*(jobId, patch: JobPatch) {
      const set: Array<readonly [string, unknown]> = []
      if (patch.metrics !== undefined) set.push(["metrics", jsonText(patch.metrics)])
      if (patch.job_outputs !== undefined) set.push(["job_outputs", jsonText(patch.job_outputs)])
      if (patch.status_reason !== undefined) set.push(["status_reason", patch.status_reason])
      if (patch.error_message !== undefined) set.push(["error_message", patch.error_message])
      return yield* patchJob(jobId, set, patch.events, patch.at)
    },
    alreadyExistsAsStorageError("JobStore.updateJob"),
    storageErrors("JobStore.updateJob")
  )

  const setPinned: Service["setPinned"] = Effect.fnUntraced(
    function*(jobId, pinned: boolean, options?: Change<AiJob>) {
      const now = storedInstant(options?.at ?? (yield* DateTime.now))
      return yield* auditedChange(options?.events, Effect.gen(function*() {
        // Guarded on the flag: a job already so matches nothing, and nothing (no event either) is written.
        const updated = yield* updateJobRow([["is_pinned", pinned ? 1 : 0], ["updated_at", now]], "id = ? AND is_pinned <> ?", [
          jobId,
          pinned ? 1 : 0
        ])
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
