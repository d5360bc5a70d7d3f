/**
 * `from → running` under a new workflow run: start, resume and rework. The
 * policy checks the job again in the same transaction; a refused job ends
 * `from → failed` (committed) and the caller gets the refusal.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Tracer from "effect/Tracer"
import { IllegalTransition } from "../../domain/Errors.js"
import type { JobId, WorkflowRunId } from "../../domain/Ids.js"
import type { JobState } from "../../domain/JobState.js"
import { auditWith, type Claim } from "../../store/JobStore.js"
import type { Checkpoint, makeAdmission } from "./admission.js"
import { nameJob, withJobSpanNoted } from "../flight/jobSpan.js"
import { afterLastChange, lifecycleEvent } from "./auditEvents.js"
import { endStalledNodes } from "./openNodes.js"
import type { BeginOptions, Operations } from "./operations.js"
import { BEGIN_OPTIONS, optionsRefusal } from "./transitionOptions.js"
import { unlessInTransaction } from "./announceLost.js"
import { claimAnswerLostReason, claimInterruptedReason, type ClaimNote, newClaimNote, releaseClaimAfterFailure, releaseLostClaim } from "./claimAnswerLost.js"
import type { StorageError } from "../../store/StoreErrors.js"

export const makeBegin = (
  { announce, announceOffer, prepare, redact, store }: Operations,
  admission: ReturnType<typeof makeAdmission>,
  /** Hands a claimed job back to `queued` with `reason` (runJob.ts `release`). */
  release: (claim: Claim, reason: string) => Effect.Effect<void, unknown>
) =>
(from: JobState, at: Checkpoint, span: string) => {
  const released = claimInterruptedReason(span)
  const answerLost = claimAnswerLostReason(span)
  /**
   * The caller interrupted after the move may have committed, its answer lost
   * (claimAnswerLost.ts): a run for the caller is released to `queued`; a run
   * offered to workers stays theirs, and its announcement — a wake-up hint, so
   * a spurious one when nothing committed is harmless — is made with the job as
   * read; inside a caller's transaction, none: that transaction decides (announceLost.ts).
   */
  const lost = (jobId: JobId, options: BeginOptions, note: ClaimNote) =>
    options.handTo === "workers"
      ? announceOffer === undefined || note.last === undefined
        ? Effect.void
        : unlessInTransaction(store, Effect.ignoreLogged(Effect.flatMap(store.getJob(jobId), announceOffer)))
      : releaseLostClaim(store, note, (claim) => release(claim, released), span)
  /**
   * The move failed with `StorageError` after its run was created: it may
   * have committed, its answer lost to a dropped connection. A run for the
   * caller is looked up and released to `queued` (claimAnswerLost.ts); a run
   * offered to workers is theirs to adopt. The caller gets the error either
   * way, and the interrupt's path has nothing left to do. Only on the failure's path.
   */
  const failed = (jobId: JobId, options: BeginOptions, note: ClaimNote, error: StorageError) => {
    const last = note.last
    if (last === undefined || options.handTo === "workers") return Effect.fail(error)
    note.last = undefined
    return releaseClaimAfterFailure(store, { last, jobId }, (claim) => release(claim, answerLost), span, error)
  }
  /**
   * A move into `running` this operation may not make, said with the states it accepts — not every
   * state `running` is reached from: "resume" on a queued job is refused as resume's (stalled only),
   * not as start's too. Only on the failure's path.
   */
  const ownEdge = (refused: IllegalTransition): IllegalTransition =>
    refused.to === "running" && refused.operation === undefined
      ? new IllegalTransition({ job_id: refused.job_id, from: refused.from, to: refused.to, operation: at, accepts: [from] })
      : refused
  // In the begin's transaction: the run is offered to worker pools only if the move commits.
  const offer = (runId: WorkflowRunId) =>
    store.offerRun === undefined
      ? Effect.dieMessage("this JobStore cannot offer a run to worker pools (it has no offerRun)")
      : store.offerRun(runId)
  const begun = (opened: Tracer.Span, jobId: JobId, options: BeginOptions, note: ClaimNote) => Effect.gen(function*() {
    // The refusal is committed with the transaction, then reported: hence an Either out of it.
    const outcome = yield* Effect.catchTags(store.transaction(Effect.gen(function*() {
      // The job first (the lock order in JobStore.ts); the policy re-checks what is locked.
      const before = yield* store.lockJob(jobId)
      // Named as read: a refused begin's span (IllegalTransition, a policy's refusal) carries the job's trace too.
      nameJob(opened, before)
      // Read with the job locked, never before its last change: a clock stepped back put a start
      // before the submit it follows, and a resume before the stall it resumes from (found by an outside probe).
      // Nor before that change's records, which a clock behind would list it before (auditEvents.ts).
      const now = yield* afterLastChange(store, before)
      const { records, verdict } = yield* admission.recheck(before, now)
      // A resume ends the nodes the stalled run left running, as the job leaves `stalled` (openNodes.ts):
      // `failed` with the refusal when the policy refuses it, else `stalled` with the run.
      if (from === "stalled") {
        yield* verdict._tag === "Refused"
          ? endStalledNodes(store, before, "failed", verdict.error.message, undefined)
          : endStalledNodes(store, before, "running", undefined, options.reason)
      }
      if (verdict._tag === "Refused") {
        yield* admission.refuse(before, from, verdict.error, records, at, now)
        return Either.left(verdict.error)
      }
      // The run begins with the move: its times and heartbeat at the move's instant.
      const run = yield* store.createRun(jobId, { at: now })
      note.last = run.id
      const record = yield* prepare(lifecycleEvent({
        job: before,
        timestamp: now,
        from,
        to: "running",
        workflow_run_id: run.id,
        // The attempt it is on: a start, resume or rework runs the same attempt again (only a retry counts one).
        attempt: before.attempt,
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
        ...(options.actor !== undefined ? { actor: options.actor } : {})
      }))
      const job = yield* store.transition({
        job_id: jobId,
        from,
        to: "running",
        workflow_run_id: run.id,
        // The reason of the state it is in now: the one given, else none (not the last state's).
        status_reason: options.reason ?? "",
        events: auditWith([...records, record]),
        at: now
      })
      if (options.handTo === "workers") yield* offer(run.id)
      return Either.right<Claim>({ job, run })
    })), {
      // One handler for both, so a move that answers pays no more than before.
      IllegalTransition: (refused) => Effect.fail(ownEdge(refused)),
      StorageError: (error) => failed(jobId, options, note, error)
    })
    if (Either.isRight(outcome)) {
      nameJob(opened, outcome.right.job)
      const tell = options.handTo === "workers" ? announceOffer : announce
      if (tell !== undefined) yield* tell(outcome.right.job)
    }
    return yield* outcome
  })
  // The new run's id, noted before the commit: what an interrupt that loses the answer looks for.
  return (jobId: JobId, options: BeginOptions = {}) =>
    withJobSpanNoted(span, redact, newClaimNote, (opened, note) => {
      nameJob(opened, { job_id: jobId })
      // Checked before the job is read: an option past its type changes nothing.
      const refused = optionsRefusal(options, "BeginOptions", BEGIN_OPTIONS)
      return refused !== undefined ? refused : begun(opened, jobId, options, note)
    }, (note) => lost(jobId, options, note))
}
