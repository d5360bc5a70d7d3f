/**
 * R16a: a legacy database's references between jobs, runs and node
 * executions that name no row. The reference never enforces them (its
 * PostgreSQL schema has no foreign keys on them, its SQLite runs with foreign
 * keys off), so its own code or a crash can leave one; ours does (0002 adds
 * the foreign keys). 0002 is shipped, never edited: what it cannot take is
 * settled just before it runs, in the migration's transaction, on both stores.
 *
 * - A job's run pointer (`ai_jobs.workflow_run_id`) naming no run of its
 *   own is cleared: the run it named is not there, or is another job's (whose
 *   recovery would then move this job, R9), the pointer is only a shortcut to
 *   the job's current run, and the rest of the row is the job. Each is
 *   recorded as a `system` event of its job, from its state to the same
 *   state, as a pin's event records a change that moves no state
 *   (`clearedPointerEvents`, written once the migrations have made the Flight
 *   Recorder's table).
 * - A `running` job's pointer is the only way recovery finds it (it moves a
 *   job with the run its pointer names, R9): cleared, the job would stay
 *   running for ever, owned by no worker, never resumable. So when the job
 *   has exactly one run of its own still `running`, the pointer names that
 *   run instead (the run it runs under, as the reference's data says
 *   unambiguously), and recovery stalls the two together with the one
 *   `workflow_recovery` naming both, as for any job. Otherwise (none of its
 *   runs running, or several) no run says which attempt it was in: the
 *   pointer is cleared and the job moved to `stalled` by the upgrade itself,
 *   its event saying why, so that an operator can resume or cancel it. No
 *   run is guessed, so no event claims a run the job was not under.
 * - A `running` job whose pointer was empty all along (the reference writes
 *   it apart from the job's state, so a crash can leave a running job with
 *   none), or names a run of its own that is not running (one that ended,
 *   `completed` say, while the job went on under another, or under none) is
 *   settled the same way, by the same statements: it then names the job's
 *   one running run, or the job is stalled, each with its event. A pointer
 *   to its own `stalled` run is kept: startup recovery finishes that stall
 *   (`JobStore.stallJobsUnderStalledRuns`).
 * - Each event carries the attempt the job is on, as every lifecycle event.
 * - A run naming no job, or a node execution naming no run, is refused,
 *   named by its id: a run is its job's and a node its run's, so no pointer
 *   can be cleared, and the upgrade drops no row ("nothing is ever dropped
 *   silently", 0002).
 *
 * Case does not count, on both stores alike: PostgreSQL's 0002 makes the text
 * a uuid, and SQLite's 0004 stores ids in lower case. SQLite's 0002 foreign
 * keys compare the text as it is, so there a reference differing from its
 * row's id in case alone is first written as that id (`adoptStoredCase`);
 * then ids compare as the text (the primary key's index serves it).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { EventId, JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import type { JobState } from "../../domain/JobState.js"
import { STALLED_STATUS_REASON } from "../../domain/stallReason.js"
import { uuidv7 } from "../../domain/uuidv7.js"

/**
 * A legacy job whose run pointer named no run of its own (or, running, one
 * that recovery could not move it with), the run id it named (null: a
 * running job's pointer was empty), and whose run that is (null: none's),
 * with that run's status when it is the job's own; its legacy state, and the
 * job's own running run its pointer now names (null: cleared).
 */
export interface ClearedRunPointer {
  readonly job_id: string
  readonly workflow_run_id: string | null
  readonly run_job_id: string | null
  readonly run_status: string | null
  readonly status: string
  readonly own_run: string | null
}

/** A cleared pointer whose job was running: with no run of its own to name, the upgrade stalls it. */
const stallsAtUpgrade = (pointer: ClearedRunPointer): boolean => pointer.status === "running" && pointer.own_run === null

/** Legacy rows naming a row that is not there and cannot be kept; the upgrade stops with it, nothing changed. */
export class DanglingLegacyRows extends Error {}

/** How many refused rows the message names. */
const NAMED = 3

/** A refusal's message: the first few refused rows, how many more, then `why`. */
export const namedRefusal = (refused: ReadonlyArray<string>, why: string): string => {
  const more = refused.length > NAMED ? ` (and ${refused.length - NAMED} more)` : ""
  return `${refused.slice(0, NAMED).join("; ")}${more}. ${why}`
}

