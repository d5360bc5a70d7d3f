/**
 * Issue 16: the hand-built `NewAiJob` check (src/domain/newAiJobCheck.ts),
 * and the same check for a `JobRequest` (`Jobs.submit`'s input, whose
 * capability profile may be left out), are the Schema, only faster. For well-formed, odd and hostile inputs, when
 * it answers, its job is exactly what the port's Schema decode gives (same
 * fields, same order, same values); when the input is not the common shape
 * it answers `undefined` and the Schema decides, value or `DecodeFailure`.
 * It must answer for the common shape, or it would be no faster.
 */
import { isDeepStrictEqual } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { JobRequest, NewAiJob } from "../../src/domain/AiJob.js"
import { decodeWith } from "../../src/domain/decode.js"
import { MAX_JOB_DEPTH } from "../../src/domain/depth.js"
import { commonJobRequest, commonNewAiJob } from "../../src/domain/newAiJobCheck.js"

const cases = [
  { name: "NewAiJob", schema: NewAiJob as Schema.Schema<unknown, unknown>, common: commonNewAiJob as (input: unknown) => unknown },
  { name: "JobRequest", schema: JobRequest as Schema.Schema<unknown, unknown>, common: commonJobRequest as (input: unknown) => unknown }
] as const

for (const { common, name, schema } of cases) {
  /** The authority: the port's (or submit's) decode of one job (the depth rule, then the Schema, extra keys ignored). */
  const port = decodeWith(schema, name, MAX_JOB_DEPTH)
  const schemaResult = (input: unknown) => Effect.runSync(Effect.either(port(input)))

  /** "fast" when the hand-built check answered (and agreed with the Schema), "schema" when it left the input to it. */
  const agrees = (input: unknown): "fast" | "schema" => {
    const fast = common(input)
    if (fast === undefined) return "schema"
    const expected = schemaResult(input)
    if (Either.isLeft(expected)) return assert.fail(`the check accepted what the Schema refuses: ${expected.left.message}`)
    assert.deepStrictEqual(Object.keys(fast as object), Object.keys(expected.right as object), "the same fields in the same order")
    assert.isTrue(isDeepStrictEqual(fast, expected.right), `the same job: ${JSON.stringify(fast)} vs ${JSON.stringify(expected.right)}`)
    return "fast"
  }

  const base = {
    job_kind: "doc_summarize",
    protocol_id: "hsk.test.v1",
    profile_id: "Analyst",
    capability_profile_id: "Analyst",
    access_mode: "analysis_only",
    safety_mode: "normal"
  } as const

  const { capability_profile_id: _profile, ...withoutProfile } = base

const LOWER_ID = "0190a3f4-1c2d-7e3f-8a9b-0c1d2e3f4a5b"
  const nested = (depth: number): unknown => {
    let value: unknown = 1
    for (let i = 0; i < depth; i++) value = { a: value }
    return value
  }

  /** `[1, <hole>, 2]`: an array with a missing element. */
  const holey = (): Array<number> => {
    const array = [1]
    array[2] = 2
    return array
  }

  /** Values no field should take lightly. */
  const hostile: ReadonlyArray<unknown> = [
    undefined, null, "", " ", "\u3000\t", "\ufeff", "\u0000", "a\u0000b", "\uD800", "x".repeat(256), "x".repeat(257), "😀".repeat(128), "😀".repeat(129), "😀".repeat(256), "😀".repeat(257),
    0, -0, 1, -1, 1.5, Number.NaN, Infinity, -Infinity, 32767, 32768, -32768, -32769, 1_000_000, 1_000_001, 2 ** 53,
    true, false, [], [{}], {}, { entity_id: "e", entity_kind: "k" }, { entity_id: "e", entity_kind: "k", extra: 1 },
    "term_exec", "terminal_exec", "doc_edit", "read", "analysis_only", "strict",
    LOWER_ID, LOWER_ID.toUpperCase(), "00000000-0000-0000-0000-000000000000", "2026-01-19T23:59:37.328Z", "2026-02-30T00:00:00Z",
    DateTime.unsafeMake(0), DateTime.unsafeMake("2026-01-19T23:59:37.328Z"), DateTime.unsafeMake(253402300800000),
    DateTime.unsafeMakeZoned(0, { timeZone: "Europe/Paris" }), new Date(0), { constant: 100 }, Symbol.for("x"),
    nested(62), nested(63), nested(64), nested(65), { __proto__: null, a: 1 }, JSON.parse("{\"__proto__\": 1}"), holey(), () => 1
  ]

  const fields = [...Object.keys(NewAiJob.fields), "extra"]

  describe(`issue 16 the hand-built ${name} check gives the Schema's result`, () => {
    it(`issue 16 for any ${name} the Schema's arbitrary makes, the check agrees with the Schema`, () => {
      const encode = Schema.encodeSync(schema)
      let fast = 0
      FastCheck.assert(
        FastCheck.property(Arbitrary.make(schema), (job) => {
          if (agrees(encode(job)) === "fast") fast++
        }),
        { numRuns: 400 }
      )
      // Most generated jobs carry a `backoff` or an odd entity ref (the Schema's), but not all.
      assert.isAbove(fast, 0, "the check answered for some well-formed jobs")
    })

    it("issue 16 the common shapes are answered by the check", () => {
      for (
        const input of [
          base,
          { ...base, job_inputs: { doc: "bench", n: [1, 2, { x: null }] } },
          { ...base, job_id: LOWER_ID, trace_id: LOWER_ID, priority: 5, max_attempts: 3, is_pinned: true, status_reason: "r" },
          { ...base, job_kind: "term_exec", run_after: DateTime.unsafeMake(0), job_inputs: null },
          // A request that leaves its capability profile to the policy.
          ...(name === "JobRequest" ? [withoutProfile] : []),
          {
            ...base,
            entity_refs: [{ entity_id: "doc-1", entity_kind: "document" }],
            planned_operations: [
              { op_type: "read", target: { entity_id: "doc-1", entity_kind: "document" } },
              { op_type: "write", target: { entity_id: "doc-1", entity_kind: "document" }, description: null },
              { op_type: "plan", target: { entity_id: "doc-1", entity_kind: "document" }, description: "d" }
            ]
          }
        ]
      ) {
        assert.strictEqual(agrees(input), "fast", JSON.stringify(input))
      }
    })

    it("issue 16 a field set to any odd or hostile value: the check agrees with the Schema or leaves it to it", () => {
      for (const field of fields) {
        for (const value of hostile) agrees({ ...base, [field]: value })
        agrees(Object.fromEntries(Object.entries(base).filter(([key]) => key !== field)))
        // Nested where a list or ref is expected.
        agrees({ ...base, entity_refs: [{ entity_id: "e", entity_kind: "k", [field]: 1 }] })
        agrees({ ...base, planned_operations: [{ op_type: "read", target: { entity_id: "e", entity_kind: "k" }, description: hostile }] })
      }
      for (const value of hostile) {
        agrees({ ...base, entity_refs: [value] })
        agrees({ ...base, planned_operations: [{ op_type: "read", target: value }] })
        agrees({ ...base, planned_operations: [{ op_type: value, target: { entity_id: "e", entity_kind: "k" } }] })
        agrees({ ...base, planned_operations: [{ op_type: "read", target: { entity_id: "e", entity_kind: "k" }, description: value }] })
        agrees({ ...base, job_inputs: { a: value } })
        agrees({ ...base, job_inputs: [value] })
        agrees(value)
      }
    })

    it("issue 16 odd containers: arrays, class instances, inherited fields, getters, symbols, deep extras", () => {
      class Job {
        constructor(readonly fields: typeof base) {
          Object.assign(this, fields)
        }
      }
      const withGetter = Object.defineProperty({ ...base }, "protocol_id", { get: () => "hsk.getter.v1", enumerable: true })
      const throwing = Object.defineProperty({ ...base }, "profile_id", {
        get: () => {
          throw new Error("boom")
        },
        enumerable: true
      })
      const hidden = Object.defineProperty({ ...base }, "priority", { value: 7, enumerable: false })
      for (
        const input of [
          [base],
          Object.assign([], base),
          new Job(base),
          Object.create(base),
          Object.assign(Object.create(null), base),
          withGetter,
          hidden,
          { ...base, [Symbol.for("x")]: 1 },
          { ...base, extra: nested(64) },
          { ...base, extra: nested(63) },
          { ...base, job_inputs: nested(63) },
          { ...base, job_inputs: nested(62) },
          { ...base, entity_refs: Object.assign([{ entity_id: "e", entity_kind: "k" }], { extra: 1 }) },
          { ...base, entity_refs: new Array(2) }
        ]
      ) {
        agrees(input)
      }
      assert.strictEqual(common(throwing), undefined, "a throwing getter is the Schema's to meet")
    })

    it("issue 16 random odd jobs: any field, any value fast-check makes, the check agrees with the Schema", () => {
      FastCheck.assert(
        FastCheck.property(
          FastCheck.constantFrom(...fields),
          FastCheck.oneof(FastCheck.anything({ withNullPrototype: true, withObjectString: true }), FastCheck.constantFrom(...hostile)),
          (field, value) => {
            agrees({ ...base, [field]: value })
          }
        ),
        { numRuns: 2000 }
      )
    })
  })
}
