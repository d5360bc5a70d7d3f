/**
 * The Flight Recorder events that job lifecycle code writes, as typed fields
 * for the recorder's fixed-shape constructors (`FlightRecorder.build`, see
 * internal/flight/libraryEvents.ts): no union decode, and their caller text
 * still NFC-normalised, redacted and checked before anything is written.
 */
import * as DateTime from "effect/DateTime"
import { type AiJob, MAX_IDENTIFIER_CHARACTERS } from "../../domain/AiJob.js"
import type { EventId, WorkflowRunId } from "../../domain/Ids.js"
import type { JobState } from "../../domain/JobState.js"
import { type RecoveryPass, stallMessage } from "../../domain/stallReason.js"
import { atMostCharacters, hasText } from "../../domain/Text.js"
import type { WorkflowRun } from "../../domain/WorkflowRun.js"
import type { Decision } from "../../Capabilities.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { EventTooLarge, InvalidEvent } from "../flight/Errors.js"
import type { FlightRecorder } from "../flight/recorder.js"
import type * as Library from "../flight/libraryEvents.js"
import { ownBuild } from "../flight/ownBuild.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { JobStore } from "../../store/JobStore.js"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"

/** A `system` event for one lifecycle change of a job (`from` is null at creation), from the job. */
export const lifecycleEvent = (options: {
  readonly job: Pick<AiJob, "job_id" | "trace_id">
  readonly from: JobState | null
  readonly to: JobState
  readonly workflow_run_id?: WorkflowRunId | null
  readonly reason?: string
  readonly actor?: "human" | "agent" | "system"
  /** The attempt the change belongs to (issue 15.1). */
  readonly attempt?: number
  /** When the job becomes eligible, for a change to `queued` (issue 15.1/15.2). */
  readonly run_after?: DateTime.Utc
  /** The event's time, when the change already read the clock (default: the clock's now). */
  readonly timestamp?: DateTime.Utc
  /** The event's id, when the writer must find its own record again (a run's end, runJob.ts; default a fresh one). */
  readonly event_id?: EventId
}): Library.LifecycleEvent => ({
  kind: "lifecycle",
  actor: options.actor ?? "system",
  trace_id: options.job.trace_id,
  job_id: options.job.job_id,
  ...(options.workflow_run_id ? { workflow_run_id: options.workflow_run_id } : {}),
  from_state: options.from,
  to_state: options.to,
  // An empty reason is no reason.
  ...(options.reason ? { reason: options.reason } : {}),
  ...(options.attempt !== undefined ? { attempt: options.attempt } : {}),
  ...(options.run_after !== undefined ? { run_after: options.run_after } : {}),
  ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  ...(options.event_id !== undefined ? { event_id: options.event_id } : {})
})

/**
 * The `system` event of a pin change (R18): the job stays in its state, and
 * the reason says `pinned` or `unpinned` (then the caller's reason, if any).
 * `jobs.pin` / `jobs.unpin` write it, and so does a submit of a pinned job,
 * after its `queued` event: a trail that never showed the pin said
 * "unpinned" of a job never pinned.
 */
export const pinEvent = (options: {
  readonly job: Pick<AiJob, "job_id" | "trace_id">
  readonly state: JobState
  readonly workflow_run_id?: WorkflowRunId | null
  readonly pinned: boolean
  readonly reason?: string | undefined
  readonly actor?: "human" | "agent" | "system" | undefined
  /** The attempt the job is on, as every lifecycle event of it says (issue 15.1). */
  readonly attempt: number
  readonly timestamp: DateTime.Utc
}): Library.LifecycleEvent => {
  const what = options.pinned ? "pinned" : "unpinned"
  return lifecycleEvent({
    job: options.job,
    from: options.state,
    to: options.state,
    workflow_run_id: options.workflow_run_id ?? null,
    reason: options.reason === undefined || options.reason === "" ? what : `${what}: ${options.reason}`,
    ...(options.actor !== undefined ? { actor: options.actor } : {}),
    attempt: options.attempt,
    timestamp: options.timestamp
  })
}

/** Builds an event before it is written: the recorder's own builder (ownBuild.ts) under the policy below. */
export type Prepare = (event: Library.LibraryEvent) => Effect.Effect<EventRecord, DecodeFailure>

/**
 * The one policy for an event the job code builds and the recorder refuses:
 * the event carries caller input (a 70 kB reason, text with U+0000), so the
 * refusal is bad input — a `DecodeFailure`, and the change it belongs to is
 * not made.
 */
export const makePrepare = (recorder: FlightRecorder["Type"]): Prepare => {
  const build = ownBuild(recorder)
  return (event) => {
    const built = build(event)
    // A build already known to have succeeded (an event given its time) needs no handler: its record as an Exit.
    return Exit.isExit(built) && Exit.isSuccess(built) ? Exit.succeed(built.value as EventRecord) : Effect.catchTags(built, asBadInput)
  }
}

/** The recorder's refusals as bad input: built once, not per event. */
const asBadInput = {
  InvalidEvent: (error: InvalidEvent) => new DecodeFailure({ subject: "Flight Recorder event", issues: error.reasons }),
  EventTooLarge: (error: EventTooLarge) =>
    new DecodeFailure({ subject: "Flight Recorder event", issues: [{ path: "", message: error.message }] })
}

