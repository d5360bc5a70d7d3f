/**
 * Issue 16: `metricsInStoredForm`, the row decoders' hand-built reading of a
 * job's metrics column, is `JobMetrics`' decode only faster: for any metrics
 * the domain allows (as stored: all nine counters) it gives the Schema's
 * instance, equal and with its fields in the same order; for anything else
 * it answers `undefined` (the Schema decides) — never a value the Schema
 * would refuse or give differently.
 */
import { isDeepStrictEqual } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { JobMetrics, metricsInStoredForm, MetricNames } from "../../src/domain/JobMetrics.js"

const decode = Schema.decodeUnknownEither(JobMetrics)
const encode = Schema.encodeSync(JobMetrics)

/** The hand-built answer agrees with the Schema's, or leaves `value` to it. */
const agrees = (value: unknown): "fast" | "schema" => {
  const fast = metricsInStoredForm(value)
  if (fast === undefined) return "schema"
  const expected = decode(value)
  if (Either.isLeft(expected)) return assert.fail(`accepted what the Schema refuses: ${JSON.stringify(value)}`)
  assert.isTrue(fast instanceof JobMetrics)
  assert.isTrue(Equal.equals(fast, expected.right))
  assert.deepStrictEqual(Object.keys(fast), Object.keys(expected.right), "the same fields in the same order")
  assert.isTrue(isDeepStrictEqual({ ...fast }, { ...expected.right }))
  return "fast"
}

const full = Object.fromEntries(MetricNames.map((name, i) => [name, i * 1000 + 7]))

describe("issue 16 metrics read in their stored form", () => {
  it("issue 16 any metrics the domain allows, as stored (every counter, keys in any order), are read by hand", () => {
    FastCheck.assert(FastCheck.property(Arbitrary.make(JobMetrics), (metrics) => {
      const stored = encode(metrics)
      assert.strictEqual(agrees(stored), "fast")
      // jsonb keeps its own key order: any order reads alike.
      assert.strictEqual(agrees(Object.fromEntries(Object.entries(stored).reverse())), "fast")
    }))
  })

  it("issue 16 odd metrics are left to the Schema: missing or extra keys, fractions, negatives, past the bounds, other types and containers", () => {
    const odd: ReadonlyArray<unknown> = [
      null, undefined, 0, "x", [], [full], {}, { total_tokens: 5 },
      { ...full, extra: 1 },
      { ...full, total_tokens: -1 }, { ...full, total_tokens: 1.5 }, { ...full, total_tokens: 4_294_967_296 },
      { ...full, duration_ms: Number.MAX_SAFE_INTEGER + 2 }, { ...full, input_tokens: "5" }, { ...full, input_tokens: null },
      { ...full, input_tokens: Number.NaN }, { ...full, input_tokens: Number.POSITIVE_INFINITY },
      Object.assign(Object.create(null), full), Object.assign(Object.create({ inherited: 1 }), full),
      new JobMetrics(full as never)
    ]
    for (const value of odd) {
      const answer = agrees(value)
      if (value !== null && typeof value === "object" && Object.keys(value).length !== MetricNames.length) assert.strictEqual(answer, "schema")
    }
    assert.strictEqual(agrees({ ...full, total_tokens: -0 }), "fast", "-0 is whole and in range for the Schema too")
    assert.strictEqual(agrees({ ...full, duration_ms: Number.MAX_SAFE_INTEGER, total_tokens: 4_294_967_295 }), "fast")
  })
})
