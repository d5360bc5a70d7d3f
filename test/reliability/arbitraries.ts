/**
 * Hostile inputs for the fuzzing part of the campaign (issue 8, part 4), as
 * fast-check arbitraries (Effect's `FastCheck`): random JSON and arbitrary JS
 * values, near misses of valid strings, huge / negative / non-finite numbers,
 * deep nesting, lone UTF-16 surrogates and SQL-injection strings — and valid
 * inputs with one or more fields replaced by those.
 */
import * as fc from "effect/FastCheck"

/** Strings that would do damage if they were ever spliced into SQL. */
export const injections: ReadonlyArray<string> = [
  "'; DROP TABLE ai_jobs; --",
  "\" OR 1=1 --",
  "' OR '1'='1",
  "1; DELETE FROM flight_recorder_events; --",
  "Robert'); DROP TABLE workflow_runs;--",
  "'); DELETE FROM flight_recorder_retention_grants; INSERT INTO flight_recorder_retention_grants VALUES ('9999-12-31T23:59:59.999Z'); --",
  "' UNION SELECT name, sql FROM sqlite_master --",
  "'; SELECT pg_sleep(10); --",
  "$1",
  "?",
  "?1",
  ":name",
  "\\'; DROP TABLE ai_jobs; --",
  "*/ DROP TABLE ai_jobs /*",
  "'||(SELECT sqlite_version())||'",
  "E'\\x27; DROP TABLE ai_jobs; --",
  "$$; DROP TABLE ai_jobs; $$",
  "\"; UPDATE ai_jobs SET status = 'completed'; --"
]

/** An injection with U+0000, which PostgreSQL text cannot hold: the domain refuses it on every dialect. */
export const nulInjection = "\u0000'; DROP TABLE ai_jobs; --"

/** Lone and misordered UTF-16 surrogates: not valid Unicode, legal in a JS string. */
export const surrogates: ReadonlyArray<string> = ["\uD800", "\uDBFF", "\uDC00", "\uDFFF", "a\uD83Db", "\uDE00\uD83D", "x\uDFFFy\uD800z"]

const edgeNumbers: ReadonlyArray<number> = [
  0, -0, -1, 1, 0.5, -0.5, 1.5, 1e-300, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
  2 ** 31, 2 ** 32 - 1, 2 ** 32, 4294967295.5, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, Number.MAX_VALUE, Number.MIN_VALUE
]

/** Huge, negative, fractional, non-finite numbers, and bigints. */
export const evilNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...edgeNumbers),
  fc.double(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt()
)

const oddStrings = ["", " ", "\n", "\t", "null", "undefined", "true", "0", "-1", "NaN", "[]", "{}", "\u200b", "\uFEFF", "é", "e\u0301"]

/** Random text of every kind, injections and surrogates included. */
export const evilString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.fullUnicodeString(),
  fc.string16bits(),
  fc.constantFrom(...injections, nulInjection),
  fc.constantFrom(...surrogates),
  fc.constantFrom(...oddStrings)
)

/** `value` wrapped `depth` times in arrays or objects. */
export const nest = (depth: number, kind: "array" | "object", value: unknown = "leaf"): unknown => {
  let current = value
  for (let i = 0; i < depth; i++) current = kind === "array" ? [current] : { k: current }
  return current
}

/** Nesting the decoders are expected to handle (see the deep-nesting test for deeper). */
export const MAX_FUZZ_DEPTH = 500

/** Deeply nested arrays or objects, up to `MAX_FUZZ_DEPTH`. */
export const deep: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 2, max: MAX_FUZZ_DEPTH }), fc.constantFrom("array" as const, "object" as const))
  .map(([depth, kind]) => nest(depth, kind))

/** Any value: JSON, arbitrary JS values (maps, dates, typed arrays, null prototypes, boxed values), numbers, strings, nesting. */
export const evilValue: fc.Arbitrary<unknown> = fc.oneof(
  evilString,
  evilNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
    withBoxedValues: true,
    withObjectString: true
  }),
  deep
)

