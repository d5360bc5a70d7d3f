/**
 * `Jobs.submit`: the policy decides the profile (the request may only narrow
 * it) before anything is queued (R15); a refusal is audited with no job row;
 * an accepted job is created `queued` with its event in one transaction.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import { type AiJob, JobRequest } from "../../domain/AiJob.js"
import { decodeWith } from "../../domain/decode.js"
import { commonJobRequest, submittedJob } from "../../domain/newAiJobCheck.js"
import { type JobId, WorkflowRunId } from "../../domain/Ids.js"
import type { NewAiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import * as RetryPolicy from "../../domain/RetryPolicy.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { makeAdmission } from "./admission.js"
import { nameJob, withJobSpanNoted } from "../flight/jobSpan.js"
import { creationRecords } from "./creationRecords.js"
import { unlessInTransaction } from "./announceLost.js"
import { auditWith, type CreatedClaim } from "../../store/JobStore.js"
import type { Operations } from "./operations.js"
import { flatMapKnown } from "../../util/knownEffects.js"
import type { ClaimedJob } from "./claimTemplates.js"
import type { EagerDesk, Seat } from "./eagerDispatch.js"
import { committedEagerWrite } from "./eagerAnswerLost.js"
import { committedCreation } from "./createAnswerLost.js"
import { newJob } from "../../store/internal/newRows.js"
import { refuseReusedId } from "./reusedId.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { AlreadyExists, StorageError } from "../../store/StoreErrors.js"
import { MAX_JOB_DEPTH } from "../../domain/depth.js"

/** The job a submit's own write creates, noted before the write: announced when an interrupt lost the write's answer. */
interface Written {
  jobId: JobId | undefined
}

const newWritten = (): Written => ({ jobId: undefined })

