/** Workflow runs and their node executions on PostgreSQL (R8, HSK-WF-001). */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { JobId } from "../../domain/Ids.js"
import { NodeExecutionId, type WorkflowRunId } from "../../domain/Ids.js"
import type { Json } from "../../domain/Json.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import type { TransitionTarget } from "../../domain/Lifecycle.js"
import { JobState, JobStates } from "../../domain/JobState.js"
import { type NodeEndStatus, NodeExecution, nodeFinishes, NodeStatus, type WorkflowRun } from "../../domain/WorkflowRun.js"
import { decodeRows } from "../internal/decodeRow.js"
import { isRunEnd, refuseRunEnd, refuseSettleTarget } from "../internal/runEnd.js"
import type { Audited, Change, Creation, JobStore, RunningJobEnd, RunSettle } from "../JobStore.js"
import type { AiJob } from "../../domain/AiJob.js"
import { type CorruptRow, NotFound, RunNotActive, RunTaken } from "../StoreErrors.js"
import type { PgContext } from "./context.js"
import { auditRecords } from "../internal/audit.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import { columns, decode, encodeJson, instantParam, payloadBytes, qualified } from "./rows.js"
import { storageErrors, storageErrorsOutside } from "./errors.js"
import { byTransaction } from "./transaction.js"
import { addDuration } from "./finishBatch.js"
import { newRun } from "../internal/newRows.js"
import { makeFailUnreadableJob } from "./unreadableJob.js"
import { withNow } from "../internal/now.js"
import { movedTimestamp, moveInstant } from "./moveInstant.js"
import { isRunning } from "./keyedGuard.js"
import { BEATEN_COLUMNS, fastBeatenRun } from "./rowCodec.js"
import { fixedStatement } from "./fixedStatement.js"

type Service = Context.Tag.Service<JobStore>

// What the port's types promise, checked again on the way in for callers
// that got past them: node names are what the domain allows (non-empty
// text). A violation fails with a ParseError, which storageErrors reports as
// a StorageError carrying a DecodeFailure. (A run's end status is checked
// alike on both stores, in internal/runEnd.ts.)
const checkNodeEnd = Schema.encode(NodeStatus.pipe(Schema.filter((status) => status !== "queued" && status !== "running")))
const checkNodeId = Schema.encode(NodeExecution.fields.node_id)
const checkNodeType = Schema.encode(NodeExecution.fields.node_type)

/**
 * The run `r` is its job's active run: running, and its job running under
 * it. The job is only read, never locked (see the lock order in JobStore.ts).
 */
export const activeRun = (sql: SqlClient.SqlClient) =>
  sql`${isRunning(sql, "r.status")} AND EXISTS (
    SELECT 1 FROM ai_jobs j WHERE j.id = r.job_id AND j.workflow_run_id = r.id AND ${isRunning(sql, "j.status")})`

/**
 * A heartbeat's row (`BEATEN_COLUMNS`) as the run it beat at `now`: the
 * columns the beat set are known (rowCodec.ts `fastBeatenRun`). A row not in
 * the store's own form goes to the row Schema whole, with those columns as
 * the database holds them, so it decodes, or names its column in a
 * `CorruptRow`, as a whole row read back would.
 */
export const decodeBeaten = (row: unknown, now: DateTime.Utc): Effect.Effect<WorkflowRun, CorruptRow> => {
  const fast = fastBeatenRun(row, now)
  if (fast !== undefined) return Effect.succeed(fast)
  const beat = DateTime.toDateUtc(now)
  // updated_at as the beat wrote it: never before the run's created_at.
  return Effect.map(
    decode.run({ ...(row as object), status: "running", last_heartbeat: beat, updated_at: beat }),
    (run) => ({ ...run, updated_at: DateTime.max(run.created_at, now) })
  )
}
/** The targets that are a move out of `running`: `Lifecycle.allowedFrom`'s answer, read once (it filters the table each call). */
const endsOfRunning = new Set<unknown>(JobStates.filter((to) => to !== "stalled" && Lifecycle.allowedFrom(to).includes("running")))

