/** Decoding untrusted input into domain values, failing with `DecodeFailure`. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { nestedDeeperThan, tooDeepMessage } from "./depth.js"
import { DecodeFailure } from "./Errors.js"

/**
 * Decodes `input` with `schema`, reporting every problem (not just the first)
 * as a `DecodeFailure` named after `subject`. Input nested more than
 * `MAX_DEPTH` levels is refused before the (recursive) decode can overflow.
 */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>, subject: string) => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  return (input: unknown): Effect.Effect<A, DecodeFailure> =>
    nestedDeeperThan(input)
      ? Effect.fail(new DecodeFailure({ subject, issues: [{ path: "", message: tooDeepMessage }] }))
      : Effect.mapError(decode(input), (error) => DecodeFailure.fromParseError(subject, error))
}