type Mutation = (value: string, n: number) => string
const homoglyphs: Record<string, string> = { a: "\u0430", e: "\u0435", o: "\u043e", c: "\u0441", p: "\u0440", i: "\u0456" }
const mutations: ReadonlyArray<Mutation> = [
  (v) => v.toUpperCase(),
  (v) => v.charAt(0).toUpperCase() + v.slice(1),
  (v) => ` ${v}`,
  (v) => `${v} `,
  (v) => `${v}\n`,
  (v) => `${v}\u0000`,
  (v) => `\u200b${v}`,
  (v) => `${v}\uD800`,
  (v, n) => v.slice(0, n % Math.max(1, v.length)) + v.slice((n % Math.max(1, v.length)) + 1),
  (v, n) => v.slice(0, n % (v.length + 1)) + "x" + v.slice(n % (v.length + 1)),
  (v, n) => {
    const i = n % Math.max(1, v.length)
    return v.slice(0, i) + (homoglyphs[v.charAt(i)] ?? "\u00e9") + v.slice(i + 1)
  },
  (v) => v.replace(/_/g, "-"),
  (v) => v.replace(/_/g, ""),
  (v) => `${v}s`,
  (v) => `"${v}"`,
  (v) => `'${v}'`,
  (v) => v.replace(/-/g, ""),
  (v) => `{${v}}`
]

/** Strings one small edit away from a valid one. */
export const nearMiss = (valid: ReadonlyArray<string>): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.constantFrom(...mutations)).map(([value, n, mutate]) => mutate(value, n))

/** For a field: one of its valid values, a near miss of them, or anything at all. */
export const fieldValue = (valid: ReadonlyArray<unknown>): fc.Arbitrary<unknown> => {
  const strings = valid.filter((v): v is string => typeof v === "string" && v.length > 0)
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...valid) },
    ...(strings.length > 0 ? [{ weight: 3, arbitrary: nearMiss(strings) as fc.Arbitrary<unknown> }] : []),
    { weight: 3, arbitrary: evilValue }
  )
}

const sneakyKeys = ["__proto__", "constructor", "prototype", "toString", "valueOf", "then", "_tag"]

/**
 * Objects near a valid `base`: unchanged, with fields replaced (by valid,
 * near-miss or hostile values), fields removed, extra keys added, or the
 * whole value replaced by something else entirely.
 */
export const mutated = (base: Readonly<Record<string, unknown>>, valid: Readonly<Record<string, ReadonlyArray<unknown>>>): fc.Arbitrary<unknown> => {
  const keys = [...new Set([...Object.keys(base), ...Object.keys(valid)])]
  const valueFor = (key: string) => fieldValue(valid[key] ?? (key in base ? [base[key]] : [null]))
  const replaced = fc.subarray(keys, { minLength: 1, maxLength: Math.min(3, keys.length) }).chain((chosen) =>
    fc.tuple(...chosen.map(valueFor)).map((values) => {
      const copy: Record<string, unknown> = { ...base }
      chosen.forEach((key, i) => {
        copy[key] = values[i]
      })
      return copy as unknown
    }))
  const removed = fc.constantFrom(...Object.keys(base)).map((key) => {
    const copy: Record<string, unknown> = { ...base }
    delete copy[key]
    return copy as unknown
  })
  const extra = fc.tuple(fc.oneof(fc.constantFrom(...sneakyKeys), evilString), evilValue).map(([key, value]) => {
    const copy: Record<string, unknown> = { ...base }
    // defineProperty: "__proto__" becomes an own key, as JSON.parse makes it.
    Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true })
    return copy as unknown
  })
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(base as unknown) },
    { weight: 8, arbitrary: replaced },
    { weight: 1, arbitrary: removed },
    { weight: 1, arbitrary: extra },
    { weight: 1, arbitrary: evilValue }
  )
}

/** A 10 MB string of `unit` repeated (a few per decoder: they are expensive). */
export const tenMegabytes = (unit: string): string => unit.repeat(Math.ceil(10 * 1024 * 1024 / unit.length))
