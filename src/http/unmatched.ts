/**
 * Requests no route takes: a path the API does not have is 404
 * `RouteNotFound`, a method a path does not take is 405 `MethodNotAllowed`
 * with an `Allow` header — each with the same JSON error body as every other
 * refusal, instead of the platform's empty 404.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Api } from "./Api.js"
import { consoleFiles } from "./console.js"
import { MethodNotAllowed, RouteNotFound } from "./Errors.js"

/** A route's method and path segments (`:name` matches any one segment). */
interface Known {
  readonly method: string
  readonly segments: ReadonlyArray<string>
}

const segmentsOf = (path: string): ReadonlyArray<string> => path.split("/").filter((segment) => segment !== "")

/** The API's endpoints, its OpenAPI document and the console's files. */
const knownRoutes = (): ReadonlyArray<Known> => {
  const routes: Array<Known> = []
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      routes.push({ method: endpoint.method, segments: segmentsOf(endpoint.path) })
    }
  })
  for (const path of ["/openapi.json", "/console/", ...consoleFiles.map((name) => `/console/${name}`)]) {
    routes.push({ method: "GET", segments: segmentsOf(path) })
  }
  return routes
}

// Without regard to case, as the router matches (`GET /JOBS` is `GET /jobs`): `DELETE /JOBS` is 405, as `DELETE /jobs` is.
const matches = (route: Known, segments: ReadonlyArray<string>): boolean =>
  route.segments.length === segments.length &&
  route.segments.every((segment, i) => segment.startsWith(":") || segment.toLowerCase() === segments[i]?.toLowerCase())

/** The methods a path takes (GET implies HEAD), in a stable order; empty when no route has that path. */
export const allowedMethods = (routes: ReadonlyArray<Known>, pathname: string): ReadonlyArray<string> => {
  const segments = segmentsOf(pathname)
  const methods = new Set(routes.filter((route) => matches(route, segments)).map((route) => route.method))
  if (methods.has("GET")) methods.add("HEAD")
  return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].filter((method) => methods.has(method))
}

const respond = (error: RouteNotFound | MethodNotAllowed, status: number, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ ...error, message: error.message }, { status, headers })

/** The API-level middleware that answers unmatched requests. */
export const layer = (): Layer.Layer<never> => {
  const routes = knownRoutes()
  const answer = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const pathname = new URL(request.url, "http://x").pathname
    const allowed = allowedMethods(routes, pathname)
    return allowed.length === 0
      ? respond(new RouteNotFound({ method: request.method, path: pathname }), 404)
      : respond(new MethodNotAllowed({ method: request.method, allowed: [...allowed] }), 405, { allow: allowed.join(", ") })
  })
  return HttpApiBuilder.middleware((app) =>
    Effect.catchAllCause(app, (cause) => {
      const failure = Cause.failureOption(cause)
      return Option.isSome(failure) && (failure.value as unknown) instanceof HttpServerError.RouteNotFound ? answer : Effect.failCause(cause)
    }))
}
