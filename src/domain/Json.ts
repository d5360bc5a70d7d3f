/** JSON values, as stored in payload columns (job inputs and outputs, node payloads). */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Text } from "./Text.js"

/** A JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

// JSON.parse gives an object an own "__proto__" key, but copying it into a new
// object sets the prototype instead: the key would vanish silently. Refuse it.
const SafeKey = Text.pipe(Schema.filter((key) => key !== "__proto__"))

const JsonObject = Schema.transformOrFail(
  Schema.Unknown,
  Schema.Record({ key: SafeKey, value: Schema.suspend((): Schema.Schema<Json> => Json) }),
  {
    // The input is only checked, not changed: the Record schema then decodes it.
    strict: false,
    decode: (input, _, ast) =>
      typeof input === "object" && input !== null && Object.prototype.hasOwnProperty.call(input, "__proto__")
        ? ParseResult.fail(new ParseResult.Type(ast, input, "The key \"__proto__\" is not allowed in a JSON payload"))
        : ParseResult.succeed(input),
    encode: ParseResult.succeed
  }
)

/** Any JSON value; numbers must be finite (JSON has no NaN or Infinity); no `__proto__` keys; no U+0000 (see Text). */
export const Json = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.Finite,
  Text,
  Schema.Array(Schema.suspend((): Schema.Schema<Json> => Json)),
  JsonObject
).annotations({ identifier: "Json" }) as unknown as Schema.Schema<Json>
