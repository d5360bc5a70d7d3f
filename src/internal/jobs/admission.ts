/**
 * Admission: the capability policy applied to a stored job each time it is
 * about to run (claim, start, resume, rework), not only when it was
 * submitted. A row written without `submit` (a legacy database, raw SQL,
 * `JobStore.createJob`) or under an older policy gets the same check, and a
 * job the policy refuses ends `failed` with its deny events instead of running.
 *
 * Why `failed` and not `poisoned`: a refusal says the job does not fit the
 * policy in force, not that its content is compromised (that is a security
 * violation, which poisons). The reference fails such a job too
 * (`enforce_capabilities`), and a `failed` job can be retried once an
 * operator has changed the policy — the retry is checked again.
 */
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { WorkflowRunId } from "../../domain/Ids.js"
import type { JobState } from "../../domain/JobState.js"
import type { Capabilities, Decision, Refusal, Verdict } from "../../Capabilities.js"
import { flatMapKnown, mapKnown } from "../../util/knownEffects.js"
import { auditWith, type JobStore } from "../../store/JobStore.js"
import { afterLastChange, capabilityEvent, lifecycleEvent, type Prepare } from "./auditEvents.js"

/** Where a stored job is checked again. */
export type Checkpoint = "claim" | "start" | "resume" | "rework"

/** The policy's verdict on a job and the `capability_action` records that audit it, one per decision. */
export interface Checked {
  readonly verdict: Verdict
  readonly records: ReadonlyArray<EventRecord>
}

/** A claim's verdict and the records it commits with (null when refused: the claim is not made). */
export interface ClaimRecords {
  readonly checked: Checked
  readonly records: ReadonlyArray<EventRecord> | null
}

/** Admitting verdicts remembered at most, per kind, protocol and requested profile. */
export const MAX_VERDICTS = 64

/**
 * The key a remembered verdict is found by: the kind, protocol and requested
 * profile, each length-prefixed so no two triples share a key (cheaper than
 * the JSON text of the three, every submit and claim).
 */
const verdictKey = (job: Pick<AiJob, "job_kind" | "protocol_id">, requested: string | undefined): string =>
  `${job.job_kind.length}:${job.job_kind}${job.protocol_id.length}:${job.protocol_id}${requested === undefined ? "-" : `+${requested}`}`

