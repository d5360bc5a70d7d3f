/**
 * R9 R10 timestamps are RFC 3339 text on the wire (section 5.6): what the
 * RFC allows is accepted — `t` and `z` in lower case (its note), any number
 * of fraction digits (cut to the millisecond, the precision every timestamp
 * here has) — and read as the same instant as its usual spelling; what it
 * does not allow, or a date that does not exist, is refused; what we write
 * is always the canonical form (`T`, milliseconds, `Z`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { isRfc3339, Timestamp, TimestampBoundRoundedUp, TimestampPastClamped } from "../../src/domain/Timestamp.js"

const decode = Schema.decodeUnknownEither(Timestamp)
const encode = Schema.encodeSync(Timestamp)
const millis = (text: string) => Either.map(decode(text), DateTime.toEpochMillis)

describe("R9 R10 RFC 3339 timestamps", () => {
  it("R10 lower-case t and z, and fractions of any length, read as the usual spelling; written canonical", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["2026-01-19t23:59:37.328z", "2026-01-19T23:59:37.328Z"],
      ["2026-01-19t23:59:37z", "2026-01-19T23:59:37.000Z"],
      ["2026-01-19T23:59:37.3289999999Z", "2026-01-19T23:59:37.328Z"],
      ["2026-01-19T23:59:37.1Z", "2026-01-19T23:59:37.100Z"],
      ["2026-01-20t01:59:37.328+02:00", "2026-01-19T23:59:37.328Z"]
    ]
    for (const [given, canonical] of cases) {
      assert.isTrue(isRfc3339(given), given)
      assert.deepStrictEqual(millis(given), Either.right(Date.parse(canonical)), given)
      assert.strictEqual(encode(Either.getOrThrow(decode(given))), canonical)
    }
  })

  it("R10 ten or more fraction digits with leading zeros name the instant they spell: .0123000000 is 12 ms, never 123 (Date drops those zeros)", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["2026-01-01T00:00:00.0123000000Z", "2026-01-01T00:00:00.012Z"],
      ["2026-01-01T00:00:00.0001000000Z", "2026-01-01T00:00:00.000Z"],
      ["2026-01-01T00:00:00.0009000000Z", "2026-01-01T00:00:00.000Z"],
      ["8144-06-07T13:00:55.04199249994Z", "8144-06-07T13:00:55.041Z"],
      ["2026-01-01t05:30:00.0100000000+05:30", "2026-01-01T00:00:00.010Z"]
    ]
    for (const [given, canonical] of cases) {
      assert.strictEqual(encode(Either.getOrThrow(decode(given))), canonical, given)
      assert.strictEqual(DateTime.formatIso(Schema.decodeUnknownSync(TimestampPastClamped)(given)), canonical, given)
    }
    // A bound rounds up from the instant spelt, not from the misread one.
    const roundedUp = (text: string) => DateTime.formatIso(Schema.decodeUnknownSync(TimestampBoundRoundedUp)(text))
    assert.strictEqual(roundedUp("2026-01-01T00:00:00.0100000000Z"), "2026-01-01T00:00:00.010Z")
    assert.strictEqual(roundedUp("2026-01-01T00:00:00.0100000001Z"), "2026-01-01T00:00:00.011Z")
  })

  it("R10 what RFC 3339 does not allow, or a day that does not exist, is refused", () => {
    for (
      const text of [
        "2026-01-19 23:59:37Z", "2026-01-19T23:59:37", "2026-01-19T23:59:37.Z", "2026-01-19T23:59:37.5x",
        "2026-1-19T23:59:37Z", "2026-02-30T00:00:00Z", "2026-01-19T24:00:00Z", "2026-01-19T23:59:37+0200", "next tuesday"
      ]
    ) {
      assert.isTrue(Either.isLeft(decode(text)), text)
    }
  })

  it("R10 a bound compared with >= or < rounds digits past the millisecond up to the next millisecond (only when one of them is not zero); Timestamp cuts them", () => {
    const roundedUp = (text: string) => DateTime.formatIso(Schema.decodeUnknownSync(TimestampBoundRoundedUp)(text))
    assert.strictEqual(roundedUp("2026-01-19T10:00:00.0005Z"), "2026-01-19T10:00:00.001Z")
    assert.strictEqual(roundedUp("2026-01-19T10:00:00.123000001Z"), "2026-01-19T10:00:00.124Z")
    assert.strictEqual(roundedUp("2026-01-19T10:00:00.999999+01:00"), "2026-01-19T09:00:01.000Z")
    assert.strictEqual(roundedUp("2026-01-19T10:00:00.123000Z"), "2026-01-19T10:00:00.123Z")
    assert.strictEqual(roundedUp("2026-01-19T10:00:00.12Z"), "2026-01-19T10:00:00.120Z")
    assert.strictEqual(roundedUp("2026-01-19T10:00:00Z"), "2026-01-19T10:00:00.000Z")
    assert.strictEqual(roundedUp("9999-12-31T23:59:59.9995Z"), "+010000-01-01T00:00:00.000Z", "one millisecond past the stored range")
    assert.strictEqual(DateTime.formatIso(Schema.decodeUnknownSync(Timestamp)("2026-01-19T10:00:00.0005Z")), "2026-01-19T10:00:00.000Z")
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(TimestampBoundRoundedUp)("2026-02-30T10:00:00.0005Z")))
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(TimestampBoundRoundedUp)("1969-12-31T23:59:59.998Z")))
  })

  it("R10 a bound's text names an instant in 1970–9999, its digits past the millisecond cut, as Timestamp's: 1969-12-31T23:59:59.9991Z is refused as 1969-12-31T23:59:59.999Z is", () => {
    const refused = (text: string) => Either.isLeft(Schema.decodeUnknownEither(TimestampBoundRoundedUp)(text))
    for (const text of ["1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.9991Z", "1969-12-31T23:59:59.9995Z", "1969-12-31T23:59:59.999999Z"]) {
      assert.isTrue(refused(text), text)
    }
    assert.isFalse(refused("1970-01-01T00:00:00Z"))
    assert.isFalse(refused("9999-12-31T23:59:59.999999Z"))
  })
})
