/**
 * Claiming on PostgreSQL: which job is next (shared by `claimNext` and
 * `claimAdmitted`), and `claimAdmitted` — a claim and its audit records in
 * one statement, for a caller whose records depend only on the claimed
 * job's subject (issue 16: a claim in 1 round trip instead of 4).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type EventId, WorkflowRunId } from "../../domain/Ids.js"
import { isJobKind, type JobKind } from "../../domain/JobKind.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { AdmittedClaim, ClaimSubject, ClaimTemplate, JobStore } from "../JobStore.js"
import { newRun } from "../internal/newRows.js"
import { renderedOncePerList } from "../internal/templatesText.js"
import type { CorruptRow } from "../StoreErrors.js"
import type { PgContext } from "./context.js"
import { storageErrors, storageErrorsOutside } from "./errors.js"
import { fixedPerKey, fixedStatement } from "./fixedStatement.js"
import { columns, decode, instantParam, qualified } from "./rows.js"
import { fastJob } from "./rowCodec.js"
import { withNow } from "../internal/now.js"
import { AFTER_EVERY_ID, movedTimestamp, moveInstant } from "./moveInstant.js"
import type { AiJob } from "../../domain/AiJob.js"

type Service = Context.Tag.Service<JobStore>

/** How many claim statements (claimers' count × kinds asked for) a store keeps compiled. */
const CLAIM_TEXTS_KEPT = 64

/** The claim order (migration 0007's partial index): the highest priority, then eligible longest, then the oldest. */
export const CLAIM_ORDER = "priority DESC, run_after, created_at, id"

/** The jobs a claim at `at` may take: queued, eligible, of `kinds` (any kind when absent). */
export const claimable = (sql: SqlClient.SqlClient, at: string, kinds: ReadonlyArray<JobKind> | undefined) =>
  sql.and([
    sql`status = 'queued'`,
    sql`run_after <= ${at}::timestamptz`,
    ...(kinds !== undefined ? [sql.in("job_kind", kinds)] : [])
  ])

/** The kinds a claim reads queue by queue (migration 0027), each once; none when it takes any kind (or none). */
const kindQueues = (kinds: ReadonlyArray<JobKind> | undefined): ReadonlyArray<JobKind> =>
  kinds === undefined ? [] : [...new Set(kinds)]

/**
 * The claim order's columns of the jobs a claim at `at` may take of
 * `kinds` (≥ 1), each kind's read from its own queue (migration 0027's
 * index, in claim order) and merged: the queues of the kinds not asked for
 * are never read, however long (issue 16: one kind's million queued jobs).
 */
export const kindsInClaimOrder = (sql: SqlClient.SqlClient, at: string, kinds: ReadonlyArray<JobKind>) =>
  sql.join(" UNION ALL ", false)(kinds.map((kind) =>
    sql`(SELECT priority, run_after, created_at, id FROM ai_jobs
      WHERE status = 'queued' AND job_kind = ${kindInText(sql, kind)} AND run_after <= ${at}::timestamptz)`
  ))

/**
 * A kind written into the statement's text: as a parameter, a generic plan
 * (a prepared statement's from its sixth run) guesses its share of the
 * queue and may read a kind's queue through 0007's index instead, stepping
 * over the other kinds' jobs (bench/claimOtherKinds.ts, 1M: 2 s an idle
 * poll). A canonical kind is a plain lower-case name (checked at the port);
 * anything else stays a parameter.
 */
const kindInText = (sql: SqlClient.SqlClient, kind: JobKind) =>
  isJobKind(kind) && /^[a-z_]+$/.test(kind) ? sql.literal(`'${kind}'`) : sql`${kind}`

/**
 * The claim order's columns of the job a claim at `at` would take first,
 * read but not locked, nor skipped when another holds it (one held by a
 * claimer is still ahead): for some kinds, from their own queues.
 */
export const queueHead = (sql: SqlClient.SqlClient, at: string, kinds: ReadonlyArray<JobKind> | undefined) => {
  const queues = kindQueues(kinds)
  const from = queues.length === 0
    ? sql`ai_jobs WHERE ${claimable(sql, at, kinds)}`
    : sql`(${kindsInClaimOrder(sql, at, queues)}) AS q`
  return sql`SELECT priority, run_after, created_at, id FROM ${from} ORDER BY ${sql.literal(CLAIM_ORDER)} LIMIT 1`
}

