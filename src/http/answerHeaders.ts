/**
 * Headers on every answer of the API — its JSON, its refusals (401, 404,
 * 400, 5xx), `/openapi.json`, `/health`: `Cache-Control: no-store`, as each
 * holds a job's data or says who may not see it, and no cache (a browser's,
 * a proxy's) should keep a copy; `X-Content-Type-Options: nosniff`, so a
 * browser reads JSON as JSON and never guesses it is a page or a script.
 * The console's files set their own (console.ts) and keep them.
 *
 * Added in one place, just before an answer is written (a pre-response
 * handler), so an error encoded after the routes has them too.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"

/** The headers each API answer carries. */
export const API_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff"
}

/** Adds them unless the answer chose its caching itself (the console's files). */
const withAnswerHeaders: HttpApp.PreResponseHandler = (_request, response) =>
  Effect.succeed(response.headers["cache-control"] === undefined ? HttpServerResponse.setHeaders(response, API_ANSWER_HEADERS) : response)

/** The API-level middleware that puts them on every answer. */
export const layer = (): Layer.Layer<never> =>
  HttpApiBuilder.middleware((app) => Effect.zipRight(HttpApp.appendPreResponseHandler(withAnswerHeaders), app))
