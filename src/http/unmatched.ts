/**
 * Requests no route takes: a path the API does not have is 404
 * `RouteNotFound`, a method a path does not take is 405 `MethodNotAllowed`
 * with an `Allow` header — each with the same JSON error body as every other
 * refusal, instead of the platform's empty 404. A path and method a route
 * does take, with a parameter the router would not read (over its length
 * limit, or escapes that decode to no text), is that parameter's 400
 * `HttpApiDecodeError`, as any other malformed one.
 *
 * Only a route's own spelling reaches the router: it would also take other
 * case, doubled or trailing slashes, a `;` ending the path and escaped
 * letters (`POST /JOBS/:id/PIN`, `//jobs//:id//unpin`, `/%6aobs`), which
 * slip past a proxy's rule on `/jobs/<id>/cancel` and a grep of the logs.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { clipText } from "../domain/Text.js"
import { Api } from "./Api.js"
import { consoleFiles } from "./console.js"
import { refusedRequest } from "./decodeErrors.js"
import { MethodNotAllowed, RouteNotFound } from "./Errors.js"

/** A route's method and path segments (`:name` matches any one segment). */
interface Known {
  readonly method: string
  readonly segments: ReadonlyArray<string>
  /** Its segments as the router compares them (`loosely`). */
  readonly loose: ReadonlyArray<string>
  /** The schema of its `:name` parameters, when it has any. */
  readonly pathSchema: Option.Option<Schema.Schema<unknown>>
}

const decoded = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** A path's segments as sent, empty ones kept: `//jobs/` is `["", "", "jobs", ""]`, not `/jobs`. */
const segmentsOf = (path: string): ReadonlyArray<string> => path.split("/")

/**
 * A path's segments as the router reads them: up to a `;`, doubled and
 * trailing slashes dropped, escapes decoded, in lower case.
 */
const looseSegmentsOf = (path: string): ReadonlyArray<string> =>
  path.split(";")[0]!.split("/").filter((segment) => segment !== "").map((segment) => decoded(segment).toLowerCase())

/**
 * The path as sent: the request target (an absolute-form one without its
 * scheme and host) up to the first `?` or `#`. Not through `new URL`, which
 * resolves `..` and `%2e%2e` and reads `\` as `/`: it named a route the
 * router never matched (`GET /console/../health` was a 405 that did not take
 * GET, and took GET).
 */
const routedPath = (url: string): string => {
  const path = url.startsWith("/") ? url : url.replace(/^https?:\/\/.*?\//, "/")
  const end = path.search(/[?#]/)
  return end === -1 ? path : path.slice(0, end)
}

/** The API's endpoints, its OpenAPI document and the console's files. */
const knownRoutes = (): ReadonlyArray<Known> => {
  const routes: Array<Known> = []
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      routes.push({
        method: endpoint.method,
        segments: segmentsOf(endpoint.path),
        loose: looseSegmentsOf(endpoint.path),
        pathSchema: Option.map(endpoint.pathSchema, (schema) => Schema.make<unknown>(schema.ast))
      })
    }
  })
  // `/console` is the console's too: it redirects to `/console/`.
  for (const path of ["/openapi.json", "/console", "/console/", ...consoleFiles.map((name) => `/console/${name}`)]) {
    routes.push({ method: "GET", segments: segmentsOf(path), loose: looseSegmentsOf(path), pathSchema: Option.none() })
  }
  return routes
}

/** Whether `segments` spell `route`'s path: each static segment exactly as written (case, no escapes), a `:name` any non-empty one. */
const matches = (route: Known, segments: ReadonlyArray<string>): boolean =>
  route.segments.length === segments.length &&
  route.segments.every((segment, i) => segment.startsWith(":") ? segments[i] !== "" : segment === segments[i])

/** Whether the router would take `loose` segments for `route`'s. */
const resembles = (route: Known, loose: ReadonlyArray<string>): boolean =>
  route.loose.length === loose.length && route.loose.every((segment, i) => segment.startsWith(":") || segment === loose[i])

