/**
 * JSON values, as stored in payload columns (job inputs and outputs, node
 * payloads, event bodies).
 *
 * One walk over the value does all the checking, in both directions, and
 * gives a fresh copy: finite numbers only (JSON has no NaN or Infinity), no
 * holes in arrays, no
 * U+0000 or lone surrogate in strings or keys (see Text), no `__proto__` key,
 * at most `MAX_DEPTH` levels. A bad key is refused, never dropped — which a
 * `Schema.Record` would do silently: a key failing its key schema is skipped
 * and `onExcessProperty: "ignore"` then loses it. (A walk rather than a
 * recursive union of schemas also makes payloads cheap to check: the port
 * decodes every one it is given.)
 *
 * For the same reason nothing JSON text would lose is taken: an array's
 * named (non-index) properties, an enumerable symbol key (on an object too,
 * as an `undefined` or function value is refused, not left out as
 * `JSON.stringify` would), an object whose JSON form is its `toJSON`'s
 * rather than its fields. And a caller's value that throws while it is read
 * (a getter, a Proxy trap) is refused where it threw, as bad input, not a
 * defect.
 *
 * A value a caller gives to be stored (`JsonPayload`) is bounded in size as
 * well: at most `MAX_JSON_BYTES` of JSON text, the same on both stores (see
 * there). Values read back are not: a row written before the bound still reads.
 */
import * as Either from "effect/Either"
import type * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import { MAX_DEPTH, nestedDeeperThan, tooDeepMessage } from "./depth.js"
import { readThrew } from "./Errors.js"
import { isStorable } from "./Text.js"

/** A JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A JSON object: an event body, say. */
export type JsonObject = { readonly [key: string]: Json }

/**
 * The most JSON text, in UTF-8 bytes (`JSON.stringify`'s form), one value a
 * caller gives to be stored may hold: 32 MiB. PostgreSQL's `jsonb` holds no
 * string of 2^28 bytes or more, and no array or object whose elements take
 * 2^28 bytes or more in its binary form — up to six times the text (`[0,0,…]`:
 * two bytes of text, twelve of `jsonb` per element) — and V8's longest string
 * is 2^29 − 24 characters. 32 MiB of text stays under all three, so a value
 * one store takes the other takes too; past it, both refuse it alike.
 */
export const MAX_JSON_BYTES = 32 * 1024 * 1024

/**
 * Bounds on a value's JSON text size in UTF-8 bytes, summed during the walk at
 * a few additions a node: `min` counts each character of text once and each
 * number as one digit, `max` each character as six (`\u001f`) and each
 * number as 24 (`-1.7976931348623157e+308`).
 */
interface Size {
  min: number
  max: number
}

/** Why a value was refused, and where. */
class Refused {
  constructor(readonly path: ReadonlyArray<PropertyKey>, readonly actual: unknown, readonly message: string) {}
}

/**
 * Why a key can't be stored, or null if it can. JSON.parse gives an object an
 * own "__proto__" key, but copying it into a new object sets the prototype
 * instead: the key would vanish. U+0000 and lone surrogates: see Text. The
 * message quotes the key escaped (error messages are stored too).
 */
const badKeyReason = (key: string): string | null =>
  key === "__proto__"
    ? "The key \"__proto__\" is not allowed in a JSON payload"
    : isStorable(key)
    ? null
    : `The key ${JSON.stringify(key)} contains U+0000 (NUL) or a lone UTF-16 surrogate, which cannot be stored`

const kindOf = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value)

/**
 * A boxed primitive (`new Number(5)`, `new String("ab")`, `Object(1n)`), named; undefined for any
 * other object. Its value is in an internal slot: copied key by key, a Number or Boolean is `{}` and
 * a String `{"0": "a", "1": "b"}`. Told by the brand check each `valueOf` makes (it throws on any
 * other object), which no prototype trick or `Symbol.toStringTag` fools.
 */
const boxedKind = (value: object): string | undefined => {
  for (const [name, valueOf] of BOXED) {
    try {
      valueOf.call(value)
      return `a boxed ${name} (new ${name}(…)): pass the ${name.toLowerCase()} itself`
    } catch {
      // not this kind
    }
  }
  return undefined
}
const BOXED: ReadonlyArray<readonly [string, () => unknown]> = [
  ["Number", Number.prototype.valueOf],
  ["String", String.prototype.valueOf],
  ["Boolean", Boolean.prototype.valueOf],
  ["BigInt", BigInt.prototype.valueOf],
  ["Symbol", Symbol.prototype.valueOf]
]

