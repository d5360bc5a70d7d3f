/**
 * `Jobs.submit`: the policy decides the profile (the request may only narrow
 * it) before anything is queued (R15); a refusal is audited with no job row;
 * an accepted job is created `queued` with its event in one transaction.
 */
import * as Effect from "effect/Effect"
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
  return (input: unknown) =>
    withJobSpan("Jobs.submit", (span) =>
      Effect.gen(function*() {
        yield* deps.intakeOpen
        // The common shape checked in place: no Effect step unless the Schema must decide.
        const common = commonJobRequest(input)
        const request: JobRequest = common ?? (yield* decodeBySchema(input))
        const ids = { job_id: request.job_id ?? uuidv7() as JobId, trace_id: request.trace_id ?? uuidv7() as AiJob["trace_id"] }
        nameJob(span, ids)
        span.attribute("hsk.job_kind", request.job_kind)
        // The policy decides the profile; the request may only narrow it. It reads these five fields only.
        const { verdict, records } = yield* deps.admission.decide({
          ...ids,
          job_kind: request.job_kind,
          protocol_id: request.protocol_id,
          profile_id: request.profile_id
        }, request.capability_profile_id)
        if (verdict._tag === "Refused") {
          // The refusal is audited, but no job row is ever written (R15).
          yield* store.appendEvents(records)
          return yield* verdict.error
        }
        const queued = yield* prepare(lifecycleEvent({
          job: ids,
          from: null,
          to: "queued",
          attempt: 1,
          ...(request.run_after !== undefined ? { run_after: request.run_after } : {}),
          // The decisions' time: the clock read once for the submit's events (ordered by id within it).
          ...(records[0] !== undefined ? { timestamp: records[0].timestamp } : {})
        }))
        // Checked once: a job built from the request checked above is not walked again at the port (newAiJobCheck.ts).
        const job = yield* store.createJob(
          submittedJob(request, common !== undefined, {
            ...ids,
            capability_profile_id: verdict.profile_id,
            // The job's own maximum, else its kind's (issue 15.1).
            max_attempts: request.max_attempts ?? RetryPolicy.forKind(deps.retries, request.job_kind).maxAttempts
          }),
          { events: auditWith([...records, queued]) }
        )
        if (announce !== undefined) yield* announce(job)
        return job
      }))
}