/**
 * Whether `pathname` is another spelling of one of these routes: one the
 * router would take for it, not spelt as it is. A path like none of them is
 * left to the router (an application's own routes, as `ai-jobs serve`'s `/`).
 */
const misspelt = (routes: ReadonlyArray<Known>, pathname: string): boolean => {
  const loose = looseSegmentsOf(pathname)
  if (!routes.some((route) => resembles(route, loose))) return false
  if (pathname.includes(";")) return true
  const segments = segmentsOf(pathname)
  return !routes.some((route) => matches(route, segments))
}

/** The methods a path takes (GET implies HEAD), in a stable order; empty when no route has that path. */
export const allowedMethods = (routes: ReadonlyArray<Known>, pathname: string): ReadonlyArray<string> => {
  const segments = segmentsOf(pathname)
  const methods = new Set(routes.filter((route) => matches(route, segments)).map((route) => route.method))
  if (methods.has("GET")) methods.add("HEAD")
  return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].filter((method) => methods.has(method))
}

const respond = (error: RouteNotFound | MethodNotAllowed, status: number, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ ...error, message: error.message }, { status, headers })

/** The most of a path a 404 quotes: the answer names it in `path` and again in `message`. */
export const MAX_PATH_SHOWN = 200

/**
 * 404 `RouteNotFound` for `pathname`, quoted up to `MAX_PATH_SHOWN` characters and then an
 * ellipsis with its length (as decode errors are bounded, decodeErrors.ts): a 10 kB path was
 * echoed whole, twice, a 20 kB answer to a request the API does not have.
 */
const notFound = (method: string, pathname: string) =>
  respond(new RouteNotFound({ method, path: clipText(pathname, MAX_PATH_SHOWN) }), 404)

/**
 * Why the path parameters of the route taking `method` there are malformed,
 * by the route's own schema; none when they decode (the router refused the
 * request for a reason not told here).
 */
const malformedParameters = (routes: ReadonlyArray<Known>, method: string, pathname: string): Option.Option<ParseResult.ParseError> => {
  const segments = segmentsOf(pathname)
  const route = routes.find((known) => known.method === (method === "HEAD" ? "GET" : method) && matches(known, segments))
  if (route === undefined || Option.isNone(route.pathSchema)) return Option.none()
  const params = Object.fromEntries(route.segments.flatMap((segment, i) => segment.startsWith(":") ? [[segment.slice(1), decoded(segments[i] ?? "")]] : []))
  return Either.getLeft(Schema.decodeUnknownEither(route.pathSchema.value)(params))
}

/** The API-level middleware that answers unmatched requests. */
export const layer = (): Layer.Layer<never> => {
  const routes = knownRoutes()
  const answer = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const pathname = routedPath(request.url)
    const allowed = allowedMethods(routes, pathname)
    if (allowed.length === 0) return Effect.succeed(notFound(request.method, pathname))
    if (!allowed.includes(request.method)) {
      return Effect.succeed(respond(new MethodNotAllowed({ method: request.method, allowed: [...allowed] }), 405, { allow: allowed.join(", ") }))
    }
    // A route takes this path and method, yet the router matched none: it reads no parameter over
    // 100 characters, nor one whose escapes decode to no text. Such an id is malformed like any other.
    return Option.match(malformedParameters(routes, request.method, pathname), {
      onNone: () => Effect.succeed(notFound(request.method, pathname)),
      // Failed, to be encoded by the API's error schema as the platform's own decode errors are
      // (the middleware's failures are typed `never`, as in decodeErrors.ts).
      onSome: (error) => refusedRequest(error) as Effect.Effect<never>
    })
  })
  return HttpApiBuilder.middleware((app) => {
    const routed = Effect.catchAllCause(app, (cause) => {
      const failure = Cause.failureOption(cause)
      return Option.isSome(failure) && (failure.value as unknown) instanceof HttpServerError.RouteNotFound ? answer : Effect.failCause(cause)
    })
    // Another spelling of a route is not routed at all: the router would take it for that route.
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const pathname = routedPath(request.url)
      return misspelt(routes, pathname) ? Effect.succeed(notFound(request.method, pathname)) : routed
    })
  })
}
