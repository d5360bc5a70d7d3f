/**
 * Raw JSON values for the JSON-list columns (entity_refs, planned_operations)
 * that the domain refuses or reads, shared by the SQLite and PostgreSQL
 * constraint tests so both databases are held to the same cases (0020–0022).
 */
/** entity_refs whose text NonEmptyText refuses, as JSON escapes (JSON text cannot hold them raw): PostgreSQL's jsonb refuses each. */
export const unstorableRefs: ReadonlyArray<readonly [string, string]> = [
  ["U+0000 in an entity_id", "[{\"entity_id\":\"a\\u0000b\",\"entity_kind\":\"doc\"}]"],
  ["a lone high surrogate in an entity_kind", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\\ud800\"}]"],
  ["a lone low surrogate, upper-case hex", "[{\"entity_id\":\"\\uDC00\",\"entity_kind\":\"doc\"}]"],
  ["a surrogate pair in the wrong order", "[{\"entity_id\":\"\\ude00\\ud83d\",\"entity_kind\":\"doc\"}]"],
  ["a lone surrogate in a second element", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},{\"entity_id\":\"\\udbff\",\"entity_kind\":\"doc\"}]"]
]
/** Escapes the domain reads as storable text: each must be taken. */
export const storableRefs: ReadonlyArray<string> = [
  "[{\"entity_id\":\"\\ud83d\\ude00\",\"entity_kind\":\"doc\"}]",
  "[{\"entity_id\":\"\\ud55c\\uD7FF\\ue000\",\"entity_kind\":\"\\u00e9\"}]",
  "[{\"entity_id\":\"\\\\u0000 \\\\ud800\",\"entity_kind\":\"doc\"}]"
]

/** planned_operations the domain's PlannedOperation array refuses (0022). */
export const badOperations: ReadonlyArray<readonly [string, string]> = [
  ["an element that is a number", "[1]"],
  ["an empty object", "[{}]"],
  ["no target", "[{\"op_type\":\"read\"}]"],
  ["an unknown op_type", "[{\"op_type\":\"delete\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"}}]"],
  ["a numeric op_type", "[{\"op_type\":1,\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"}}]"],
  ["a target that is a string", "[{\"op_type\":\"read\",\"target\":\"doc\"}]"],
  ["a target in an array", "[{\"op_type\":\"read\",\"target\":[{\"entity_id\":\"d\",\"entity_kind\":\"doc\"}]}]"],
  ["a target with an empty entity_id", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"\",\"entity_kind\":\"doc\"}}]"],
  ["a target with an extra key", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\",\"x\":1}}]"],
  ["an extra key", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"x\":1}]"],
  ["a numeric description", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"description\":5}]"],
  ["op_type named twice, the last unknown", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"op_type\":\"delete\"}]"],
  ["a bad element after a good one", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"}},1]"]
]
export const unstorableOperations: ReadonlyArray<readonly [string, string]> = [
  ["U+0000 in a description", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"description\":\"a\\u0000\"}]"],
  ["a lone surrogate in a target's entity_kind", "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"\\udfff\"}}]"]
]
/** Every op type, a description given, null (read as absent), empty or left out: each is taken. */
export const goodOperations: ReadonlyArray<string> = [
  "[{\"op_type\":\"read\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"}},{\"op_type\":\"write\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"description\":\"edit it\"}]",
  "[{\"op_type\":\"plan\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"description\":null},{\"op_type\":\"execute\",\"target\":{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},\"description\":\"\"}]"
]

/**
 * JSON numbers past a double (0023): JSON.parse reads each as ±Infinity, which
 * no JSON value the domain holds is, so the store read the row as CorruptRow.
 * A number is past a double from 2^1024 − 2^970 on (the half-way point above
 * Number.MAX_VALUE, which rounds up). Each is the JSON of one value, to be
 * put where a number may stand.
 */
/** 2^1024 - 2^970: from here on JSON.parse gives Infinity (SQLite's own reading rounds it down: 0023 compares its digits). */
export const halfWayAboveMax: string = (2n ** 1024n - 2n ** 970n).toString()

export const pastDoubleNumbers: ReadonlyArray<readonly [string, string]> = [
  ["1e400", "1e400"],
  ["-1e400", "-1e400"],
  ["an upper-case E with a plus sign", "1E+309"],
  ["an exponent with leading zeros", "1e0400"],
  ["a fraction with a large exponent", "0.5e310"],
  ["a 310-digit integer", `1${"0".repeat(309)}`],
  ["a 211-digit integer with a two-digit exponent", `1${"0".repeat(210)}e99`],
  ["just past the half-way point above the largest double", "1.797693134862315808e308"],
  ["the half-way point itself, spelt whole (2^1024 - 2^970: rounds to even, up)", halfWayAboveMax],
  ["the half-way point as a fraction with leading zeros and an exponent", `0.000${halfWayAboveMax}e312`],
  ["deep in an array in an object", "[1,{\"a\":[true,2e308]}]"]
]

/** Numbers a double holds (or rounds to zero), and strings that merely spell a large number: each is taken and read back. */
export const doubleNumbers: ReadonlyArray<readonly [string, string, unknown]> = [
  ["the largest double, as JSON.stringify writes it", "1.7976931348623157e+308", Number.MAX_VALUE],
  ["the largest double, negative", "-1.7976931348623157e308", -Number.MAX_VALUE],
  ["the smallest subnormal", "5e-324", 5e-324],
  ["a 309-digit integer below the largest double", `1${"0".repeat(308)}`, 1e308],
  ["one below the half-way point, spelt whole (SQLite and JSON.parse both read the largest double)", (2n ** 1024n - 2n ** 970n - 1n).toString(), Number.MAX_VALUE],
  ["just below the half-way point, in 301 digits", `${halfWayAboveMax.slice(0, 1)}.${halfWayAboveMax.slice(1, 299)}19e308`, Number.MAX_VALUE],
  ["a string spelling 1e400", "\"1e400\"", "1e400"],
  ["a key spelling e999", "{\"e999\":1,\"x\":\"release2024\"}", { e999: 1, x: "release2024" }]
]

/**
 * JSON text whose strings or keys decode to what the domain's JSON refuses
 * (U+0000, a lone UTF-16 surrogate), in a column holding any JSON: PostgreSQL's
 * jsonb refuses each on input; SQLite's 0023 refuses them as 0021 does in
 * entity refs. Each is the JSON of one value.
 */
export const unstorableJsonText: ReadonlyArray<readonly [string, string]> = [
  ["U+0000 in a string", "{\"a\":\"x\\u0000\"}"],
  ["a lone high surrogate in a string", "[\"\\ud800\"]"],
  ["a surrogate pair in the wrong order", "\"\\ude00\\ud83d\""],
  ["U+0000 in a key", "{\"a\\u0000\":1}"],
  ["a lone low surrogate in a key, deep", "{\"o\":[{\"\\uDC00\":1}]}"]
]
/** Escapes the domain reads as storable text: each is taken and read back. */
export const storableJsonText: ReadonlyArray<readonly [string, unknown]> = [
  ["{\"s\":\"\\ud83d\\ude00 \\u00e9 \\\\u0000\",\"\\ud55c\":\"\\u0001\"}", { s: "\ud83d\ude00 é \\u0000", "\ud55c": "\u0001" }]
]