/**
 * A built-in object whose content is not in its own enumerable keys, named; undefined for any
 * other object. Copied key by key, a Date, a Map or a Set would be stored as `{}`, a Buffer as
 * `{"0": …}`, a boxed primitive or an Error as `{}` (a String as its characters): refused
 * instead, as a bigint is. Plain objects (and class instances, whose fields are their keys) are
 * copied; a class's `#private` fields cannot be seen from outside it, so they are not kept.
 */
const opaqueKind = (value: object): string | undefined => {
  const prototype: unknown = Object.getPrototypeOf(value)
  if (prototype === Object.prototype || prototype === null) return undefined
  if (value instanceof Date) return "a Date (convert it, e.g. with toISOString())"
  const boxed = boxedKind(value)
  if (boxed !== undefined) return boxed
  // Its message and stack are its own keys, but not enumerable ones: copied, it is `{}`.
  if (value instanceof Error) return "an Error (pass what it says instead, e.g. { message: error.message })"
  if (value instanceof Map) return "a Map"
  if (value instanceof Set) return "a Set"
  if (value instanceof RegExp) return "a RegExp"
  if (value instanceof Promise) return "a Promise"
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) return "a weak collection or reference"
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return "binary data (a Buffer, typed array or ArrayBuffer)"
  // JSON text holds what its toJSON returns (an Effect Option's `_tag` lives on its prototype): its own fields are not it.
  if (typeof (value as { readonly toJSON?: unknown }).toJSON === "function") {
    return "an object with a toJSON method (its JSON form is what toJSON returns, not its fields: pass that instead)"
  }
  return undefined
}

/**
 * Why `value`'s own keys lose data when copied as JSON, or undefined: an
 * enumerable symbol key (JSON text has none) or, on an array, an enumerable
 * named property (JSON text keeps only the elements). Arrays count their keys
 * only when they have more than their elements (holes are refused before).
 */
const lostKeysReason = (value: object, isArray: boolean): string | undefined => {
  if (isArray) {
    const keys = Object.keys(value)
    const length = (value as ReadonlyArray<unknown>).length
    if (keys.length > length) {
      const named = keys.filter((key) => !(/^(?:0|[1-9]\d*)$/.test(key) && Number(key) < length))
      return `An array's named properties (${named.slice(0, 3).map((key) => JSON.stringify(key)).join(", ")}${named.length > 3 ? ", …" : ""}) are not JSON: they would be lost`
    }
  }
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) {
      return `A symbol key (${String(symbol)}) is not JSON: it would be lost`
    }
  }
  return undefined
}

/** A checked copy of `value`; throws `Refused`, and only that. Recursion is safe: each object is refused at `MAX_DEPTH` before it is entered. */
const copy = (value: unknown, path: ReadonlyArray<PropertyKey>, size: Size): Json => {
  switch (typeof value) {
    case "boolean":
      size.min += 5
      size.max += 5
      return value
    case "number":
      // JSON text has no -0 (it writes "0"): the copy says 0, as the stored value will.
      if (Number.isFinite(value)) {
        size.min += 1
        size.max += 24
        return value === 0 ? 0 : value
      }
      throw new Refused(path, value, `Expected a finite number (JSON has no NaN or Infinity), actual ${value}`)
    case "string":
      if (isStorable(value)) {
        size.min += value.length + 2
        size.max += 6 * value.length + 2
        return value
      }
      throw new Refused(path, value, "Text must not contain U+0000 (NUL) or a lone UTF-16 surrogate: neither can be stored as UTF-8 text")
    case "object": {
      if (value === null) {
        size.min += 4
        size.max += 4
        return null
      }
      // `walk` names a value nested too deep at its top; here, where a value that reads differently twice (a Proxy) deepens.
      if (path.length >= MAX_DEPTH) throw new Refused(path, value, tooDeepMessage)
      try {
        return copyObject(value, path, size)
      } catch (error) {
        if (error instanceof Refused) throw error
        throw new Refused(path, undefined, readThrew(error))
      }
    }
    default:
      throw new Refused(path, value, `Expected a JSON value (null, a boolean, a finite number, text, an array or an object), actual ${kindOf(value)}`)
  }
}

