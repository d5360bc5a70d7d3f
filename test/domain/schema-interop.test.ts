/**
 * The exported schemas work with Effect's own Schema tools (found by an
 * outside probe composing the library as an Effect developer would):
 * `Pretty.make` threw "Missing annotation" on every schema holding JSON
 * (AiJob, JobRequest, FlightEvent, EventRecord…), since the JSON declaration
 * had no `pretty` annotation. Every exported schema is walked here: Pretty,
 * JSONSchema and Arbitrary build, and Pretty prints generated values.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as FastCheck from "effect/FastCheck"
import * as JSONSchema from "effect/JSONSchema"
import * as Pretty from "effect/Pretty"
import * as Schema from "effect/Schema"
import * as Library from "../../src/index.js"

const exportedSchemas = Object.entries(Library as Record<string, unknown>).filter((entry): entry is [string, Schema.Schema<unknown, unknown>] =>
  Schema.isSchema(entry[1])
)

describe("R1 exported schemas with Effect's Schema tools", () => {
  it("R1 the library exports its domain schemas (AiJob, JobRequest, FlightEvent, EventRecord, Json…)", () => {
    const names = exportedSchemas.map(([name]) => name)
    for (const name of ["AiJob", "JobRequest", "NewAiJob", "FlightEvent", "EventRecord", "Json", "JsonObject", "NodeExecution"]) {
      assert.include(names, name)
    }
  })

  for (const [name, schema] of exportedSchemas) {
    it(`R1 ${name}: Pretty.make builds and prints generated values; JSONSchema.make builds (JSON-encoded ones)`, () => {
      const pretty = Pretty.make(schema)
      const samples = FastCheck.sample(Arbitrary.make(schema), { numRuns: 5, seed: 7 })
      for (const value of samples) assert.isString(pretty(value))
      // A …FromSelf schema's encoded side is a DateTime, not JSON: Effect's own DateTimeUtcFromSelf has no JSON Schema either.
      if (!name.endsWith("FromSelf")) assert.isObject(JSONSchema.make(schema))
    })
  }
})
