/**
 * Turning an untrusted event into the record a store appends: validate,
 * apply the privacy rules, check the size. Pure (no store, no clock), so an
 * invalid event fails before anything is written, and services can build the
 * records they pass to `JobStore`'s `events` options.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { EventRecord } from "../domain/EventRecord.js"
import { FlightEvent } from "../domain/FlightEvent.js"
import { EventTooLarge, InvalidEvent } from "./Errors.js"
import { applyRawContentPolicy, DEFAULT_MAX_EVENT_BYTES, encodedSize, type JsonObject, sanitize } from "./Privacy.js"
import * as Redactor from "./Redactor.js"

/** How events are prepared. */
export interface PrepareOptions {
  /** Keep raw content (prompt/response text, terminal output). Default false (R14). */
  readonly debug?: boolean
  /** Bound on one event's stored JSON in UTF-8 bytes. Default 64 KiB. */
  readonly maxEventBytes?: number
  /** Redaction; default `Redactor.make()` (the default rules only). */
  readonly redactor?: Redactor.Redactor
}

// errors: "all" so a caller sees every problem at once; excess keys are an
// error, not silently dropped, so nothing beyond the schema is ever stored.
const decode = Schema.decodeUnknown(FlightEvent, { errors: "all", onExcessProperty: "error" })
const encode = Schema.encode(FlightEvent)

/** Builds `prepare`: untrusted input → `EventRecord`, or `InvalidEvent` / `EventTooLarge`. */
export const makePrepare = (options: PrepareOptions = {}) => {
  const debug = options.debug ?? false
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
  const redactor = options.redactor ?? Redactor.make()

  return (input: unknown): Effect.Effect<EventRecord, InvalidEvent | EventTooLarge> =>
    Effect.gen(function*() {
      // Schema structs accept arrays as objects; an array is never an event.
      if (Array.isArray(input)) {
        return yield* new InvalidEvent({ event_type: null, reasons: [{ path: "", message: "Expected an event object, actual an array" }] })
      }
      const decoded = yield* Effect.mapError(decode(input), (error) => InvalidEvent.fromParseError(input, error))
      // Encoding canonicalises (timestamps to `…Z` with milliseconds) before the privacy rules see the text.
      const encoded = yield* Effect.mapError(encode(decoded), (error) => InvalidEvent.fromParseError(input, error))
      const stripped = applyRawContentPolicy(encoded as unknown as JsonObject, decoded.type, debug)
      const body = sanitize(stripped, redactor) as JsonObject
      // A redaction rule must not break a field (say, turn an id into "[REDACTED]"):
      // the stored form is validated again.
      const event = yield* Effect.mapError(decode(body), (error) => InvalidEvent.fromParseError(body, error))
      // PostgreSQL's jsonb cannot hold U+0000; refuse it on every backend alike.
      if (JSON.stringify(body).includes("\\u0000")) {
        return yield* new InvalidEvent({
          event_type: event.type,
          reasons: [{ path: "", message: "Text must not contain U+0000 (NUL), which PostgreSQL cannot store" }]
        })
      }
      const size = encodedSize(body)
      if (size > maxEventBytes) {
        return yield* new EventTooLarge({
          event_id: event.event_id,
          event_type: event.type,
          size_bytes: size,
          limit_bytes: maxEventBytes
        })
      }
      return {
        event_id: event.event_id,
        timestamp: event.timestamp,
        actor: event.actor,
        type: event.type,
        trace_id: event.trace_id,
        job_id: event.job_id ?? null,
        workflow_run_id: event.workflow_run_id ?? null,
        body
      }
    })
}
