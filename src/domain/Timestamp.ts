/**
 * Timestamps: RFC 3339 text on the wire, `DateTime.Utc` in the program.
 *
 * `Schema.DateTimeUtc` accepts anything `Date` can parse, including
 * `YYYY-MM-DD HH:MM:SS` read as *local* time; the reference's legacy rows are
 * UTC, so we accept only RFC 3339 here and convert legacy text in migrations.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

/**
 * RFC 3339's `date-time` (section 5.6): `T` and `Z` in either case, as its
 * note allows, and any number of fraction digits (kept to the millisecond,
 * the precision every timestamp here has, the rest cut: `millisecondText`).
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Whether `text` has the RFC 3339 form the stores read (its calendar and range are checked on decode). */
export const isRfc3339 = (text: string): boolean => RFC3339.test(text)

const MIN = new Date("1970-01-01T00:00:00.000Z")
const MAX = new Date("9999-12-31T23:59:59.999Z")

/** The earliest and latest instants a `Timestamp` holds, in epoch milliseconds. */
export const TIMESTAMP_RANGE_MS = { min: MIN.getTime(), max: MAX.getTime() } as const

/**
 * `Date` rolls impossible dates over (February 30th becomes March 2nd); an
 * audit timestamp must be refused instead. Checks the fields as written.
 */
const isCalendarValid = (text: string): boolean => {
  const [year, month, day, hour, minute, second] = text.slice(0, 19).split(/[-Tt:]/).map(Number) as [
    number, number, number, number, number, number
  ]
  // setUTCFullYear, not Date.UTC: Date.UTC reads a year below 100 as 19xx (0000-02-29 exists, 1900-02-29 does not).
  const probe = new Date(0)
  probe.setUTCFullYear(year, month - 1, day)
  return probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day && hour <= 23 && minute <= 59 && second <= 59
}

/** A UTC instant between 1970 and 9999, the range both databases store exactly. */
export const TimestampFromSelf = Schema.DateTimeUtcFromSelf.pipe(
  Schema.filter((d) => {
    const ms = DateTime.toEpochMillis(d)
    return ms >= MIN.getTime() && ms <= MAX.getTime()
  }, { message: () => "Expected an instant between 1970 and 9999" })
).annotations({
  identifier: "TimestampFromSelf",
  arbitrary: () => (fc) =>
    fc.date({ min: MIN, max: MAX, noInvalidDate: true }).map((d) => DateTime.unsafeFromDate(d))
})

const Rfc3339Text = Schema.String.pipe(Schema.pattern(RFC3339, {
  message: () => "Expected an RFC 3339 timestamp such as 2026-01-19T23:59:37.328Z"
}))

/**
 * RFC 3339 `text` with its fraction cut to the millisecond, upper-cased, for
 * `Date` to read. `Date` itself misreads ten or more fraction digits: it drops
 * their leading zeros, so `.0123000000` read as .123 (an outside probe's fuzzing
 * found events stored ~0.1 s off and listings leaving them out). Only the
 * fraction has a `.`, so the first three digits after it are the milliseconds.
 */
export const millisecondText = (text: string): string => text.replace(/(\.\d{3})\d+/, "$1").toUpperCase()

/** `text` (RFC 3339) as an instant, fraction digits past the millisecond cut. */
const instantOf = (text: string, ast: AST.AST) =>
  // Upper case: DateTime reads a lower-case `z` as no zone at all.
  Option.match(isCalendarValid(text) ? DateTime.make(millisecondText(text)) : Option.none(), {
    onNone: () => ParseResult.fail(new ParseResult.Type(ast, text, `Not a valid instant: ${text}`)),
    onSome: (d) => ParseResult.succeed(DateTime.toUtc(d))
  })

/** RFC 3339 text (`2026-01-19T23:59:37.328Z`) decoded to a `DateTime.Utc`; encodes with milliseconds and `Z`. */
export const Timestamp = Schema.transformOrFail(Rfc3339Text, TimestampFromSelf, {
  strict: true,
  // The range check happens on the target side (TimestampFromSelf).
  decode: (text, _, ast) => instantOf(text, ast),
  encode: (d) => ParseResult.succeed(DateTime.formatIso(d))
}).annotations({ identifier: "Timestamp" })
export type Timestamp = typeof Timestamp.Type

