/**
 * Request size limit: a body must declare its length (411 otherwise) and
 * stay within the limit (413 otherwise), both decided before a byte of it is
 * read; a JSON body that does not parse is a typed 400 instead of a server
 * error.
 *
 * Why a length is required: a reader that hits the limit mid-stream can only
 * drop the connection, and the client never sees the 413. With the length
 * declared, the server (Node's parser) never delivers more than that.
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
import { LengthRequired, MalformedBody, PayloadTooLarge } from "./Errors.js"

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
    const length = request.headers["content-length"]
    if (length === undefined) {
      if (request.headers["transfer-encoding"] !== undefined) return yield* new LengthRequired()
      return
    }
    if (Number(length) > maxBytes) return yield* new PayloadTooLarge({ limit_bytes: maxBytes })
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
