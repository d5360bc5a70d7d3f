/**
 * Claiming (`Jobs.claimNext`): the oldest queued job the capability policy
 * admits, with its run and its events, in one transaction; a job the policy
 * refuses is failed on the way (admission.ts) and the search goes on.
 *
 * Where the store can claim in one statement (`JobStore.claimAdmitted`) and
 * the policy is deterministic, a job of a subject already admitted is
 * claimed with its records in that one statement (claimTemplates.ts); any
 * other job meets the policy first, as below.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobKind } from "../../domain/JobKind.js"
import type { Refusal } from "../../Capabilities.js"
import type * as Tracer from "effect/Tracer"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { Claim, JobStore, ReadError } from "../../store/JobStore.js"
import type { Checked, makeAdmission } from "./admission.js"
import { nameJob, type Redact, withJobSpan, withJobSpanNoted } from "../flight/jobSpan.js"
import type { Prepare } from "./auditEvents.js"
import { makeClaimTemplates } from "./claimTemplates.js"
import { isUnreadableJob, makeFailUnreadable } from "./unreadableClaim.js"
import type { OffersLook } from "./adoptOffered.js"
import {
  claimAnswerLostReason,
  claimInterruptedReason,
  type ClaimNote,
  newClaimNote,
  releaseClaimAfterFailure,
  releaseLostClaim
} from "./claimAnswerLost.js"
import type { EventId, WorkflowRunId } from "../../domain/Ids.js"
import type { StorageError } from "../../store/StoreErrors.js"

/** A claimed job the policy refused: rolls its claim back (internal to `claimNext`). */
class ClaimRefused extends Data.TaggedError("ClaimRefused")<{
  readonly job: AiJob
  readonly refusal: Refusal
  readonly records: ReadonlyArray<EventRecord>
}> {}

/** The reason of a release of a claim `claimNext` wrote and its caller, interrupted, never got. */
const RELEASED = claimInterruptedReason("Jobs.claimNext")
/** The reason of a release of a claim written whose answer a dropped connection lost. */
const ANSWER_LOST = claimAnswerLostReason("Jobs.claimNext")

/**
 * Notes the offered run an adoption took, once it committed (its id is the
 * store's). An interrupt that lands in SQLite's or PostgreSQL's COMMIT waits
 * for this (sqlite/offers.ts, pg/offers.ts); a rolled-back adoption notes
 * nothing, so its interrupt never releases the run another caller adopted since.
 */
const noteAdoption = (note: ClaimNote) => (claim: Claim): void => {
  note.last = claim.run.id
}

/** One claim attempt's outcome: a claim, none queued, or look again (a refusal, or a subject just decided). */
type Attempt = Effect.Effect<Claim | null | "refused" | "undecided", DecodeFailure | ReadError>

/** What `claimNext` needs beyond the claim: its announcement, and the release of a claim whose answer an interrupt lost. */
export interface ClaimNextHooks {
  readonly announce: ((claim: Claim) => Effect.Effect<void>) | undefined
  /** Hands a claimed job back to `queued` with `reason` (runJob.ts `release`). */
  readonly release: (claim: Claim, reason: string) => Effect.Effect<void, unknown>
}

