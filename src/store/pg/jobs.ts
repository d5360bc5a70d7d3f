/** Jobs on PostgreSQL: create, read, list, patch, and the guarded lifecycle UPDATE (R6). */
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import { IllegalTransition } from "../../domain/Errors.js"
import { type JobId } from "../../domain/Ids.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { pageSize } from "../internal/cursor.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { Audit, Change, JobFilter, JobPatch, JobStore, TransitionRequest } from "../JobStore.js"
import { AlreadyExists, type CorruptRow, NotFound } from "../StoreErrors.js"
import type { FixedWrite, PgContext } from "./context.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import { decodeCursor, exactInstant, keyOfEpochMicros, pageOf } from "../internal/cursor.js"
import { columns, decode, encodeJson, filterBound, instantParam } from "./rows.js"
import { storageErrors, storageErrorsOutside } from "./errors.js"
import { newJob } from "../internal/newRows.js"
import { decodeJobIds, jobIdSearch } from "../internal/jobIdSearch.js"
import { atOrNow } from "../internal/now.js"
import { hasStatus, hasStatusIn } from "./keyedGuard.js"
import { makeCreateClaimed } from "./createClaimed.js"

type Service = Context.Tag.Service<JobStore>

/**
 * createJob's INSERT, one `?` per parameter, as the pieces of a `sql`
 * template (`auditedFixed` puts it in a statement with the records): one
 * statement, spelled once. ON CONFLICT instead of catching the unique
 * violation: whether the id was taken comes from RETURNING, not from parsing an error.
 */
export const insertJob = (() => {
  const pieces = `
    INSERT INTO ai_jobs (${columns.job}) VALUES (
      ?, ?, NULL, ?, ?, ?, NULL, ?, ?, ?, ?, ?,
      ?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb, NULL,
      ?, ?::timestamptz, ?::timestamptz, ?, ?, ?::timestamptz, ?, ?::jsonb)
    ON CONFLICT (id) DO NOTHING
    RETURNING id`.split("?")
  return { template: Object.assign([...pieces], { raw: pieces }) as TemplateStringsArray }
})()

// A new job's usual JSON columns, encoded once: no lists, and `JobMetrics.zero` (the readonly constant `newJob` gives every new job).
/**
 * A job's next `updated_at`: the writer's clock reading, never before the
 * job's last change. A clock stepped back (NTP, a VM resumed), or another
 * host's behind it, wrote a change before the one it follows: `updated_at`
 * before `created_at`, and a Janitor pruning a job cancelled moments ago
 * (found by an outside probe).
 */
const notBefore = (sql: PgContext["sql"], now: DateTime.Utc): Statement.Fragment =>
  sql`GREATEST(updated_at, ${instantParam(now)}::timestamptz)`

const emptyListJson = Effect.runSync(encodeJson.entityRefs([]))
const zeroMetricsJson = Effect.runSync(encodeJson.metrics(JobMetrics.zero))

/** The INSERT's parameters once its JSON columns are text. */
const jobParams = (job: AiJob, now: DateTime.Utc, at: string, json: {
  readonly entity_refs: string
  readonly planned_operations: string
  readonly metrics: string
  readonly backoff: string | null
}) => [
  job.job_id, job.trace_id, job.job_kind, job.state, job.status_reason,
  job.protocol_id, job.profile_id, job.capability_profile_id, job.access_mode, job.safety_mode,
  json.entity_refs, json.planned_operations, json.metrics,
  encodeJson.portPayload(job.job_inputs),
  job.is_pinned, at, at,
  job.attempt, job.max_attempts, job.run_after === now ? at : instantParam(job.run_after), job.priority,
  json.backoff
]
/** The usual new job's parameters (no lists, zero metrics, no backoff of its own), without an Effect step; else undefined. */
const usualParams = (job: AiJob, now: DateTime.Utc, at: string) =>
  job.entity_refs.length === 0 && job.planned_operations.length === 0 && job.metrics === JobMetrics.zero &&
    job.backoff === null
    ? jobParams(job, now, at, { entity_refs: emptyListJson, planned_operations: emptyListJson, metrics: zeroMetricsJson, backoff: null })
    : undefined
/** Any new job's parameters, its JSON columns encoded (and checked) through their schemas. */
const encodedParams = (job: AiJob, now: DateTime.Utc, at: string) =>
  Effect.map(
    Effect.all([
      job.entity_refs.length === 0 ? Effect.succeed(emptyListJson) : encodeJson.entityRefs(job.entity_refs),
      job.planned_operations.length === 0 ? Effect.succeed(emptyListJson) : encodeJson.plannedOperations(job.planned_operations),
      job.metrics === JobMetrics.zero ? Effect.succeed(zeroMetricsJson) : encodeJson.metrics(job.metrics),
      encodeJson.backoff(job.backoff)
    ]),
    ([entity_refs, planned_operations, metrics, backoff]) => jobParams(job, now, at, { entity_refs, planned_operations, metrics, backoff })
  )

