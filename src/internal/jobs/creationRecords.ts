/**
 * The records a submitted job is created with after its policy decisions:
 * its `null → queued` event, then — submitted pinned — the event a
 * `jobs.pin` writes (R18), in the same write. A job created pinned had no
 * word of its pin in its trail (found by an outside attacker's probe), and a
 * later unpin recorded "unpinned" of a job never shown pinned. An unpinned
 * job's creation builds nothing more.
 */
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import type { AiJob, JobRequest } from "../../domain/AiJob.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { flatMapKnown, mapKnown } from "../../util/knownEffects.js"
import { lifecycleEvent, pinEvent, type Prepare } from "./auditEvents.js"

/** `[queued]`, or `[queued, pinned]` for a job submitted pinned, at `now` (known at once when built at once: no Effect step). */
export const creationRecords = (
  prepare: Prepare,
  job: Pick<AiJob, "job_id" | "trace_id">,
  request: Pick<JobRequest, "run_after" | "is_pinned">,
  now: DateTime.Utc
): Effect.Effect<readonly [EventRecord, ...Array<EventRecord>], DecodeFailure> => {
  const queued = prepare(lifecycleEvent({
    job,
    from: null,
    to: "queued",
    attempt: 1,
    ...(request.run_after !== undefined ? { run_after: request.run_after } : {}),
    timestamp: now
  }))
  if (!request.is_pinned) return mapKnown(queued, (record) => [record] as const)
  // Built after the queued event: its id, minted later, sorts it after at the same instant.
  return flatMapKnown(queued, (record) =>
    mapKnown(prepare(pinEvent({ job, state: "queued", pinned: true, attempt: 1, timestamp: now })), (pinned) => [record, pinned] as const))
}