/**
 * The first eligible job no one else holds, locked: the highest priority,
 * then the one eligible longest, then the oldest — the order of migration
 * 0007's partial index. `select` names the columns the statement needs.
 *
 * For some kinds, the candidates come in that order from each kind's queue
 * (`kindsInClaimOrder`), and each is locked, or skipped if another holds
 * it, only as it is reached: no more rows are locked than are taken, as
 * with the one index. The job's own conditions are said again on the
 * locked row: a row changed since the candidate was read is checked afresh.
 */
export const nextJob = (sql: SqlClient.SqlClient, options: {
  readonly at: string
  readonly kinds: ReadonlyArray<JobKind> | undefined
  readonly select: string
  /** How many jobs (default 1). */
  readonly limit?: number
}) => {
  const limit = sql.literal(String(options.limit ?? 1))
  const queues = kindQueues(options.kinds)
  if (queues.length === 0) {
    return sql`
    SELECT ${sql.literal(options.select)} FROM ai_jobs
    WHERE ${claimable(sql, options.at, options.kinds)}
    ORDER BY ${sql.literal(CLAIM_ORDER)}
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`
  }
  return sql`
    SELECT ${sql.literal(qualified(options.select, "ai_jobs"))}
    FROM (${kindsInClaimOrder(sql, options.at, queues)}) AS q(q_priority, q_run_after, q_created_at, q_id)
    JOIN ai_jobs ON ai_jobs.id = q.q_id
    WHERE ${claimable(sql, options.at, queues)}
    ORDER BY q.q_priority DESC, q.q_run_after, q.q_created_at, q.q_id
    LIMIT ${limit}
    FOR UPDATE OF ai_jobs SKIP LOCKED`
}

/** A claim's clock reading (as a statement parameter) and its new run's id. */
export const claimStart = withNow((now) => Effect.succeed({ now, at: instantParam(now), runId: WorkflowRunId.make(uuidv7()) }))

/** What a template is sent as: its subject and, per record, what is not replaced. */
const templatesJson = (templates: ReadonlyArray<ClaimTemplate>): string =>
  JSON.stringify(templates.map((template) => ({
    job_kind: template.job_kind,
    protocol_id: template.protocol_id,
    profile_id: template.profile_id,
    capability_profile_id: template.capability_profile_id,
    records: template.records.map((record) => ({
      actor: record.actor,
      type: record.type,
      run: record.workflow_run_id !== null,
      body: record.body
    }))
  })))

/** The head job's subject columns, as the claim statement returns them beside the claimed row. */
interface Head {
  readonly head_job_kind: string
  readonly head_protocol_id: string
  readonly head_profile_id: string
  readonly head_capability_profile_id: string
}

/** One claimer of a statement: its options (those of a batch share `kinds` and `templates`; each its own `take`). */
export interface Claimer {
  readonly kinds: ReadonlyArray<JobKind> | undefined
  readonly templates: ReadonlyArray<ClaimTemplate>
  readonly event_ids: ReadonlyArray<EventId>
  readonly take: boolean | undefined
}

/**
 * What the claim statement answers per job it locked: the job's subject, and
 * the claimed row (its `id` null when not admitted) — or the row's
 * `CorruptRow` when it does not decode, as a value: its claimer's alone.
 */
const outcome = (
  row: Record<string, unknown>,
  runId: WorkflowRunId,
  beat: DateTime.Utc
): Either.Either<AdmittedClaim, CorruptRow> | Effect.Effect<Either.Either<AdmittedClaim, CorruptRow>> => {
  const head = row as unknown as Head & Record<string, unknown>
  if (head["id"] === null) {
    const subject: ClaimSubject = {
      job_kind: head.head_job_kind,
      protocol_id: head.head_protocol_id,
      profile_id: head.head_profile_id,
      capability_profile_id: head.head_capability_profile_id
    }
    return Either.right({ _tag: "Undecided", subject })
  }
  // The claim's instant is the one the statement wrote (moveInstant.ts), the claimed row's updated_at;
  // the run's first heartbeat the claimer's reading as it is (newRows.ts `newRun`).
  const claimedOf = (job: AiJob): AdmittedClaim => ({ _tag: "Claimed", claim: { job, run: newRun(job.job_id, job.updated_at, runId, beat) } })
  // The row in the store's own form (every claim but a legacy or corrupt one) needs no Effect to
  // decode, nor a copy without the head's columns: the hand-built decode reads only the job's own.
  const fast = fastJob(row)
  if (fast !== undefined) return Either.right(claimedOf(fast))
  const { claim_n: _n, head_capability_profile_id: _c, head_job_kind: _k, head_profile_id: _p, head_protocol_id: _r, ...claimed } = head
  return Effect.either(Effect.map(decode.aiJob(claimed), claimedOf))
}