/**
 * `createJob`, and `outside`: the same method for a caller that checked no
 * transaction is open and runs it uninterruptibly (group commit's line,
 * coalesced.ts) — the row and its failure handled in the statement's own
 * callback (`writeOutside`), no second look for a transaction. The job is
 * known before it is written, and so are its records: they go in the
 * INSERT's own statement, atomic without BEGIN/COMMIT.
 */
export const makeCreateJob = ({ auditedFixed }: Pick<PgContext, "auditedFixed">) => {
  const insert = auditedFixed("created", insertJob.template)
  const createWith = (write: FixedWrite, reported: ReturnType<typeof storageErrors>): Service["createJob"] => (input, options) =>
    reported(atOrNow(options?.at, (now) => {
      const job = newJob(input, now)
      const at = instantParam(now)
      const created = (row: unknown) =>
        row === undefined ? Effect.fail(new AlreadyExists({ entity: "job", id: job.job_id })) : Effect.succeed(job)
      const usual = usualParams(job, now, at)
      return usual !== undefined
        ? write(usual, options?.events, job, created)
        : Effect.flatMap(encodedParams(job, now, at), (params) => write(params, options?.events, job, created))
    }))
  return {
    createJob: createWith(insert.write, storageErrors("JobStore.createJob")),
    outside: createWith(insert.writeOutside, storageErrorsOutside("JobStore.createJob"))
  }
}

