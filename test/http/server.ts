/**
 * A real HTTP server on a loopback port for API tests: the library's services
 * over a given store, `JobsApi.layer` served by `HttpApiBuilder.serve()`, and
 * clients pointed at it — the typed client with the token, and raw access
 * for what a typed client would never send.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import * as JobsApi from "../../src/http/JobsApi.js"
import * as Recovery from "../../src/Recovery.js"
import type { FlightRecorder } from "../../src/FlightRecorder.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { services } from "../jobs/services.js"

/** The token the test servers require. */
export const TOKEN = "test-token-0123456789-abcdef"

/**
 * The API suites' job request: a summary under protocol `hsk.http.v1` for
 * `alice`. No profile named: the capability policy places each kind (issue 13).
 */
export const summarize = (overrides: Partial<JobRequestInput> = {}) => ({
  job_kind: "doc_summarize" as const,
  protocol_id: "hsk.http.v1",
  profile_id: "alice",
  access_mode: "analysis_only" as const,
  safety_mode: "normal" as const,
  ...overrides
})

/**
 * A loopback server on a free port, and an HttpClient that prepends its URL.
 * The server is the library's (`JobsApi.createServer`), as `ai-jobs serve`
 * listens with: a request Node's parser refuses is answered as users see it.
 */
const loopbackOn = (createServer: () => http.Server) =>
  HttpServer.layerTestClient.pipe(
    Layer.provide(FetchHttpClient.layer),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
  )
export const loopback = loopbackOn(() => JobsApi.createServer())

/** The API over `store` on a loopback server; the library's services stay reachable for set-up and checks. */
export const apiServer = <E>(
  store: Layer.Layer<JobStore, E>,
  options: {
    readonly gate?: Layer.Layer<Recovery.RecoveryGate, never, JobStore | FlightRecorder>
    readonly maxBodyBytes?: number
    /** Node's own `http.createServer` instead of the library's `JobsApi.createServer`: a server of the user's. */
    readonly plainServer?: true
  } = {}
) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(JobsApi.layer({
      token: Redacted.make(TOKEN),
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes })
    })),
    Layer.provideMerge(services(store, options.gate ?? Recovery.layerNoStartupRecovery)),
    Layer.provideMerge(options.plainServer === true ? loopbackOn(() => http.createServer()) : loopback)
  )

/** The typed client, with the token unless another (or none) is given. */
export const typedClient = (token: string = TOKEN) => JobsApi.client({ token })

/** The typed client sending no Authorization header at all. */
export const anonymousClient = HttpApiClient.make(JobsApi.Api)

/** A raw request's status, content type and JSON body (null when the body is not JSON). */
export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(request)
    const text = yield* response.text
    let body: unknown = null
    try {
      body = text === "" ? null : JSON.parse(text)
    } catch {
      body = null
    }
    return { status: response.status, headers: response.headers, text, body: body as Record<string, unknown> | null }
  }).pipe(Effect.scoped)
