/**
 * The set-based work many processes may do at once on PostgreSQL: claiming
 * queued jobs, startup recovery (R9) and pruning (R18). Each is one
 * statement (plus its events) in one transaction; `FOR UPDATE SKIP LOCKED`
 * lets concurrent workers take disjoint rows instead of waiting on each other.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { JobKind } from "../../domain/JobKind.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { type RecoveryPass, STALLED_STATUS_REASON, stallMessageAround, thresholdSecs } from "../../domain/stallReason.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { Audit, Claim, JobStore, PruneReport, StalledRun } from "../JobStore.js"
import type { PgContext } from "./context.js"
import { auditRecords } from "../internal/audit.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import { columns, decode, instantParam, qualified, instantBound } from "./rows.js"
import { storageErrors } from "./errors.js"
import { newRun } from "../internal/newRows.js"
import { claimStart, makeClaimAdmitted, nextJob } from "./claim.js"
import { isRunning } from "./keyedGuard.js"
import { instantAfter, moveInstant } from "./moveInstant.js"
import { pruneHeldBatch } from "./pruneHeldBatch.js"

type Service = Context.Tag.Service<JobStore>

/** A `timestamptz` column in the one stored text form (RFC 3339, UTC, milliseconds), as `DateTime.formatIso` writes it. */
const isoText = (sql: SqlClient.SqlClient, column: string) =>
  sql`to_char(${sql.literal(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * R9's `workflow_recovery` body, with the fields and key order of
 * `recoveryEvent` (internal/jobs/auditEvents.ts), from the alias `s` (the
 * stalled run: `id`, `job_id`, `trace_id`, `reason`, `heartbeat` as text);
 * `job_id` only when the job moved with its run.
 */
const recoveryBody = (sql: SqlClient.SqlClient, o: {
  readonly eventId: string
  readonly timestamp: Statement.Fragment
  readonly secs: number
  readonly withJob: boolean
}) =>
  sql`jsonb_build_object(
    'event_id', ${sql.literal(o.eventId)}, 'timestamp', ${o.timestamp}, 'actor', 'system', 'trace_id', s.trace_id,
    ${sql.literal(o.withJob ? "'job_id', s.job_id, " : "")}'workflow_run_id', s.id, 'type', 'workflow_recovery',
    'from_state', 'running', 'to_state', 'stalled', 'reason', s.reason,
    'last_heartbeat_ts', s.heartbeat, 'threshold_secs', ${o.secs}::bigint)`

/**
 * Recovery's batch in one statement (R9), set-based whatever the batch size,
 * in the lock order (JobStore.ts): the jobs of up to `limit` stale runs
 * first, skipping any another transaction holds (with `wait`, waiting for
 * it: `stallStaleRuns`'s last pass); then their runs, waited for
 * (nothing that holds a run lock waits for a job lock) and re-checked as they
 * are once locked — PostgreSQL re-reads a row it had to wait for, so a
 * heartbeat or an end that committed meanwhile drops its run; then each run
 * `stalled` with the recovery reason naming its heartbeat (issue 12.5), its
 * job too while it is running under that run (R6a), and, with `record`, R9's
 * `workflow_recovery` record per run, built here with the fields and key
 * order of `recoveryEvent` (internal/jobs/auditEvents.ts) — no JavaScript per
 * run. Returns the runs as the statement left them (status `stalled`, the
 * reason as `error_message`, the stall's instant as `updated_at`: the very
 * expressions its UPDATE writes, so no RETURNING join is needed), oldest
 * heartbeat first, with their job's trace id. One statement is atomic by
 * itself: no BEGIN/COMMIT around it (issue 16: a batch is one round trip).
 *
 * Each run's stall is stamped at the batch's reading, or at its job's or its
 * run's last change if later (`stalled_at`, one expression per row, on the rows
 * as locked): a change made on a clock ahead of the recoverer's (a pin, a start)
 * is never followed by a stall dated before it. The run's and the job's
 * `updated_at`, the record's timestamp column and its body's `timestamp` all
 * take it; the body's text is the reading's own when nothing was lifted.
 *
 * The runs are locked by primary key (`= ANY` of the locked jobs' run ids):
 * as a join they were planned as a hash of every stale run still running,
 * rebuilt by each batch — locking them cost ~2.8× the server CPU at the
 * first of ten batches of 1000 (bench/recoveryParts.ts), and more the more
 * runs are stale. Each run's heartbeat text is made once, as it is locked,
 * for the reason and the record alike.
 */
const stallStatement = (sql: SqlClient.SqlClient, batch: {
  readonly at: string
  readonly cutoff: string
  readonly limit: number
  readonly threshold: Duration.Duration
  readonly record: boolean
  /** The recovery pass, which the reason names. */
  readonly pass: RecoveryPass | undefined
  /** Wait for a job another transaction holds, instead of skipping it (`stallStaleRuns`'s last pass). */
  readonly wait?: boolean
}) => {
  const secs = thresholdSecs(batch.threshold)
  const why = stallMessageAround(secs, batch.pass)
  const heartbeat = isoText(sql, "r.last_heartbeat")
  const stale = (alias: string) => sql`${sql.literal(alias)}.status = 'running' AND ${sql.literal(alias)}.last_heartbeat < ${batch.cutoff}::timestamptz`
  // The stalled jobs are found by key (the moved runs'): their state a check only (keyedGuard.ts). Plain, it let
  // the planner read every running job's index entries on each sweep, stalling none, to find them.
  const jobRunning = isRunning(sql, "j.status")
  // Event ids are made here, time-ordered (UUIDv7), one per run the batch may move; the n-th run moved takes the n-th.
  const minted = batch.record ? Array.from({ length: batch.limit }, uuidv7) : []
  const eventIds = `{${minted.join(",")}}`
  // A stall lifted to its job's or run's last change goes after that change's records even when
  // its ids, minted on a clock behind, are smaller (moveInstant.ts `instantAfter`): compared with
  // the first id this statement mints (or, with none, one minted before the records `events` adds).
  const stalledAt = instantAfter(sql, {
    reading: sql`${batch.at}::timestamptz`,
    last: sql`GREATEST(j.job_updated_at, s.updated_at)`,
    jobId: sql`s.job_id`,
    firstId: sql`${minted[0] ?? uuidv7()}::uuid`,
    // Waited for (the last pass), the job's or run's change is seen, its records not (moveInstant.ts).
    unseen: sql`j.job_version IS DISTINCT FROM (SELECT x.xmin FROM ai_jobs x WHERE x.id = s.job_id)
      OR s.run_version IS DISTINCT FROM (SELECT x.xmin FROM workflow_runs x WHERE x.id = s.id)`
  })
  // The stall's instant as text in the record's body: the reading's own text unless it was lifted.
  const stalledText = sql`CASE WHEN s.stalled_at = ${batch.at}::timestamptz THEN ${batch.at}::text ELSE ${isoText(sql, "s.stalled_at")} END`
  // A run's job moves with it only while it is running under it (stalled_jobs). One that is not —
  // a reference database's half-finished move left it completed, or still queued — stays as it is,
  // and the run's record names the run alone: it claims no move of the job.
  const body = (withJob: boolean) => recoveryBody(sql, { eventId: "e.event_id", timestamp: stalledText, secs, withJob })
  const recorded = batch.record
    ? sql`, recorded AS (
      INSERT INTO flight_recorder_events (${sql.literal(columns.event)})
      SELECT e.event_id, s.stalled_at, 'system', 'workflow_recovery', s.trace_id, CASE WHEN s.job_moves THEN s.job_id END, s.id,
        CASE WHEN s.job_moves THEN ${body(true)} ELSE ${body(false)} END
      FROM moved s JOIN unnest(${eventIds}::uuid[]) WITH ORDINALITY AS e(event_id, n) ON e.n = s.n
    )`
    : sql.literal("")
  // Data-modifying CTEs all run, referenced or not; every part sees the rows as they were before it.
  return sql`
    WITH stale_jobs AS MATERIALIZED (
      SELECT r.id, j.trace_id, j.updated_at AS job_updated_at, j.xmin AS job_version, (j.status = 'running' AND j.workflow_run_id = r.id) IS TRUE AS job_moves
      FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
      WHERE ${stale("r")}
      ORDER BY r.last_heartbeat, r.id
      LIMIT ${batch.limit}
      FOR NO KEY UPDATE OF j${sql.literal(batch.wait === true ? "" : " SKIP LOCKED")}
    ), locked_runs AS MATERIALIZED (
      SELECT ${sql.literal(qualified(columns.run, "r"))}, ${heartbeat} AS heartbeat, r.xmin AS run_version
      FROM workflow_runs r
      WHERE r.id = ANY (ARRAY(SELECT id FROM stale_jobs)) AND ${stale("r")}
      FOR NO KEY UPDATE OF r
    ), moved AS MATERIALIZED (
      SELECT s.*, j.trace_id, j.job_moves, row_number() OVER (ORDER BY s.last_heartbeat, s.id) AS n,
        ${why.before} || s.heartbeat || ${why.after} AS reason,
        ${stalledAt} AS stalled_at
      FROM locked_runs s JOIN stale_jobs j ON j.id = s.id
    ), stalled_runs AS (
      UPDATE workflow_runs r SET status = 'stalled', error_message = s.reason, updated_at = s.stalled_at
      FROM moved s WHERE r.id = s.id
    ), stalled_jobs AS (
      UPDATE ai_jobs j SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON},
        error_message = s.reason, updated_at = s.stalled_at
      FROM moved s
      WHERE j.id = s.job_id AND j.workflow_run_id = s.id AND ${jobRunning}
    )${recorded}
    SELECT id, job_id, 'stalled' AS status, last_heartbeat, reason AS error_message, created_at,
      stalled_at AS updated_at, trace_id
    FROM moved ORDER BY n`
}

/**
 * The most runs one recovery statement moves, so the event ids it is given
 * stay small whatever `limit` a caller asks for; a larger limit is moved in
 * several statements, in one transaction.
 */
const MAX_STALLED_PER_STATEMENT = 10_000

/** Claiming, recovery and pruning. */
export const makeWorkerMethods = (context: PgContext) => {
  const { atomic, audited, insertEvents, sql, transaction } = context
  const claimNext: Service["claimNext"] = Effect.fnUntraced(
    function*(options: {
      readonly kinds?: ReadonlyArray<JobKind> | undefined
      readonly events?: Audit<Claim> | undefined
      readonly take?: boolean | undefined
    } = {}) {
      const { at, now, runId } = yield* claimStart
      // Minted before the records `events` builds from the claim, whose ids (this process's) are larger.
      const firstId = uuidv7()
      // One statement: lock the next job (claim.ts), create its run (taken when the
      // claimer runs it itself), point the job at the run and move it to running.
      // Its records follow (they are a function of the job claimed) in the same
      // transaction. The claim's instant is never before the job's last change, nor
      // listed before its records when this clock, behind, mints smaller ids: the
      // move that queued it can commit after this claimer read its clock, or on a
      // host ahead (claim.ts, moveInstant.ts).
      return (yield* audited({
        steps: [
          ["next_job", nextJob(sql, { at, kinds: options.kinds, select: "id, updated_at, xmin" })],
          ["new_run", sql`
            INSERT INTO workflow_runs (${sql.literal(columns.run)}, taken)
            SELECT ${runId}, id, 'running', ${at}::timestamptz, NULL, claimed_at, claimed_at, ${sql.literal(options.take === true ? "true" : "false")}
            FROM (
              SELECT id, ${moveInstant(sql, { reading: sql`${at}::timestamptz`, job: "next_job", firstId: sql`${firstId}::uuid` })} AS claimed_at
              FROM next_job
            ) AS n
            RETURNING id AS run_id, job_id AS claimed_job_id, created_at AS claimed_at`],
          ["claimed", sql`
            UPDATE ai_jobs SET status = 'running', status_reason = '', workflow_run_id = new_run.run_id, updated_at = new_run.claimed_at
            FROM new_run
            WHERE ai_jobs.id = new_run.claimed_job_id
            RETURNING ${sql.literal(qualified(columns.job, "ai_jobs"))}`]
        ],
        events: options.events,
        // Its heartbeat is the reading as it is (newRows.ts `newRun`).
        result: (row) => Effect.map(decode.aiJob(row), (job): Claim => ({ job, run: newRun(job.job_id, job.updated_at, runId, now) }))
      })) ?? null
    },
    alreadyExistsAsStorageError("JobStore.claimNext"),
    storageErrors("JobStore.claimNext")
  )

  const findStaleRuns: Service["findStaleRuns"] = Effect.fnUntraced(
    function*(options: { readonly heartbeatBefore: DateTime.Utc; readonly limit?: number | undefined }) {
      const cutoff = instantBound(options.heartbeatBefore)
      const rows = yield* sql`
        SELECT ${sql.literal(columns.run)} FROM workflow_runs
        WHERE status = 'running' AND last_heartbeat < ${cutoff}::timestamptz
        ORDER BY last_heartbeat, id
        LIMIT ${options.limit === undefined ? null : Math.max(0, Math.floor(options.limit))}`
      return yield* decodeRows(decode.run)(rows)
    },
    storageErrors("JobStore.findStaleRuns")
  )

  /**
   * Waits until no other transaction holds the job of the oldest stale run (its lock taken, in the
   * lock order); whether any stale run is left.
   */
  const waitForOldestStale = (cutoff: string) =>
    sql`SELECT 1 FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
      WHERE r.status = 'running' AND r.last_heartbeat < ${cutoff}::timestamptz
      ORDER BY r.last_heartbeat, r.id LIMIT 1
      FOR NO KEY UPDATE OF j`.pipe(Effect.map((found) => found.length > 0))

  const stallStaleRuns: Service["stallStaleRuns"] = Effect.fnUntraced(
    function*(options: {
      readonly heartbeatBefore: DateTime.Utc
      readonly threshold: Duration.Duration
      readonly limit: number
      readonly events?: Audit<ReadonlyArray<StalledRun>> | undefined
      readonly recordRecovery?: boolean | undefined
      readonly pass?: RecoveryPass | undefined
    }) {
      const at = instantParam(yield* DateTime.now)
      const limit = Math.max(0, Math.floor(options.limit))
      const cutoff = instantBound(options.heartbeatBefore)
      const rows: Array<unknown> = []
      while (true) {
        const take = Math.min(limit - rows.length, MAX_STALLED_PER_STATEMENT)
        const moved = yield* stallStatement(sql, {
          at,
          cutoff,
          limit: take,
          threshold: options.threshold,
          record: options.recordRecovery === true,
          pass: options.pass
        })
        for (const row of moved) rows.push(row)
        // Fewer than asked: no stale run is left that no other transaction holds.
        if (moved.length < take || rows.length >= limit) break
      }
      // Nothing taken: the stale runs left, if any, are held by other transactions. One that
      // ends its run (a completion, a cancel, another recoverer) decides it, but one may not: a
      // metrics write or a pin, a move rolled back, a recoverer that dies before its COMMIT.
      // Skipped, such a run stayed running after a scan that ended on this empty batch, and
      // intake opened. So wait for them, one at a time — the oldest stale run's job, then its
      // run, re-checked as they are once locked — until one is moved or none is left: an empty
      // result means no stale run is left. Holding no lock while it waits for the job, this
      // pass closes no cycle (JobStore.ts, lock order). The stall's instant is read after the
      // wait (a statement that takes the job's lock and, outside a transaction, lets it go): read
      // before, the stall and its event would be dated before a change the holder committed.
      while (rows.length === 0 && limit > 0 && (yield* waitForOldestStale(cutoff))) {
        const waitedAt = instantParam(yield* DateTime.now)
        const moved = yield* stallStatement(sql, {
          at: waitedAt,
          cutoff,
          limit: 1,
          threshold: options.threshold,
          record: options.recordRecovery === true,
          pass: options.pass,
          wait: true
        })
        for (const row of moved) rows.push(row)
      }
      const stalled = yield* decode.stalledRuns(rows)
      if (options.events !== undefined && stalled.length > 0) yield* insertEvents(yield* auditRecords(options.events, stalled))
      return stalled
    },
    // One statement is atomic by itself; records `events` adds, or a second statement, go with it in one transaction.
    (effect, options) => options.events !== undefined || options.limit > MAX_STALLED_PER_STATEMENT ? transaction(effect) : effect,
    alreadyExistsAsStorageError("JobStore.stallStaleRuns"),
    storageErrors("JobStore.stallStaleRuns")
  )

  const stallJobsUnderStalledRuns: NonNullable<Service["stallJobsUnderStalledRuns"]> = Effect.fnUntraced(
    function*(options: { readonly threshold: Duration.Duration; readonly pass?: RecoveryPass | undefined }) {
      // The jobs locked first (the lock order), waiting for any another transaction holds: once it
      // is let go, the job is read again as that transaction left it, and one another recoverer
      // stalled meanwhile is no longer running — so each job moves once.
      const rows = yield* sql`
        SELECT ${sql.literal(qualified(columns.run, "r"))}, j.trace_id
        FROM ai_jobs j JOIN workflow_runs r ON r.id = j.workflow_run_id AND r.job_id = j.id
        WHERE j.status = 'running' AND r.status = 'stalled'
        ORDER BY j.id
        FOR NO KEY UPDATE OF j`
      if (rows.length === 0) return []
      const stalled = yield* decode.stalledRuns(rows)
      // Read after the locks: a change their holders committed is never dated after the stall.
      const at = instantParam(yield* DateTime.now)
      const secs = thresholdSecs(options.threshold)
      const why = stallMessageAround(secs, options.pass)
      const runIds = `{${stalled.map(({ run }) => run.id).join(",")}}`
      const minted = stalled.map(() => uuidv7())
      const eventIds = `{${minted.join(",")}}`
      // As `stallStatement` moves a job: the reason around its run's heartbeat, at the reading or, if
      // the job or its run changed at or after it, after that change (moveInstant.ts `instantAfter`;
      // the jobs locked above, this statement sees their changes' records); and R9's record naming
      // the job and its run.
      const stalledAt = instantAfter(sql, {
        reading: sql`${at}::timestamptz`,
        last: sql`GREATEST(r.updated_at, j.updated_at)`,
        jobId: sql`j.id`,
        firstId: sql`${minted[0]!}::uuid`,
        unseen: sql`false`
      })
      yield* sql`
        WITH m AS (
          SELECT r.id AS run_id, r.job_id, e.event_id, ${isoText(sql, "r.last_heartbeat")} AS heartbeat,
            ${stalledAt} AS stalled_at
          FROM unnest(${runIds}::uuid[], ${eventIds}::uuid[]) AS e(run_id, event_id)
          JOIN workflow_runs r ON r.id = e.run_id JOIN ai_jobs j ON j.id = r.job_id
        ), s AS (
          UPDATE ai_jobs j SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON},
            error_message = ${why.before} || m.heartbeat || ${why.after}, updated_at = m.stalled_at
          FROM m WHERE j.id = m.job_id
          RETURNING j.id AS job_id, j.trace_id, j.error_message AS reason, j.updated_at AS stalled_at, m.run_id AS id, m.event_id, m.heartbeat
        )
        INSERT INTO flight_recorder_events (${sql.literal(columns.event)})
        SELECT s.event_id, s.stalled_at, 'system', 'workflow_recovery', s.trace_id, s.job_id, s.id,
          ${recoveryBody(sql, { eventId: "s.event_id", timestamp: isoText(sql, "s.stalled_at"), secs, withJob: true })}
        FROM s`
      return stalled
    },
    // The lock, then the move and its records: one transaction.
    (effect) => transaction(effect),
    alreadyExistsAsStorageError("JobStore.stallJobsUnderStalledRuns"),
    storageErrors("JobStore.stallJobsUnderStalledRuns")
  )

  const pruneJobs: Service["pruneJobs"] = Effect.fnUntraced(
    function*(options: {
      readonly olderThan: DateTime.Utc
      readonly keepNewest: number
      readonly batchSize?: number | undefined
      readonly dryRun?: boolean | undefined
      readonly events?: Audit<PruneReport> | undefined
    }) {
      // A batch (JobStore.pruneJobs): the oldest `batchSize` of the jobs the prune would delete.
      const batchSize = options.dryRun === true ? undefined : options.batchSize
      const oldest = batchSize === undefined ? sql`` : sql`ORDER BY updated_at, id LIMIT ${batchSize}`
      // A full batch may leave more to prune: it counts only what it pruned (JobStore.pruneJobs).
      const fullBatch = (pruned: number) => {
        const report = { scanned: pruned, pruned, spared_pinned: 0, spared_window: 0 }
        return Effect.as(Effect.flatMap(auditRecords(options.events, report), insertEvents), report)
      }
      const prunable = sql.in("status", [...Lifecycle.prunableStates])
      const cutoff = sql`${instantBound(options.olderThan)}::timestamptz`
      // `scanned`: prunable and old. `kept`: the window, the newest keepNewest
      // unpinned prunable jobs whatever their age. What is neither pinned nor
      // kept goes; the DELETE re-checks its row, so a job pinned, retried or
      // touched meanwhile stays.
      const kept = sql`
        SELECT id FROM ai_jobs WHERE ${prunable} AND NOT is_pinned
        ORDER BY updated_at DESC, id DESC
        LIMIT ${Math.max(0, Math.floor(options.keepNewest))}`
      const candidates = sql`
        WITH scanned AS (
          SELECT id, is_pinned, updated_at FROM ai_jobs WHERE ${prunable} AND updated_at < ${cutoff}
        ), kept AS (${kept}), doomed AS (
          SELECT id FROM scanned WHERE NOT is_pinned AND id NOT IN (SELECT id FROM kept)
          ${oldest}
        )`
      const counts = sql`
        (SELECT count(*) FROM scanned) AS scanned,
        (SELECT count(*) FROM scanned WHERE is_pinned) AS spared_pinned`
      // Runs and nodes go by ON DELETE CASCADE; events have no foreign key and stay.
      // A real pass first waits for, and locks, every old prunable job (in id order, so two
      // processes' Janitors lock their common rows in one order), and only then reads what it
      // scans, keeps and prunes, in a statement of its own: read in the statement that waited, the
      // window was the snapshot's from before the wait, so a job in it that an operator pinned,
      // retried or touched meanwhile kept the place an older job should now take, and that older
      // job was pruned (SQLite's pass, under its write lock, kept it). Holding those locks, the
      // second statement waits for no one: its snapshot is the moment the pass prunes as of, and
      // its counts are of the rows as they are when deleted.
      // A full batch locks and deletes only its own jobs (pruneHeldBatch.ts: locking every old one in
      // each batch made a prune O(N²/B)). The last batch, which finds fewer jobs to prune than a full
      // one, prunes as a whole pass does, below: it locks every old prunable job (few are left), so it
      // deletes exactly what it reads, waits for an operator holding a job it counts, and its counts
      // of what it spares are exact.
      if (batchSize !== undefined) {
        const pruned = yield* pruneHeldBatch(sql, { prunable, cutoff, kept }, batchSize)
        if (pruned === batchSize) return yield* fullBatch(pruned)
      }
      if (options.dryRun !== true) {
        yield* sql`SELECT count(*) FROM (SELECT id FROM ai_jobs WHERE ${prunable} AND updated_at < ${cutoff} ORDER BY id FOR UPDATE) AS held`
      }
      const [row] = options.dryRun === true
        ? yield* sql`${candidates} SELECT ${counts}, (SELECT count(*) FROM doomed) AS pruned`
        : yield* sql`${candidates}, pruned AS (
            DELETE FROM ai_jobs j USING doomed
            WHERE j.id = doomed.id AND ${prunable} AND j.updated_at < ${cutoff} AND NOT j.is_pinned
            RETURNING 1
          )
          SELECT ${counts}, (SELECT count(*) FROM pruned) AS pruned`
      const scanned = Number(row?.["scanned"] ?? 0)
      const spared_pinned = Number(row?.["spared_pinned"] ?? 0)
      const pruned = Number(row?.["pruned"] ?? 0)
      if (pruned === batchSize) return yield* fullBatch(pruned)
      const report = { scanned, pruned, spared_pinned, spared_window: scanned - spared_pinned - pruned }
      if (options.dryRun !== true) yield* insertEvents(yield* auditRecords(options.events, report))
      return report
    },
    // A real pass is two statements (the lock, then the prune) and its records: one transaction. A dry run is one.
    (effect, options) => options.dryRun !== true ? atomic(effect) : effect,
    alreadyExistsAsStorageError("JobStore.pruneJobs"),
    storageErrors("JobStore.pruneJobs")
  )

  return { claimNext, claimAdmitted: makeClaimAdmitted(context).claimAdmitted, findStaleRuns, stallStaleRuns, stallJobsUnderStalledRuns, pruneJobs }
}
