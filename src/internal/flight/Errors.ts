/** Errors of the Flight Recorder, each a tag a caller can `catchTag`. */
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { DecodeIssue, formatIssues } from "../../domain/Errors.js"

/**
 * An event that does not match its type's schema (R10), or carries a key the
 * schema does not know (R14: nothing beyond the schema is stored). `reasons`
 * lists every problem with its path, one per row.
 */
export class InvalidEvent extends Schema.TaggedError<InvalidEvent>()("InvalidEvent", {
  /** The `type` the input claimed, when it was a string. */
  event_type: Schema.NullOr(Schema.String),
  reasons: Schema.Array(DecodeIssue)
}) {
  /** The spec's code for a shape violation (R10). */
  readonly code = "HSK-400-INVALID-EVENT"
  override get message(): string {
    const lines = this.reasons.map((reason) => `  - ${reason.path === "" ? "(event)" : reason.path}: ${reason.message}`)
    // Led by the code, as the reference's `RecorderError` prints it, so a log line or a caught message says which error it is.
    return [`${this.code}: Invalid Flight Recorder event${this.event_type === null ? "" : ` of type ${this.event_type}`}:`, ...lines].join("\n")
  }

  /** Builds the error from a Schema parse error of `input`. */
  static fromParseError(input: unknown, error: ParseResult.ParseError): InvalidEvent {
    return new InvalidEvent({ event_type: claimedType(input), reasons: formatIssues(error) })
  }
}

/**
 * An event whose stored JSON would exceed the configured bound (R14: no
 * unbounded output inline). Nothing is truncated: the caller must store the
 * large content elsewhere and reference it.
 */
export class EventTooLarge extends Schema.TaggedError<EventTooLarge>()("EventTooLarge", {
  event_id: Schema.String,
  event_type: Schema.String,
  size_bytes: Schema.Number,
  limit_bytes: Schema.Number
}) {
  /** Our own code (the spec names none): a client error, like an invalid event. */
  readonly code = "HSK-400-EVENT-TOO-LARGE"
  override get message(): string {
    return `Flight Recorder event ${this.event_id} (${this.event_type}) is ${this.size_bytes} bytes of JSON; the limit is ${this.limit_bytes}`
  }
}

/** The `type` an untrusted input claims, for error messages. */
export const claimedType = (input: unknown): string | null => {
  let type: unknown
  try {
    type = typeof input === "object" && input !== null ? (input as { readonly type?: unknown }).type : undefined
  } catch {
    // A caller's getter or Proxy trap: no type claimed (the decode then refuses the event).
    type = undefined
  }
  return typeof type === "string" ? type : null
}
