/**
 * Request size limit: a body is read only up to the limit (a declared
 * Content-Length over it is refused before reading anything), and a JSON
 * body that does not parse is a typed 400 instead of a server error.
 *
 * The body read here is cached by the request, so the endpoint's own
 * decoding reuses it.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMethod from "@effect/platform/HttpMethod"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { BodyLimit } from "./Api.js"
import { MalformedBody, PayloadTooLarge } from "./Errors.js"

/** The default limit: 1 MiB, well above any job a person submits by hand. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/** Whether a failed read stopped at the size limit (the platform's own wording). */
const isOverLimit = (error: unknown): boolean => {
  const cause = (error as { readonly cause?: { readonly message?: unknown } }).cause
  return cause?.message === "maxBytes exceeded"
}

/** The BodyLimit middleware for bodies of at most `maxBytes` bytes. */
export const layer = (maxBytes: number = DEFAULT_MAX_BODY_BYTES): Layer.Layer<BodyLimit> =>
  Layer.succeed(BodyLimit, Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!HttpMethod.hasBody(request.method)) return
    const declared = Number(request.headers["content-length"] ?? Number.NaN)
    if (declared > maxBytes) return yield* new PayloadTooLarge({ limit_bytes: maxBytes })
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBytes)),
      Effect.mapError((error) =>
        isOverLimit(error) ? new PayloadTooLarge({ limit_bytes: maxBytes }) : new MalformedBody({ reason: "the body could not be read" })
      )
    )
    const contentType = request.headers["content-type"] ?? "application/json"
    if (text === "" || !contentType.toLowerCase().includes("application/json")) return
    yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new MalformedBody({ reason: error instanceof Error ? error.message : String(error) })
    })
  }))
