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
import type { JobId } from "../../domain/Ids.js"
import * as RetryPolicy from "../../domain/RetryPolicy.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { makeAdmission } from "./admission.js"
import { nameJob, withJobSpan } from "../flight/jobSpan.js"
import { lifecycleEvent } from "./auditEvents.js"
import { auditWith } from "../../store/JobStore.js"
import type { Operations } from "./operations.js"
import { flatMapKnown } from "../../util/knownEffects.js"

export const makeSubmit = <GateError>(
  { announce, prepare, store }: Operations,
  deps: {
    /** Holds intake until startup recovery has ended (R9). */
    readonly intakeOpen: Effect.Effect<void, GateError>
    readonly admission: ReturnType<typeof makeAdmission>
    readonly retries: RetryPolicy.RetryPolicy
  }
) => {
  // The hand-built check for the common shape, else the Schema, which stays the authority (domain/newAiJobCheck.ts).
  const decodeBySchema = decodeWith(JobRequest, "JobRequest")

  /**
   * A checked request (`checked`: by the hand-built check) admitted and
   * queued at `now`, the time of its events. Its steps are plain code around
   * three Effects — the policy's verdict, the queued event and the store's
   * createJob — and the first two are usually known at once (a remembered
   * verdict, records built from their given time): no step for them (issue 16).
   */
  const queue = (span: Tracer.Span, request: JobRequest, checked: boolean, now: DateTime.Utc) => {
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
      const queued = prepare(lifecycleEvent({
        job: ids,
        from: null,
        to: "queued",
        attempt: 1,
        ...(request.run_after !== undefined ? { run_after: request.run_after } : {}),
        timestamp: now
      }))
      return flatMapKnown(queued, (record) => {
        // Checked once: a job built from the request checked above is not walked again at the port (newAiJobCheck.ts).
        const created = store.createJob(
          submittedJob(request, checked, {
            ...ids,
            capability_profile_id: verdict.profile_id,
            // The job's own maximum, else its kind's (issue 15.1).
            max_attempts: request.max_attempts ?? RetryPolicy.forKind(deps.retries, request.job_kind).maxAttempts
          }),
          { events: auditWith([...records, record]) }
        )
        return announce === undefined ? created : Effect.tap(created, announce)
      })
    })
  }

  return (input: unknown) =>
    withJobSpan("Jobs.submit", (span) =>
      Effect.flatMap(deps.intakeOpen, () =>
        // The clock read once for the submit's events (ordered by id within it).
        Effect.clockWith((clock) => {
          const now = DateTime.unsafeMake(clock.unsafeCurrentTimeMillis())
          // The common shape checked in place: no Effect step unless the Schema must decide.
          const common = commonJobRequest(input)
          return common !== undefined
            ? queue(span, common, true, now)
            : Effect.flatMap(decodeBySchema(input), (request) => queue(span, request, false, now))
        })))
}