/** `object[key]`; a read that throws (a getter) is refused at the key's path. */
const read = (object: object, key: string | number, path: ReadonlyArray<PropertyKey>): unknown => {
  try {
    return (object as Record<string | number, unknown>)[key]
  } catch (error) {
    throw new Refused(path, undefined, readThrew(error))
  }
}

/** A checked copy of an array or object (see `copy`); a read that throws escapes to `copy`, which refuses it. */
const copyObject = (value: object, path: ReadonlyArray<PropertyKey>, size: Size): Json => {
  const isArray = Array.isArray(value)
  const lost = lostKeysReason(value, isArray)
  if (lost !== undefined) throw new Refused(path, value, lost)
  if (isArray) {
    // Not `map`: it skips holes and keeps them, and JSON text would turn
    // each into null behind the caller's back. A hole is refused instead.
    const out: Array<Json> = new Array(value.length)
    // Brackets and commas.
    const punctuation = value.length === 0 ? 2 : value.length + 1
    size.min += punctuation
    size.max += punctuation
    for (let index = 0; index < value.length; index++) {
      const at = [...path, index]
      if (!(index in value)) throw new Refused(at, undefined, "Expected a JSON value, actual a hole (a missing array element)")
      out[index] = copy(read(value, index, at), at, size)
    }
    return out
  }
  const opaque = opaqueKind(value)
  if (opaque !== undefined) {
    throw new Refused(path, value, `Expected a JSON value (null, a boolean, a finite number, text, an array or an object), actual ${opaque}`)
  }
  const out: Record<string, Json> = {}
  // Braces, and a comma before each key but the first.
  size.min += 1
  size.max += 1
  for (const key of Object.keys(value)) {
    const reason = badKeyReason(key)
    // The path stops at the object: the bad key itself is not storable text.
    if (reason !== null) throw new Refused(path, value, reason)
    const at = [...path, key]
    // Quotes, colon and a comma (or the first key's brace).
    size.min += key.length + 4
    size.max += 6 * key.length + 4
    out[key] = copy(read(value, key, at), at, size)
  }
  return out
}

/** UTF-8 bytes of `text` (a well-formed string: JSON.stringify escapes any lone surrogate). */
const utf8Length = (text: string): number => {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    // Two bytes below U+0800, three up to U+FFFF; a surrogate pair (two units) is four bytes.
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xD800 && unit <= 0xDFFF) ? 1 : 2
  }
  return bytes
}

const tooLargeMessage = (actual: string) =>
  `Expected JSON of at most ${MAX_JSON_BYTES} bytes (32 MiB) as text, the most a stored value may hold, actual ${actual}`

/**
 * Why `json` is past `MAX_JSON_BYTES`, or undefined. The walk's bounds decide
 * nearly every value; only one whose bounds straddle the limit (a few MiB of
 * text or more) is written out to be measured.
 */
const sizeRefusal = (json: Json, size: Size): string | undefined => {
  if (size.max <= MAX_JSON_BYTES) return undefined
  if (size.min > MAX_JSON_BYTES) return tooLargeMessage(`at least ${size.min} bytes`)
  let text: string
  try {
    text = JSON.stringify(json)
  } catch (error) {
    // Longer than V8's longest string.
    if (error instanceof RangeError) return tooLargeMessage("more than JavaScript's longest string")
    throw error
  }
  if (text.length * 3 <= MAX_JSON_BYTES) return undefined
  const bytes = text.length > MAX_JSON_BYTES ? text.length : utf8Length(text)
  return bytes > MAX_JSON_BYTES ? tooLargeMessage(`${text.length > MAX_JSON_BYTES ? "at least " : ""}${bytes} bytes`) : undefined
}

/** The checked copy of `value`, or why it was refused; `bounded`: no larger than `MAX_JSON_BYTES` either. */
const walk = (value: unknown, objectOnly: boolean, bounded: boolean): { readonly json: Json } | Refused => {
  if (objectOnly && (typeof value !== "object" || value === null || Array.isArray(value))) {
    return new Refused([], value, `Expected a JSON object, actual ${kindOf(value)}`)
  }
  const size: Size = { min: 0, max: 0 }
  let json: Json
  try {
    // One walk: the copy bounds the depth as it goes, so a value it takes is within MAX_DEPTH.
    json = copy(value, [], size)
  } catch (error) {
    if (!(error instanceof Refused)) throw error
    // A value nested too deep is refused as such, wherever else it is bad: looked for only once it is refused
    // (a second walk of every value made a large one cost twice — found by an outside attacker's probe).
    return nestedDeeperThan(value, MAX_DEPTH) ? new Refused([], value, tooDeepMessage) : error
  }
  const tooLarge = bounded ? sizeRefusal(json, size) : undefined
  return tooLarge === undefined ? { json } : new Refused([], undefined, tooLarge)
}

