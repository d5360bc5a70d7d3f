/**
 * Bad input (issue 8, part 4): every public decoder is fed generated hostile
 * input — random JSON and JS values, near misses of valid strings, huge,
 * negative and non-finite numbers, deep nesting, lone surrogates, SQL
 * injection, valid inputs with fields replaced — and a few 10 MB strings.
 * Each answer must be a typed error or a correct value (decoders.ts judges
 * which); never a thrown exception, never a defect.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { evilString, fieldValue, mutated, nearMiss, nest, tenMegabytes } from "./arbitraries.js"
import { counts, seed, seedFor } from "./config.js"
import { databaseUrlDecoder, type Decoder, decoders, recorderDecoder } from "./decoders.js"
import { report } from "./report.js"

/** What one input got: a value, a typed error, or a crash. */
type Answer =
  | { readonly kind: "value"; readonly value: unknown }
  | { readonly kind: "typed"; readonly tag: string }
  | { readonly kind: "crash"; readonly detail: string }

const answer = (decoder: Decoder, input: unknown): Answer => {
  let exit: Exit.Exit<unknown, unknown>
  try {
    exit = Effect.runSyncExit(decoder.decode(input))
  } catch (error) {
    return { kind: "crash", detail: `thrown: ${String(error).slice(0, 200)}` }
  }
  if (Exit.isSuccess(exit)) return { kind: "value", value: exit.value }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    const tag = (failure.value as { readonly _tag?: unknown })?._tag
    return typeof tag === "string" && decoder.errorTags.includes(tag)
      ? { kind: "typed", tag }
      : { kind: "crash", detail: `untyped failure ${String(failure.value).slice(0, 200)}` }
  }
  return { kind: "crash", detail: `defect: ${Cause.pretty(exit.cause).slice(0, 300)}` }
}

/** Why an answer is wrong, or null. */
const judge = (decoder: Decoder, input: unknown, result: Answer): string | null =>
  result.kind === "crash" ? result.detail : result.kind === "value" ? decoder.judgeSuccess(input, result.value) : decoder.judgeFailure(input)

/** The generated inputs for a decoder: mutations of its base (or near misses of a string base) and anything at all. */
const inputsFor = (decoder: Decoder): fc.Arbitrary<unknown> =>
  typeof decoder.base === "string"
    ? fc.oneof(fieldValue(decoder.valid["value"] ?? [decoder.base]), nearMiss(decoder.valid["value"] as ReadonlyArray<string>), evilString)
    : mutated(decoder.base as Record<string, unknown>, decoder.valid)

/** A few 10 MB inputs: the value itself, or each of three fields of the base set to it. */
const hugeInputs = (decoder: Decoder): ReadonlyArray<unknown> => {
  const strings = [tenMegabytes("a"), tenMegabytes("'; DROP TABLE ai_jobs; --"), tenMegabytes("x\uD800")]
  if (typeof decoder.base !== "object" || decoder.base === null) return strings
  const fields = Object.keys(decoder.base).slice(0, 3)
  return fields.map((field, i) => ({ ...(decoder.base as object), [field]: strings[i % strings.length] }))
}

const fuzz = (decoder: Decoder) => {
  const tally = { value: 0, typed: 0, knownBug: 0 }
  fc.assert(
    fc.property(inputsFor(decoder), (input) => {
      if (decoder.knownBug?.(input) === true) {
        tally.knownBug += 1
        return
      }
      const result = answer(decoder, input)
      const wrong = judge(decoder, input, result)
      if (wrong !== null) throw new Error(`${decoder.name}: ${wrong}`)
      if (result.kind === "value") tally.value += 1
      else tally.typed += 1
    }),
    { numRuns: counts.decoderInputs, seed: seedFor(decoder.name), endOnFailure: true }
  )
  for (const input of hugeInputs(decoder)) {
    const result = answer(decoder, input)
    const wrong = judge(decoder, input, result)
    assert.isNull(wrong, `${decoder.name} on a 10 MB input`)
    if (result.kind === "value") tally.value += 1
    else tally.typed += 1
  }
  report(`fuzz-${decoder.name}`, { seed, inputs: tally.value + tally.typed + tally.knownBug, accepted: tally.value, refused: tally.typed, skippedKnownBug: tally.knownBug })
  assert.strictEqual(tally.value + tally.typed + tally.knownBug, counts.decoderInputs + hugeInputs(decoder).length)
  assert.isAbove(tally.typed, 0, "the fuzz produced refusals")
}

describe("reliability: every public decoder under hostile input", () => {
  for (const decoder of [...decoders, databaseUrlDecoder]) {
    it(`R1 R2 R3 R4 R5 R8 R17 ${decoder.name} answers ${counts.decoderInputs} generated inputs and 10 MB strings with a typed error or a correct value`, () => {
      fuzz(decoder)
    }, 120_000)
  }

  it(`R10 R11 R12 FlightRecorder.prepare answers ${counts.decoderInputs} generated events and 10 MB strings with InvalidEvent, EventTooLarge or a valid record`, async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const context = await Effect.runPromise(Layer.buildWithScope(FlightRecorder.layer().pipe(Layer.provide(SqliteStore.layer({ filename: ":memory:" }))), scope))
      const recorder = context.unsafeMap.get(FlightRecorder.FlightRecorder.key) as FlightRecorder.FlightRecorder["Type"]
      fuzz(recorderDecoder(recorder))
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 120_000)

  // Deeper than the fuzz goes (arbitraries.ts MAX_FUZZ_DEPTH): a JSON body of 10,000 nested arrays is 20 kB.
  it("R5 R10 every public decoder refuses a value nested 10,000 deep with a typed error, never a stack overflow", async () => {
    const scope = Effect.runSync(Scope.make())
    const crashes: Array<string> = []
    try {
      const context = await Effect.runPromise(Layer.buildWithScope(FlightRecorder.layer().pipe(Layer.provide(SqliteStore.layer({ filename: ":memory:" }))), scope))
      const recorder = context.unsafeMap.get(FlightRecorder.FlightRecorder.key) as FlightRecorder.FlightRecorder["Type"]
      for (const decoder of [...decoders, recorderDecoder(recorder)]) {
        const base = typeof decoder.base === "object" && decoder.base !== null ? decoder.base as Record<string, unknown> : null
        for (const depth of [10_000, 100_000]) {
          for (const kind of ["array", "object"] as const) {
            const deep = nest(depth, kind)
            const inputs: Array<[string, unknown]> = [["the whole input", deep]]
            if (base !== null) for (const field of Object.keys(base)) inputs.push([`field ${field}`, { ...base, [field]: deep }])
            for (const [where, input] of inputs) {
              const result = answer(decoder, input)
              if (result.kind !== "typed") crashes.push(`${decoder.name}, ${where}, ${depth} nested ${kind}s: ${result.kind === "crash" ? result.detail.split("\n")[0] : "accepted"}`)
            }
          }
        }
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
    assert.deepStrictEqual(crashes, [], `${crashes.length} deep inputs crashed a decoder`)
  }, 120_000)
})
