/**
 * Turning an untrusted event into the record a store appends: validate,
 * apply the privacy rules, check the size. Pure (no store, no clock), so an
 * invalid event fails before anything is written, and services can build the
 * records they pass to `JobStore`'s `events` options.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { nestedDeeperThan, tooDeepMessage } from "../../domain/depth.js"
import { readThrew } from "../../domain/Errors.js"
import { type EventRecord, type EventType, EventTypes } from "../../domain/EventRecord.js"
import {
  FlightEvent,
  FlightEventSchemas,
  FrEvt008SecurityViolationEvent,
  GcSummaryEvent,
  JobLifecycleEvent,
  PolicyViolationEvent
} from "../../domain/FlightEvent.js"
import { securityShapeOf, systemShapeOf } from "../../domain/flightEventShapes.js"
import { type JobId, TraceId } from "../../domain/Ids.js"
import { isStorable } from "../../domain/Text.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import { vouch } from "../../domain/vouched.js"
import { claimedType, EventTooLarge, InvalidEvent } from "./Errors.js"
import { applyRawContentPolicy, DEFAULT_MAX_EVENT_BYTES, encodedSize, firstKeyCollision, type JsonObject, sanitize } from "./Privacy.js"
import * as Redactor from "./Redactor.js"

/** How events are prepared. */
export interface PrepareOptions<E = never> {
  /** Keep raw content (prompt and response text). Default false (R14). */
  readonly debug?: boolean
  /** Bound on one event's stored JSON in UTF-8 bytes. Default 64 KiB. */
  readonly maxEventBytes?: number
  /** Redaction; default `Redactor.make()` (the default rules only). */
  readonly redactor?: Redactor.Redactor
  /**
   * The trace of the job an event names, or undefined when no such job is
   * stored (pruned, or never written: a submission the policy denied).
   * Default: none known. The recorder reads the job.
   */
  readonly jobTraceOf?: (jobId: JobId) => Effect.Effect<TraceId | undefined, E>
}

/** A fresh trace id, for an event that names no job. */
export const freshTraceId: Effect.Effect<TraceId> = Effect.sync(() => TraceId.make(uuidv7()))

// errors: "all" so a caller sees every problem at once; excess keys are an
// error, not silently dropped, so nothing beyond the schema is ever stored.
const decodeAs = (schema: Schema.Schema<FlightEvent, unknown>) =>
  Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })
// Decoding with the claimed type's own schema keeps the reasons to that type:
// the whole union would also report what other types lack.
const decodeByType = Object.fromEntries(
  Object.entries(FlightEventSchemas).map(([type, schema]) => [type, decodeAs(schema as Schema.Schema<FlightEvent, unknown>)])
) as { [T in EventType]: ReturnType<typeof decodeAs> }
// Likewise a security_violation's reasons are its own shape's: FR-EVT-008's when it names a
// `violation_type` and no `violation`, else ours (domain/FlightEvent.ts).
const decodePolicyViolation = decodeAs(PolicyViolationEvent as Schema.Schema<FlightEvent, unknown>)
const decodeFrEvt008 = decodeAs(FrEvt008SecurityViolationEvent as Schema.Schema<FlightEvent, unknown>)
decodeByType.security_violation = (input, options) =>
  typeof input === "object" && input !== null && securityShapeOf(input) === "frEvt008"
    ? decodeFrEvt008(input, options)
    : decodePolicyViolation(input, options)
// And a system event's are its own shape's: a job lifecycle change names from_state or to_state, a
// Janitor pass's summary event_type or event_name. Decoded by the union, a lifecycle event with one bad
// field was also told "event_type: is missing" (found by an outside probe). One naming both, or
// neither, is decoded by the union: either shape may be the one meant.
const decodeLifecycle = decodeAs(JobLifecycleEvent as Schema.Schema<FlightEvent, unknown>)
const decodeGcSummary = decodeAs(GcSummaryEvent as Schema.Schema<FlightEvent, unknown>)
const decodeSystem = decodeByType.system
decodeByType.system = (input, options) => {
  const shape = typeof input === "object" && input !== null ? systemShapeOf(input) : undefined
  return shape === undefined ? decodeSystem(input, options) : shape === "lifecycle" ? decodeLifecycle(input, options) : decodeGcSummary(input, options)
}
const encode = Schema.encode(FlightEvent)