/** One claimer's outcome: known at once, or its row's Schema decode to run (a legacy or corrupt row). */
type Outcome = Either.Either<AdmittedClaim | null, CorruptRow> | Effect.Effect<Either.Either<AdmittedClaim, CorruptRow>>

/**
 * The claim statement's methods. `outside`: for a caller that checked it is
 * outside any transaction (group commit, coalesced.ts) — the statement and
 * its retry then look for a transaction no more.
 */
export const makeClaimAdmitted = (context: Pick<PgContext, "sql" | "textThen" | "textThenOutside">, outside = false) => {
  const { sql } = context
  const statementThen = outside ? context.textThenOutside : context.textThen
  const reported = outside ? storageErrorsOutside : storageErrors
  // A caller passes the same template list until its memo changes: its JSON is made once.
  const json = renderedOncePerList(templatesJson)
  // The statement's column lists, made once per store rather than once per claim.
  const runColumns = sql.literal(columns.run)
  const claimedColumns = sql.literal(qualified(columns.job, "ai_jobs"))
  const eventColumns = sql.literal(columns.event)

  /**
   * The claims of `claimers` (≥ 1; a batch shares `kinds` and `templates`)
   * in one statement, atomic by itself: lock the next jobs claimNext would
   * take, as many as there are claimers, the n-th claimer's the n-th; for
   * each job whose subject is a template's, create its run (taken when its
   * claimer's `take` says it runs it itself), move it to
   * running and write that template's records with its claimer's ids, the
   * claim's instant (moveInstant.ts) and event ids (a missing id is a NULL, which the NOT NULL
   * refuses). Each job's subject is returned either way: without a claimed
   * row it is its claimer's to decide. A claimer beyond the jobs found gets
   * null. Data-modifying CTEs all run, referenced or not.
   */
  const claimTemplate = (count: number, kinds: ReadonlyArray<JobKind> | undefined) =>
    fixedStatement<[at: string, claimersJson: string, templatesJson: string]>(3, (at, claimersJson, templatesJson) =>
      sql`
        WITH locked AS (
          ${
        nextJob(sql, {
          at,
          kinds,
          limit: count,
          select: "id, job_kind, protocol_id, profile_id, capability_profile_id, priority, run_after, created_at, updated_at, xmin"
        })
      }
        ), next_job AS (
          SELECT l.*, row_number() OVER (ORDER BY priority DESC, run_after, created_at, id) AS claim_n FROM locked l
        ), claimers AS (
          SELECT * FROM ROWS FROM (jsonb_to_recordset(${claimersJson}::jsonb) AS (run_id uuid, event_ids jsonb, take boolean))
            WITH ORDINALITY AS k(run_id, event_ids, take, claim_n)
        ), admitted AS (
          SELECT DISTINCT ON (n.id) n.id, k.run_id, k.event_ids, k.take, t.records, ${
        moveInstant(sql, {
          reading: sql`${at}::timestamptz`,
          job: "n",
          firstId: sql`COALESCE((k.event_ids ->> 0)::uuid, ${AFTER_EVERY_ID}::uuid)`
        })
      } AS at
          FROM next_job n
          JOIN claimers k ON k.claim_n = n.claim_n
          JOIN jsonb_to_recordset(${templatesJson}::jsonb) AS t(
            job_kind text, protocol_id text, profile_id text, capability_profile_id text, records jsonb)
          ON t.job_kind = n.job_kind AND t.protocol_id = n.protocol_id
            AND t.profile_id = n.profile_id AND t.capability_profile_id = n.capability_profile_id
        ), new_run AS (
          INSERT INTO workflow_runs (${runColumns}, taken)
          SELECT run_id, id, 'running', ${at}::timestamptz, NULL, at, at, take
          FROM admitted
          RETURNING id AS run_id, job_id AS claimed_job_id, created_at AS claimed_at
        ), claimed AS (
          UPDATE ai_jobs SET status = 'running', status_reason = '', workflow_run_id = new_run.run_id, updated_at = new_run.claimed_at
          FROM new_run
          WHERE ai_jobs.id = new_run.claimed_job_id
          RETURNING ${claimedColumns}
        ), audit AS (
          INSERT INTO flight_recorder_events (${eventColumns})
          SELECT e.event_id, a.at, r.actor, r.type, c.trace_id, c.id,
            CASE WHEN r.run THEN c.workflow_run_id END,
            r.body || jsonb_build_object('event_id', e.event_id, 'timestamp', ${at}::text, 'trace_id', c.trace_id, 'job_id', c.id)
              || CASE WHEN r.run THEN jsonb_build_object('workflow_run_id', c.workflow_run_id) ELSE '{}'::jsonb END
              || CASE WHEN r.body ? 'attempt' THEN jsonb_build_object('attempt', c.attempt) ELSE '{}'::jsonb END
              || ${movedTimestamp(sql, { written: "a.at", reading: sql`${at}::timestamptz` })}
          FROM claimed c
          JOIN admitted a ON a.id = c.id
          CROSS JOIN LATERAL ROWS FROM (
            jsonb_to_recordset(a.records) AS (actor text, type text, run boolean, body jsonb)
          ) WITH ORDINALITY AS r(actor, type, run, body, n)
          CROSS JOIN LATERAL (SELECT (a.event_ids ->> (r.n::int - 1))::uuid AS event_id) e
        )
        SELECT n.claim_n, n.job_kind AS head_job_kind, n.protocol_id AS head_protocol_id, n.profile_id AS head_profile_id,
          n.capability_profile_id AS head_capability_profile_id, c.*
        FROM next_job n LEFT JOIN claimed c ON c.id = n.id
        ORDER BY n.claim_n`)
  // The statement's text varies only with the claimers' count and the kinds asked for: each
  // pair's is compiled once (issue 16: built from its fragments, a claim's statement was
  // ~16 KB of garbage and a walk of every fragment on every claim).
  const claimText = fixedPerKey(
    CLAIM_TEXTS_KEPT,
    (count: number, kinds: ReadonlyArray<JobKind> | undefined) => kinds === undefined ? `${count}` : `${count} ${kinds.join(" ")}`,
    claimTemplate
  )

  const claimStatement = <A>(
    claimers: ReadonlyArray<Claimer>,
    then: (outcomes: ReadonlyArray<Outcome>) => Effect.Effect<A>
  ) =>
    withNow((now) => {
      const { kinds, templates } = claimers[0]!
      const runIds = claimers.map(() => WorkflowRunId.make(uuidv7()))
      const claimersJson = JSON.stringify(claimers.map((claimer, i) => ({ run_id: runIds[i], event_ids: claimer.event_ids, take: claimer.take === true })))
      const statement = claimText(claimers.length, kinds)
      return statementThen(statement.text, statement.params(instantParam(now), claimersJson, json(templates)), (rows: ReadonlyArray<Record<string, unknown>>) =>
        // Each claimer's own outcome: a claimed row that does not decode is its claimer's
        // CorruptRow alone (the claim is committed: the caller fails the job), never the batch's.
        then(claimers.map((_, i) => {
          const row = rows[i]
          return row === undefined ? Either.right(null) : outcome(row, runIds[i]!, now)
        })))
    })

  const claimEach = (claimers: ReadonlyArray<Claimer>) =>
    claimStatement(claimers, (outcomes) =>
      // Every row in the store's own form (all but a legacy or corrupt one): the outcomes are known.
      outcomes.every(Either.isEither)
        ? Effect.succeed(outcomes as ReadonlyArray<Either.Either<AdmittedClaim | null, CorruptRow>>)
        : Effect.all(outcomes.map((known) => Either.isEither(known) ? Effect.succeed(known) : known)))

  /** One claimer's claim alone, its outcome as a value (a row that does not decode is its `CorruptRow`). */
  const claimAlone = (claimer: Claimer) =>
    // Its outcome straight from the statement's callback: no step to pick it from a list.
    claimStatement([claimer], ([claim]): Effect.Effect<Either.Either<AdmittedClaim | null, CorruptRow>> =>
      Either.isEither(claim) ? Effect.succeed(claim) : claim!).pipe(
      reported("JobStore.claimAdmitted")
    )

  const claimAdmitted: NonNullable<Service["claimAdmitted"]> = (options) =>
    Effect.flatMap(claimAlone({ kinds: options.kinds, templates: options.templates, event_ids: options.event_ids, take: options.take }), (outcome) => outcome)

  return { claimAdmitted, claimAlone, claimEach }
}
