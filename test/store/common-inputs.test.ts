/**
 * Issue 16: the hand-built checks of the port's small option objects
 * (src/store/internal/commonInputs.ts) are their Schemas, only faster. For
 * well-formed, odd and hostile inputs, when a check answers, its value is
 * exactly what the port's Schema decode gives (same fields, same order, same
 * values); otherwise it answers `undefined` and the Schema decides, value or
 * `DecodeFailure`. Each must answer for the shape Jobs passes on every
 * lifecycle step, or it would be no faster.
 */
import { isDeepStrictEqual } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import type * as Schema from "effect/Schema"
import { decodeWith } from "../../src/domain/decode.js"
import {
  commonAudited,
  commonClaimAdmittedOptions,
  commonCreateClaimedOptions,
  commonCreation,
  commonRunningJobEnd,
  commonRunSettle,
  decodeCommon
} from "../../src/store/internal/commonInputs.js"
import { AuditedOptions, ClaimAdmittedOptions, CreateClaimedOptions, CreationOptions, RunningJobEnd, RunSettle } from "../../src/store/internal/portSchemas.js"
import { auditWith } from "../../src/store/JobStore.js"

const LOWER_ID = "0190a3f4-1c2d-7e3f-8a9b-0c1d2e3f4a5b"
const builder = () => []

/** Values no field should take lightly. */
const hostile: ReadonlyArray<unknown> = [
  undefined, null, "", " ", "\u0000", "a\u0000b", "\uD800", "x".repeat(5000), 0, 1, Number.NaN, true, [], {}, [1],
  "completed", "failed", "queued", "running", "stalled", "COMPLETED", "doc_summarize", "term_exec",
  LOWER_ID, LOWER_ID.toUpperCase(), "00000000-0000-0000-0000-000000000000", builder, auditWith([]), Symbol.for("x"),
  ["doc_summarize"], ["term_exec"], ["nope"], { __proto__: null, a: 1 }, new Date(0),
  // Instants: in the stored range, before it, after it, zoned.
  DateTime.unsafeMake(0), DateTime.unsafeMake("2031-05-06T07:08:09.000Z"), DateTime.unsafeMake(-1),
  DateTime.unsafeMake("+010000-01-01T00:00:00.000Z"), DateTime.unsafeMakeZoned(0, { timeZone: "Europe/Paris" })
]

const AT = DateTime.unsafeMake("2031-05-06T07:08:09.000Z")

const cases = [
  {
    name: "AuditedOptions",
    schema: AuditedOptions as Schema.Schema<unknown, unknown>,
    common: commonAudited as (input: unknown) => unknown,
    fields: ["events"],
    usual: [{}, { events: auditWith([]) }, { events: builder }, { events: undefined }]
  },
  {
    name: "CreationOptions",
    schema: CreationOptions as Schema.Schema<unknown, unknown>,
    common: commonCreation as (input: unknown) => unknown,
    fields: ["events", "at"],
    // A submit's createJob (eager dispatch's when it only creates) and a submitMany's createJobs.
    usual: [{}, { events: auditWith([]), at: AT }, { events: builder, at: AT }, { events: auditWith([]) }, { at: undefined }]
  },
  {
    name: "RunningJobEnd",
    schema: RunningJobEnd as Schema.Schema<unknown, unknown>,
    common: commonRunningJobEnd as (input: unknown) => unknown,
    fields: ["job_id", "to", "status_reason", "error_message"],
    usual: [
      { job_id: LOWER_ID, to: "completed" },
      { job_id: LOWER_ID, to: "failed", status_reason: "why", error_message: "boom" },
      { job_id: LOWER_ID, to: "cancelled", error_message: null, status_reason: undefined }
    ]
  },
  {
    name: "RunSettle",
    schema: RunSettle as Schema.Schema<unknown, unknown>,
    common: commonRunSettle as (input: unknown) => unknown,
    fields: ["job_id", "to", "status_reason", "error_message", "workflow_run_id", "job_outputs", "duration_ms"],
    // A worker pool's settles: a program's outputs (any JSON, or none), its failure, a retry's end.
    usual: [
      { job_id: LOWER_ID, workflow_run_id: LOWER_ID, to: "completed", status_reason: "", error_message: null, duration_ms: 12 },
      { job_id: LOWER_ID, workflow_run_id: LOWER_ID, to: "completed", status_reason: "", error_message: null, job_outputs: { summary: "ok", n: [1, 2.5, null, { deep: true }] }, duration_ms: 0 },
      { job_id: LOWER_ID, workflow_run_id: LOWER_ID, to: "completed", status_reason: "", error_message: null, job_outputs: null, duration_ms: 3 },
      { job_id: LOWER_ID, workflow_run_id: LOWER_ID, to: "completed", status_reason: "", error_message: null, job_outputs: "text", duration_ms: 3 },
      { job_id: LOWER_ID, workflow_run_id: LOWER_ID, to: "failed", status_reason: "", error_message: "boom", duration_ms: 7 }
    ]
  },
  {
    name: "ClaimAdmittedOptions",
    schema: ClaimAdmittedOptions as Schema.Schema<unknown, unknown>,
    common: commonClaimAdmittedOptions as (input: unknown) => unknown,
    fields: ["kinds", "take"],
    // A worker pool's filter and take (every claim and eager write of a pool with handlers) as well.
    usual: [{}, { kinds: undefined }, { kinds: ["doc_summarize", "terminal_exec"] }, { take: true }, { kinds: ["doc_summarize"], take: false }]
  },
  {
    name: "CreateClaimedOptions",
    schema: CreateClaimedOptions as Schema.Schema<unknown, unknown>,
    common: commonCreateClaimedOptions as (input: unknown) => unknown,
    fields: ["kinds", "take", "at"],
    // A submit's eager write: the parked loop's kinds, take, the submit's instant.
    usual: [{}, { at: AT }, { kinds: ["doc_summarize"], take: true, at: AT }, { take: true, at: AT }, { kinds: undefined, at: undefined }]
  }
] as const

