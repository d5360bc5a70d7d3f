/**
 * The HTTP API as something an Effect application runs: a Layer for
 * `HttpApiBuilder.serve()` (the API is the server's API), or an `HttpApp` to
 * mount under a path of the application's own router. Both serve the API,
 * `/openapi.json` and, unless turned off, the web console under `/console/`.
 *
 *   HttpApiBuilder.serve().pipe(
 *     Layer.provide(HttpApi.layer({ token })),
 *     Layer.provide(AppLive),                   // Jobs, JobStore, FlightRecorder, RecoveryGate
 *     Layer.provide(NodeHttpServer.layer(JobsApi.createServer, { port: 8787 })))
 */
import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { DecodeFailure } from "../domain/Errors.js"
import { readOptions } from "../domain/knownOptions.js"
import type { FlightRecorder } from "../FlightRecorder.js"
import type { Jobs } from "../Jobs.js"
import type { RecoveryGate } from "../Recovery.js"
import type { JobStore } from "../store/JobStore.js"
import * as AnswerHeaders from "./answerHeaders.js"
import { Api } from "./Api.js"
import * as Auth from "./auth.js"
import * as BodyLimit from "./bodyLimit.js"
import * as DecodeErrors from "./decodeErrors.js"
import { type ConsoleAssetMissing, consoleFiles, loadConsole } from "./console.js"
import { Unauthorized, UnauthorizedError } from "./Errors.js"
import * as Handlers from "./handlers.js"
import * as Unmatched from "./unmatched.js"

/** How the API is served. */
export interface ServerOptions {
  /** The bearer token every request except `/health` (and the console's static files) must present; 16 characters or more. */
  readonly token: Redacted.Redacted<string>
  /** The largest request body accepted, in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** Serve the web console under `/console/`. Default true. */
  readonly console?: boolean | undefined
}

/** The library's services the API runs on. */
export type Services = Jobs | JobStore | FlightRecorder | RecoveryGate

/** Why the API cannot start: a token too short, the console's files missing, or an option it does not name. */
export type ServerError = Auth.InvalidToken | ConsoleAssetMissing | DecodeFailure

/** The options `ServerOptions` names. */
const SERVER_OPTIONS: ReadonlyArray<string> = ["token", "maxBodyBytes", "console"]

const encodeUnauthorized = Schema.encode(UnauthorizedError)

/** `GET /openapi.json`, behind the same token as the API. */
const openApiRoute = (token: Redacted.Redacted<string>) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const spec = yield* Effect.orDie(HttpServerResponse.json(OpenApi.fromApi(Api)))
      const refused = yield* Effect.orDie(Effect.flatMap(encodeUnauthorized(new Unauthorized()), (body) =>
        HttpServerResponse.json(body, { status: 401 })))
      yield* router.get(
        "/openapi.json",
        Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
          Auth.isAuthorized(Auth.authorizationOf(request), Redacted.value(token)) ? spec : refused)
      )
    }))

/**
 * The console's pages: `/console/` and its files. They hold no data: the
 * page asks for the token (or reads it from the `#token=` fragment `ai-jobs
 * serve` prints) and calls the API with it.
 */
const consoleRoutes = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const files = yield* loadConsole
    // The router does not tell `/console` from `/console/`, but the page's relative
    // links need the slash: redirect, relatively, so a mount prefix is kept.
    yield* router.get(
      "/console/",
      Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        new URL(request.url, "http://x").pathname.endsWith("/")
          ? files["index.html"]
          : HttpServerResponse.redirect("console/", { status: 302 }))
    )
    for (const name of consoleFiles) yield* router.get(`/console/${name}`, Effect.succeed(files[name]))
  }))

/** The API, its OpenAPI document and the console, as the `HttpApi.Api` that `HttpApiBuilder.serve()` serves. */
export const layer = (given: ServerOptions): Layer.Layer<HttpApi.Api, ServerError, Services> => {
  // A misspelt `consol: false` dropped would serve the console the caller meant to leave out.
  const read = readOptions(given, SERVER_OPTIONS, "ServerOptions")
  if (read instanceof DecodeFailure) return Layer.fail(read)
  const options = read as ServerOptions
  // A limit of NaN answered every POST 500 with an empty body, one below 1 every POST 413 ("exceeds -5 bytes").
  const limit = options.maxBodyBytes
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    return Layer.fail(new DecodeFailure({ subject: "ServerOptions", issues: [{ path: "maxBodyBytes", message: "Expected a whole number of bytes ≥ 1" }] }))
  }
  return Layer.mergeAll(
    HttpApiBuilder.api(Api).pipe(
      Layer.provide(Handlers.layer()),
      Layer.provide(Auth.layer(options.token)),
      Layer.provide(BodyLimit.layer(options.maxBodyBytes))
    ),
    openApiRoute(options.token),
    Unmatched.layer(),
    DecodeErrors.layer(),
    AnswerHeaders.layer(),
    options.console === false ? Layer.empty : consoleRoutes
  )
}

/**
 * The same routes as one `HttpApp`, for an application that has its own
 * router: `HttpRouter.mountApp("/ai-jobs", app)`. Built in the caller's scope.
 */
export const httpApp = (
  options: ServerOptions
): Effect.Effect<HttpApp.Default<never, HttpRouter.HttpRouter.DefaultServices>, ServerError, Services | Scope.Scope> =>
  Effect.flatMap(
    Layer.build(Layer.mergeAll(layer(options), HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer)),
    (context) => Effect.provide(HttpApiBuilder.httpApp, context)
  )

