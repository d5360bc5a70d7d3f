/** JSON values, as stored in payload columns (job inputs and outputs, node payloads, event bodies). */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import { nestedDeeperThan, tooDeepMessage } from "./depth.js"
import { isStorable, Text } from "./Text.js"

/** A JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A JSON object: an event body, say. */
export type JsonObject = { readonly [key: string]: Json }

// Keys are checked by `refuseBadKeys` below, never by the Record's key schema:
// a key that fails a Record's key schema is not an error, it is skipped, and
// the default `onExcessProperty: "ignore"` then drops it without a word.
// (The key's arbitrary, for property tests, makes only keys that pass that check.)
const JsonKey = Schema.String.annotations({
  arbitrary: () => (fc) => fc.string().filter((key) => badKeyReason(key) === null)
})
const JsonRecord = Schema.Record({ key: JsonKey, value: Schema.suspend((): Schema.Schema<Json> => JsonTree) })

const JsonTree: Schema.Schema<Json> = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.Finite,
  Text,
  Schema.Array(Schema.suspend((): Schema.Schema<Json> => JsonTree)),
  JsonRecord
) as unknown as Schema.Schema<Json>

/**
 * Why a key can't be stored, or null if it can. JSON.parse gives an object an
 * own "__proto__" key, but copying it into a new object sets the prototype
 * instead: the key would vanish. U+0000 and lone surrogates: see Text.
 */
const badKeyReason = (key: string): string | null =>
  key === "__proto__"
    ? "The key \"__proto__\" is not allowed in a JSON payload"
    : isStorable(key)
    ? null
    : `The key ${JSON.stringify(key)} contains U+0000 (NUL) or a lone UTF-16 surrogate, which cannot be stored`

/**
 * The first key anywhere in `value` that can't be stored, with the path of
 * the object holding it (the key itself stays out of the path: it is not
 * storable text, and error messages are stored). Iterative; depth is checked first.
 */
const firstBadKey = (value: unknown): { readonly path: ReadonlyArray<PropertyKey>; readonly message: string } | null => {
  const stack: Array<readonly [unknown, ReadonlyArray<PropertyKey>]> = [[value, []]]
  while (stack.length > 0) {
    const [current, path] = stack.pop()!
    if (typeof current !== "object" || current === null) continue
    if (Array.isArray(current)) {
      current.forEach((item, index) => stack.push([item, [...path, index]]))
      continue
    }
    for (const key of Object.keys(current)) {
      const reason = badKeyReason(key)
      if (reason !== null) return { path, message: reason }
      stack.push([(current as Record<string, unknown>)[key], [...path, key]])
    }
  }
  return null
}

/** Depth, then keys: both before the recursive decode, in both directions, so no key is ever dropped. */
const checked = (value: unknown, ast: AST.AST) => {
  if (nestedDeeperThan(value)) return ParseResult.fail(new ParseResult.Type(ast, value, tooDeepMessage))
  const bad = firstBadKey(value)
  if (bad === null) return ParseResult.succeed(value)
  const issue = new ParseResult.Type(ast, value, bad.message)
  const [first, ...rest] = bad.path
  return ParseResult.fail(first === undefined ? issue : new ParseResult.Pointer([first, ...rest], value, issue))
}

/**
 * Any JSON value; numbers must be finite (JSON has no NaN or Infinity); no
 * `__proto__` keys; no U+0000 or lone surrogates in strings or keys (see
 * Text); at most `MAX_DEPTH` levels deep. A bad key is refused, never dropped.
 */
export const Json = Schema.transformOrFail(Schema.Unknown, JsonTree, {
  strict: false,
  decode: (input, _, ast) => checked(input, ast),
  encode: (value, _, ast) => checked(value, ast)
}).annotations({ identifier: "Json" }) as unknown as Schema.Schema<Json>

/** A JSON object (not an array), under the same rules as `Json`. */
export const JsonObject = Schema.transformOrFail(Schema.Unknown, JsonRecord, {
  strict: false,
  decode: (input, _, ast) =>
    Array.isArray(input) ? ParseResult.fail(new ParseResult.Type(ast, input, "Expected a JSON object, actual an array")) : checked(input, ast),
  encode: (value, _, ast) => checked(value, ast)
}).annotations({ identifier: "JsonObject" }) as unknown as Schema.Schema<JsonObject>