/** Whether `to` is a move out of `running`: what `finishRunningJob` and `settleRun` take in one statement. */
export const leavesRunning = (to: unknown): boolean => endsOfRunning.has(to)

/**
 * The guard of a move from outside the program (`finishRunningJob`): its job
 * (locked first, waiting as before) runs under a run that has no node
 * running and that no other transaction holds (a node start in flight holds
 * it) — the run taken without waiting, so no cycle with a job-first
 * transaction. Otherwise the statement moves nothing and the caller
 * takes the general path, which ends the run's open nodes with it
 * (internal/jobs/endRun.ts). The nodes are counted on the run's own row
 * (`open_nodes`, migration 0017), not read from theirs: the lock checks the
 * row's newest version, so a node start committed while this statement
 * waited for its job is seen, which its snapshot would not.
 */
const freeToEnd = (sql: SqlClient.SqlClient, jobId: string) =>
  sql`id IN (
    SELECT fj.id FROM ai_jobs fj JOIN workflow_runs fr ON fr.id = fj.workflow_run_id
    WHERE fj.id = ${jobId} AND fr.open_nodes = 0
    FOR NO KEY UPDATE OF fj FOR NO KEY UPDATE OF fr SKIP LOCKED)`

/** The run and node half of the store. */
export const makeRunMethods = (context: PgContext) => {
  const { atomic, audited, insertEvents, run, sql } = context
  const runColumns = sql.literal(columns.run)
  const nodeColumns = sql.literal(columns.node)
  const jobColumns = sql.literal(columns.job)
  const eventColumns = sql.literal(columns.event)

  const isActive = activeRun(sql)
  // Status checks on rows found by their key (keyedGuard.ts).
  const running = isRunning(sql, "status")
  const runRunning = isRunning(sql, "r.status")
  const jobRunning = isRunning(sql, "j.status")

  const readRun = (runId: WorkflowRunId): Effect.Effect<WorkflowRun, NotFound | CorruptRow | SqlError> =>
    Effect.gen(function*() {
      const [row] = yield* sql`SELECT ${runColumns} FROM workflow_runs WHERE id = ${runId}`
      if (row === undefined) return yield* new NotFound({ entity: "workflow_run", id: runId })
      return yield* decode.run(row)
    })

  /**
   * Why a write guarded on an active run matched nothing: the run is missing
   * (`NotFound`), ended (`RunNotActive` with its status), or still running
   * but no longer its job's current run (`RunNotActive` with the job's state).
   */
  const notActive = (runId: WorkflowRunId): Effect.Effect<never, NotFound | RunNotActive | CorruptRow | SqlError> =>
    Effect.gen(function*() {
      const run = yield* readRun(runId)
      if (run.status !== "running") return yield* new RunNotActive({ workflow_run_id: runId, status: run.status })
      const [job] = yield* sql<{ readonly status: unknown }>`SELECT status FROM ai_jobs WHERE id = ${run.job_id}`
      const status = Schema.is(JobState)(job?.status) ? job.status : run.status
      return yield* new RunNotActive({ workflow_run_id: runId, status })
    })

  /**
   * An UPDATE of a run guarded by `status = 'running'`. No row: the run is
   * missing (`NotFound`) or already ended (`RunNotActive` with its status).
   */
  const updateRunningRun = (runId: WorkflowRunId, set: ReadonlyArray<Statement.Fragment>) =>
    Effect.gen(function*() {
      const [row] = yield* sql`
        UPDATE workflow_runs SET ${sql.csv(set)}
        WHERE id = ${runId} AND ${running}
        RETURNING ${runColumns}`
      if (row !== undefined) return yield* decode.run(row)
      return yield* notActive(runId)
    })

  /**
   * Locks the run while it is its job's active run (node writes hold it
   * until they commit, so recovery cannot stall the run in between);
   * otherwise NotFound or RunNotActive.
   */
  const lockActiveRun = (runId: WorkflowRunId) =>
    Effect.gen(function*() {
      const locked = yield* sql`SELECT r.id FROM workflow_runs r WHERE r.id = ${runId} AND ${isActive} FOR NO KEY UPDATE OF r`
      if (locked.length === 0) return yield* notActive(runId)
    })

  const createRun: Service["createRun"] = Effect.fnUntraced(
    function*(jobId: JobId, options?: Creation<WorkflowRun>) {
      const now = yield* DateTime.now
      const beat = instantParam(now)
      const at = instantParam(options?.at ?? now)
      // Its times at `at` or the job's last change, whichever is later (as a claim's, claim.ts): never
      // before its job, whatever a caller gives. Its first heartbeat the clock's reading as it is (newRows.ts `newRun`).
      const id = uuidv7() as WorkflowRunId
      const created = yield* audited({
        steps: [["created", sql`
          INSERT INTO workflow_runs (${runColumns})
          SELECT ${id}, id, 'running', ${beat}::timestamptz, NULL,
            GREATEST(${at}::timestamptz, updated_at), GREATEST(${at}::timestamptz, updated_at)
          FROM ai_jobs WHERE id = ${jobId}
          RETURNING created_at`]],
        events: options?.events,
        result: (row) => Effect.succeed(newRun(jobId, DateTime.unsafeMake((row as { readonly created_at: Date }).created_at), id, now))
      })
      if (created === undefined) return yield* new NotFound({ entity: "job", id: jobId })
      return created
    },
    alreadyExistsAsStorageError("JobStore.createRun"),
    storageErrors("JobStore.createRun")
  )

  const getRun: Service["getRun"] = (runId) => storageErrors("JobStore.getRun")(readRun(runId))

  const lockRun: Service["lockRun"] = Effect.fnUntraced(
    function*(runId: WorkflowRunId) {
      // NO KEY UPDATE: the lock the run's own writes take (heartbeat, end, a node's lockActiveRun),
      // so every one of them waits; foreign-key checks of new node rows do not (as lockJob).
      const [row] = yield* sql`SELECT ${runColumns} FROM workflow_runs WHERE id = ${runId} FOR NO KEY UPDATE`
      if (row === undefined) return yield* new NotFound({ entity: "workflow_run", id: runId })
      return yield* decode.run(row)
    },
    storageErrors("JobStore.lockRun")
  )

  const listRuns: Service["listRuns"] = (jobId, page) =>
    (page === undefined
      ? sql`SELECT ${runColumns} FROM workflow_runs WHERE job_id = ${jobId} ORDER BY created_at, id`
      // The key compared in SQL, to the microsecond the column keeps; LIMIT NULL is no limit.
      : sql`SELECT ${runColumns} FROM workflow_runs WHERE job_id = ${jobId}${
        // The cursor is a run of this job: another job's run is no place in this listing (none follows it).
        page.after === undefined ? sql`` : sql` AND (created_at, id) > (SELECT created_at, id FROM workflow_runs WHERE id = ${page.after} AND job_id = ${jobId})`
      } ORDER BY created_at, id LIMIT ${page.limit ?? null}`).pipe(
      Effect.flatMap(decodeRows(decode.run)),
      storageErrors("JobStore.listRuns")
    )

  const finishRun: Service["finishRun"] = Effect.fnUntraced(
    function*(
      runId: WorkflowRunId,
      status: Exclude<TransitionTarget, "queued" | "running">,
      options?: Audited<WorkflowRun> & { readonly error_message?: string | null | undefined }
    ) {
      if (!isRunEnd(status)) return yield* Effect.flatMap(readRun(runId), (run) => refuseRunEnd(run, status))
      const now = yield* DateTime.now
      const set = [sql`status = ${status}`, sql`updated_at = ${instantParam(now)}::timestamptz`]
      if (options?.error_message !== undefined) set.push(sql`error_message = ${options.error_message}`)
      const ended = yield* audited({
        steps: [["ended", sql`
          UPDATE workflow_runs SET ${sql.csv(set)}
          WHERE id = ${runId} AND ${running}
          RETURNING ${runColumns}`]],
        events: options?.events,
        result: decode.run
      })
      return ended ?? (yield* notActive(runId))
    },
    alreadyExistsAsStorageError("JobStore.finishRun"),
    storageErrors("JobStore.finishRun")
  )

  // On its own, the heartbeat is its own transaction, and its commit is not
  // waited for (synchronous_commit off for it alone): it is written, and
  // durable a fraction of a second later; only a server crash in between
  // loses it — and with it only how recent the beat was. Inside a caller's
  // transaction, the caller's commit decides.
  const unwaited = sql`FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unwaited`
  // Only the columns the beat does not set: the rest of the run is known (`decodeBeaten`).
  const beatenColumns = sql.literal(BEATEN_COLUMNS)
  // Its text never varies (one for inside a transaction, one outside): compiled once, a beat binds its values.
  const beatStatement = (inside: boolean) =>
    fixedStatement<[at: string, runId: string]>(2, (at, runId) =>
      sql`
      UPDATE workflow_runs r SET last_heartbeat = ${at}::timestamptz, updated_at = GREATEST(r.created_at, ${at}::timestamptz), taken = true
      ${inside ? sql`` : unwaited}
      WHERE r.id = ${runId} AND ${isActive}
      RETURNING ${beatenColumns}`)
  const beatInside = beatStatement(true)
  const beatOutside = beatStatement(false)
  /** The run beaten at `now`, or why there is none. */
  const beaten = (runId: WorkflowRunId, now: DateTime.Utc) => ([row]: ReadonlyArray<unknown>) =>
    row !== undefined ? decodeBeaten(row, now) : notActive(runId)

  const heartbeat: Service["heartbeat"] = (runId) =>
    byTransaction(
      () =>
        withNow((now) => context.textThen(beatInside.text, beatInside.params(instantParam(now), runId), beaten(runId, now))).pipe(
          storageErrors("JobStore.heartbeat")
        ),
      // Not in group commit's line (coalesce off): the uninterruptible region the line would hold.
      () => Effect.uninterruptible(heartbeatOutside(runId))
    )

  /** `heartbeat` for a caller that knows no transaction is open (group commit's): the same statement, no second look. */
  const heartbeatOutside = (runId: WorkflowRunId) =>
    withNow((now) => context.textThenOutside(beatOutside.text, beatOutside.params(instantParam(now), runId), beaten(runId, now))).pipe(
      storageErrorsOutside("JobStore.heartbeat")
    )

  /** Why a take matched nothing: the run is its job's active run and taken (`RunTaken`), or it is not active. */
  const notTaken = (runId: WorkflowRunId) =>
    Effect.gen(function*() {
      const [taken] = yield* run(sql<{ readonly job_id: string }>`SELECT r.job_id FROM workflow_runs r WHERE r.id = ${runId} AND ${isActive} AND r.taken`)
      if (taken === undefined) return yield* notActive(runId)
      return yield* new RunTaken({ job_id: taken.job_id, workflow_run_id: runId })
    })

  // A heartbeat that also says "mine", only while nobody has said it (migration 0018). Two takers
  // of one run: the second waits for the first's row lock, then re-checks `NOT r.taken` on the
  // row as the first left it, and matches nothing.
  const takeRun: Service["takeRun"] = (runId) =>
    withNow((now) => {
      const at = instantParam(now)
      return Effect.flatMap(
        run(sql`
          UPDATE workflow_runs r SET last_heartbeat = ${at}::timestamptz, updated_at = GREATEST(r.created_at, ${at}::timestamptz), taken = true
          WHERE r.id = ${runId} AND ${isActive} AND NOT r.taken
          RETURNING ${runColumns}`),
        ([row]) => row !== undefined ? decode.run(row) : notTaken(runId)
      )
    }).pipe(storageErrors("JobStore.takeRun"))

  const releaseRun: Service["releaseRun"] = Effect.fnUntraced(
    function*(runId: WorkflowRunId, options: Change<AiJob> & { readonly reason: string }) {
      // The move's instant when its caller chose one (JobStore.ts `Change`), else the clock's.
      const at = instantParam(options.at ?? (yield* DateTime.now))
      // The job first (the lock order), guarded on this run being its active run; its
      // updated_at never before its last change, as every change's (jobs.ts `notBefore`).
      const [row] = yield* sql`
        UPDATE ai_jobs j SET status = 'queued', status_reason = ${options.reason}, updated_at = GREATEST(j.updated_at, ${at}::timestamptz)
        FROM workflow_runs r
        WHERE r.id = ${runId} AND j.id = r.job_id AND j.workflow_run_id = r.id AND ${jobRunning} AND ${runRunning}
        RETURNING ${sql.literal(qualified(columns.job, "j"))}`
      if (row === undefined) return yield* notActive(runId)
      const job = yield* decode.aiJob(row)
      yield* updateRunningRun(runId, [
        sql`status = 'failed'`,
        sql`error_message = ${options.reason}`,
        // The run ends where the job moved (never before its last change, so never before the run began).
        sql`updated_at = ${instantParam(job.updated_at)}::timestamptz`
      ])
      yield* insertEvents(yield* auditRecords(options.events, job))
      return job
    },
    atomic,
    alreadyExistsAsStorageError("JobStore.releaseRun"),
    storageErrors("JobStore.releaseRun")
  )

  /** Runs a compiled statement and continues with its rows: `textThen`, or `textThenOutside` in one step. */
  type TextThen = PgContext["textThenOutside"]

  /** A moved job's row decoded; null when the statement moved nothing. */
  const movedJob = ([row]: ReadonlyArray<unknown>) => row === undefined ? Effect.succeed(null) : decode.aiJob(row)

  /**
   * `finishRunningJob`'s statement, and `settleRun`'s when the end carries a
   * run (the guard: the job running under exactly that run), outputs and a
   * duration: the job's move, its run's end and its record in one statement.
   * Null when it moved nothing.
   */
  const finishTemplate = (settle: boolean) =>
    fixedStatement<[
      to: string,
      reading: string,
      eventId: string,
      jobId: string,
      reasonGiven: boolean,
      reason: string | null,
      errorGiven: boolean,
      error: string | null,
      actor: string,
      type: string,
      body: string,
      // A settle's alone: its run (the guard), whether outputs are given, the outputs and the duration.
      ...settled: Array<unknown>
    ]>(settle ? 15 : 11, (to, reading, eventId, jobId, reasonGiven, reason, errorGiven, error, actor, type, body, ...settled) => {
      // The move's instant: its record's, unless the job changed at or after it (moveInstant.ts).
      const at = sql`${reading}::timestamptz`
      const [runId, outputsGiven, outputs, durationMs] = settled
      const set = [
        sql`status = ${to}`,
        sql`updated_at = ${moveInstant(sql, { reading: at, job: "ai_jobs", firstId: sql`${eventId}::uuid` })}`,
        sql`status_reason = CASE WHEN ${reasonGiven}::boolean THEN ${reason} ELSE status_reason END`,
        sql`error_message = CASE WHEN ${errorGiven}::boolean THEN ${error} ELSE error_message END`,
        ...(settle
          ? [
            sql`job_outputs = CASE WHEN ${outputsGiven}::boolean THEN ${outputs}::jsonb ELSE job_outputs END`,
            sql`metrics = ${addDuration(sql, sql`metrics`, sql`${durationMs}::bigint`)}`
          ]
          : [])
      ]
      // A move from outside the program: only when free to end its nodes in this statement (`freeToEnd`).
      const underRun = settle ? sql`workflow_run_id = ${runId}` : freeToEnd(sql, jobId)
      // One statement, in the lock order: the job (compare-and-set on `running`
      // under a run), then its active run, then the record — written only when
      // the job moved, its placeholders replaced by the job row's trace, run and attempt.
      // The run is found by its key (a value the plan gets from `moved`, not a join): a join
      // let the planner scan every running run's index entries, dead ones too, to end one.
      return sql`
          WITH moved AS (
            UPDATE ai_jobs SET ${sql.csv(set)}
            WHERE id = ${jobId} AND ${running} AND ${underRun}
            RETURNING ${jobColumns}
          ), ended AS (
            UPDATE workflow_runs r SET status = ${to}, error_message = ${error},
              updated_at = (SELECT updated_at FROM moved)
            WHERE r.id = (SELECT workflow_run_id FROM moved) AND ${runRunning}
          ), audit AS (
            INSERT INTO flight_recorder_events (${eventColumns})
            SELECT ${eventId}, m.updated_at, ${actor}, ${type},
              m.trace_id, m.id, m.workflow_run_id,
              ${body}::jsonb ||
                jsonb_build_object('trace_id', m.trace_id, 'workflow_run_id', m.workflow_run_id, 'attempt', m.attempt) ||
                ${movedTimestamp(sql, { written: "m.updated_at", reading: at })}
            FROM moved m
          )
          SELECT * FROM moved`
    })
  // A move's and a settle's statement, each compiled once (issue 16: built from its fragments,
  // an end's statement was garbage and a walk of every fragment on every end). What an end
  // does not give is kept as the row has it (the job's reason, error and outputs) by the
  // statement itself, so the text never varies with the end.
  const finishTexts = { move: finishTemplate(false), settle: finishTemplate(true) }

  /**
   * `finishRunningJob`'s statement, and `settleRun`'s when the end carries a
   * run (the guard: the job running under exactly that run), outputs and a
   * duration: the job's move, its run's end and its record in one statement.
   * Null when it moved nothing.
   */
  const finishRunningOn = (statementThen: TextThen) => {
    const finish = (end: RunningJobEnd | RunSettle, outputs: string | null | undefined) =>
      Effect.suspend(() => {
        const { event } = end
        const common = [
          end.to,
          instantParam(event.timestamp),
          event.event_id,
          end.job_id,
          end.status_reason !== undefined,
          end.status_reason ?? null,
          end.error_message !== undefined,
          end.error_message ?? null,
          event.actor,
          event.type,
          JSON.stringify(event.body)
        ] as const
        const { params, text } = "workflow_run_id" in end
          ? { text: finishTexts.settle.text, params: finishTexts.settle.params(...common, end.workflow_run_id, outputs !== undefined, outputs ?? null, end.duration_ms) }
          : { text: finishTexts.move.text, params: finishTexts.move.params(...common) }
        return statementThen(text, params, movedJob)
      })
    return (end: RunningJobEnd | RunSettle): Effect.Effect<AiJob | null, CorruptRow | SqlError | ParseError> =>
      // Outputs are encoded (and checked) first, as their own step; an end without any takes none.
      "workflow_run_id" in end && end.job_outputs !== undefined
        ? Effect.flatMap(encodeJson.payload(end.job_outputs), (outputs) => finish(end, outputs))
        : finish(end, undefined)
  }

  /** A running job's end and a worker's settle, through `statementThen`, reported by `reported`. */
  const finishMethods = (statementThen: TextThen, reported: typeof storageErrors) => {
    const finishRunning = finishRunningOn(statementThen)
    const finishOperation = reported("JobStore.finishRunningJob")
    const finishRunningJob: NonNullable<Service["finishRunningJob"]> = (end) =>
      // `stalled` is recovery's alone (R6a), and no other edge leaves `running` here: the general path refuses them.
      finishOperation(leavesRunning(end.to) ? finishRunning(end) : Effect.succeed(null))
    const settleRun: NonNullable<Service["settleRun"]> = Effect.fnUntraced(
      function*(settle: RunSettle) {
        yield* refuseSettleTarget(settle.job_id, settle.to)
        // Not moved: the run is not the job's active run; say why (nothing was written).
        return (yield* finishRunning(settle)) ?? (yield* notActive(settle.workflow_run_id))
      },
      reported("JobStore.settleRun")
    )
    return { finishRunningJob, settleRun }
  }
  const { finishRunningJob, settleRun } = finishMethods(context.textThen, storageErrors)

  const startNode: Service["startNode"] = Effect.fnUntraced(
    function*(input: {
      readonly id?: NodeExecutionId | undefined
      readonly workflow_run_id: WorkflowRunId
      readonly node_id: string
      readonly node_type: string
      readonly input_payload?: Json | null | undefined
    }) {
      const now = yield* DateTime.now
      const node: Omit<NodeExecution, "sequence"> = {
        id: input.id ?? NodeExecutionId.make(uuidv7()),
        workflow_run_id: input.workflow_run_id,
        node_id: yield* checkNodeId(input.node_id),
        node_type: yield* checkNodeType(input.node_type),
        status: "running",
        input_payload: input.input_payload ?? null,
        output_payload: null,
        error_message: null,
        started_at: now,
        finished_at: null
      }
      // Lock the run first, in its own statement: a second startNode on the
      // same run waits here, and its max(sequence) below then sees this one's
      // row (a single statement would keep the snapshot from before the wait).
      yield* lockActiveRun(node.workflow_run_id)
      const inputText = yield* encodeJson.payload(node.input_payload)
      const [row] = yield* sql<{ readonly sequence: number }>`
        INSERT INTO workflow_node_executions (${nodeColumns}, input_payload_bytes)
        SELECT ${node.id}, ${node.workflow_run_id}, ${node.node_id}, ${node.node_type}, ${node.status},
          COALESCE(max(sequence) + 1, 0), ${inputText}::jsonb, NULL, NULL,
          ${instantParam(now)}::timestamptz, NULL, ${payloadBytes(inputText)}::integer
        FROM workflow_node_executions WHERE workflow_run_id = ${node.workflow_run_id}
        RETURNING sequence`
      // An INSERT ... SELECT of an aggregate without GROUP BY inserts exactly one row.
      if (row === undefined) return yield* Effect.dieMessage("JobStore.startNode: the INSERT returned no row")
      return { ...node, sequence: row.sequence } satisfies NodeExecution
    },
    atomic,
    storageErrors("JobStore.startNode")
  )

  const finishNode: Service["finishNode"] = Effect.fnUntraced(
    function*(nodeId: NodeExecutionId, outcome: {
      readonly status: NodeEndStatus
      readonly output_payload?: Json | null | undefined
      readonly error_message?: string | null | undefined
    }) {
      const now = yield* DateTime.now
      const set = [sql`status = ${yield* checkNodeEnd(outcome.status)}`]
      if (nodeFinishes(outcome.status)) set.push(sql`finished_at = ${instantParam(now)}::timestamptz`)
      if (outcome.output_payload !== undefined) {
        const output = yield* encodeJson.payload(outcome.output_payload)
        set.push(sql`output_payload = ${output}::jsonb`, sql`output_payload_bytes = ${payloadBytes(output)}::integer`)
      }
      if (outcome.error_message !== undefined) set.push(sql`error_message = ${outcome.error_message}`)
      const [owner] = yield* sql<{ readonly workflow_run_id: WorkflowRunId }>`
        SELECT workflow_run_id FROM workflow_node_executions WHERE id = ${nodeId}`
      if (owner === undefined) return yield* new NotFound({ entity: "node_execution", id: nodeId })
      yield* lockActiveRun(owner.workflow_run_id)
      const [row] = yield* sql`
        UPDATE workflow_node_executions SET ${sql.csv(set)} WHERE id = ${nodeId} RETURNING ${nodeColumns}`
      if (row === undefined) return yield* new NotFound({ entity: "node_execution", id: nodeId })
      return yield* decode.node(row)
    },
    atomic,
    storageErrors("JobStore.finishNode")
  )

  const endStalledRunNodes: Service["endStalledRunNodes"] = Effect.fnUntraced(
    function*(runId: WorkflowRunId, outcome: { readonly status: NodeEndStatus; readonly error_message: string }) {
      const now = yield* DateTime.now
      // Guarded on the run being stalled in the same statement: no other run's nodes are ended here.
      // A stalled run's open-node count is history (0017's trigger counts only a running run's).
      // Each node ends at the reading, or at its own start or its run's stall if later: a node
      // begun, or a run stalled, on a clock ahead of this one's is never ended before it.
      const rows = yield* sql`
        UPDATE workflow_node_executions n SET status = ${yield* checkNodeEnd(outcome.status)},
          finished_at = GREATEST(${instantParam(now)}::timestamptz, n.started_at, r.updated_at), error_message = ${outcome.error_message}
        FROM workflow_runs r
        WHERE n.workflow_run_id = ${runId} AND n.status = 'running' AND r.id = ${runId} AND r.status = 'stalled'
        RETURNING ${sql.literal(qualified(columns.node, "n"))}`
      const nodes = yield* decodeRows(decode.node)(rows)
      // RETURNING gives no order: the port's answer is in sequence order.
      return [...nodes].sort((a, b) => a.sequence - b.sequence)
    },
    storageErrors("JobStore.endStalledRunNodes")
  )

  const listNodes: Service["listNodes"] = (runId, page) =>
    (page === undefined
      ? sql`SELECT ${nodeColumns} FROM workflow_node_executions WHERE workflow_run_id = ${runId} ORDER BY sequence`
      // A range of the run's (workflow_run_id, sequence) key; LIMIT NULL is no limit. The cursor
      // compared as a bigint: the port admits any up to 2^53 − 1, past the integer column (no more nodes).
      : sql`SELECT ${nodeColumns} FROM workflow_node_executions
          WHERE workflow_run_id = ${runId} AND sequence > ${page.after ?? -1}::bigint ORDER BY sequence LIMIT ${page.limit ?? null}`).pipe(
      Effect.flatMap(decodeRows(decode.node)),
      storageErrors("JobStore.listNodes")
    )

  // Each payload's length as written (0032: the size stored beside it; jsonb's text, longer, only for
  // a payload written without one), in SQL: one left out never leaves the database. A JSON null has
  // none (SQLite stores no payload as one): both stores agree.
  const listNodeSummaries: Service["listNodeSummaries"] = (runId, page) =>
    sql`SELECT n.id, n.workflow_run_id, n.node_id, n.node_type, n.status, n.sequence,
        CASE WHEN s.input_bytes <= ${page.inlineBytes} THEN n.input_payload END AS input_payload,
        CASE WHEN s.output_bytes <= ${page.inlineBytes} THEN n.output_payload END AS output_payload,
        CASE WHEN s.input_bytes > ${page.inlineBytes} THEN s.input_bytes END AS input_payload_bytes,
        CASE WHEN s.output_bytes > ${page.inlineBytes} THEN s.output_bytes END AS output_payload_bytes,
        n.error_message, n.started_at, n.finished_at
      FROM workflow_node_executions n
      CROSS JOIN LATERAL (
        SELECT CASE WHEN n.input_payload <> 'null'::jsonb THEN coalesce(n.input_payload_bytes, octet_length(n.input_payload::text)) END AS input_bytes,
          CASE WHEN n.output_payload <> 'null'::jsonb THEN coalesce(n.output_payload_bytes, octet_length(n.output_payload::text)) END AS output_bytes) s
      WHERE n.workflow_run_id = ${runId} AND n.sequence > ${page.after ?? -1}::bigint ORDER BY n.sequence LIMIT ${page.limit ?? null}`.pipe(
      Effect.flatMap(decodeRows(decode.nodeSummary)),
      storageErrors("JobStore.listNodeSummaries")
    )

  return { failUnreadableJob: makeFailUnreadableJob(context), createRun, getRun, lockRun, listRuns, finishRun, heartbeat, takeRun, releaseRun, finishRunningJob, settleRun, startNode, finishNode, endStalledRunNodes, listNodes, listNodeSummaries,
    /** For callers that checked they are outside any transaction (group commit, coalesced.ts): no second look. */
    outside: { heartbeat: heartbeatOutside, ...finishMethods(context.textThenOutside, storageErrorsOutside) }
  }
}