/**
 * The checked copy of a JSON value, or undefined when `Json` refuses it: what
 * `Json`'s decode gives, without the Schema around it (a store's row decode, h50).
 */
export const checkedJson = (value: unknown): Json | undefined => {
  const result = walk(value, false, false)
  return result instanceof Refused ? undefined : result.json
}

/** `checkedJson` for a value a caller gives to be stored: undefined past `MAX_JSON_BYTES` too (`JsonPayload`'s decode). */
export const checkedJsonPayload = (value: unknown): Json | undefined => {
  const result = walk(value, false, true)
  return result instanceof Refused ? undefined : result.json
}

const check = <A extends Json>(
  value: unknown,
  ast: AST.AST,
  objectOnly: boolean,
  bounded: boolean
): Either.Either<A, ParseResult.ParseIssue> => {
  const result = walk(value, objectOnly, bounded)
  if (!(result instanceof Refused)) return Either.right(result.json as A)
  const issue = new ParseResult.Type(ast, result.actual, result.message)
  const [first, ...rest] = result.path
  return Either.left(first === undefined ? issue : new ParseResult.Pointer([first, ...rest], value, issue))
}

/** Structural equality of two JSON values (depth is bounded by the schema). */
const equals = (a: Json, b: Json): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => equals(item, b[i] as Json))
  }
  const keys = Object.keys(a)
  const other = b as JsonObject
  return keys.length === Object.keys(other).length &&
    keys.every((key) => Object.prototype.hasOwnProperty.call(other, key) && equals((a as JsonObject)[key] as Json, other[key] as Json))
}

const declaration = <A extends Json>(identifier: string, objectOnly: boolean, bounded = false) =>
  Schema.declare<A, A, readonly []>([], {
    decode: () => (input, _, ast) => check<A>(input, ast, objectOnly, bounded),
    encode: () => (input, _, ast) => check<A>(input, ast, objectOnly, bounded)
  }, {
    identifier,
    // For OpenAPI and JSON Schema (the HTTP API documents job inputs and outputs this way).
    jsonSchema: objectOnly
      ? { type: "object", description: "A JSON object; keys without U+0000 or lone surrogates, not __proto__" }
      : {
        description: "Any JSON value; finite numbers, text without U+0000 or lone surrogates, no __proto__ keys",
        anyOf: [{ type: "null" }, { type: "boolean" }, { type: "number" }, { type: "string" }, { type: "array" }, { type: "object" }]
      },
    arbitrary: () => (fc) =>
      fc.jsonValue({ maxDepth: 3 }).filter((value) => !(walk(value, objectOnly, bounded) instanceof Refused)) as unknown as FastCheck.Arbitrary<A>,
    equivalence: () => equals,
    // Pretty.make on a schema holding JSON (AiJob, FlightEvent…) threw without it.
    pretty: () => (value) => JSON.stringify(value)
  })

/**
 * Any JSON value; numbers must be finite; no `__proto__` keys; no U+0000 or
 * lone surrogates in strings or keys (see Text); at most `MAX_DEPTH` levels
 * deep. A bad key is refused, never dropped. Decodes to a fresh copy.
 */
export const Json: Schema.Schema<Json> = declaration<Json>("Json", false)

/** A JSON object (not an array), under the same rules as `Json`. */
export const JsonObject: Schema.Schema<JsonObject> = declaration<JsonObject>("JsonObject", true)

/**
 * A JSON value a caller gives to be stored (job inputs and outputs, node
 * payloads, event bodies at the store's port): `Json`, and at most
 * `MAX_JSON_BYTES` of JSON text, so both stores take the same values.
 */
export const JsonPayload: Schema.Schema<Json> = declaration<Json>("JsonPayload", false, true)

/** A JSON object a caller gives to be stored (an event's body), under `JsonPayload`'s rules. */
export const JsonObjectPayload: Schema.Schema<JsonObject> = declaration<JsonObject>("JsonObjectPayload", true, true)