export const makeSubmit = <GateError>(
  { announce, prepare, redact, store }: Operations,
  deps: {
    /** Holds intake until startup recovery has ended (R9). */
    readonly intakeOpen: Effect.Effect<void, GateError>
    readonly admission: ReturnType<typeof makeAdmission>
    readonly retries: RetryPolicy.RetryPolicy
    /** Where parked workers of this process offer themselves (eagerDispatch.ts); none without eager dispatch. */
    readonly desk?: EagerDesk | undefined
  }
) => {
  // The hand-built check for the common shape, else the Schema, which stays the authority (domain/newAiJobCheck.ts).
  const decodeBySchema = decodeWith(JobRequest, "JobRequest", MAX_JOB_DEPTH)

  const announced = (job: AiJob) => (announce === undefined ? Effect.void : announce(job))

  /**
   * The job created and claimed for `seat`'s parked loop in one write
   * (eager dispatch, eagerDispatch.ts), with the records a claim writes — the
   * policy's re-check and `queued → running` — built here, at the submit's
   * instant, after the submit's own. The store claims only if no queued job
   * of the loop's kinds comes first; otherwise the job is queued as usual and
   * the loop waits again. Uninterruptible from the write to the hand-over: a
   * claim committed is always handed to the pool (or back to the queue) —
   * one whose answer was lost too, once read back (eagerAnswerLost.ts).
   */
  const createForSeat = (job: NewAiJob, queued: EventRecord, events: ReadonlyArray<EventRecord>, subject: ClaimedJob, seat: Seat, now: DateTime.Utc) => {
    const runId = WorkflowRunId.make(uuidv7())
    const written = flatMapKnown(deps.admission.claimRecords(subject, runId, now), ({ records }): Effect.Effect<CreatedClaim, AlreadyExists | DecodeFailure | StorageError> =>
      records === null
        // The claim's re-check refuses what the submit admitted (a policy that is not what it says): no eager claim.
        ? Effect.map(store.createJob(job, { events: auditWith(events), at: now }), (created) => ({ created, claim: null }))
        : Effect.catchTag(
          store.createClaimed!(job, {
            events,
            at: now,
            ...(seat.kinds !== undefined ? { kinds: seat.kinds } : {}),
            // The pool runs it itself: taken by the write, as by a pool's claim (claim.ts).
            take: true,
            claim: { run_id: runId, records }
          }),
          // It may have committed, its answer lost: what it committed is answered and handed over as written.
          "StorageError",
          (error) => committedEagerWrite(store, { jobId: subject.job_id, job, queuedEventId: queued.event_id, runId }, error)
        ))
    // The records (when not known yet), the write and the hand-over, uninterruptible: the seat is always used or given back.
    return Effect.uninterruptible(Effect.flatMap(
      Effect.onExit(written, (exit) => (exit._tag === "Success" && exit.value.claim !== null ? Effect.void : Effect.sync(seat.giveBack))),
      ({ claim, created }) =>
        claim === null
          ? Effect.as(announced(created), created)
          // Told after the hand-over: this process's waiters hear it running, as after any claim.
          : Effect.as(Effect.zipRight(seat.hand(claim), announced(claim.job)), created)
    ))
  }

  /**
   * A checked request (`checked`: by the hand-built check) admitted and
   * queued at `now`, the time of its events and the job's `created_at`. Its steps are plain code around
   * three Effects — the policy's verdict, the queued event and the store's
   * createJob — and the first two are usually known at once (a remembered
   * verdict, records built from their given time): no step for them (issue 16).
   */
  const queue = (span: Tracer.Span, request: JobRequest, checked: boolean, now: DateTime.Utc, written: Written) => {
    const ids = { job_id: request.job_id ?? uuidv7() as JobId, trace_id: request.trace_id ?? uuidv7() as AiJob["trace_id"] }
    nameJob(span, ids)
    span.attribute("hsk.job_kind", request.job_kind)
    // The policy decides the profile; the request may only narrow it. It reads these five fields only.
    const decided = deps.admission.decide({
      ...ids,
      job_kind: request.job_kind,
      protocol_id: request.protocol_id,
      profile_id: request.profile_id
    }, request.capability_profile_id, now)
    return flatMapKnown(decided, ({ records, verdict }) => {
      // The refusal is audited, but no job row is ever written (R15).
      if (verdict._tag === "Refused") return Effect.flatMap(store.appendEvents(records), () => Effect.fail(verdict.error))
      // Its queued event, and a pin's when it is submitted pinned (creationRecords.ts).
      return flatMapKnown(creationRecords(prepare, ids, request, now), (creation) => {
        const record = creation[0]
        // Checked once: a job built from the request checked above is not walked again at the port (newAiJobCheck.ts).
        const job = submittedJob(request, checked, {
          ...ids,
          capability_profile_id: verdict.profile_id,
          // The job's own maximum, else its kind's (issue 15.1).
          max_attempts: request.max_attempts ?? RetryPolicy.forKind(deps.retries, request.job_kind).maxAttempts
        })
        // A parked worker of this process takes the job's kind, and the job is eligible now: eager dispatch.
        const seat = deps.desk !== undefined && (request.run_after === undefined || !DateTime.greaterThan(request.run_after, now))
          ? deps.desk.seat(request.job_kind)
          : undefined
        if (seat !== undefined) {
          const subject: ClaimedJob = {
            ...ids,
            job_kind: request.job_kind,
            protocol_id: request.protocol_id,
            profile_id: request.profile_id,
            capability_profile_id: verdict.profile_id,
            // A new job's first attempt, as its row is created (newRows.ts).
            attempt: 1
          }
          return createForSeat(job, record, [...records, ...creation], subject, seat, now)
        }
        written.jobId = ids.job_id
        // The job created at its events' instant: none of them is before it existed (Creation.at).
        const created = Effect.catchTag(
          store.createJob(job, { events: auditWith([...records, ...creation]), at: now }),
          // It may have committed, its answer lost: a committed job is answered as the store answers it (createAnswerLost.ts).
          "StorageError",
          (error) => committedCreation(store, { queuedEventId: record.event_id, jobIds: [ids.job_id] }, () => newJob(job, now), error)
        )
        return announce === undefined ? created : Effect.tap(created, announce)
      })
    })
  }

  /** `queue`, after refusing a caller-given id another job's or caller's trail still names (reusedId.ts); a fresh id needs no look. */
  const queueUnlessReused = (span: Tracer.Span, request: JobRequest, checked: boolean, now: DateTime.Utc, written: Written) =>
    request.job_id === undefined
      ? queue(span, request, checked, now, written)
      : Effect.flatMap(
        refuseReusedId(store, deps.admission.capabilities, request.job_id, request),
        () => queue(span, request, checked, now, written)
      )

  /**
   * A submit interrupted once its write was sent: the store finishes the write,
   * then the interrupt takes effect and the announcement after it was never
   * made — an idle pool of this process found the job only at its next poll
   * (found by an outside probe). Announced here instead, as the store has it:
   * the store's statement has ended by now, so a write that committed nothing
   * finds no job and announces none (a subscriber was told of a job that never
   * existed). Only on the interrupt's path (the span's own frame).
   */
  const interrupted = announce === undefined
    ? undefined
    : (written: Written) =>
      written.jobId === undefined ? Effect.void : unlessInTransaction(store, Effect.ignore(Effect.flatMap(store.getJob(written.jobId), announce)))

  return (input: unknown) =>
    withJobSpanNoted("Jobs.submit", redact, newWritten, (span, written) =>
      Effect.flatMap(deps.intakeOpen, () =>
        // The clock read once for the submit's events (ordered by id within it) and its job's creation.
        Effect.clockWith((clock) => {
          const now = DateTime.unsafeMake(clock.unsafeCurrentTimeMillis())
          // The common shape checked in place: no Effect step unless the Schema must decide.
          const common = commonJobRequest(input)
          return common !== undefined
            ? queueUnlessReused(span, common, true, now, written)
            : Effect.flatMap(decodeBySchema(input), (request) => queueUnlessReused(span, request, false, now, written))
        })), interrupted)
}
