/**
 * R1a in the served OpenAPI document: `POST /jobs`' `job_kind` lists the
 * twelve canonical kinds alone — it listed the legacy alias `term_exec` too,
 * so a client generated from it offered a TERM_EXEC kind — and its
 * description says the alias is still accepted, stored as `terminal_exec`;
 * a `POST /jobs` with the alias is still taken. An HTTP matter, not a
 * store's: one store (SQLite in memory).
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobKinds } from "../../src/domain/JobKind.js"
import { sqliteMemory } from "../support/stores.js"
import { apiServer, send, summarize, TOKEN } from "./server.js"

const bearer = HttpClientRequest.bearerToken(TOKEN)

type Node = { readonly [key: string]: unknown }

/** Every `enum` in the document, wherever it is. */
const enumsIn = (node: unknown): ReadonlyArray<ReadonlyArray<unknown>> =>
  typeof node !== "object" || node === null
    ? []
    : [
      ...(Array.isArray((node as Node)["enum"]) ? [(node as Node)["enum"] as ReadonlyArray<unknown>] : []),
      ...Object.values(node).flatMap(enumsIn)
    ]

describe("the served OpenAPI document's job kinds", () => {
  it.effect("R1a POST /jobs' job_kind enum is the twelve canonical kinds, its description names the legacy alias; the alias is still taken and stored as terminal_exec", () =>
    Effect.gen(function*() {
      const answer = yield* send(HttpClientRequest.get("/openapi.json").pipe(bearer))
      assert.strictEqual(answer.status, 200)
      const doc = answer.body as Node
      const schemas = (doc["components"] as Node)["schemas"] as Record<string, Node>
      const body = ((((doc["paths"] as Node)["/jobs"] as Node)["post"] as Node)["requestBody"] as Node)["content"] as Node
      const ref = (((body["application/json"] as Node)["schema"] as Node)["$ref"]) as string
      const request = schemas[ref.replace("#/components/schemas/", "")]!
      let kind = (request["properties"] as Node)["job_kind"] as Node
      if (typeof kind["$ref"] === "string") kind = schemas[kind["$ref"].replace("#/components/schemas/", "")]!
      assert.deepStrictEqual(kind["enum"], [...JobKinds])
      assert.match(String(kind["description"]), /term_exec is also accepted, and stored as terminal_exec/)
      assert.isFalse(enumsIn(doc).some((values) => values.includes("term_exec")), "no enum anywhere lists the alias")

      const submitted = yield* send(HttpClientRequest.post("/jobs").pipe(bearer, HttpClientRequest.bodyUnsafeJson(summarize({ job_kind: "term_exec", access_mode: "apply_scoped" }))))
      assert.strictEqual(submitted.status, 201, submitted.text)
      assert.strictEqual((submitted.body as Node)["job_kind"], "terminal_exec")
    }).pipe(Effect.provide(apiServer(sqliteMemory.makeStore()))))
})
