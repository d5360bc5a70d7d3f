/**
 * Checking operator input before anything is opened: every refusal is one
 * line naming the flag, the value and what is accepted (exit 2).
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { EventTypes, type EventType } from "../domain/EventRecord.js"
import { JobKind, JobKinds, LegacyTerminalAlias } from "../domain/JobKind.js"
import { JobStates, type JobState } from "../domain/JobState.js"
import { TimestampBoundRoundedUp } from "../domain/Timestamp.js"
import { BadInput } from "./errors.js"

const oneOf = <A extends string>(flag: string, accepted: ReadonlyArray<A>) => (value: string): Effect.Effect<A, BadInput> =>
  (accepted as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as A)
    : Effect.fail(new BadInput({ message: `unknown ${flag} ${JSON.stringify(value)}; expected one of ${accepted.join(", ")}` }))

const decodeJobKind = Schema.decodeUnknownOption(JobKind)

/** A job kind: one of the twelve, or the legacy alias `term_exec`, read as `terminal_exec` (R1a) as everywhere else. */
export const jobKind = (value: string): Effect.Effect<JobKind, BadInput> =>
  Option.match(decodeJobKind(value), {
    onNone: () =>
      Effect.fail(new BadInput({
        message: `unknown --kind ${JSON.stringify(value)}; expected one of ${JobKinds.join(", ")} (or the legacy alias ${LegacyTerminalAlias})`
      })),
    onSome: Effect.succeed
  })

/** One of the ten job states. */
export const jobState: (value: string) => Effect.Effect<JobState, BadInput> = oneOf("--state", JobStates)

/** Names a reader may take for a type: a `system` event's `event_name` and `event_type` (HSK-GC-003's gc_summary). */
const SYSTEM_EVENT_NAMES = ["gc_summary", "meta.gc_summary"]

const anyEventType = oneOf("--type", EventTypes)

/** One of the eight event types; a system event's name is refused with the type to ask for instead. */
export const eventType = (value: string): Effect.Effect<EventType, BadInput> =>
  SYSTEM_EVENT_NAMES.includes(value)
    ? Effect.fail(new BadInput({ message: `unknown --type ${JSON.stringify(value)}: it names a system event; list them with --type system` }))
    : anyEventType(value)

/**
 * A comma-separated list (`--state failed,stalled`), each item checked by
 * `item`. A list with no item at all (`--state ""`, as an unset shell
 * variable gives) is refused as `item` refuses the empty word: as a filter
 * it would match nothing and say only "No jobs match". An empty item among
 * others (`--state queued,`, `--state a,,b`, `--state failed --state ""`) is
 * refused too, naming `flag`, as the HTTP API refuses `?state=queued,` (400
 * at that item): dropped, a stray comma or an unset variable in a script
 * went unnoticed.
 */
export const list = <A>(flag: string, item: (value: string) => Effect.Effect<A, BadInput>) => (value: string) => {
  const parts = value.split(",").map((part) => part.trim())
  if (parts.every((part) => part === "")) return Effect.map(item(value.trim()), (only) => [only])
  const empty = parts.indexOf("")
  return empty >= 0
    ? Effect.fail(new BadInput({
      message: `bad ${flag} ${JSON.stringify(value)}: item ${empty + 1} of ${parts.length} is empty (a stray comma?); expected values separated by single commas, e.g. ${flag} a,b`
    }))
    : Effect.forEach(parts, item)
}

/** The order of a listing: `newest` first or `oldest` first, as the store's `desc`/`asc`. */
export const order = (flag: string) => (value: string): Effect.Effect<"asc" | "desc", BadInput> =>
  Effect.map(oneOf(flag, ["newest", "oldest"] as const)(value.trim()), (word) => (word === "newest" ? "desc" : "asc"))

/**
 * A UUID for `what` (an argument or flag name), decoded by the caller's id
 * schema: canonical lower case, the nil UUID refused.
 */
export const uuid = <A>(what: string, schema: Schema.Schema<A, string>) => (value: string): Effect.Effect<A, BadInput> =>
  Effect.mapError(Schema.decode(schema)(value), () =>
    new BadInput({
      message: `malformed ${what} ${JSON.stringify(value)}; expected a UUID like 123e4567-e89b-42d3-a456-426614174000 (not the nil UUID)`
    }))

const UNITS: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days,
  w: Duration.weeks
}

/** The longest duration accepted: any longer would reach before 1970, which no store holds. */
const MAX_DURATION = Duration.days(365 * 50)

/** A duration such as `30d`, `12h`, `15m`, `90s`, `500ms` or `2w`, at most 50 years. */
export const duration = (flag: string) => (value: string): Effect.Effect<Duration.Duration, BadInput> => {
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(value.trim())
  const unit = match?.[2] === undefined ? undefined : UNITS[match[2]]
  const amount = match === null ? Number.NaN : Number(match[1])
  if (match === null || unit === undefined || !Number.isSafeInteger(amount) || Duration.greaterThan(unit(amount), MAX_DURATION)) {
    return Effect.fail(new BadInput({
      message: `bad ${flag} ${JSON.stringify(value)}; expected a duration up to 50 years: a whole number and one of the units ms, s, m, h, d, w (e.g. 30d, 12h, 90s)`
    }))
  }
  return Effect.succeed(unit(amount))
}

// Since a time includes it: a time past a whole millisecond starts at the next (the events and jobs stored are whole milliseconds).
const decodeTimestamp = Schema.decodeUnknownOption(TimestampBoundRoundedUp)

/**
 * A point in time: a duration meaning "that long ago" (`--since 1h`), a UTC
 * date, or an RFC 3339 time — checked like every stored timestamp (a real
 * calendar date, between 1970 and 9999).
 */
export const since = (flag: string) => (value: string): Effect.Effect<DateTime.Utc, BadInput> => {
  const text = value.trim()
  if (/^\d+(ms|s|m|h|d|w)$/.test(text)) {
    return Effect.flatMap(duration(flag)(value), (ago) => Effect.map(DateTime.now, DateTime.subtractDuration(ago)))
  }
  const parsed = decodeTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text)
  return Option.match(parsed, {
    onNone: () =>
      Effect.fail(new BadInput({
        message: `bad ${flag} ${JSON.stringify(value)}; expected a duration ago (30m, 2h, 7d) or a UTC time between 1970 and 9999 (2026-01-19 or 2026-01-19T23:59:37Z)`
      })),
    onSome: Effect.succeed
  })
}

/** A whole number in `[min, max]`, written in decimal digits. */
export const integer = (flag: string, min: number, max: number) => (value: string): Effect.Effect<number, BadInput> => {
  // Decimal digits only, as the HTTP API's `?limit=`: no sign, exponent, hex or padding.
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  return Number.isSafeInteger(n) && n >= min && n <= max
    ? Effect.succeed(n)
    : Effect.fail(new BadInput({ message: `bad ${flag} ${JSON.stringify(value)}; expected a whole number from ${min} to ${max}` }))
}

/** Applies `parse` (or any effect) to an optional option's value. */
export const optional = <A, B, E = BadInput, R = never>(value: Option.Option<A>, parse: (a: A) => Effect.Effect<B, E, R>) =>
  Option.match(value, {
    onNone: (): Effect.Effect<Option.Option<B>, E, R> => Effect.succeed(Option.none<B>()),
    onSome: (a) => Effect.map(parse(a), Option.some)
  })
