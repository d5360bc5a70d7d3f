/**
 * A duration given past its type. Effect's parser reads a number of
 * milliseconds that is NaN or below zero as zero — so `Number(undefined)`, an
 * unset environment variable, becomes "no time at all": a retention window
 * or pruning age of zero deletes everything old enough to be deleted. The
 * options that take a duration refuse such numbers instead.
 */

/** Whether `input` is a number the Duration parser would read as zero although it is none: NaN, or below zero. */
export const readsAsZero = (input: unknown): boolean =>
  (typeof input === "number" && (Number.isNaN(input) || input < 0)) || (typeof input === "bigint" && input < 0n)
