/**
 * `claimAdmitted` on SQLite (issue 16): a claim whose audit records come
 * from the caller's templates (see `ClaimTemplate` in JobStore.ts), so no
 * records are built per claim. One `BEGIN IMMEDIATE` transaction, as
 * `claimNext`: the run is created for the job `claimNext` would take, in the
 * statement that picks it, only if that job's subject is a template's; then
 * the job moves to running and the template's records are written with the
 * claim's ids. A head job of another subject is claimed by no one here: its
 * subject is answered (`Undecided`) for the caller to decide.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { WorkflowRunId } from "../../domain/Ids.js"
import type { JobKind } from "../../domain/JobKind.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { newRun } from "../internal/newRows.js"
import { renderedOncePerList } from "../internal/templatesText.js"
import type { AdmittedClaim, ClaimSubject, ClaimTemplate, JobStore } from "../JobStore.js"
import type { AiJob } from "../../domain/AiJob.js"
import type { AlreadyExists, CorruptRow } from "../StoreErrors.js"
import { insertEventsStep, type SqliteContext } from "./context.js"
import type { Step } from "./step.js"
import { storageOrTakenErrors } from "../internal/storageError.js"
import { withNow } from "../internal/now.js"
import { RUN_COLUMNS, storedInstant } from "./rowCodec.js"
import { decodeNow } from "./rows.js"
import { AFTER_EVERY_ID, moveInstantText } from "./moveInstant.js"

type Service = JobStore["Type"]

/**
 * The next job `claimNext` takes: the highest priority, then the one
 * eligible longest, then the oldest, among queued jobs whose time has come
 * (migration 0007's partial index, named: without statistics SQLite would
 * rather take the status index and sort every queued job). Its parameters:
 * the claim's instant, then the kinds when `kinds` is given.
 *
 * For some kinds, each kind's first eligible job is read from its own queue
 * (migration 0027's index, named), and the first of those taken: the queues
 * of the kinds not asked for are never read, however long (issue 16: one
 * kind's million queued jobs).
 */
export const nextJobText = (select: string, kinds: ReadonlyArray<JobKind> | undefined): string =>
  kinds === undefined || kinds.length === 0
    ? `SELECT ${select} FROM ai_jobs INDEXED BY ai_jobs_by_claim
  WHERE status = 'queued' AND run_after <= ?${kinds === undefined ? "" : " AND job_kind IN (NULL)"}
  ORDER BY priority DESC, run_after, created_at, id
  LIMIT 1`
    : `SELECT ${select} FROM (SELECT ? AS claim_at) AS t
  CROSS JOIN (VALUES ${kinds.map(() => "(?)").join(", ")}) AS k
  CROSS JOIN ai_jobs
  WHERE ai_jobs.id = (
    SELECT q.id FROM ai_jobs AS q INDEXED BY ai_jobs_by_kind_claim
    WHERE q.status = 'queued' AND q.job_kind = k.column1 AND q.run_after <= t.claim_at
    ORDER BY q.priority DESC, q.run_after, q.created_at, q.id
    LIMIT 1)
  ORDER BY priority DESC, run_after, created_at, id
  LIMIT 1`

/** A claim's clock reading (as stored) and its new run's id (a fresh UUIDv7 is a valid id: no Schema check per claim). */
export const claimStart = Effect.map(DateTime.now, (now) => ({ now, at: storedInstant(now), runId: uuidv7() as WorkflowRunId }))

/**
 * Creates a claim's run, running, for the job `claimed` selects (its `id`,
 * and `claimed_at`: the claim's instant), and returns the job's id and that
 * instant. Parameters: the run's id, its first heartbeat (the claimer's
 * reading as it is, never lifted: newRows.ts `newRun`), whether it is taken (1: its claimer runs
 * it itself, a pool; 0: its caller's `Jobs.run` takes it), then `claimed`'s.
 */
const insertClaimedRunText = (claimed: string): string =>
  `INSERT INTO workflow_runs (${RUN_COLUMNS.join(", ")}, taken)
  SELECT ?, id, 'running', ?, NULL, claimed_at, claimed_at, ? FROM (${claimed})
  RETURNING job_id, created_at`