/** A legacy id, quoted as JSON: any text a legacy column holds reads plainly and stays storable. */
export const quoted = (id: string): string => JSON.stringify(id.length > 100 ? `${id.slice(0, 100)}…` : id)

/** Columns `a` and `b` hold the same id (on SQLite once `adoptStoredCase` has run). */
const sameId = (sql: SqlClient.SqlClient, a: string, b: string) =>
  sql.onDialectOrElse({
    pg: () => sql`lower(CAST(${sql(a)} AS text)) = lower(CAST(${sql(b)} AS text))`,
    orElse: () => sql`${sql(a)} = ${sql(b)}`
  })

/** `child` names no row of `parent` (by its `id`). */
const namesNoRow = (sql: SqlClient.SqlClient, parent: "ai_jobs" | "workflow_runs", child: string) =>
  sql`NOT EXISTS (SELECT 1 FROM ${sql(parent)} AS p WHERE ${sameId(sql, "p.id", child)})`

/** The legacy references, each to its table's `id`: a run's job, a node's run, a job's run pointer. */
const REFERENCES = [
  ["workflow_runs", "job_id", "ai_jobs"],
  ["workflow_node_executions", "workflow_run_id", "workflow_runs"],
  ["ai_jobs", "workflow_run_id", "workflow_runs"]
] as const

/**
 * SQLite: each reference naming no row as written but one in another case
 * is written as that row's id, so 0002's foreign keys (exact text) keep it
 * and 0004's lower-casing of job ids carries it along. Of ids differing in
 * case alone (SQLite's text key lets them both in), the lower-case one, which
 * the domain reads.
 */
const adoptStoredCase = (sql: SqlClient.SqlClient) =>
  Effect.forEach(REFERENCES, ([table, column, parent]) => {
    const differsInCase = sql`c.${sql(column)} IS NOT NULL AND ${namesNoRow(sql, parent, `c.${column}`)}
        AND EXISTS (SELECT 1 FROM ${sql(parent)} AS p WHERE lower(p.id) = lower(c.${sql(column)}))`
    // Looked for first: preparing the UPDATE prepares the table's triggers, and a DBA's trigger
    // already broken (naming a column gone) would fail an upgrade that has nothing to rewrite.
    return Effect.flatMap(sql`SELECT 1 AS found FROM ${sql(table)} AS c WHERE ${differsInCase} LIMIT 1`, (rows) =>
      rows.length === 0 ? Effect.void : sql`
      UPDATE ${sql(table)} AS c SET ${sql(column)} = (
        SELECT p.id FROM ${sql(parent)} AS p WHERE lower(p.id) = lower(c.${sql(column)}) ORDER BY p.id = lower(p.id) DESC, p.id LIMIT 1)
      WHERE ${differsInCase}`)
  }, { discard: true })

/** A legacy row and the id it names that is not there. */
interface Orphan {
  readonly id: string
  readonly names: string
}

/**
 * Refuses runs naming no job and node executions naming no run, naming the
 * first few by id; then clears every job's run pointer that names no run of
 * its own, or sets a running job's (see the header), returning what it
 * settled. Runs before 0002, on the legacy tables.
 */
