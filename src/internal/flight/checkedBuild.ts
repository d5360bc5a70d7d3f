/**
 * The public `FlightRecorder.build`. The library's own builder
 * (libraryEvents.ts) trusts the fields it is given — states, actor, ids,
 * flags are the library's own, already typed — and vouches for its record,
 * so the store takes it without a second decode. A caller's fields have only
 * passed TypeScript, if that: a JS caller or a cast sent `to_state: "bogus"`
 * or `reason: 42`, the store wrote it unchecked, and every listing that met
 * the row failed (found by a regression probe). So a caller's event is built
 * the same way, then its body is decoded as `record` decodes an event (the
 * same `InvalidEvent`, in the same words), its ids taken in their canonical
 * form, and its trace held to the named job's, as `record` holds it: one read
 * of the job. The library's own events never come here (ownBuild.ts).
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobId, TraceId } from "../../domain/Ids.js"
import { type EventTooLarge, InvalidEvent } from "./Errors.js"
import { isLibraryEvent, type LibraryEvent, libraryEventType } from "./libraryEvents.js"
import { decodeEventOf, traceContradiction } from "./prepare.js"

/** A library event to its record, or why not (the library's own builder, `makeBuild`). */
type Build = (event: LibraryEvent) => Effect.Effect<EventRecord, InvalidEvent | EventTooLarge>

/** The fields a library event takes as a `DateTime.Utc` (the builder formats them; anything else threw). */
const TIME_FIELDS = ["timestamp", "run_after", "last_heartbeat_ts"] as const

/** The refusal of a time field that is not a `DateTime.Utc`, or undefined. */
const timeRefusal = (event: LibraryEvent): InvalidEvent | undefined => {
  const wrong = TIME_FIELDS.filter((key) => {
    const value = (event as unknown as Record<string, unknown>)[key]
    return value !== undefined && !(DateTime.isDateTime(value) && DateTime.isUtc(value))
  })
  return wrong.length === 0 ? undefined : new InvalidEvent({
    event_type: libraryEventType(event.kind),
    reasons: wrong.map((path) => ({ path, message: "Expected a DateTime.Utc" }))
  })
}

/**
 * `build` (a builder of its own: the caller's contents stay out of the
 * library's memo) with every field checked; `jobTraceOf` is the recorder's
 * read of a job's trace.
 */
export const makeCheckedBuild = <E>(
  build: Build,
  jobTraceOf: (jobId: JobId) => Effect.Effect<TraceId | undefined, E>
) =>
(event: LibraryEvent): Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | E> => {
  if (!isLibraryEvent(event)) return build(event)
  const wrongTime = timeRefusal(event)
  if (wrongTime !== undefined) return Effect.fail(wrongTime)
  return Effect.gen(function*() {
    const record = yield* build(event)
    const decoded = yield* decodeEventOf(record.type, record.body)
    const jobTrace = decoded.job_id === undefined || decoded.job_id === null ? undefined : yield* jobTraceOf(decoded.job_id)
    // A trace the caller gave must be the job's; one left out (a JS caller) is the job's, as `record` fills it.
    if (jobTrace !== undefined && event.trace_id !== undefined && decoded.trace_id !== jobTrace) {
      return yield* traceContradiction(record.type, decoded.trace_id!, jobTrace)
    }
    const address = {
      event_id: decoded.event_id,
      trace_id: jobTrace ?? decoded.trace_id ?? record.trace_id,
      job_id: decoded.job_id ?? null,
      workflow_run_id: decoded.workflow_run_id ?? null
    }
    // Ids given in upper case (decoded to lower case), or a trace filled in: built again at the canonical address.
    const same = address.event_id === record.event_id && address.trace_id === record.trace_id &&
      address.job_id === record.job_id && address.workflow_run_id === record.workflow_run_id
    return same ? record : yield* build({
      ...event,
      event_id: address.event_id,
      trace_id: address.trace_id,
      timestamp: record.timestamp,
      ...(address.job_id === null ? {} : { job_id: address.job_id }),
      ...(address.workflow_run_id === null ? {} : { workflow_run_id: address.workflow_run_id })
    } as LibraryEvent)
  })
}