/** The taken parameter of `insertClaimedRunText`. */
export const takenParam = (take: boolean | undefined): number => take === true ? 1 : 0

/**
 * `insertClaimedRunText` for the job `from` selects (its `id` and
 * `updated_at`), at the claimer's clock reading or the job's last change if
 * that is later (the move that queued the job can commit after the claimer
 * read its clock; see `pickText`). Parameters: the run's id, the reading,
 * taken, the reading, then `from`'s.
 */
export const insertRunText = (from: string): string =>
  insertClaimedRunText(`SELECT id, max(?, updated_at) AS claimed_at FROM (${from})`)

/**
 * `insertClaimedRunText` for the job `from` selects (its `id` and
 * `updated_at`), at the move's instant (moveInstant.ts): the reading, or,
 * if the job changed at or after it, after that change — its records built
 * afterwards by a claimer whose clock is behind have smaller ids, and at the
 * change's instant itself would be listed before it. Parameters: the run's
 * id, the reading, taken, the reading twice, an id minted before the
 * claim's records', then `from`'s (`nextJobText`'s: the reading, the kinds).
 */
export const insertRunAfterText = (from: string): string =>
  insertClaimedRunText(`SELECT h.id, ${moveInstantText("h")} AS claimed_at FROM (${from}) AS h`)

/**
 * Moves the job a claim picked (and created `runId` for) to running, and
 * reads it back (a step, step.ts). Under the claim's write lock the job
 * cannot have changed since it was picked: if it did, that is a defect.
 */
export function* startJob(claim: {
  readonly job_id: string
  readonly runId: WorkflowRunId
  readonly at: string
  readonly operation: string
}): Step<AiJob> {
  const [row] = yield [
    `UPDATE ai_jobs SET status = 'running', status_reason = '', workflow_run_id = ?, updated_at = ?
      WHERE id = ? AND status = 'queued'
      RETURNING *`,
    [claim.runId, claim.at, claim.job_id]
  ]
  if (row === undefined) throw new Cause.RuntimeException(`${claim.operation}: job ${claim.job_id} left queued under the write lock`)
  return decodeNow.job(row)
}

const SUBJECT_COLUMNS = "job_kind, protocol_id, profile_id, capability_profile_id"

/** The template for a job's subject, if any. */
const templateOf = (templates: ReadonlyArray<ClaimTemplate>, subject: ClaimSubject) =>
  templates.find((t) =>
    t.job_kind === subject.job_kind && t.protocol_id === subject.protocol_id && t.profile_id === subject.profile_id &&
    t.capability_profile_id === subject.capability_profile_id
  )

/** The texts of a claim, by how many kinds it filters on (none: `kinds` not given), each made once. */
export const textsByKinds = (make: (kinds: ReadonlyArray<JobKind> | undefined) => string) => {
  const made = new Map<number, string>()
  return (kinds: ReadonlyArray<JobKind> | undefined): string => {
    // The placeholders depend only on the count; -1 stands for no filter.
    const key = kinds === undefined ? -1 : kinds.length
    let text = made.get(key)
    if (text === undefined) {
      text = make(kinds)
      made.set(key, text)
    }
    return text
  }
}

/**
 * The run for the next job, if its subject is a template's; it returns the
 * job's id and the claim's instant. Parameters: the run's id, the reading
 * (its heartbeat), taken, the claimer's clock reading twice, the claim's first event id, the reading again (the
 * next job's), the kinds, the templates' subjects as JSON.
 *
 * The instant is the reading unless the job changed at or after it
 * (moveInstant.ts): a claimer reads its clock before it takes the write
 * lock, and the move that queued the job (a release, a retry) can commit in
 * between, later by the clock.
 */