export const settleLegacyReferences: Effect.Effect<ReadonlyArray<ClearedRunPointer>, SqlError | DanglingLegacyRows, SqlClient.SqlClient> =
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({ pg: () => Effect.void, orElse: () => adoptStoredCase(sql) })
    const runs = yield* sql<Orphan>`
      SELECT CAST(r.id AS text) AS id, CAST(r.job_id AS text) AS names FROM workflow_runs AS r
      WHERE r.job_id IS NOT NULL AND ${namesNoRow(sql, "ai_jobs", "r.job_id")} ORDER BY 1`
    const nodes = yield* sql<Orphan>`
      SELECT CAST(n.id AS text) AS id, CAST(n.workflow_run_id AS text) AS names FROM workflow_node_executions AS n
      WHERE n.workflow_run_id IS NOT NULL AND ${namesNoRow(sql, "workflow_runs", "n.workflow_run_id")} ORDER BY 1`
    const refused = [
      ...runs.map((run) => `workflow run ${quoted(run.id)} names job ${quoted(run.names)}, which is not in ai_jobs`),
      ...nodes.map((node) => `node execution ${quoted(node.id)} names workflow run ${quoted(node.names)}, which is not in workflow_runs`)
    ]
    if (refused.length > 0) {
      return yield* Effect.fail(new DanglingLegacyRows(namedRefusal(
        refused,
        "A run belongs to its job and a node execution to its run: " +
          "the upgraded schema's foreign keys cannot keep such a row, and the upgrade drops none. " +
          "Delete it, or put back the row it names, then migrate again. Nothing was changed"
      )))
    }
    // The run of the job's own its pointer names.
    const named = sql`workflow_runs AS r WHERE ${sameId(sql, "r.id", "j.workflow_run_id")} AND ${sameId(sql, "r.job_id", "j.id")}`
    // A pointer naming no run of the job's own, or, the job running, none that recovery moves it
    // with (running; or stalled, whose stall startup recovery finishes); or none at all on a running
    // job (see the header).
    const pointer = sql`nullif(CAST(j.workflow_run_id AS text), '')`
    const dangling = sql`(${pointer} IS NULL AND j.status = 'running') OR (${pointer} IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM ${named} AND (j.status <> 'running' OR r.status IN ('running', 'stalled'))))`
    // A running job's one run of its own still running, which its pointer then names (see the header).
    const ownRun = sql`CASE WHEN j.status = 'running' THEN (
      SELECT r.id FROM workflow_runs AS r WHERE ${sameId(sql, "r.job_id", "j.id")} AND r.status = 'running' AND NOT EXISTS (
        SELECT 1 FROM workflow_runs AS o WHERE ${sameId(sql, "o.job_id", "j.id")} AND o.status = 'running' AND o.id <> r.id)) END`
    const cleared = yield* sql<ClearedRunPointer>`
      SELECT CAST(j.id AS text) AS job_id, ${pointer} AS workflow_run_id,
        (SELECT CAST(r.job_id AS text) FROM workflow_runs AS r WHERE ${sameId(sql, "r.id", "j.workflow_run_id")} ORDER BY 1 LIMIT 1) AS run_job_id,
        (SELECT CAST(r.status AS text) FROM ${named} LIMIT 1) AS run_status,
        CAST(j.status AS text) AS status, CAST(${ownRun} AS text) AS own_run
      FROM ai_jobs AS j WHERE ${dangling} ORDER BY 1`
    if (cleared.length > 0) yield* sql`UPDATE ai_jobs AS j SET workflow_run_id = ${ownRun} WHERE ${dangling}`
    return cleared
  })

/** What the upgrade did about a pointer, as its event says (see the header). */
const settledPointer = (pointer: ClearedRunPointer): string => {
  if (pointer.own_run !== null) {
    return `the pointer now names workflow run ${quoted(pointer.own_run)}, this job's one run still running, ` +
      "so that recovery moves the job with it; the rest of the job kept"
  }
  const cleared = pointer.workflow_run_id === null ? "" : "the pointer was cleared and, "
  return stallsAtUpgrade(pointer)
    ? `${cleared}the job running under no run of its own that recovery could move it with ` +
      "(none of its runs is running, or several are), the job moved to stalled: resume it to run it again, or cancel it"
    : "the pointer was cleared, the rest of the job kept"
}

/** The reference writes a job's pointer apart from its state: why a running job's can be empty, or name a run that is not running. */
const APART = "(the reference schema allows it: it writes the pointer apart from the job's state)"

/** What a job's pointer named, as its event says: the run, and whose run that is (null: none's), or its own not running; or nothing. */
const namedRun = (pointer: ClearedRunPointer): string => {
  if (pointer.workflow_run_id === null) return `this job was running with an empty workflow_run_id ${APART}`
  const named = `this job's workflow_run_id named workflow run ${quoted(pointer.workflow_run_id)}, `
  if (pointer.run_status !== null) return `${named}its own run, which is ${quoted(pointer.run_status)}, not running, while the job was running ${APART}`
  return named +
    (pointer.run_job_id === null ? "which is not in workflow_runs " : `which is job ${quoted(pointer.run_job_id)}'s run, not this job's `) +
    "(the reference schema does not enforce it)"
}

