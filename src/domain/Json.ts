/** JSON values, as stored in payload columns (job inputs and outputs, node payloads). */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import { nestedDeeperThan, tooDeepMessage } from "./depth.js"
import { Text } from "./Text.js"

/** A JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

// JSON.parse gives an object an own "__proto__" key, but copying it into a new
// object sets the prototype instead: the key would vanish silently. Refuse it.
const SafeKey = Text.pipe(Schema.filter((key) => key !== "__proto__"))

const JsonObject = Schema.transformOrFail(
  Schema.Unknown,
  Schema.Record({ key: SafeKey, value: Schema.suspend((): Schema.Schema<Json> => JsonTree) }),
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

const JsonTree: Schema.Schema<Json> = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.Finite,
  Text,
  Schema.Array(Schema.suspend((): Schema.Schema<Json> => JsonTree)),
  JsonObject
) as unknown as Schema.Schema<Json>

const shallowEnough = (value: unknown, ast: AST.AST) =>
  nestedDeeperThan(value)
    ? ParseResult.fail(new ParseResult.Type(ast, value, tooDeepMessage))
    : ParseResult.succeed(value)

/**
 * Any JSON value; numbers must be finite (JSON has no NaN or Infinity); no
 * `__proto__` keys; no U+0000 or lone surrogates (see Text); at most
 * `MAX_DEPTH` levels deep, checked before the recursive decode, both ways.
 */
export const Json = Schema.transformOrFail(Schema.Unknown, JsonTree, {
  strict: false,
  decode: (input, _, ast) => shallowEnough(input, ast),
  encode: (value, _, ast) => shallowEnough(value, ast)
}).annotations({ identifier: "Json" }) as unknown as Schema.Schema<Json>
