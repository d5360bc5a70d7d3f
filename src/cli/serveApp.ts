/**
 * What `ai-jobs serve` runs (serve.ts is its command): startup recovery, then
 * the HTTP API, its OpenAPI document and the web console on one Node server,
 * until interrupted. Imported only when `serve` runs.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Console from "effect/Console"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Capabilities from "../Capabilities.js"
import * as JobsApi from "../http/JobsApi.js"
import { tokenProblem, tokenRule } from "../http/tokenRules.js"
import * as Jobs from "../Jobs.js"
import * as Recovery from "../Recovery.js"
import * as WakeUp from "../WakeUp.js"
import { recorderLayer, resolve, storeLayer } from "./database.js"
import { BadInput, describeError, OperationFailed } from "./errors.js"
import * as Parse from "./parse.js"
import { DEFAULT_PORT, isLoopback, type ServeOptions, SHUTDOWN_GRACE_VARIABLE } from "./serveOptions.js"
import { takeRepeatedSignals } from "./repeatedSignal.js"
import { DEFAULT_SHUTDOWN_GRACE, makeServeStop } from "./serveStop.js"

/** The token to require: configured, or made up for a loopback-only server. */
const chooseToken = (host: string, option: Option.Option<string>) =>
  Effect.gen(function*() {
    const fromEnv = process.env["AI_JOBS_TOKEN"]
    const configured = Option.isSome(option) ? option.value : fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined
    if (configured !== undefined) {
      const source = Option.isSome(option) ? "--token" : "AI_JOBS_TOKEN"
      const problem = tokenProblem(configured)
      if (problem !== undefined) return yield* new BadInput({ message: `bad ${source}: the ${tokenRule[problem]}` })
      return { token: Redacted.make(configured), generated: false }
    }
    if (!isLoopback(host)) {
      return yield* new BadInput({
        message: `refusing to serve on ${host} without a token: that host is reachable from other machines. ` +
          "Give one with --token or AI_JOBS_TOKEN, or serve on 127.0.0.1"
      })
    }
    return { token: JobsApi.generateToken(), generated: true }
  })

/** How long a stop waits for requests in flight: `--shutdown-grace`, else its variable, else the default. */
const chooseGrace = (option: Option.Option<string>) => {
  const fromEnv = process.env[SHUTDOWN_GRACE_VARIABLE]
  if (Option.isSome(option)) return Parse.duration("--shutdown-grace")(option.value)
  if (fromEnv !== undefined && fromEnv !== "") return Parse.duration(SHUTDOWN_GRACE_VARIABLE)(fromEnv)
  return Effect.succeed<Duration.Duration>(DEFAULT_SHUTDOWN_GRACE)
}

/** `/` → the console. */
const rootRedirect = HttpApiBuilder.Router.use((router) =>
  router.get("/", Effect.succeed(HttpServerResponse.redirect("/console/", { status: 302 }))))

const baseUrl = (address: HttpServer.Address): string =>
  address._tag === "UnixAddress"
    ? `unix:${address.path}`
    : `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}/`

/** Serves until interrupted (Ctrl-C). */
export const serve = (options: ServeOptions) =>
  Effect.gen(function*() {
    const stopping = makeServeStop()
    // Until the store is closed: a repeated signal shortens the stop, never skips its close.
    yield* takeRepeatedSignals(stopping.cutNow)
    const port = Option.getOrElse(yield* Parse.optional(options.port, Parse.integer("--port", 0, 65535)), () => DEFAULT_PORT)
    const { generated, token } = yield* chooseToken(options.host, options.token)
    const grace = yield* chooseGrace(options.shutdownGrace)
    const database = yield* resolve(options.database)
    // An unmigrated (or out-of-date) database would be served anyway, every route failing and
    // startup recovery closing intake for good: opening it refuses it (database.ts
    // `currentSchema`), here before anything listens.
    yield* Effect.provide(Effect.void, storeLayer(database, { migrate: false, create: false, readonly: true }))

    // One process of an application: startup recovery first (R9), then intake.
    // It runs no worker and awaits no job: nothing to wake.
    const services = Jobs.layer().pipe(
      Layer.provideMerge(Recovery.layerStartup()),
      Layer.provideMerge(WakeUp.layerPollOnly),
      Layer.provideMerge(Capabilities.layerDefault),
      Layer.provideMerge(recorderLayer(database, { migrate: false, create: false }))
    )
    const nodeServer = JobsApi.createServer()
    const server = NodeHttpServer.layer(() => nodeServer, { host: options.host, port }).pipe(
      Layer.mapError((error) => new OperationFailed({ message: `cannot listen on ${options.host}:${port}: ${describeError(error)}` }))
    )
    const app = HttpApiBuilder.serve(stopping.track).pipe(
      Layer.provide(rootRedirect),
      Layer.provide(JobsApi.layer({ token }).pipe(
        Layer.mapError((error) => new OperationFailed({ message: describeError(error) }))
      )),
      Layer.provide(services),
      Layer.provideMerge(server)
    )

    yield* Effect.gen(function*() {
      const url = baseUrl((yield* HttpServer.HttpServer).address)
      yield* Console.log([
        `Serving ${database.display} (${database.target.dialect}) on ${url}`,
        generated
          ? `  console  ${url}console/#token=${encodeURIComponent(Redacted.value(token))}`
          : `  console  ${url}console/  (sign in with your token)`,
        `  API      ${url}jobs, ${url}events  (header Authorization: Bearer <token>)`,
        `  OpenAPI  ${url}openapi.json`,
        `  health   ${url}health`,
        "Press Ctrl-C to stop."
      ].join("\n"))
      return yield* Effect.never
    }).pipe(
      // Before the layers close (the store among them): the requests in flight end or are cut first.
      Effect.onInterrupt(() => stopping.stop(nodeServer, grace)),
      Effect.provide(app)
    )
  }).pipe(Effect.scoped)
