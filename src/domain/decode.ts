/** Decoding untrusted input into domain values, failing with `DecodeFailure`. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "./Errors.js"

/**
 * Decodes `input` with `schema`, reporting every problem (not just the first)
 * as a `DecodeFailure` named after `subject`.
 */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>, subject: string) => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  return (input: unknown): Effect.Effect<A, DecodeFailure> =>
    Effect.mapError(decode(input), (error) => DecodeFailure.fromParseError(subject, error))
}
