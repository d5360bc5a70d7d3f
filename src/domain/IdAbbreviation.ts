/**
 * Abbreviated ids: what an operator types instead of a whole UUID. Either the
 * start of the id (at least 4 hex digits, as git takes a commit prefix) or its
 * last 8 or more hex digits — the short id that tables and timelines print.
 * The short id is the end, not the start, because time-ordered (v7) ids made
 * close together share their first digits.
 */
import * as Either from "effect/Either"
import { DecodeFailure } from "./Errors.js"

/** The fewest hex digits accepted as the start of an id. */
export const MIN_PREFIX_DIGITS = 4

/** How many hex digits a short id has: an id's last 8. */
export const SHORT_ID_DIGITS = 8

/** The short id printed for an id: its last 8 hex digits. */
export const shortId = (id: string): string => id.slice(-SHORT_ID_DIGITS)

/** An abbreviation checked and spelled out as the ranges a store searches. */
export interface IdAbbreviation {
  /** Its hex digits, lower case, without dashes. */
  readonly digits: string
  /** The lowest and highest ids that start with it, as canonical UUID text. */
  readonly first: string
  readonly last: string
  /**
   * With 8 digits or more, it may also be an id's ending: `shortId` is the
   * short id such an id has, `ending` the id's last characters, dashes in place.
   */
  readonly ending: { readonly shortId: string; readonly text: string } | null
}

const GROUPS = [8, 4, 4, 4, 12]

/** 32 characters in the 8-4-4-4-12 layout of a UUID. */
const layout = (chars: string): string => {
  const parts: Array<string> = []
  let at = 0
  for (const size of GROUPS) {
    parts.push(chars.slice(at, at + size))
    at += size
  }
  return parts.join("-")
}

const refuse = (text: string, message: string) =>
  Either.left(new DecodeFailure({ subject: "abbreviated id", issues: [{ path: "", message: `${JSON.stringify(text)}: ${message}` }] }))

/**
 * Checks an abbreviation: 4 to 32 hex digits, dashes anywhere ignored, any
 * case. Anything else is a `DecodeFailure`.
 */
export const parse = (text: string): Either.Either<IdAbbreviation, DecodeFailure> => {
  if (typeof text !== "string") return refuse(`(a ${text === null ? "null" : typeof text})`, "expected a string of hex digits")
  const digits = text.replace(/-/g, "").toLowerCase()
  if (!/^[0-9a-f]*$/.test(digits)) return refuse(text, "expected hex digits (0-9, a-f), dashes allowed")
  if (digits.length < MIN_PREFIX_DIGITS || digits.length > 32) {
    return refuse(text, `expected ${MIN_PREFIX_DIGITS} to 32 hex digits`)
  }
  const ending = digits.length < SHORT_ID_DIGITS
    ? null
    // Lay the digits out at the end of a UUID; what precedes them is unknown.
    : { shortId: shortId(digits), text: layout(digits.padStart(32, "?")).replace(/^[?-]+/, "") }
  return Either.right({
    digits,
    first: layout(digits.padEnd(32, "0")),
    last: layout(digits.padEnd(32, "f")),
    ending
  })
}
