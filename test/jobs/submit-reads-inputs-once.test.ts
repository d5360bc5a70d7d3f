/**
 * R5 Input rules, found by an outside attacker's probe: job inputs of 95,000
 * keys (807 KB) held the event loop for seconds, as each check walked them
 * again — the request check read every value three times (two depth walks
 * and the copy), `Json`'s decode twice. The work is counted, not timed: each
 * value of a caller's job inputs is read exactly once, however many there
 * are, by the request check, by `Json`'s decode and by `Jobs.submit` on
 * either store, which stores them as given. A value nested too deep is still
 * refused as such, naming no path, even where something else is wrong first.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Json, JsonPayload } from "../../src/domain/Json.js"
import { commonJobRequest } from "../../src/domain/newAiJobCheck.js"
import * as Jobs from "../../src/Jobs.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

/** Job inputs of `keys` values, each a getter counting its reads; two levels, so nested values count too. */
const countedInputs = (keys: number) => {
  const reads = { count: 0 }
  const counted = (value: unknown) => ({ enumerable: true, get: () => (reads.count++, value) })
  const inner: Record<string, unknown> = {}
  const inputs: Record<string, unknown> = {}
  for (let i = 0; i < keys / 2; i++) {
    Object.defineProperty(inner, `v${i}`, counted(i))
    Object.defineProperty(inputs, `k${i}`, counted(`text ${i}`))
  }
  // The nested object is one of the values: `keys / 2` of them at each level, `keys` in all plus this one.
  Object.defineProperty(inputs, "nested", counted(inner))
  return { inputs, reads, values: keys + 1 }
}

const SIZES = [1_000, 2_000, 4_000] as const

describe("R5 job inputs are read once by each check", () => {
  it("R5 the request check and Json's decode read each value once, at every size", () => {
    const decodePayload = Schema.decodeUnknownEither(JsonPayload)
    for (const keys of SIZES) {
      const request = countedInputs(keys)
      const checked = commonJobRequest(summarize({ job_inputs: request.inputs as never }))
      assert.isDefined(checked)
      assert.strictEqual(request.reads.count, request.values, `request check, ${keys} keys`)
      const payload = countedInputs(keys)
      assert.isTrue(Either.isRight(decodePayload(payload.inputs)))
      assert.strictEqual(payload.reads.count, payload.values, `JsonPayload decode, ${keys} keys`)
    }
  })

  it("R5 a value nested too deep is refused as such at its top, even where a value read first is refused for something else", () => {
    const deep: unknown = Array.from({ length: 70 }).reduce<unknown>((inner) => [inner], 1)
    for (const value of [deep, { a: Number.NaN, b: deep }, [deep, 1n]]) {
      const refused = Schema.decodeUnknownEither(Json)(value)
      assert.isTrue(Either.isLeft(refused))
      if (Either.isLeft(refused)) {
        assert.strictEqual(ParseResult.TreeFormatter.formatErrorSync(refused.left), "Nested more than 64 levels deep")
      }
    }
  })
})

const suite = (backend: Backend) =>
  describe(`R5 Jobs.submit reads job inputs once, on ${backend.name}`, () => {
    it.effect("R5 Jobs.submit reads each value of its job inputs once, at every size, and stores them as given", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        for (const keys of SIZES) {
          const { inputs, reads, values } = countedInputs(keys)
          const job = yield* jobs.submit(summarize({ job_inputs: inputs as never }))
          assert.strictEqual(reads.count, values, `${keys} keys`)
          const stored = (yield* jobs.get(job.job_id)).job_inputs as Record<string, unknown>
          assert.strictEqual(Object.keys(stored).length, keys / 2 + 1)
          assert.strictEqual(stored[`k${keys / 2 - 1}`], `text ${keys / 2 - 1}`)
          assert.strictEqual((stored["nested"] as Record<string, unknown>)[`v${keys / 2 - 1}`], keys / 2 - 1)
        }
      }).pipe(Effect.provide(services(backend.makeStore()))), 60_000)
  })

suite(sqliteFile)
suite(postgres("submit reads inputs once"))
