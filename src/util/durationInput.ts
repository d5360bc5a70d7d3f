/**
 * A duration given past its type. Effect's parser reads a number of
 * milliseconds that is NaN or below zero as zero — so `Number(undefined)`, an
 * unset environment variable, becomes "no time at all": a retention window
 * or pruning age of zero deletes everything old enough to be deleted. The
 * options that take a duration read it here, where such numbers are refused.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** Whether `input` is a number the Duration parser would read as zero although it is none: NaN, or below zero. */
const readsAsZero = (input: unknown): boolean =>
  (typeof input === "number" && (Number.isNaN(input) || input < 0)) || (typeof input === "bigint" && input < 0n)

/** `input` as a duration, or none when the parser cannot read it or would read NaN or a negative number as zero. */
export const readDuration = (input: unknown): Option.Option<Duration.Duration> =>
  readsAsZero(input) ? Option.none() : Duration.decodeUnknown(input)

/** Whether `input` is a duration above zero and finite: one a loop can sleep between turns. */
export const isPositiveFiniteDuration = (input: unknown): boolean =>
  Option.match(readDuration(input), {
    onNone: () => false,
    onSome: (duration) => Duration.isFinite(duration) && Duration.greaterThan(duration, Duration.zero)
  })