const pickText = textsByKinds((kinds) =>
  insertClaimedRunText(`SELECT h.id, ${moveInstantText("h")} AS claimed_at
    FROM (${nextJobText(`id, updated_at, ${SUBJECT_COLUMNS}`, kinds)}) AS h
    WHERE EXISTS (
      SELECT 1 FROM json_each(?) AS t
      WHERE json_extract(t.value, '$[0]') = h.job_kind AND json_extract(t.value, '$[1]') = h.protocol_id
        AND json_extract(t.value, '$[2]') = h.profile_id AND json_extract(t.value, '$[3]') = h.capability_profile_id)`)
)

/** The next job's subject. */
const headText = textsByKinds((kinds) => nextJobText(SUBJECT_COLUMNS, kinds))

type AdmitOptions = Parameters<NonNullable<Service["claimAdmitted"]>>[0]

export const makeClaimAdmitted = ({ change }: SqliteContext) => {
  // A caller passes the same template list until its memo changes: the subjects' JSON is made once.
  const subjectsJson = renderedOncePerList((templates) =>
    JSON.stringify(templates.map((t) => [t.job_kind, t.protocol_id, t.profile_id, t.capability_profile_id]))
  )

  /** The claim's change (a step, step.ts), under the write lock. */
  function* claim(options: AdmitOptions, beat: DateTime.Utc, at: string, runId: WorkflowRunId): Step<AdmittedClaim | null> {
    const kinds = options.kinds ?? []
    const firstId = options.event_ids[0] ?? AFTER_EVERY_ID
    const [picked] = yield [pickText(options.kinds), [runId, at, takenParam(options.take), at, at, firstId, at, ...kinds, subjectsJson(options.templates)]]
    if (picked === undefined) {
      // No run: no job is eligible, or the next one's subject is no template's (read under the same lock).
      const [head] = yield [headText(options.kinds), [at, ...kinds]]
      if (head === undefined) return null
      const subject = {
        job_kind: head.job_kind,
        protocol_id: head.protocol_id,
        profile_id: head.profile_id,
        capability_profile_id: head.capability_profile_id
      } as ClaimSubject
      return { _tag: "Undecided", subject } satisfies AdmittedClaim
    }
    // The claim's instant as written (pickText): the reading, or after the job's last change.
    const claimedAt = picked.created_at as string
    const job = yield* startJob({ job_id: picked.job_id as string, runId, at: claimedAt, operation: "claimAdmitted" })
    // The statement matched the stored subject to a template; stored canonically, it decodes to itself.
    const template = templateOf(options.templates, job)
    if (template === undefined) throw new Cause.RuntimeException(`claimAdmitted: no template for claimed job ${job.job_id}`)
    // The template's records with the claim's ids, in their columns and bodies alike.
    const records = template.records.map((record, i): EventRecord => {
      const event_id = options.event_ids[i]!
      const workflow_run_id = record.workflow_run_id === null ? null : runId
      return {
        ...record,
        event_id,
        timestamp: job.updated_at,
        trace_id: job.trace_id,
        job_id: job.job_id,
        workflow_run_id,
        body: {
          ...record.body,
          event_id,
          timestamp: claimedAt,
          trace_id: job.trace_id,
          job_id: job.job_id,
          ...(workflow_run_id === null ? {} : { workflow_run_id }),
          // The claimed job's attempt where the template's record has one (its `queued → running`).
          ...("attempt" in record.body ? { attempt: job.attempt } : {})
        }
      }
    })
    yield* insertEventsStep(records)
    return { _tag: "Claimed", claim: { job, run: newRun(job.job_id, job.updated_at, runId, beat) } } satisfies AdmittedClaim
  }

  /** Without a generator or a second catch: it runs once per job (issue 16). The run's id made once, outside the step. */
  const claimAdmitted: NonNullable<Service["claimAdmitted"]> = (options) =>
    storageOrTakenErrors("JobStore.claimAdmitted")(withNow((now) => {
      const at = storedInstant(now)
      const runId = uuidv7() as WorkflowRunId
      return change<AdmittedClaim | null, AlreadyExists | CorruptRow | SqlError>(() => claim(options, now, at, runId))
    }))

  return { claimAdmitted }
}
