/**
 * A duration given past its type. Effect's parser reads a negative duration —
 * the number `-1`, the text `"-7 days"`, the pair `[-1, 0]` — and a NaN number
 * of milliseconds as zero. So `Number(undefined)`, an unset environment
 * variable, or a sign typed by mistake becomes "no time at all": a retention
 * window or pruning age of zero deletes everything old enough to be deleted.
 * The options that take a duration read it here, where such input is refused.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** A duration text as Effect's parser reads it: a number, then its unit. */
const DURATION_TEXT = /^(-?\d+(?:\.\d+)?)\s+[a-z]+$/

/** Whether a number the parser reads is one it would make zero although it is none: NaN, or below zero. */
const negativeOrNaN = (part: unknown): boolean =>
  (typeof part === "number" && (Number.isNaN(part) || part < 0)) || (typeof part === "bigint" && part < 0n)

/**
 * Whether `input` is one the Duration parser would read as zero although it
 * is none: a NaN or negative number, a text whose number is below zero, a
 * `[seconds, nanos]` pair with a part below zero or NaN.
 */
const readsAsZero = (input: unknown): boolean => {
  if (typeof input === "string") {
    const number = DURATION_TEXT.exec(input)?.[1]
    return number !== undefined && Number(number) < 0
  }
  if (Array.isArray(input)) return input.some(negativeOrNaN)
  return negativeOrNaN(input)
}

/** `input` as a duration, or none when the parser cannot read it or would read a negative or NaN input as zero. */
export const readDuration = (input: unknown): Option.Option<Duration.Duration> =>
  readsAsZero(input) ? Option.none() : Duration.decodeUnknown(input)

/** Whether `input` is a duration above zero and finite: one a loop can sleep between turns. */
export const isPositiveFiniteDuration = (input: unknown): boolean =>
  Option.match(readDuration(input), {
    onNone: () => false,
    onSome: (duration) => Duration.isFinite(duration) && Duration.greaterThan(duration, Duration.zero)
  })
