/**
 * R1a on the HTTP API's published contract: the OpenAPI document (served at
 * /openapi.json) may accept the legacy alias `term_exec` where a job kind is
 * read (a request body), but must never promise it where a job is written
 * (a response's `AiJob`): every write path emits `terminal_exec`.
 */
import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { JobKinds, JobsApi } from "../../src/index.js"

type JsonSchema = { readonly $ref?: string; readonly enum?: ReadonlyArray<string> }

describe("R1a the OpenAPI document", () => {
  const doc = OpenApi.fromApi(JobsApi.Api) as unknown as {
    readonly components: { readonly schemas: Record<string, { readonly properties?: Record<string, JsonSchema> } & JsonSchema> }
  }
  const schemas = doc.components.schemas
  const resolve = (schema: JsonSchema): JsonSchema =>
    schema.$ref === undefined ? schema : resolve(schemas[schema.$ref.replace("#/components/schemas/", "")]!)

  it("R1a a job in a response is one of the twelve canonical kinds: term_exec is not among them", () => {
    const jobKind = resolve(schemas["AiJob"]!.properties!["job_kind"]!)
    assert.deepStrictEqual(jobKind.enum, [...JobKinds])
  })

  it("R1a a job request's kind lists the twelve canonical kinds and names the alias term_exec in its description (accepted, stored as terminal_exec: openapi-job-kind.test.ts posts it)", () => {
    const requested = resolve(schemas["NewJobRequest"]!.properties!["job_kind"]!)
    // A generated client must not get a TERM_EXEC value: the alias is never written (f131).
    assert.isFalse(requested.enum?.includes("term_exec") ?? false)
    assert.strictEqual(requested.enum?.length, 12)
    assert.match(JSON.stringify(requested), /term_exec/)
  })
})
