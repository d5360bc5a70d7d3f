/** Decoding untrusted input into domain values, failing with `DecodeFailure`. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { MAX_DEPTH, nestedDeeperThan, tooDeep } from "./depth.js"
import { DecodeFailure, readThrew } from "./Errors.js"

/**
 * Decodes `input` with `schema`, reporting every problem (not just the first)
 * as a `DecodeFailure` named after `subject`. Input nested more than
 * `maxDepth` levels (`MAX_DEPTH` unless told) is refused before the
 * (recursive) decode can overflow.
 */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>, subject: string, maxDepth: number = MAX_DEPTH) => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  return (input: unknown): Effect.Effect<A, DecodeFailure> => {
    if (nestedDeeperThan(input, maxDepth)) {
      return Effect.fail(new DecodeFailure({ subject, issues: [{ path: "", message: tooDeep(maxDepth) }] }))
    }
    try {
      return Effect.mapError(decode(input), (error) => DecodeFailure.fromParseError(subject, error))
    } catch (error) {
      // Schema reads the caller's fields and lets what they throw (a getter, a Proxy trap) escape:
      // bad input, a typed refusal, not a defect. (Json refuses such a payload itself, naming its path.)
      return Effect.fail(new DecodeFailure({ subject, issues: [{ path: "", message: readThrew(error) }] }))
    }
  }
}