/**
 * An instant before the first a `Timestamp` holds as that first instant
 * (1970-01-01T00:00:00Z); any other as it is, in UTC. For a time whose past
 * values all mean the same — a `run_after` already past means now — so a
 * year before 1970 is no reason to refuse it. (One past 9999 is kept, for
 * `TimestampFromSelf` to refuse.)
 */
const notBeforeFirstInstant = (d: DateTime.DateTime): DateTime.Utc =>
  DateTime.toEpochMillis(d) < MIN.getTime() ? DateTime.unsafeMake(MIN.getTime()) : DateTime.toUtc(d)

/**
 * RFC 3339 text of any year, decoded as `Timestamp` decodes it except that an
 * instant before 1970 becomes 1970-01-01T00:00:00Z (`notBeforeFirstInstant`);
 * one past 9999 is refused.
 */
export const TimestampPastClamped = Schema.transformOrFail(Rfc3339Text, TimestampFromSelf, {
  strict: true,
  decode: (text, _, ast) => ParseResult.map(instantOf(text, ast), notBeforeFirstInstant),
  encode: (d) => ParseResult.succeed(DateTime.formatIso(d))
}).annotations({ identifier: "TimestampPastClamped" })

/**
 * A `DateTime` in any zone (an instant is an instant: a zoned one is read in
 * UTC), an instant before 1970 as 1970-01-01T00:00:00Z
 * (`notBeforeFirstInstant`); one past 9999 is refused.
 */
export const TimestampPastClampedFromSelf = Schema.transform(
  // In JSON (an HTTP body) a DateTime is always its text: the JSON Schema of this side says so.
  Schema.Union(Schema.DateTimeUtcFromSelf, Schema.DateTimeZonedFromSelf).annotations({ jsonSchema: { type: "string", format: "date-time" } }),
  TimestampFromSelf,
  { strict: true, decode: notBeforeFirstInstant, encode: (d) => d }
).annotations({ identifier: "TimestampPastClampedFromSelf" })

/**
 * RFC 3339 text for a bound compared with `>=` or `<` (an events range's
 * `since` and `until`, `created_before`), decoded to the first whole
 * millisecond at or after it. `Timestamp` cuts digits past the millisecond
 * toward the past, right for a stored instant but not here: every stored
 * instant is a whole millisecond, so `>= 10:00:00.0005` must leave out an
 * event at 10:00:00.000 and `< 10:00:00.0005` must keep it. (A bound compared
 * with `>` or `<=` is cut, as `Timestamp` does.) The text must name an
 * instant in `Timestamp`'s range, its digits past the millisecond cut (so
 * 1969-12-31T23:59:59.9991Z is refused as 1969-12-31T23:59:59.999Z is); rounded up,
 * the bound may reach one millisecond past that range.
 */
export const TimestampBoundRoundedUp = Schema.transformOrFail(
  Rfc3339Text,
  Schema.DateTimeUtcFromSelf.pipe(Schema.filter((d) => {
    const ms = DateTime.toEpochMillis(d)
    return ms >= MIN.getTime() && ms <= MAX.getTime() + 1
  }, { message: () => "Expected an instant between 1970 and 9999" })),
  {
    strict: true,
    decode: (text, _, ast) =>
      ParseResult.flatMap(instantOf(text, ast), (cut) => {
        const ms = DateTime.toEpochMillis(cut)
        if (ms < MIN.getTime() || ms > MAX.getTime()) return ParseResult.fail(new ParseResult.Type(ast, text, "Expected an instant between 1970 and 9999"))
        return ParseResult.succeed(/\.\d{3}\d*[1-9]/.test(text) ? DateTime.add(cut, { millis: 1 }) : cut)
      }),
    encode: (d) => ParseResult.succeed(DateTime.formatIso(d))
  }
).annotations({ identifier: "TimestampBoundRoundedUp" })

/**
 * The instant `age` before `now`: how a service turns a `Duration` (a
 * threshold, a retention) into the bound a store compares with. Computed on
 * plain numbers and kept just outside the stored range, so an age beyond
 * what `Date` can hold (a threshold of `Number.MAX_SAFE_INTEGER` seconds)
 * gives a bound before every stored instant instead of an invalid date.
 */
export const instantBefore = (now: DateTime.Utc, age: Duration.Duration): DateTime.Utc =>
  DateTime.unsafeMake(Math.max(MIN.getTime() - 1, Math.min(MAX.getTime(), DateTime.toEpochMillis(now) - Duration.toMillis(age))))
