/**
 * `Jobs.submitMany` (issue 16): many submits as one, all or nothing.
 *
 * Each request meets exactly the checks `submit` applies to one — decoded,
 * then placed by the capability policy (the request may only narrow its
 * profile) — and all of them are checked before anything is queued:
 *
 * - a request that does not decode: `DecodeFailure` naming every problem of
 *   every request (paths led by its index); nothing is stored or recorded;
 * - a request the policy refuses: nothing is queued, the decisions of each
 *   refused request are recorded as `submit` records them (its
 *   `capability_action` events, no job row), and the call fails with the
 *   first refusal;
 * - otherwise every job is created `queued` in one write (`createJobs`), with
 *   its decisions and its `queued` lifecycle event, in one transaction; a
 *   job id stored already or given twice is `AlreadyExists`, nothing written.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { type AiJob, JobRequest } from "../../domain/AiJob.js"
import { decodeWith } from "../../domain/decode.js"
import { decodeEach } from "../../domain/decodeEach.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { EventId, JobId } from "../../domain/Ids.js"
import * as RetryPolicy from "../../domain/RetryPolicy.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { NewAiJob } from "../../domain/AiJob.js"
import { creationRecords } from "./creationRecords.js"
import { refuseReusedId } from "./reusedId.js"
import { committedCreation } from "./createAnswerLost.js"
import { unlessInTransaction } from "./announceLost.js"
import { newJob } from "../../store/internal/newRows.js"
import type { Operations } from "./operations.js"
import { withJobSpan } from "../flight/jobSpan.js"
import type { makeSubmit } from "./submit.js"
import { MAX_JOB_DEPTH } from "../../domain/depth.js"

/** What `submitMany` is built from: what `submit` is (the operations, the intake gate, admission, the retry policy). */
export const makeSubmitMany = <GateError>(
  { announce, prepare, redact, store }: Operations,
  deps: Parameters<typeof makeSubmit<GateError>>[1]
) => {
  const decodeRequests = decodeEach(decodeWith(JobRequest, "JobRequest", MAX_JOB_DEPTH), "JobRequest")
  return (input: unknown) => withJobSpan("Jobs.submitMany", () => Effect.gen(function*() {
    yield* deps.intakeOpen
    const requests = yield* decodeRequests(input)
    // The clock read once: every decision, every queued event and every job's creation at that instant (as submit's).
    const now = yield* DateTime.now
    // A caller-given id another job's or caller's trail still names is refused before anything is decided (reusedId.ts).
    for (const request of requests) {
      if (request.job_id === undefined) continue
      yield* refuseReusedId(store, deps.admission.capabilities, request.job_id, request)
    }
    yield* Effect.annotateCurrentSpan({ "hsk.jobs": requests.length })
    // Every request placed by the policy before anything is queued.
    const placed = yield* Effect.forEach(requests, (request) =>
      Effect.gen(function*() {
        const ids = { job_id: request.job_id ?? uuidv7() as JobId, trace_id: request.trace_id ?? uuidv7() as AiJob["trace_id"] }
        const checked = yield* deps.admission.decide({ ...request, ...ids }, request.capability_profile_id, now)
        return { request, ids, ...checked }
      }))
    const refused = placed.flatMap(({ records, verdict }) => verdict._tag === "Refused" ? [{ error: verdict.error, records }] : [])
    if (refused.length > 0) {
      // Audited as submit audits each refusal; no job row is written for any request (R15).
      yield* store.appendEvents(refused.flatMap(({ records }) => records))
      return yield* refused[0]!.error
    }
    const jobs: Array<NewAiJob> = []
    const records: Array<EventRecord> = []
    let firstQueued: EventId | undefined
    for (const { ids, records: decisions, request, verdict } of placed) {
      if (verdict._tag === "Refused") continue
      jobs.push({
        ...request,
        ...ids,
        capability_profile_id: verdict.profile_id,
        // The job's own maximum, else its kind's (issue 15.1).
        max_attempts: request.max_attempts ?? RetryPolicy.forKind(deps.retries, request.job_kind).maxAttempts
      })
      // Its queued event, and a pin's when it is submitted pinned (creationRecords.ts).
      const created = yield* creationRecords(prepare, ids, request, now)
      firstQueued ??= created[0].event_id
      records.push(...decisions, ...created)
    }
    const created = Effect.catchTag(
      store.createJobs(jobs, { events: () => records, at: now }),
      // It may have committed, its answer lost: committed jobs are answered as the store answers them (createAnswerLost.ts).
      "StorageError",
      (error) =>
        firstQueued === undefined
          ? Effect.fail(error)
          : committedCreation(store, { queuedEventId: firstQueued, jobIds: jobs.map((job) => job.job_id!) }, () => jobs.map((job) => newJob(job, now)), error)
    )
    if (announce === undefined) return yield* created
    // Interrupted once the write was sent (the store finishes it, then the interrupt takes effect), the jobs are
    // announced all the same, as submit's are, when the batch committed (all or nothing: its first job is there).
    return yield* Effect.onInterrupt(
      Effect.tap(created, (jobs) => Effect.forEach(jobs, announce, { discard: true })),
      () =>
        jobs[0]?.job_id === undefined ? Effect.void : unlessInTransaction(store, Effect.ignore(Effect.flatMap(
          store.getJob(jobs[0].job_id),
          () => Effect.forEach(jobs, (job) => announce(newJob(job, now)), { discard: true })
        )))
    )
  }), redact)
}
