/**
 * Workflow runs and node executions on SQLite (R8, HSK-WF-001): create,
 * heartbeat and finish runs; start, finish and list nodes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { uuidv7 } from "../../domain/uuidv7.js"
import { NodeExecutionId, type WorkflowRunId } from "../../domain/Ids.js"
import { type NodeExecution, nodeFinishes } from "../../domain/WorkflowRun.js"
import { JobState } from "../../domain/JobState.js"
import * as Schema from "effect/Schema"
import { decodeRows } from "../internal/decodeRow.js"
import { isRunEnd, refuseRunEnd, refuseSettleTarget } from "../internal/runEnd.js"
import type { JobStore, RunningJobEnd, RunSettle } from "../JobStore.js"
import { metricBounds } from "../../domain/JobMetrics.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { type AlreadyExists, type CorruptRow, NotFound, RunNotActive, RunTaken } from "../StoreErrors.js"
import { decode, decodeNow, encode } from "./rows.js"
import { jsonText, RUN_COLUMNS, storedInstant } from "./rowCodec.js"
import { auditRecords } from "../internal/audit.js"
import { storageErrors } from "./errors.js"
import { withNow } from "../internal/now.js"
import { moveInstantText } from "./moveInstant.js"
import { alreadyExistsAsStorageError, storageOrTakenErrors } from "../internal/storageError.js"
import { insertEventsStep, type SqliteContext } from "./context.js"
import type { Step } from "./step.js"
import type { AiJob } from "../../domain/AiJob.js"
import type { SqlError } from "@effect/sql/SqlError"
import { newRun } from "../internal/newRows.js"
import { makeFailUnreadableJob } from "./unreadableJob.js"

type Service = JobStore["Type"]

/** The run and node methods of the SQLite store. */
export const makeRunMethods = (context: SqliteContext) => {
  const { change, exec, insertEvents, sql, transaction } = context
  const findRun = (runId: string) =>
    Effect.flatMap(
      exec("SELECT * FROM workflow_runs WHERE id = ?", [runId]),
      ([row]) => (row === undefined ? Effect.succeedNone : Effect.asSome(decode.run(row)))
    )

  /** The run `workflow_runs` row is its job's active run: running, and its job running under it. */
  const IS_ACTIVE = `workflow_runs.status = 'running' AND EXISTS (
    SELECT 1 FROM ai_jobs WHERE ai_jobs.id = workflow_runs.job_id
      AND ai_jobs.workflow_run_id = workflow_runs.id AND ai_jobs.status = 'running')`

  /**
   * Why a write guarded on an active run matched nothing: the run is missing
   * (`NotFound`), ended (`RunNotActive` with its status), or still running
   * but no longer its job's current run (`RunNotActive` with the job's state).
   */
  const notActive = (runId: WorkflowRunId) =>
    Effect.gen(function*() {
      const current = yield* findRun(runId)
      if (Option.isNone(current)) return yield* new NotFound({ entity: "workflow_run", id: runId })
      const run = current.value
      if (run.status !== "running") return yield* new RunNotActive({ workflow_run_id: runId, status: run.status })
      const [job] = yield* exec<{ readonly status: unknown }>("SELECT status FROM ai_jobs WHERE id = ?", [run.job_id])
      return yield* new RunNotActive({ workflow_run_id: runId, status: Schema.is(JobState)(job?.status) ? job.status : run.status })
    })

  /**
   * Updates a run only while it is `running` (the guard is in the UPDATE, so a
   * run finished or stalled concurrently is never revived) and, if `active`,
   * its job's active run; otherwise tells NotFound from RunNotActive.
   */
  const updateRunningRun = (runId: WorkflowRunId, set: ReadonlyArray<readonly [column: string, value: unknown]>) =>
    Effect.gen(function*() {
      const text = `UPDATE workflow_runs SET ${set.map(([column]) => `${column} = ?`).join(", ")}
        WHERE id = ? AND status = 'running'
        RETURNING *`
      const params = [...set.map(([, value]) => value), runId]
      // One statement: atomic by itself, so on its own it needs no transaction.
      const [row] = yield* transaction.single(exec(text, params))
      if (row !== undefined) return yield* decode.run(row)
      return yield* notActive(runId)
    })

  /**
   * A heartbeat: guarded on the run being its job's active run. One fixed text, built once. The
   * beat is the clock's reading as it is (liveness); the run's updated_at never before its created_at.
   */
  const HEARTBEAT = `UPDATE workflow_runs SET last_heartbeat = ?, updated_at = max(created_at, ?), taken = 1
    WHERE id = ? AND ${IS_ACTIVE}
    RETURNING *`

  /** `takeRun`'s one statement: a heartbeat that also says "mine", only while nobody has said it (migration 0018). */
  const TAKE = `UPDATE workflow_runs SET last_heartbeat = ?, updated_at = max(created_at, ?), taken = 1
    WHERE id = ? AND ${IS_ACTIVE} AND taken = 0
    RETURNING *`

  /** Why a take matched nothing: the run is its job's active run and taken (`RunTaken`), or it is not active. */
  const notTaken = (runId: WorkflowRunId) =>
    Effect.gen(function*() {
      const [taken] = yield* exec<{ readonly job_id: string }>(`SELECT job_id FROM workflow_runs WHERE id = ? AND ${IS_ACTIVE} AND taken = 1`, [runId])
      if (taken === undefined) return yield* notActive(runId)
      return yield* new RunTaken({ job_id: taken.job_id, workflow_run_id: runId })
    })

  /** Fails unless the run is its job's active run (inside the caller's write transaction). */
  const requireActive = (runId: WorkflowRunId) =>
    Effect.flatMap(
      exec(`SELECT 1 FROM workflow_runs WHERE id = ? AND ${IS_ACTIVE}`, [runId]),
      (rows) => (rows.length > 0 ? Effect.void : notActive(runId))
    )

  /** A change of one run row and its events: the statement alone when not audited, else one transaction (see jobs.ts). */
  const auditedChange = <A, E, R>(events: unknown, change: Effect.Effect<A, E, R>) =>
    events === undefined ? change : transaction.join(change)

  /**
   * A new run of the job: its times at the given instant or the job's last change, whichever
   * is later (as a claim's, claim.ts `insertRunText`), so never before its job; its first
   * heartbeat the clock's reading as it is (newRows.ts `newRun`). Parameters: the run's id, the
   * reading, the instant twice, the job's id. No row: no such job.
   */
  const INSERT_RUN = `INSERT INTO workflow_runs (${RUN_COLUMNS.join(", ")})
    SELECT ?, id, 'running', ?, NULL, max(?, updated_at), max(?, updated_at) FROM ai_jobs WHERE id = ?
    RETURNING created_at`

  const createRun: Service["createRun"] = Effect.fnUntraced(
    function*(jobId, options) {
      const now = yield* DateTime.now
      const id = uuidv7() as WorkflowRunId
      const at = storedInstant(options?.at ?? now)
      const insert = Effect.flatMap(
        exec<{ readonly created_at: string }>(INSERT_RUN, [id, storedInstant(now), at, at, jobId]),
        ([row]) =>
          row === undefined
            ? Effect.fail(new NotFound({ entity: "job", id: jobId }))
            : Effect.succeed(newRun(jobId, DateTime.unsafeMake(row.created_at), id, now))
      )
      // The records are a function of the run, known once it is written: in one transaction with it.
      return yield* options?.events === undefined
        ? transaction.single(insert)
        : transaction.join(Effect.tap(insert, (run) => Effect.flatMap(auditRecords(options.events, run), insertEvents)))
    },
    alreadyExistsAsStorageError("JobStore.createRun"),
    storageErrors("JobStore.createRun")
  )

  /** The run, or NotFound. */
  const readRun = (runId: WorkflowRunId) =>
    Effect.flatMap(findRun(runId), (run) =>
      Option.isSome(run) ? Effect.succeed(run.value) : Effect.fail(new NotFound({ entity: "workflow_run", id: runId })))

  const getRun: Service["getRun"] = (runId) => storageErrors("JobStore.getRun")(readRun(runId))

  const lockRun: Service["lockRun"] = Effect.fnUntraced(
    function*(runId) {
      // SQLite locks the database, not rows. The store's own transactions hold its write lock since
      // their BEGIN IMMEDIATE; in a transaction begun otherwise (a deferred BEGIN), a write that
      // matches no row takes it now, changing nothing. Outside a transaction: a plain read.
      if (Option.isSome(yield* Effect.serviceOption(SqlClient.TransactionConnection))) {
        yield* exec("UPDATE workflow_runs SET status = status WHERE 0", [])
      }
      return yield* readRun(runId)
    },
    storageErrors("JobStore.lockRun")
  )

  const listRuns: Service["listRuns"] = Effect.fnUntraced(
    function*(jobId, page) {
      const rows = page === undefined
        ? yield* sql`SELECT * FROM workflow_runs WHERE job_id = ${jobId} ORDER BY created_at, id`
        // A range of the (job_id, created_at, id) index; LIMIT -1 is no limit.
        : yield* sql`SELECT * FROM workflow_runs WHERE job_id = ${jobId}${
          // The cursor is a run of this job: another job's run is no place in this listing (none follows it).
        page.after === undefined ? sql`` : sql` AND (created_at, id) > (SELECT created_at, id FROM workflow_runs WHERE id = ${page.after} AND job_id = ${jobId})`
        } ORDER BY created_at, id LIMIT ${page.limit ?? -1}`
      return yield* decodeRows(decode.run)(rows)
    },
    storageErrors("JobStore.listRuns")
  )

  const finishRun: Service["finishRun"] = Effect.fnUntraced(
    function*(runId, status, options) {
      if (!isRunEnd(status)) {
        const found = yield* findRun(runId)
        if (Option.isNone(found)) return yield* new NotFound({ entity: "workflow_run", id: runId })
        return yield* refuseRunEnd(found.value, status)
      }
      const now = storedInstant(yield* DateTime.now)
      return yield* auditedChange(options?.events, Effect.gen(function*() {
        const run = yield* updateRunningRun(runId, [
          ["status", status],
          ["updated_at", now],
          ...(options?.error_message !== undefined ? [["error_message", options.error_message] as const] : [])
        ])
        yield* insertEvents(yield* auditRecords(options?.events, run))
        return run
      }))
    },
    alreadyExistsAsStorageError("JobStore.finishRun"),
    storageErrors("JobStore.finishRun")
  )

  /** Without a generator: it runs every few seconds per running job (issue 16). */
  const heartbeat: Service["heartbeat"] = (runId) =>
    storageErrors("JobStore.heartbeat")(withNow((now) => {
      // A write like any other: it waits for the write lock, so it serialises with recovery.
      const at = storedInstant(now)
      // One statement, not fsynced on its own (see `unsynced`).
      return Effect.flatMap(transaction.unsynced(HEARTBEAT, [at, at, runId]), ([row]) => row !== undefined ? decode.run(row) : notActive(runId))
    }))

  const takeRun: Service["takeRun"] = (runId) =>
    storageErrors("JobStore.takeRun")(withNow((now) => {
      const at = storedInstant(now)
      // One statement: two takers of one run serialise on the write lock, and the second matches nothing.
      return Effect.flatMap(transaction.single(exec(TAKE, [at, at, runId])), ([row]) => row !== undefined ? decode.run(row) : notTaken(runId))
    }))

  const releaseRun: Service["releaseRun"] = Effect.fnUntraced(
    function*(runId, options) {
      return yield* transaction.join(Effect.gen(function*() {
        yield* requireActive(runId)
        // The move's instant when its caller chose one (JobStore.ts `Change`), else the clock's.
        const now = options.at ?? (yield* DateTime.now)
        // Its updated_at never before its last change, as every change's (jobs.ts `assignment`).
        const [row] = yield* sql`
          UPDATE ai_jobs SET status = 'queued', status_reason = ${options.reason}, updated_at = max(updated_at, ${storedInstant(now)})
          WHERE workflow_run_id = ${runId} RETURNING *`
        if (row === undefined) return yield* Effect.dieMessage(`releaseRun: no job points at active run ${runId}`)
        const job = yield* decode.job(row)
        // The run ends where the job moved (never before its last change, so never before the run began).
        yield* updateRunningRun(runId, [["status", "failed"], ["error_message", options.reason], ["updated_at", storedInstant(job.updated_at)]])
        yield* insertEvents(yield* auditRecords(options.events, job))
        return job
      }))
    },
    alreadyExistsAsStorageError("JobStore.releaseRun"),
    storageErrors("JobStore.releaseRun")
  )

  /**
   * `finishRunningJob`'s write, and `settleRun`'s when the end carries a run
   * (the guard: the job running under exactly that run), outputs and a
   * duration. Null when it moved nothing.
   */
  const finishRunning = (end: RunningJobEnd | RunSettle) =>
    change<AiJob | null, CorruptRow | AlreadyExists | SqlError>(() => finishRunningStep(end))

  /**
   * A move from outside the program declines (null) while its run has a node
   * running: the general path (internal/jobs/endRun.ts) ends those nodes too.
   */
  const NO_OPEN_NODE = `NOT EXISTS (SELECT 1 FROM workflow_node_executions n
    WHERE n.workflow_run_id = ai_jobs.workflow_run_id AND n.status = 'running')`

  /** `finishRunning`'s change (a step, step.ts). */
  function* finishRunningStep(end: RunningJobEnd | RunSettle): Step<AiJob | null> {
    const { event } = end
    const set: Array<readonly [string, unknown]> = [["status", end.to]]
    if (end.status_reason !== undefined) set.push(["status_reason", end.status_reason])
    if (end.error_message !== undefined) set.push(["error_message", end.error_message])
    const settle = "workflow_run_id" in end ? end : undefined
    if (settle?.job_outputs !== undefined) set.push(["job_outputs", settle.job_outputs === null ? null : jsonText(settle.job_outputs)])
    const assignments = set.map(([column]) => `${column} = ?`)
    const values = set.map(([, value]) => value)
    // The move's instant: its record's, unless the job changed at or after it (moveInstant.ts).
    const reading = storedInstant(event.timestamp)
    assignments.push(`updated_at = ${moveInstantText("ai_jobs")}`)
    values.push(reading, reading, event.event_id)
    if (settle !== undefined) {
      // The run's duration added, saturating at the metric's bound (as `JobMetrics.add`).
      assignments.push(`metrics = json_set(metrics, '$.duration_ms', min(coalesce(json_extract(metrics, '$.duration_ms'), 0) + CAST(? AS INTEGER), ${metricBounds.duration_ms}))`)
      values.push(settle.duration_ms)
    }
    // One transaction (the caller's when there is one), in the lock order: the
    // job (compare-and-set on `running` under a run — this run, for a settle),
    // then its active run, then the record — written only when the job moved,
    // its placeholders replaced by the job row's trace, run and attempt.
    const [row] = yield [
      `UPDATE ai_jobs SET ${assignments.join(", ")}
          WHERE id = ? AND status = 'running' AND ${settle === undefined ? `workflow_run_id IS NOT NULL AND ${NO_OPEN_NODE}` : "workflow_run_id = ?"}
          RETURNING *`,
      [...values, end.job_id, ...(settle === undefined ? [] : [settle.workflow_run_id])]
    ]
    if (row === undefined) return null
    const job = decodeNow.job(row)
    const runId = job.workflow_run_id!
    const movedAt = row.updated_at as string
    yield ["UPDATE workflow_runs SET status = ?, error_message = ?, updated_at = ? WHERE id = ? AND status = 'running'", [
      end.to,
      end.error_message ?? null,
      movedAt,
      runId
    ]]
    // Written at its reading, the record is as built; else it carries the move's instant, its body too.
    const shifted = movedAt !== reading
    yield* insertEventsStep([{
      ...event,
      ...(shifted ? { timestamp: job.updated_at } : {}),
      trace_id: job.trace_id,
      workflow_run_id: runId,
      body: { ...event.body, trace_id: job.trace_id, workflow_run_id: runId, attempt: job.attempt, ...(shifted ? { timestamp: movedAt } : {}) }
    }])
    return job
  }

  /** Without a generator or a second catch: it runs once per job (issue 16). */
  const finishRunningJob: NonNullable<Service["finishRunningJob"]> = (end: RunningJobEnd) =>
    // `stalled` is recovery's alone (R6a), and no other edge leaves `running` here: the general path refuses them.
    Lifecycle.allowedFrom(end.to).includes("running")
      ? storageOrTakenErrors("JobStore.finishRunningJob")(finishRunning(end))
      : Effect.succeed(null)

  const settleRun: NonNullable<Service["settleRun"]> = Effect.fnUntraced(
    function*(settle: RunSettle) {
      yield* refuseSettleTarget(settle.job_id, settle.to)
      // One write transaction; not moved: the run is not the job's active run, and nothing was written — say why.
      return yield* transaction.join(Effect.flatMap(
        finishRunning(settle),
        (job) => job === null ? notActive(settle.workflow_run_id) : Effect.succeed(job)
      ))
    },
    alreadyExistsAsStorageError("JobStore.settleRun"),
    storageErrors("JobStore.settleRun")
  )

  const startNode: Service["startNode"] = Effect.fnUntraced(
    function*(input) {
      return yield* transaction.join(Effect.gen(function*() {
        yield* requireActive(input.workflow_run_id)
        const started: Omit<NodeExecution, "sequence"> = {
          id: input.id ?? NodeExecutionId.make(uuidv7()),
          workflow_run_id: input.workflow_run_id,
          node_id: input.node_id,
          node_type: input.node_type,
          status: "running",
          input_payload: input.input_payload ?? null,
          output_payload: null,
          error_message: null,
          started_at: yield* DateTime.now,
          finished_at: null
        }
        const columns = yield* encode.startedNode(started)
        // The next sequence number is computed in the same statement, under the write lock.
        const [row] = yield* sql<{ readonly sequence: number }>`
          INSERT INTO workflow_node_executions
            (id, workflow_run_id, node_id, node_type, status, sequence, input_payload, started_at)
          SELECT ${started.id}, ${started.workflow_run_id}, ${columns.node_id}, ${columns.node_type}, 'running',
            coalesce((SELECT max(sequence) + 1 FROM workflow_node_executions WHERE workflow_run_id = ${started.workflow_run_id}), 0),
            ${columns.input_payload}, ${columns.started_at}
          RETURNING sequence`
        // An INSERT ... SELECT without FROM inserts exactly one row.
        if (row === undefined) return yield* Effect.dieMessage("JobStore.startNode: the INSERT returned no row")
        // Everything but the sequence is what was written, so no read-back is needed.
        return { ...started, sequence: row.sequence } satisfies NodeExecution
      }))
    },
    storageErrors("JobStore.startNode")
  )

  const finishNode: Service["finishNode"] = Effect.fnUntraced(
    function*(nodeId, outcome) {
      return yield* transaction.join(Effect.gen(function*() {
        const [owner] = yield* sql<{ readonly workflow_run_id: WorkflowRunId }>`
          SELECT workflow_run_id FROM workflow_node_executions WHERE id = ${nodeId}`
        if (owner === undefined) return yield* new NotFound({ entity: "node_execution", id: nodeId })
        yield* requireActive(owner.workflow_run_id)
        const set = yield* encode.nodeColumns({
          status: outcome.status,
          ...(nodeFinishes(outcome.status) ? { finished_at: yield* DateTime.now } : {}),
          ...(outcome.output_payload !== undefined ? { output_payload: outcome.output_payload } : {}),
          ...(outcome.error_message !== undefined ? { error_message: outcome.error_message } : {})
        })
        const [row] = yield* sql`UPDATE workflow_node_executions SET ${sql.update(set)} WHERE id = ${nodeId} RETURNING *`
        if (row === undefined) return yield* new NotFound({ entity: "node_execution", id: nodeId })
        return yield* decode.node(row)
      }))
    },
    storageErrors("JobStore.finishNode")
  )

  const endStalledRunNodes: Service["endStalledRunNodes"] = Effect.fnUntraced(
    function*(runId, outcome) {
      const set = yield* encode.nodeColumns({ status: outcome.status, finished_at: yield* DateTime.now, error_message: outcome.error_message })
      // Guarded on the run being stalled in the same statement: no other run's nodes are ended here.
      // Each node ends at the reading, or at its own start or its run's stall if later: a node
      // begun, or a run stalled, on a clock ahead of this one's is never ended before it.
      const rows = yield* transaction.single(sql`
        UPDATE workflow_node_executions SET status = ${set.status ?? null},
          finished_at = max(${set.finished_at ?? null}, started_at, r.updated_at), error_message = ${set.error_message ?? null}
        FROM (SELECT updated_at FROM workflow_runs WHERE id = ${runId} AND status = 'stalled') AS r
        WHERE workflow_run_id = ${runId} AND status = 'running'
        RETURNING *`)
      const nodes = yield* decodeRows(decode.node)(rows)
      // RETURNING gives no order: the port's answer is in sequence order.
      return [...nodes].sort((a, b) => a.sequence - b.sequence)
    },
    storageErrors("JobStore.endStalledRunNodes")
  )

  const listNodes: Service["listNodes"] = Effect.fnUntraced(
    function*(runId, page) {
      const rows = page === undefined
        ? yield* sql`SELECT * FROM workflow_node_executions WHERE workflow_run_id = ${runId} ORDER BY sequence`
        // A range of the run's (workflow_run_id, sequence) key; LIMIT -1 is no limit.
        : yield* sql`SELECT * FROM workflow_node_executions
            WHERE workflow_run_id = ${runId} AND sequence > ${page.after ?? -1} ORDER BY sequence LIMIT ${page.limit ?? -1}`
      return yield* decodeRows(decode.node)(rows)
    },
    storageErrors("JobStore.listNodes")
  )

  // Each payload's length (bytes of its stored text) taken in SQL: one left out never leaves the database.
  // No payload is stored as JSON null here, SQL NULL on PostgreSQL: neither has a length, so both stores agree.
  const listNodeSummaries: Service["listNodeSummaries"] = Effect.fnUntraced(
    function*(runId, page) {
      const rows = yield* sql`SELECT id, workflow_run_id, node_id, node_type, status, sequence,
          CASE WHEN input_bytes <= ${page.inlineBytes} THEN input_payload END AS input_payload,
          CASE WHEN output_bytes <= ${page.inlineBytes} THEN output_payload END AS output_payload,
          CASE WHEN input_bytes > ${page.inlineBytes} THEN input_bytes END AS input_payload_bytes,
          CASE WHEN output_bytes > ${page.inlineBytes} THEN output_bytes END AS output_payload_bytes,
          error_message, started_at, finished_at
        FROM (SELECT *, length(CAST(nullif(input_payload, 'null') AS BLOB)) AS input_bytes,
            length(CAST(nullif(output_payload, 'null') AS BLOB)) AS output_bytes
          FROM workflow_node_executions
          WHERE workflow_run_id = ${runId} AND sequence > ${page.after ?? -1} ORDER BY sequence LIMIT ${page.limit ?? -1})
        ORDER BY sequence`
      return yield* decodeRows(decode.nodeSummary)(rows)
    },
    storageErrors("JobStore.listNodeSummaries")
  )

  return { failUnreadableJob: makeFailUnreadableJob(context), createRun, getRun, lockRun, listRuns, finishRun, heartbeat, takeRun, releaseRun, finishRunningJob, settleRun, startNode, finishNode, endStalledRunNodes, listNodes, listNodeSummaries }
}
