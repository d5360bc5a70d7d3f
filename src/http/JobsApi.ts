/**
 * JobsApi: the library over HTTP. One schema-first definition (`Api`) gives
 * the server (`layer`, `httpApp`), the typed client (`client`) and the
 * OpenAPI document (`OpenApi.fromApi(Api)`, served at `/openapi.json`).
 */
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Redacted from "effect/Redacted"
import { Api } from "./Api.js"

export {
  Api,
  Authorization,
  BodyLimit,
  EventPage,
  EventsGroup,
  EventsQuery,
  HealthGroup,
  JobDetail,
  JobPage,
  JobsGroup,
  JobsQuery,
  NewJobRequest,
  NodePage,
  NodesQuery,
  RunPage,
  RunsGroup,
  RunsQuery,
  RunWithNodes
} from "./Api.js"
export { generateToken, InvalidToken, MIN_TOKEN_LENGTH } from "./auth.js"
export { DEFAULT_MAX_BODY_BYTES } from "./bodyLimit.js"
export { answerClientErrors, createServer } from "./clientErrors.js"
export { ConsoleAssetMissing } from "./console.js"
export * from "./Errors.js"
export { httpApp, layer, type ServerError, type ServerOptions, type Services } from "./server.js"

/**
 * The typed client for a running server: every route is a method
 * (`client.jobs.submit({ payload })`), failures are the server's own error
 * classes. Needs an `HttpClient` (e.g. `FetchHttpClient.layer`).
 */
export const client = (options: {
  /** The server's URL (`http://127.0.0.1:8787/`); leave out when the HttpClient already prepends one. */
  readonly baseUrl?: string | URL | undefined
  readonly token: Redacted.Redacted<string> | string
}) =>
  HttpApiClient.make(Api, {
    baseUrl: options.baseUrl,
    transformClient: HttpClient.mapRequest(
      HttpClientRequest.bearerToken(Redacted.isRedacted(options.token) ? Redacted.value(options.token) : options.token)
    )
  })