/**
 * A name shown in an event: as stored when it is a sensible label, otherwise
 * none. A legacy row may hold an empty, blank or absurdly long profile id, and its
 * audit event must still be writable. Bounded as `Identifier` counts, in code
 * points: a profile id of 200 emoji (400 UTF-16 units) is a valid name, its events' actor.
 */
const label = (name: string): string | undefined => hasText(name) && atMostCharacters(name, MAX_IDENTIFIER_CHARACTERS) ? name : undefined

/**
 * A `capability_action` event recording one allow/deny decision (R15): the
 * reference's four payload fields and nothing more (R12; its validator refuses
 * any other). The profile decided under stays on the job row
 * (`capability_profile_id`) and in a refusal's typed error.
 */
export const capabilityEvent = (options: {
  readonly job_id: AiJob["job_id"]
  readonly trace_id: AiJob["trace_id"]
  readonly decision: Decision
  /** Who asked: the job's `profile_id`. */
  readonly actor_id: string
  /** The event's time, when the caller already read the clock (default: the clock's now). */
  readonly timestamp?: DateTime.Utc
}): Library.CapabilityEvent => ({
  kind: "capability",
  trace_id: options.trace_id,
  job_id: options.job_id,
  capability_id: options.decision.capability_id,
  actor_id: label(options.actor_id) ?? "unknown",
  decision_outcome: options.decision.outcome,
  ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {})
})

/** The `workflow_recovery` event of R9 for one run moved to `stalled`. */
export const recoveryEvent = (options: {
  readonly run: WorkflowRun
  readonly trace_id: AiJob["trace_id"]
  readonly threshold_secs: number
  /** The pass that stalled the run, which the reason names (default startup). */
  readonly pass?: RecoveryPass | undefined
}): Library.RecoveryEvent => ({
  kind: "recovery",
  trace_id: options.trace_id,
  job_id: options.run.job_id,
  workflow_run_id: options.run.id,
  reason: stallMessage(DateTime.formatIso(options.run.last_heartbeat), options.threshold_secs, options.pass),
  last_heartbeat_ts: options.run.last_heartbeat,
  threshold_secs: options.threshold_secs
})

/** The `security_violation` event of a violation a running program reported. */
export const securityViolationEvent = (options: {
  readonly job: Pick<AiJob, "job_id" | "trace_id">
  readonly run: Pick<WorkflowRun, "id">
  readonly violation: string
  readonly detail?: string
  /** The event's time, when the change already read the clock (default: the clock's now). */
  readonly timestamp?: DateTime.Utc
}): Library.SecurityViolationEvent => ({
  kind: "security_violation",
  trace_id: options.job.trace_id,
  job_id: options.job.job_id,
  workflow_run_id: options.run.id,
  violation: options.violation,
  ...(options.detail !== undefined ? { detail: options.detail } : {}),
  ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {})
})


/**
 * The instant of a move the Jobs layer makes of a job it has locked (`job`,
 * as locked), so a job's records and `updated_at` never run backwards: the
 * clock's reading, unless the job changed after it (a clock stepped back, or
 * another host's behind); then the job's last change (`updated_at`), or 1 ms
 * after the job's latest record when that record would sort at or after the
 * move's own. On a clock behind another host's, the move's ids are smaller,
 * and at that host's change it would be listed before it: the stores' rule
 * for their one-statement moves (store/pg/moveInstant.ts `instantAfter`).
 * The id compared is minted here, before the move's records, whose ids come
 * after it in this process. The job's history is read only when the move is
 * lifted; a reading equal to the last change is kept, its tie broken by
 * event id — the move's is the larger within a process, and across processes
 * this is the same-millisecond tie the README names — so a move made in the
 * millisecond of the job's last change reads nothing more. The move passes
 * the instant to the store (`at`, JobStore.ts `Change`), so the row's
 * `updated_at` is its records' time.
 */
export const afterLastChange = (
  store: JobStore["Type"],
  job: Pick<AiJob, "job_id" | "updated_at">
): Effect.Effect<DateTime.Utc, Effect.Effect.Error<ReturnType<JobStore["Type"]["listEvents"]>>> =>
  Effect.flatMap(DateTime.now, (now) => {
    if (!DateTime.lessThan(now, job.updated_at)) return Effect.succeed(now)
    const firstId = uuidv7()
    return Effect.map(store.listEvents({ job_id: job.job_id, order: "desc", limit: 1 }), ({ items: [latest] }) =>
      latest !== undefined && sortsAtOrAfter(latest, job.updated_at, firstId)
        // Capped at the last instant the stores hold (a change dated there, a clock far ahead): tied there, not refused.
        ? DateTime.unsafeMake(Math.min(latest.timestamp.epochMillis + 1, TIMESTAMP_RANGE_MS.max))
        : job.updated_at)
  })

/** Whether `record` sorts at or after (`at`, `id`) in a job's history ("timestamp", then event id). */
const sortsAtOrAfter = (record: EventRecord, at: DateTime.Utc, id: string): boolean =>
  record.timestamp.epochMillis > at.epochMillis || (record.timestamp.epochMillis === at.epochMillis && record.event_id >= id)