export const makeAdmission = (store: JobStore["Type"], capabilities: Capabilities["Type"], prepare: Prepare) => {
  const deterministic = capabilities.deterministic === true
  // A deterministic policy's verdict depends on the kind, protocol and requested profile alone
  // (Capabilities.deterministic): an admitting one is asked once. Refusals are asked every time.
  const admitted = new Map<string, Verdict>()
  /** The remembered verdict, or the policy's answer as an Effect (remembered when it admits). */
  const verdictOf = (job: Pick<AiJob, "job_kind" | "protocol_id">, requested: string | undefined): Verdict | Effect.Effect<Verdict, DecodeFailure> => {
    if (!deterministic) return capabilities.check(job, requested)
    const key = verdictKey(job, requested)
    const known = admitted.get(key)
    if (known !== undefined) return known
    return Effect.tap(capabilities.check(job, requested), (verdict) => {
      if (verdict._tag !== "Granted") return
      admitted.set(key, verdict)
      if (admitted.size > MAX_VERDICTS) admitted.delete(admitted.keys().next().value!)
    })
  }

  /**
   * Decides `job` under `requested` (the policy's profile when absent) and
   * prepares one event per decision, at `at` when given (else the clock's
   * now). A remembered verdict whose records build at once (given `at`) is
   * the outcome itself, an `Exit`: a caller may read it without a step.
   */
  const decide = (
    job: Pick<AiJob, "job_id" | "trace_id" | "job_kind" | "protocol_id" | "profile_id">,
    requested: string | undefined,
    at?: DateTime.Utc
  ): Effect.Effect<Checked, DecodeFailure> => {
    const record = (decision: Decision) =>
      prepare(capabilityEvent({
        job_id: job.job_id,
        trace_id: job.trace_id,
        decision,
        actor_id: job.profile_id,
        ...(at !== undefined ? { timestamp: at } : {})
      }))
    const checked = (verdict: Verdict): Effect.Effect<Checked, DecodeFailure> => {
      // One decision is the usual verdict: its record without a loop, and without a step when it is built already.
      if (verdict.decisions.length !== 1) {
        return Effect.map(Effect.forEach(verdict.decisions, record), (records): Checked => ({ verdict, records }))
      }
      return mapKnown(record(verdict.decisions[0]!), (built): Checked => ({ verdict, records: [built] }))
    }
    // A remembered verdict without an Effect step of its own.
    const verdict = verdictOf(job, requested)
    return Effect.isEffect(verdict) ? Effect.flatMap(verdict, checked) : checked(verdict)
  }

  /** A stored job checked again under the profile it is stored with, its records at `at` (the move's instant) when given, else the clock's now. */
  const recheck = (job: Pick<AiJob, "job_id" | "trace_id" | "job_kind" | "protocol_id" | "profile_id" | "capability_profile_id">, at?: DateTime.Utc) =>
    decide(job, job.capability_profile_id, at)

  /**
   * The records of a claim of `job` under run `runId`: the policy's re-check,
   * then `queued → running`, at `at` when given (else the clock's now). When
   * the policy refuses, `records` is null and `checked` holds its decisions.
   */
  const claimRecords = (
    job: Pick<AiJob, "job_id" | "trace_id" | "job_kind" | "protocol_id" | "profile_id" | "capability_profile_id" | "attempt">,
    runId: WorkflowRunId,
    at?: DateTime.Utc
  ): Effect.Effect<ClaimRecords, DecodeFailure> =>
    flatMapKnown(decide(job, job.capability_profile_id, at), (checked): Effect.Effect<ClaimRecords, DecodeFailure> =>
      checked.verdict._tag === "Refused"
        ? Effect.succeed({ checked, records: null })
        : mapKnown(
          // The attempt the job is on as claimed (a claim is no new attempt: a retry made it).
          prepare(lifecycleEvent({ job, from: "queued", to: "running", workflow_run_id: runId, attempt: job.attempt, ...(at !== undefined ? { timestamp: at } : {}) })),
          (record) => ({ checked, records: [...checked.records, record] })
        ))

  /**
   * Ends a job the policy refused: `from → failed`, with its deny records and
   * lifecycle event, in the caller's transaction. A job no longer in `from`
   * is an `IllegalTransition`, and nothing is written. The move is at
   * `instant` when the caller chose it (its `records` carry it), else after
   * `job`'s last change (auditEvents.ts `afterLastChange`).
   */
  const refuse = (
    job: AiJob,
    from: JobState,
    refusal: Refusal,
    records: ReadonlyArray<EventRecord>,
    at: Checkpoint,
    instant?: DateTime.Utc
  ) =>
    Effect.gen(function*() {
      // The reason names the refusal, not the profile: a legacy row's profile id may be any size.
      const reason = `refused by the capability policy at ${at}: ${refusal._tag}`
      const timestamp = instant ?? (yield* afterLastChange(store, job))
      const record = yield* prepare(lifecycleEvent({ job, from, to: "failed", reason, attempt: job.attempt, timestamp }))
      return yield* store.transition({
        job_id: job.job_id,
        from,
        to: "failed",
        status_reason: reason,
        error_message: refusal.message,
        events: auditWith([...records, record]),
        at: timestamp
      })
    })

  return {
    /** The policy itself: where it places a kind, what a profile grants (reusedId.ts). */
    capabilities,
    decide,
    recheck,
    claimRecords,
    refuse,
    /** Whether the policy's verdicts may be remembered (`Capabilities.deterministic`): the one-statement claim's condition. */
    deterministic
  }
}
