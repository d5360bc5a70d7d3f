/**
 * Request size limit: a body must declare its length (411 otherwise) and
 * stay within the limit (413 otherwise), both decided before a byte of it is
 * read; a body that is not JSON — by its Content-Type or its text — is a
 * typed 400 instead of a server error, and so is JSON nested deeper than any
 * request can be (its error report would overflow the stack) and JSON that
 * JSON.parse would change without a word: a key given twice in one object, a
 * number a double cannot hold (silentChanges.ts).
 *
 * Why a length is required: a reader that hits the limit mid-stream can only
 * drop the connection, and the client never sees the 413. With the length
 * declared, the server (Node's parser) never delivers more than that.
 *
 * The body is read and parsed here once: the route decodes its payload from
 * the value parsed here (parsedBody.ts), never from the text again.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMethod from "@effect/platform/HttpMethod"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { tooDeep } from "../domain/depth.js"
import { DecodeFailure } from "../domain/Errors.js"
import { clipIssueText } from "../domain/issueBounds.js"
import { BodyLimit } from "./Api.js"
import { closedStartPastDepth } from "./bodyDepth.js"
import { withParsedBody } from "./parsedBody.js"
import { firstSilentChange, silentChangeIssue } from "./silentChanges.js"
import { LengthRequired, MalformedBody, PayloadTooLarge } from "./Errors.js"
import { Utf8CheckedMessage } from "./utf8Body.js"

/** The default limit: 1 MiB, well above any job a person submits by hand. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/** Whether a failed read stopped at the size limit (the platform's own wording). */
const isOverLimit = (error: unknown): boolean => {
  const cause = (error as { readonly cause?: { readonly message?: unknown } }).cause
  return cause?.message === "maxBytes exceeded"
}

/**
 * The deepest a request body may nest. A job's inputs may nest 64 levels one
 * level down, so no acceptable body comes near; a body a few thousand levels
 * deep would overflow the stack while its decode error is written (a 500 with
 * no body).
 */
export const MAX_BODY_DEPTH = 128

/**
 * Whether a Content-Type (absent: JSON) is JSON: the media type
 * `application/json` itself (any case), with no parameter but a UTF-8
 * `charset`. Any other type the platform decodes by reading the body again —
 * multipart, form, bytes — after this middleware has read it: the request
 * would wait forever, or a form body would quietly lose the fields it does
 * not name (a `reason` sent by `curl -d` without a JSON Content-Type). The
 * platform's own test is a substring, which took `application/json-patch+json`
 * and `text/plain; x=application/json` for JSON (found by an outside probe).
 */