for (const { common, fields, name, schema, usual } of cases) {
  const port = decodeWith(schema, name)
  const schemaResult = (input: unknown) => Effect.runSync(Effect.either(port(input)))
  const decode = decodeCommon(common, schema, name)

  /** "fast" when the check answered (and agreed with the Schema), "schema" when it left the input to it. */
  const agrees = (input: unknown): "fast" | "schema" => {
    const expected = schemaResult(input)
    // Through `decodeCommon`, as the port calls it: the same value, or the same failure.
    assert.deepStrictEqual(Effect.runSync(Effect.either(decode(input))), expected)
    let fast: unknown
    try {
      fast = common(input)
    } catch {
      return "schema"
    }
    if (fast === undefined) return "schema"
    if (Either.isLeft(expected)) return assert.fail(`the check accepted what the Schema refuses: ${expected.left.message}`)
    assert.deepStrictEqual(Object.keys(fast as object), Object.keys(expected.right as object), "the same fields in the same order")
    assert.isTrue(isDeepStrictEqual(fast, expected.right), `the same value for ${String(JSON.stringify(input))}`)
    return "fast"
  }

  describe(`issue 16 the hand-built ${name} check gives the Schema's result`, () => {
    it(`issue 16 the shapes Jobs passes are answered by the ${name} check`, () => {
      for (const input of usual) assert.strictEqual(agrees(input), "fast", String(JSON.stringify(input)))
    })

    it(`issue 16 a ${name} field set to any odd or hostile value: the check agrees with the Schema or leaves it to it`, () => {
      for (const base of usual) {
        for (const field of [...fields, "extra"]) {
          for (const value of hostile) agrees({ ...base, [field]: value })
        }
      }
      for (const value of hostile) agrees(value)
    })

    it(`issue 16 odd ${name} containers: class instances, inherited or hidden fields, getters, symbols`, () => {
      const base = usual[usual.length - 1]!
      class Options {
        constructor(fields: object) {
          Object.assign(this, fields)
        }
      }
      const throwing = Object.defineProperty({ ...base }, fields[0]!, {
        get: () => {
          throw new Error("boom")
        },
        enumerable: true
      })
      for (
        const input of [
          new Options(base),
          Object.create(base),
          Object.assign(Object.create(null), base),
          Object.defineProperty({ ...base }, fields[0]!, { value: (base as Record<string, unknown>)[fields[0]!], enumerable: false }),
          { ...base, [Symbol.for("x")]: 1 },
          [base]
        ]
      ) {
        agrees(input)
      }
      // The Schema's path meets the getter (today it throws); the check must not answer first.
      const attempt = (run: () => unknown) => {
        try {
          return run()
        } catch (error) {
          return `threw ${String(error)}`
        }
      }
      assert.deepStrictEqual(
        attempt(() => Effect.runSync(Effect.either(decode(throwing)))),
        attempt(() => Effect.runSync(Effect.either(port(throwing))))
      )
    })

    it(`issue 16 random odd ${name} values: any field, any value fast-check makes, the check agrees with the Schema`, () => {
      FastCheck.assert(
        FastCheck.property(
          FastCheck.constantFrom(...usual),
          FastCheck.constantFrom(...fields, "extra"),
          FastCheck.oneof(FastCheck.anything({ withNullPrototype: true, withObjectString: true }), FastCheck.constantFrom(...hostile)),
          (base, field, value) => {
            agrees({ ...base, [field]: value })
          }
        ),
        { numRuns: 1000 }
      )
    })
  })
}