/** Why a job's run pointer was cleared, moved or set, as its event says. */
export const clearedPointerReason = (pointer: ClearedRunPointer): string => `legacy upgrade: ${namedRun(pointer)}; ${settledPointer(pointer)}`

/** A cleared job as the upgraded table holds it (its pointer, stored form; its attempt), and the job id the upgrade was given. */
interface ClearedJob {
  readonly given: string
  readonly job_id: JobId
  readonly trace_id: TraceId
  readonly status: JobState
  readonly pointer: WorkflowRunId | null
  readonly attempt: number
}

/** The `error_message` of a job the upgrade stalled (its event says more: the run its pointer named). */
export const UPGRADE_STALL_MESSAGE = "stalled (legacy upgrade: running under no run of its own that recovery could move it with)"

/**
 * The `system` event of each cleared pointer, for the store to write in the
 * migration's transaction, once the migrations are applied: read from the
 * upgraded jobs, so ids are in their stored form. A running job left with no
 * run of its own is moved to `stalled` first (see the header), at the
 * event's instant.
 */
export const clearedPointerEvents = (
  cleared: ReadonlyArray<ClearedRunPointer>
): Effect.Effect<ReadonlyArray<EventRecord>, SqlError, SqlClient.SqlClient> =>
  cleared.length === 0 ? Effect.succeed([]) : Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* DateTime.now
    const timestamp = DateTime.formatIso(now)
    const pointers = new Map(cleared.map((pointer) => [pointer.job_id, pointer]))
    const given = JSON.stringify(cleared.map((pointer) => pointer.job_id))
    const stalled = JSON.stringify(cleared.filter(stallsAtUpgrade).map((pointer) => pointer.job_id))
    // 0004 stored SQLite's ids in lower case; PostgreSQL's are uuids.
    const storedIds = (ids: string) =>
      sql.onDialectOrElse({
        pg: () => sql`SELECT CAST(value AS uuid) FROM jsonb_array_elements_text(${ids}::jsonb)`,
        orElse: () => sql`SELECT lower(value) FROM json_each(${ids})`
      })
    if (stalled !== "[]") {
      // Never before the job's last change (a clock behind the legacy data's).
      const movedAt = sql.onDialectOrElse({
        pg: () => sql`greatest(updated_at, ${timestamp}::timestamptz)`,
        orElse: () => sql`max(updated_at, ${timestamp})`
      })
      yield* sql`
        UPDATE ai_jobs SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON}, error_message = ${UPGRADE_STALL_MESSAGE},
          updated_at = ${movedAt}
        WHERE status = 'running' AND id IN (${storedIds(stalled)})`
    }
    const jobs = yield* sql.onDialectOrElse({
      pg: () =>
        sql<ClearedJob>`
          SELECT c.value AS given, j.id::text AS job_id, j.trace_id::text AS trace_id, j.status::text AS status,
            j.workflow_run_id::text AS pointer, j.attempt
          FROM jsonb_array_elements_text(${given}::jsonb) AS c(value) JOIN ai_jobs AS j ON j.id = CAST(c.value AS uuid) ORDER BY j.id`,
      orElse: () =>
        sql<ClearedJob>`
          SELECT c.value AS given, j.id AS job_id, j.trace_id, j.status, j.workflow_run_id AS pointer, j.attempt
          FROM json_each(${given}) AS c JOIN ai_jobs AS j ON j.id = lower(c.value) ORDER BY j.id`
    })
    return jobs.map((job): EventRecord => {
      const event_id = uuidv7() as EventId
      const pointer = pointers.get(job.given)!
      const from_state = stallsAtUpgrade(pointer) ? "running" : job.status
      const run = job.pointer === null ? {} : { workflow_run_id: job.pointer }
      return {
        event_id,
        timestamp: now,
        actor: "system",
        type: "system",
        trace_id: job.trace_id,
        job_id: job.job_id,
        workflow_run_id: job.pointer,
        // In the schema's encoding order, as the library's own lifecycle events.
        body: {
          event_id,
          timestamp,
          actor: "system",
          trace_id: job.trace_id,
          job_id: job.job_id,
          ...run,
          type: "system",
          from_state,
          to_state: job.status,
          reason: clearedPointerReason(pointer),
          attempt: job.attempt
        }
      }
    })
  })