const isJson = (contentType: string | undefined): boolean => {
  if (contentType === undefined || contentType.trim() === "") return true
  const [essence = "", ...parameters] = contentType.split(";").map((part) => part.trim().toLowerCase())
  return essence === "application/json" &&
    parameters.every((parameter) => parameter === "" || /^charset=("?)utf-?8\1$/.test(parameter))
}

/**
 * Whether the body of `length` bytes, read as `text`, held bytes that are not
 * UTF-8. The platform decodes a body as UTF-8, putting U+FFFD in place of each
 * invalid sequence — a silent change of what the client sent (`"p\xff"` would
 * be stored as `"p\ufffd"`). A request from `JobsApi.createServer` checked its
 * bytes as they came (utf8Body.ts). Any other server's is judged by the text:
 * each U+FFFD is three bytes and each invalid sequence it replaces one to
 * three, so a replacement makes the text's UTF-8 length differ from the
 * body's — except where every one replaced exactly three bytes (a four-byte
 * character cut after its third byte), which reads as U+FFFD sent as such.
 */
const notUtf8 = (source: unknown, text: string, length: number): boolean =>
  source instanceof Utf8CheckedMessage
    ? source.notUtf8
    : text.includes("\ufffd") && Buffer.byteLength(text, "utf8") !== length

/**
 * The header cap a Node request reached, or undefined. Node keeps in
 * `headers` the first `maxHeadersCount` header fields (1,000 when it is not
 * set; 0 is no cap) and drops the rest, while `rawHeaders` holds a few more:
 * as many fields as the cap, or more, means some may have been dropped.
 */
const headerCap = (source: unknown): number | undefined => {
  const message = source as { readonly rawHeaders?: ReadonlyArray<string>; readonly socket?: { readonly server?: { readonly maxHeadersCount?: number | null } } }
  if (!Array.isArray(message.rawHeaders)) return undefined
  const cap = message.socket?.server?.maxHeadersCount ?? NODE_HEADER_FIELDS
  return cap > 0 && message.rawHeaders.length / 2 >= cap ? cap : undefined
}

/** The header fields Node keeps when `maxHeadersCount` is not set (its parser's 2,000 entries, name and value each one). */
const NODE_HEADER_FIELDS = 1000

/** The first key of `url`'s query, if it has one (a bare `?` has none). */
const firstQueryKey = (url: string): string | undefined => {
  const at = url.indexOf("?")
  if (at === -1) return undefined
  const end = url.indexOf("#", at)
  return [...new URLSearchParams(url.slice(at + 1, end === -1 ? undefined : end)).keys()][0]
}

/** Whether `text` is JSON. */
const parses = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * The BodyLimit middleware for bodies of at most `maxBytes` bytes: the
 * request the route then reads, its body parsed once here.
 */
export const layer = (maxBytes: number = DEFAULT_MAX_BODY_BYTES): Layer.Layer<BodyLimit> =>
  Layer.succeed(BodyLimit, Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!HttpMethod.hasBody(request.method)) return request
    // The routes with a body take no query: ignored, `POST /jobs?dry_run=1` queued a real job, where a
    // listing refuses a key it does not name (found by an outside probe).
    const key = firstQueryKey(request.url)
    if (key !== undefined) {
      return yield* new DecodeFailure({ subject: "request query", issues: [{ path: clipIssueText(key), message: "is unexpected: this route takes no query parameters" }] })
    }
    const contentType = request.headers["content-type"]
    if (!isJson(contentType)) {
      return yield* new MalformedBody({ reason: `its Content-Type is ${JSON.stringify(contentType)}; send application/json` })
    }
    // Node hands over only the first `maxHeadersCount` headers (1,000 by default) but frames the
    // body by one after them: a Content-Length sent 2001st was used by the parser and never seen
    // here, and the body was read unchecked — any size, duplicate keys, bytes that are not UTF-8
    // (found by an outside probe). A request whose headers reached the cap is refused.
    const cap = headerCap(request.source)
    if (cap !== undefined) {
      return yield* new MalformedBody({
        reason: `it sends ${cap} or more header fields, the most the server reads, so its length may not be known; send fewer headers`
      })
    }
    const length = request.headers["content-length"]
    if (length === undefined) {
      if (request.headers["transfer-encoding"] !== undefined) return yield* new LengthRequired()
      return request
    }
    if (Number(length) > maxBytes) return yield* new PayloadTooLarge({ limit_bytes: maxBytes })
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBytes)),
      Effect.mapError((error) =>
        isOverLimit(error) ? new PayloadTooLarge({ limit_bytes: maxBytes }) : new MalformedBody({ reason: "the body could not be read" })
      )
    )
    if (text === "") return request
    if (notUtf8(request.source, text, Number(length))) {
      return yield* new MalformedBody({ reason: "its bytes are not valid UTF-8 (RFC 8259 §8.1); send the text encoded as UTF-8" })
    }
    const tooDeepRefusal = new DecodeFailure({ subject: "request body", issues: [{ path: "", message: tooDeep(MAX_BODY_DEPTH) }] })
    // Judged before the parse, which would build every level first; JSON that is bad before that bracket is
    // still refused as the parse refuses it.
    const deepStart = closedStartPastDepth(text, MAX_BODY_DEPTH)
    if (deepStart !== undefined && parses(deepStart)) return yield* tooDeepRefusal
    const parsed = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new MalformedBody({ reason: error instanceof Error ? error.message : String(error) })
    })
    if (deepStart !== undefined) return yield* tooDeepRefusal
    const change = firstSilentChange(text)
    if (change !== undefined) return yield* new DecodeFailure({ subject: "request body", issues: [silentChangeIssue(change)] })
    return withParsedBody(request, parsed)
  }))