/**
 * `decode(input)`, its issues as `InvalidEvent`. Schema lets what the caller's value throws while
 * it is read (a getter, a Proxy trap) escape: bad input, refused as such, not a defect.
 */
const decodeCallerEvent = (decode: ReturnType<typeof decodeAs>, input: unknown, type: string): Effect.Effect<FlightEvent, InvalidEvent> => {
  try {
    return Effect.mapError(decode(input), (error) => InvalidEvent.fromParseError(input, error))
  } catch (error) {
    return Effect.fail(new InvalidEvent({ event_type: type, reasons: [{ path: "", message: readThrew(error) }] }))
  }
}

/**
 * A stored body decoded as `prepare` decodes a caller's event of `type`: the same refusals, in the
 * same words (a public `build`'s record is held to it, checkedBuild.ts).
 */
export const decodeEventOf = (type: EventType, body: unknown): Effect.Effect<FlightEvent, InvalidEvent> =>
  decodeCallerEvent(decodeByType[type], body, type)

/** The path of the first key or string value that `isStorable` refuses, or null. Depth is already bounded. */
const firstUnstorableString = (value: unknown, path = ""): string | null => {
  if (typeof value === "string") return isStorable(value) ? null : path
  if (typeof value !== "object" || value === null) return null
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === "" ? key : `${path}.${key}`
    if (!isStorable(key)) return childPath
    const found = firstUnstorableString(child, childPath)
    if (found !== null) return found
  }
  return null
}

/** The refusal of text that `isStorable` refuses, at `path`: the same for every way an event is built. */
export const unstorableText = (type: EventType, path: string): InvalidEvent =>
  new InvalidEvent({
    event_type: type,
    reasons: [{ path, message: "Text must not contain U+0000 (NUL) or a lone UTF-16 surrogate" }]
  })

/** The refusal of an event whose `trace_id` is not its job's (the job's is the trace that lists it). */
export const traceContradiction = (type: EventType, given: TraceId, jobs: TraceId): InvalidEvent =>
  new InvalidEvent({
    event_type: type,
    reasons: [{ path: "trace_id", message: `Expected the trace of the job the event names, ${jobs}; the event names trace ${given}` }]
  })

/** A key as text and as code points (the forms look alike on screen), its first 12. */
const spelt = (key: string): string => {
  const points = [...key]
  const shown = points.slice(0, 12).map((point) => `U+${point.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`)
  return `${JSON.stringify(key)} (${shown.join(" ")}${points.length > 12 ? " …" : ""})`
}

/**
 * The refusal of an object whose keys NFC or redaction would merge (Privacy.ts
 * `firstKeyCollision`). Keys NFC merges are spelt out, code points and all; keys
 * redaction merges are named only as stored: the message must not quote the secret.
 */
const keyCollision = (type: EventType, collision: { readonly path: string; readonly keys: ReadonlyArray<string>; readonly stored: string }): InvalidEvent =>
  new InvalidEvent({
    event_type: type,
    reasons: [{
      path: collision.path,
      message: collision.keys.every((key) => key.normalize("NFC") === collision.stored)
        ? `Expected keys that stay distinct once NFC-normalised: ${collision.keys.map(spelt).join(" and ")} are one key, and one of their values would be lost`
        : `Expected keys that stay distinct once redacted: two keys are both stored as ${JSON.stringify(collision.stored)}, and one of their values would be lost`
    }]
  })

/** The size bound on a stored body (R14): larger is `EventTooLarge` (returned, never thrown), never truncated. */
export const sizeRefusal = (body: JsonObject, eventId: string, type: EventType, maxEventBytes: number): EventTooLarge | undefined => {
  const size = encodedSize(body)
  return size > maxEventBytes
    ? new EventTooLarge({ event_id: eventId, event_type: type, size_bytes: size, limit_bytes: maxEventBytes })
    : undefined
}

/**
 * Builds `prepare`: untrusted input → `EventRecord`, or `InvalidEvent` /
 * `EventTooLarge` (or what `traceIdFor` fails with).
 */
