/**
 * The exported schemas state the spec's rules (found by a spec-conformance
 * probe): what a client generates code from — `JSONSchema.make` and the
 * OpenAPI document — must not admit what the library never writes.
 *
 * - R4: the nine metrics are never absent. The decode's defaults (a legacy
 *   row's partial metrics read as zeros) made them optional on the encoded
 *   side, so the JSON Schema required none of them.
 * - R9 / R12: a `workflow_recovery` event's actor is `system`. The decode
 *   refuses any other (a refinement), but the JSON Schema of a refinement is
 *   its base's, so it admitted human and agent.
 */
import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import { AiJob, FlightEvent, JobMetrics, JobsApi, MetricNames, WorkflowRecoveryEvent } from "../../src/index.js"
import { InvalidEvent } from "../../src/internal/flight/Errors.js"
import { makePrepare } from "../../src/internal/flight/prepare.js"
import { withField } from "../flight/fixtures.js"

type Json = { readonly [key: string]: unknown }

/** The first object in `json` (depth first) that `pick` accepts. */
const find = (json: unknown, pick: (value: Json) => boolean): Json | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  if (pick(json as Json)) return json as Json
  for (const value of Object.values(json)) {
    const found = find(value, pick)
    if (found !== undefined) return found
  }
  return undefined
}

/** The schema of a job's metrics: the object whose properties name them. */
const metricsIn = (json: unknown) =>
  find(json, (value) => typeof value["properties"] === "object" && value["properties"] !== null && "validators_run_count" in value["properties"])

/** A schema given as a `$ref`, looked up in the document's `$defs` or OpenAPI components. */
const deref = (root: Json, schema: Json): Json => {
  const ref = schema["$ref"]
  if (typeof ref !== "string") return schema
  const name = ref.split("/").at(-1)!
  const defs = (root["$defs"] ?? (root["components"] as Json | undefined)?.["schemas"]) as Record<string, Json>
  return deref(root, defs[name]!)
}

const openApi = OpenApi.fromApi(JobsApi.Api) as unknown as Json
const components = (openApi["components"] as Json)["schemas"] as Record<string, Json>
const nine = [...MetricNames].sort()

describe("the exported JSON Schemas and the OpenAPI document state the spec's rules", () => {
  it("R4 JobMetrics' JSON Schema, AiJob's and the OpenAPI document's AiJob.metrics require the nine metrics", () => {
    for (const [name, json] of [
      ["JSONSchema.make(JobMetrics)", JSONSchema.make(JobMetrics)],
      ["JSONSchema.make(AiJob)", JSONSchema.make(AiJob)],
      ["OpenAPI AiJob", components["AiJob"]]
    ] as const) {
      const metrics = metricsIn(json)
      assert.isDefined(metrics, name)
      assert.deepStrictEqual([...(metrics?.["required"] as ReadonlyArray<string>)].sort(), nine, name)
    }
  })

  it("R4 the decode still reads partial metrics (a legacy row's) as zeros, and every encode writes all nine", () => {
    const partial = Schema.decodeUnknownSync(JobMetrics)({ duration_ms: 1500, total_tokens: 42 })
    const encoded = Schema.encodeSync(JobMetrics)(partial)
    assert.deepStrictEqual(Object.keys(encoded).sort(), nine)
    assert.deepStrictEqual([encoded.duration_ms, encoded.total_tokens, encoded.validators_run_count], [1500, 42, 0])
  })

  it("R9 R12 WorkflowRecoveryEvent's JSON Schema and the OpenAPI document's admit only the actor system", () => {
    const root = JSONSchema.make(WorkflowRecoveryEvent) as unknown as Json
    const event = deref(root, root)
    const actor = deref(root, (event["properties"] as Json)["actor"] as Json)
    assert.deepStrictEqual(actor, { type: "string", enum: ["system"] })
    const documented = components["WorkflowRecoveryEvent"]!
    assert.deepStrictEqual(deref(openApi, (documented["properties"] as Json)["actor"] as Json), { type: "string", enum: ["system"] })
  })

  it.effect("R9 R12 a workflow_recovery with actor human or agent does not decode: refused at actor as the recorder refuses it (InvalidEvent)", () =>
    Effect.gen(function*() {
      for (const actor of ["human", "agent"]) {
        const input = withField("workflow_recovery", { actor })
        const decoded = Schema.decodeUnknownEither(WorkflowRecoveryEvent, { errors: "all" })(input)
        assert.isTrue(Either.isLeft(decoded), actor)
        if (Either.isRight(decoded)) return
        const refused = InvalidEvent.fromParseError(input, decoded.left)
        const recorded = yield* Effect.flip(makePrepare()(input))
        assert.instanceOf(recorded, InvalidEvent)
        assert.deepStrictEqual(refused.reasons, (recorded as InvalidEvent).reasons, actor)
        assert.deepStrictEqual(refused.reasons.map((reason) => [reason.path, reason.message]), [
          ["actor", "workflow_recovery events are recorded by the system: expected actor system"]
        ])
        // The union of every event refuses it too.
        assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(FlightEvent)(input)), actor)
      }
    }))
})