export const makeClaimNext = (
  store: JobStore["Type"],
  admission: ReturnType<typeof makeAdmission>,
  prepare: Prepare,
  /** The recorder's redaction of caller text: what a `Jobs.claimNext` span ends with, when it fails (jobSpan.ts). */
  redact: Redact,
  /** Runs offered to workers, and when to look for them (adoptOffered.ts). */
  offers?: OffersLook,
  hooks?: ClaimNextHooks
) => {
  // A claim's records — the policy's re-check, then `queued → running` — are admission.ts `claimRecords`.
  const claimRecords = admission.claimRecords

  /**
   * One claim attempt, in one transaction (the store's claim joins it: no
   * savepoint). If the policy refuses the claimed job, the transaction rolls
   * back — no run, the job queued again — and the job goes `queued → failed`
   * with its deny events instead. `"refused"` tells the caller to look again.
   */
  const claimOne = (kinds: ReadonlyArray<JobKind> | undefined, take: boolean, note?: ClaimNote): Attempt => {
    // Known before the commit: what a failure or an interrupt that loses the answer looks for (claimAnswerLost.ts).
    let written: WorkflowRunId | undefined
    return store.transaction(Effect.gen(function*() {
      // The policy's verdict on the claimed job, taken while the claim's records are built:
      // an admitted claim commits with them; a refused one writes none and is rolled back.
      let checked: Checked | undefined
      const claim = yield* store.claimNext({
        ...(kinds !== undefined ? { kinds } : {}),
        take,
        events: (claimed) => {
          written = claimed.run.id
          if (note !== undefined) note.last = claimed.run.id
          // At the claim's instant as written (the job's updated_at: never before its last change), not the clock's.
          return Effect.map(claimRecords(claimed.job, claimed.run.id, claimed.job.updated_at), (built) => {
            checked = built.checked
            return built.records ?? []
          })
        }
      })
      if (claim === null) return null
      if (checked?.verdict._tag === "Refused") {
        return yield* new ClaimRefused({ job: claim.job, refusal: checked.verdict.error, records: checked.records })
      }
      return claim
    })).pipe(
      // One handler for both, so a claim that answers pays no more than before.
      Effect.catchAll((error) =>
        error._tag === "ClaimRefused"
          ? admission.refuse(error.job, "queued", error.refusal, error.records, "claim").pipe(
            // Another worker took the job between the rollback and this write (the
            // rollback released its row lock): it is that worker's to refuse.
            Effect.catchTags({ IllegalTransition: () => Effect.void, NotFound: () => Effect.void }),
            Effect.as("refused" as const)
          )
          : error._tag === "StorageError" && written !== undefined
          ? answerLost(written, error, note)
          : Effect.fail(error))
    )
  }

  /**
   * A claim that failed with `StorageError` after its records were known
   * (`last`): it may have committed, its answer lost to a dropped connection.
   * Looked up and released (claimAnswerLost.ts); the caller gets the error.
   * The interrupt's path has nothing left to do for it.
   */
  const answerLost = (last: WorkflowRunId | ReadonlyArray<EventId>, error: StorageError, note: ClaimNote | undefined) => {
    if (note !== undefined) note.last = undefined
    const release = hooks?.release
    return release === undefined
      ? Effect.fail(error)
      : releaseClaimAfterFailure(store, { last }, (claim) => release(claim, ANSWER_LOST), "Jobs.claimNext", error)
  }

  const claimAdmitted = store.claimAdmitted
  /**
   * One claim attempt in one statement, for a job of a subject the memo
   * holds. The next job's subject not among them is decided and, admitted,
   * remembered — `"undecided"`: look again, and the same job comes first
   * again (none is passed over); refused or not templatable, the general
   * attempt takes it.
   */
  const claimOneFast = claimAdmitted === undefined || !admission.deterministic
    ? undefined
    : (() => {
      const memo = makeClaimTemplates((job, runId) => Effect.map(claimRecords(job, runId), (built) => built.records))
      // A chain, not a generator: the claim's outcome is one step from the statement's reply.
      return (kinds: ReadonlyArray<JobKind> | undefined, take: boolean, note?: ClaimNote): Attempt => {
        const current = memo.current()
        // The run's id is the store's: the records' ids, given here, find the claim (claimAnswerLost.ts).
        if (note !== undefined) note.last = current.event_ids
        // One continuation for both outcomes: a claim that answers pays no more for the failure's path.
        return Effect.matchEffect(claimAdmitted({ ...(kinds !== undefined ? { kinds } : {}), take, ...current }), {
          onFailure: (error): Attempt => error._tag === "StorageError" ? answerLost(current.event_ids, error, note) : Effect.fail(error),
          onSuccess: (outcome): Attempt => {
            if (outcome === null) return Effect.succeed(null)
            if (outcome._tag === "Claimed") {
              memo.used(outcome.claim.job)
              return Effect.succeed(outcome.claim)
            }
            return Effect.flatMap(memo.learn(outcome.subject), (learnt): Attempt => learnt ? Effect.succeed("undecided" as const) : claimOne(kinds, take, note))
          }
        })
      }
    })()

  const failUnreadable = makeFailUnreadable(store, prepare)
  const attempt: (kinds: ReadonlyArray<JobKind> | undefined, take: boolean, note?: ClaimNote) => Attempt = claimOneFast ?? claimOne
  /**
   * Attempts until one claims a job or finds none. Each refusal takes one job out
   * of `queued`, and each "undecided" adds a subject the next attempt claims in
   * (unless another claimer took that job first): this ends.
   */
  const claimUntilDecided = (
    span: Tracer.Span,
    kinds: ReadonlyArray<JobKind> | undefined,
    take: boolean,
    note?: ClaimNote
  ): Effect.Effect<Claim | null, DecodeFailure | ReadError> =>
    attempt(kinds, take, note).pipe(
      // A claimed job whose row does not decode fails at once (unreadableClaim.ts); look again.
      Effect.catchIf(isUnreadableJob, (error) => Effect.as(failUnreadable(error), "refused" as const)),
      Effect.flatMap((outcome) => {
        if (outcome === "refused" || outcome === "undecided") return claimUntilDecided(span, kinds, take, note)
        if (outcome !== null) nameJob(span, outcome.job)
        return Effect.succeed(outcome)
      })
    )
  /**
   * The queue's next job alone, for a pool, which runs it itself: its run is
   * taken by the claim, so no `Jobs.run` of the job begins it a second time
   * (pools look for offered runs on their own schedule). `note`, a pool
   * loop's own, is told the ids each attempt's statement carries: what the
   * pool's drain cancels a claim still waiting by (claimCut.ts).
   */
  const claimQueued = (options: { readonly kinds?: ReadonlyArray<JobKind> | undefined; readonly note?: ClaimNote | undefined } = {}) =>
    withJobSpan("Jobs.claimNext", (span) => claimUntilDecided(span, options.kinds, true, options.note), redact)
  const announce = hooks?.announce
  const release = hooks?.release
  /**
   * `Jobs.claimNext`: when `offers` says a look is due, a run offered to
   * workers of these kinds first (adoptOffered.ts `offersLook`), then the
   * queue. Decided inside the span's body, so an effect built once and run
   * in a loop asks each time, and a claim with no look due pays no step for it.
   * The run is left untaken: its caller runs it with `Jobs.run`, which takes it.
   * Interrupted after a claim committed (its answer lost) — from the queue or
   * an offered run's adoption — the claim is released to `queued` before the
   * interrupt goes on (claimAnswerLost.ts):
   * no job is left running under a run its caller never got. Announced inside
   * the span, so an interrupt while it is told is seen there too.
   */
  const claimNext = (options: { readonly kinds?: ReadonlyArray<JobKind> | undefined } = {}) =>
    withJobSpanNoted("Jobs.claimNext", redact, newClaimNote, (span, note) => {
      const claimed = offers?.due() === true
        ? Effect.flatMap(offers.adopt({ ...options, adopted: noteAdoption(note) }), (offered) => {
          if (offered === null) return claimUntilDecided(span, options.kinds, false, note)
          nameJob(span, offered.job)
          return Effect.succeed(offered)
        })
        : claimUntilDecided(span, options.kinds, false, note)
      return announce === undefined ? claimed : Effect.tap(claimed, (claim) => claim === null ? Effect.void : announce(claim))
    }, release === undefined ? undefined : (note) => releaseLostClaim(store, note, (claim) => release(claim, RELEASED), "Jobs.claimNext"))
  return { claimQueued, claimNext }
}