export const makePrepare = <E = never>(options: PrepareOptions<E> = {}) => {
  const debug = options.debug ?? false
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
  const redactor = options.redactor ?? Redactor.make()
  const jobTraceOf = options.jobTraceOf ?? (() => Effect.succeed(undefined))

  return (input: unknown): Effect.Effect<EventRecord, InvalidEvent | EventTooLarge | E> =>
    Effect.gen(function*() {
      // Schema structs accept arrays as objects; an array is never an event.
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        const actual = Array.isArray(input) ? "an array" : input === null ? "null" : typeof input
        return yield* new InvalidEvent({ event_type: null, reasons: [{ path: "", message: `Expected an event object, actual ${actual}` }] })
      }
      // Decoding recurses: over-deep input would overflow the stack instead of failing.
      if (nestedDeeperThan(input)) {
        return yield* new InvalidEvent({ event_type: claimedType(input), reasons: [{ path: "", message: tooDeepMessage }] })
      }
      // The union picks its member by `type`, stringifying it; a non-string `type` must fail here, not throw there.
      const type = claimedType(input)
      if (type === null || !(EventTypes as ReadonlyArray<string>).includes(type)) {
        return yield* new InvalidEvent({
          event_type: null,
          reasons: [{ path: "type", message: `Expected one of the event types ${EventTypes.join(", ")}` }]
        })
      }
      const decode = decodeByType[type as EventType]
      const valid = yield* decodeCallerEvent(decode, input, type)
      // Every stored event has a trace id (the column is NOT NULL): one sent
      // without gets its job's, or a fresh one, as the reference does. One
      // sent with a trace its stored job does not have is refused: listed by
      // the job's trace, it was missing (R5, spec 11.5). A job not stored has
      // no trace to contradict: the event is taken as sent.
      const jobTrace = valid.job_id === undefined || valid.job_id === null ? undefined : yield* jobTraceOf(valid.job_id)
      if (jobTrace !== undefined && valid.trace_id !== undefined && valid.trace_id !== null && valid.trace_id !== jobTrace) {
        return yield* traceContradiction(valid.type, valid.trace_id, jobTrace)
      }
      const trace_id = valid.trace_id ?? jobTrace ?? (yield* freshTraceId)
      const decoded = { ...valid, trace_id }
      // Encoding canonicalises (timestamps to `…Z` with milliseconds) before the privacy rules see the text.
      const encoded = yield* Effect.mapError(encode(decoded), (error) => InvalidEvent.fromParseError(input, error))
      const stripped = applyRawContentPolicy(encoded as unknown as JsonObject, decoded.type, debug)
      // Text PostgreSQL cannot hold (U+0000) or UTF-8 cannot encode (lone surrogates): refused on every
      // backend alike, and as given, before redaction could rewrite it (`password=x\u0000` was stored as
      // `password=[REDACTED]`, the NUL redacted away): caller text is refused, never rewritten.
      const unstorable = firstUnstorableString(stripped)
      if (unstorable !== null) return yield* unstorableText(decoded.type, unstorable)
      let keysMerged = false
      const body = sanitize(stripped, redactor, () => (keysMerged = true)) as JsonObject
      // NFC merged two keys into one, keeping one value: refused, never a value lost without a word.
      const collision = keysMerged ? firstKeyCollision(stripped, redactor) : null
      if (collision !== null) return yield* keyCollision(decoded.type, collision)
      // A redaction rule must not break a field (say, turn an id into "[REDACTED]"):
      // the stored form is validated again.
      const event = yield* Effect.mapError(decode(body), (error) => InvalidEvent.fromParseError(body, error))
      // A caller's rule may make such text of what was storable.
      const written = redactor.keepsTextStorable === true ? null : firstUnstorableString(body)
      if (written !== null) return yield* unstorableText(event.type, written)
      const tooLarge = sizeRefusal(body, event.event_id, event.type, maxEventBytes)
      if (tooLarge !== undefined) return yield* tooLarge
      // Decoded, sanitized and checked: vouched for, so the store's port does not decode it again (domain/vouched.ts).
      return vouch({
        event_id: event.event_id,
        timestamp: event.timestamp,
        actor: event.actor,
        type: event.type,
        trace_id: event.trace_id ?? trace_id,
        job_id: event.job_id ?? null,
        workflow_run_id: event.workflow_run_id ?? null,
        body
      })
    })
}
