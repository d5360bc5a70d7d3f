import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { JobMetrics, MetricNames } from "../../src/index.js"

const decode = Schema.decodeUnknownEither(JobMetrics)
const encode = Schema.encodeEither(JobMetrics)

describe("R4 JobMetrics", () => {
  it("R4 {} decodes to all nine fields at zero", () => {
    const metrics = Either.getOrThrow(decode({}))
    for (const name of MetricNames) assert.strictEqual(metrics[name], 0)
    assert.deepStrictEqual(Either.getOrThrow(encode(metrics)), Object.fromEntries(MetricNames.map((n) => [n, 0])))
  })

  it("R4 JobMetrics.zero is all zeros and encodes every field", () => {
    const encoded = Either.getOrThrow(encode(JobMetrics.zero))
    assert.deepStrictEqual(Object.keys(encoded).sort(), [...MetricNames].sort())
    for (const name of MetricNames) assert.strictEqual(encoded[name], 0)
  })

  it("R4 accepts the largest values the reference types hold", () => {
    const metrics = Either.getOrThrow(decode({ duration_ms: Number.MAX_SAFE_INTEGER, total_tokens: 4_294_967_295 }))
    assert.strictEqual(metrics.duration_ms, Number.MAX_SAFE_INTEGER)
    assert.strictEqual(metrics.total_tokens, 4_294_967_295)
  })

  const bad: ReadonlyArray<readonly [string, unknown]> = [
    ["null metrics", null],
    ["undefined metrics", undefined],
    ["a string", "{}"],
    ["a number", 0],
    ["an array", []],
    ["null field", { total_tokens: null }],
    ["negative", { input_tokens: -1 }],
    ["fraction", { output_tokens: 1.5 }],
    ["NaN", { tokens_planner: Number.NaN }],
    ["Infinity", { tokens_executor: Number.POSITIVE_INFINITY }],
    ["-Infinity", { duration_ms: Number.NEGATIVE_INFINITY }],
    ["numeric string", { entities_read: "5" }],
    ["boolean", { entities_written: true }],
    ["u32 overflow", { validators_run_count: 4_294_967_296 }],
    ["u64 beyond safe integers", { duration_ms: Number.MAX_SAFE_INTEGER + 1 }],
    ["negative zero-ish", { duration_ms: -0.5 }],
    ["bigint", { total_tokens: 5n }],
    ["object field", { total_tokens: {} }]
  ]

  it.each(bad)("R4 rejects %s", (_label, input) => {
    assert.isTrue(Either.isLeft(decode(input)))
  })

  it("R4 JobMetrics.add rounds a fractional delta down: 2.9 ms adds 2, 0.6 tokens adds nothing", () => {
    const start = JobMetrics.add(JobMetrics.zero, { duration_ms: 10, total_tokens: 5 })
    const added = JobMetrics.add(start, { duration_ms: 2.9, total_tokens: 0.6, input_tokens: 1.5 })
    assert.strictEqual(added.duration_ms, 12)
    assert.strictEqual(added.total_tokens, 5)
    assert.strictEqual(added.input_tokens, 1)
  })

  it.prop("R4 decode(encode(x)) = x", [JobMetrics], ([metrics]) => {
    const roundTripped = Either.getOrThrow(decode(Either.getOrThrow(encode(metrics))))
    assert.isTrue(Schema.equivalence(JobMetrics)(roundTripped, metrics))
  }, { fastCheck: { numRuns: 1000 } })
})