/** The job half of the store. */
export const makeJobMethods = (context: PgContext) => {
  const { audited, sql } = context
  const jobColumns = sql.literal(columns.job)
  const decodeJob = decode.aiJob
  const { createJob } = makeCreateJob(context)

  /** The job's current row, decoded, or `NotFound`. */
  const readJob = (jobId: JobId): Effect.Effect<AiJob, NotFound | CorruptRow | SqlError> =>
    Effect.gen(function*() {
      const [row] = yield* sql`SELECT ${jobColumns} FROM ai_jobs WHERE id = ${jobId}`
      if (row === undefined) return yield* new NotFound({ entity: "job", id: jobId })
      return yield* decodeJob(row)
    })

  const getJob: Service["getJob"] = (jobId) => storageErrors("JobStore.getJob")(readJob(jobId))

  const lockJob: Service["lockJob"] = Effect.fnUntraced(
    function*(jobId: JobId) {
      // NO KEY UPDATE: the lock an UPDATE of the row takes, so it neither blocks foreign-key checks
      // (a new run of this job) nor is weaker than the change that follows.
      const [row] = yield* sql`SELECT ${jobColumns} FROM ai_jobs WHERE id = ${jobId} FOR NO KEY UPDATE`
      if (row === undefined) return yield* new NotFound({ entity: "job", id: jobId })
      return yield* decodeJob(row)
    },
    storageErrors("JobStore.lockJob")
  )

  const listJobs: Service["listJobs"] = Effect.fnUntraced(
    function*(filter: JobFilter = {}) {
      const size = pageSize(filter.limit)
      // A cursor continues in its own order (cursor.ts): it decides when given.
      const key = filter.cursor === undefined ? undefined : yield* decodeCursor(filter.cursor, "jobs", filter.order)
      const descending = (key?.order ?? filter.order) === "desc"
      const where: Array<Statement.Fragment> = []
      if (filter.states !== undefined) where.push(sql.in("status", filter.states))
      if (filter.kinds !== undefined) where.push(sql.in("job_kind", filter.kinds))
      if (filter.created_after !== undefined) {
        where.push(sql`created_at > ${filterBound(filter.created_after)}::timestamptz`)
      }
      if (filter.created_before !== undefined) {
        where.push(sql`created_at < ${filterBound(filter.created_before)}::timestamptz`)
      }
      if (filter.trace_id !== undefined) where.push(sql`trace_id = ${filter.trace_id}`)
      if (filter.workflow_run_id !== undefined) where.push(sql`workflow_run_id = ${filter.workflow_run_id}`)
      if (key !== undefined) {
        where.push(descending
          ? sql`(created_at, id) < (${exactInstant(key)}::timestamptz, ${key.id}::uuid)`
          : sql`(created_at, id) > (${exactInstant(key)}::timestamptz, ${key.id}::uuid)`)
      }
      const order = descending ? sql.literal("created_at DESC, id DESC") : sql.literal("created_at, id")
      // The key to the microsecond, exactly (cursor.ts): an integer, whatever the session's DateStyle and TimeZone.
      const rows = yield* sql<{ readonly key_micros: string }>`
        SELECT ${jobColumns}, (extract(epoch FROM created_at) * 1000000)::int8 AS key_micros FROM ai_jobs
        WHERE ${sql.and(where)} ORDER BY ${order} LIMIT ${size + 1}`
      const jobs = yield* decodeRows(decode.aiJob)(rows)
      return pageOf(jobs.slice(0, size), jobs.length > size, (job, i) => keyOfEpochMicros(rows[i]!.key_micros, job.job_id), {
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
      const starting = sql`SELECT id FROM ai_jobs WHERE id BETWEEN ${abbreviation.first}::uuid AND ${abbreviation.last}::uuid`
      // Ids that end with it: `right(id::text, 8)` is spelled exactly as index ai_jobs_short_id_idx (migration 0006) has it.
      const rows = ending === null
        ? yield* sql`${starting} ORDER BY id LIMIT ${limit}`
        : yield* sql`
          ${starting}
          UNION
          SELECT id FROM ai_jobs
          WHERE right(id::text, 8) = ${ending.shortId} AND right(id::text, ${ending.text.length}) = ${ending.text}
          ORDER BY id LIMIT ${limit}`
      return yield* decodeJobIds(rows)
    },
    storageErrors("JobStore.findJobIds")
  )

  const transition: Service["transition"] = Effect.fnUntraced(
    function*(request: TransitionRequest) {
      // The move's instant when its caller chose one (JobStore.ts `Change`), else the clock's.
      const now = request.at ?? (yield* DateTime.now)
      const set = [sql`status = ${request.to}`, sql`updated_at = ${notBefore(sql, now)}`]
      if (request.status_reason !== undefined) set.push(sql`status_reason = ${request.status_reason}`)
      if (request.error_message !== undefined) set.push(sql`error_message = ${request.error_message}`)
      if (request.workflow_run_id !== undefined) set.push(sql`workflow_run_id = ${request.workflow_run_id}`)
      if (request.attempt !== undefined) set.push(sql`attempt = ${request.attempt}`)
      if (request.run_after !== undefined) set.push(sql`run_after = ${instantParam(request.run_after)}::timestamptz`)
      // The lifecycle table is the guard: a lost race matches no row, it never
      // overwrites. (`stalled` is allowed from nowhere, so it always misses.)
      // The row is found by its key; the states are checks only (keyedGuard.ts).
      const guard = [sql`id = ${request.job_id}`, hasStatusIn(sql, "status", Lifecycle.allowedFrom(request.to))]
      if (request.from !== undefined) guard.push(hasStatus(sql, "status", request.from))
      const moved = yield* audited({
        steps: [["moved", sql`UPDATE ai_jobs SET ${sql.csv(set)} WHERE ${sql.and(guard)} RETURNING ${jobColumns}`]],
        events: request.events,
        result: decodeJob
      })
      if (moved !== undefined) return moved
      const found = yield* readJob(request.job_id)
      return yield* new IllegalTransition({ job_id: request.job_id, from: found.state, to: request.to })
    },
    alreadyExistsAsStorageError("JobStore.transition"),
    storageErrors("JobStore.transition")
  )

  /** An UPDATE of one job (plus updated_at: `at`, else now), writing `events` with it. */
  const patchJob = (jobId: JobId, set: ReadonlyArray<Statement.Fragment>, events: Audit<AiJob> | undefined, at: DateTime.Utc | undefined) =>
    Effect.gen(function*() {
      const now = at ?? (yield* DateTime.now)
      const patched = yield* audited({
        steps: [["patched", sql`
          UPDATE ai_jobs SET ${sql.csv([...set, sql`updated_at = ${notBefore(sql, now)}`])}
          WHERE id = ${jobId} RETURNING ${jobColumns}`]],
        events,
        result: decodeJob
      })
      if (patched === undefined) return yield* new NotFound({ entity: "job", id: jobId })
      return patched
    })

  const updateJob: Service["updateJob"] = Effect.fnUntraced(
    function*(jobId: JobId, patch: JobPatch) {
      const set: Array<Statement.Fragment> = []
      if (patch.metrics !== undefined) set.push(sql`metrics = ${yield* encodeJson.metrics(patch.metrics)}::jsonb`)
      if (patch.job_outputs !== undefined) {
        set.push(sql`job_outputs = ${yield* encodeJson.payload(patch.job_outputs)}::jsonb`)
      }
      if (patch.status_reason !== undefined) set.push(sql`status_reason = ${patch.status_reason}`)
      if (patch.error_message !== undefined) set.push(sql`error_message = ${patch.error_message}`)
      return yield* patchJob(jobId, set, patch.events, patch.at)
    },
    alreadyExistsAsStorageError("JobStore.updateJob"),
    storageErrors("JobStore.updateJob")
  )

  const setPinned: Service["setPinned"] = Effect.fnUntraced(
    function*(jobId: JobId, pinned: boolean, options?: Change<AiJob>) {
      const now = options?.at ?? (yield* DateTime.now)
      // Guarded on the flag: a job already so matches nothing, and nothing (no event either) is written.
      const changed = yield* audited({
        steps: [["pinned", sql`
          UPDATE ai_jobs SET is_pinned = ${pinned}, updated_at = ${notBefore(sql, now)}
          WHERE id = ${jobId} AND is_pinned <> ${pinned} RETURNING ${jobColumns}`]],
        events: options?.events,
        result: decodeJob
      })
      return changed ?? (yield* readJob(jobId))
    },
    alreadyExistsAsStorageError("JobStore.setPinned"),
    storageErrors("JobStore.setPinned")
  )

  // Its own statement, never group commit's: its claim is decided in it.
  const createClaimed = makeCreateClaimed(context, createJob)

  return { createJob, createClaimed, getJob, lockJob, listJobs, findJobIds, transition, updateJob, setPinned }
}
