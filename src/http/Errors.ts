/**
 * Errors on the wire. Every failure the API can answer with is a tagged error
 * with its own HTTP status; the body is the error's fields, its `_tag` and a
 * readable `message`. The typed client decodes the body back into the same
 * class, so `Effect.catchTag` works the same on both sides of the network.
 *
 * The library's own errors are reused as they are (one class per failure,
 * never a copy); only failures that exist because of HTTP are defined here.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { CapabilityDenied, EscalationDenied, UnknownCapability, UnknownProfile } from "../Capabilities.js"
import { DecodeFailure, IllegalTransition } from "../domain/Errors.js"
import { RecoveryFailed, type RecoveryStatus } from "../Recovery.js"
import { AlreadyExists, CorruptRow, NotFound, StorageError } from "../store/StoreErrors.js"

/** A request without the bearer token, or with a wrong one. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {}) {
  override get message(): string {
    // One message for a missing and a wrong token: which one it was is not told to whoever sent it.
    return "A valid bearer token is required (none was sent, or not the server's): send the header Authorization: Bearer <token>"
  }
}

/** A request body larger than the server accepts. Nothing was read past the limit. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limit_bytes: Schema.Int
}) {
  override get message(): string {
    return `The request body exceeds ${this.limit_bytes} bytes`
  }
}

/**
 * A request body sent without a Content-Length (chunked). Refused before
 * reading: a declared length is what lets the limit answer 413 instead of
 * cutting the connection mid-upload.
 */
export class LengthRequired extends Schema.TaggedError<LengthRequired>()("LengthRequired", {}) {
  override get message(): string {
    return "A request body needs a Content-Length header"
  }
}

/** A request body that is not JSON, or could not be read. */
export class MalformedBody extends Schema.TaggedError<MalformedBody>()("MalformedBody", {
  reason: Schema.String
}) {
  override get message(): string {
    return `The request body is not valid JSON: ${this.reason}`
  }
}

/**
 * A request line and headers longer than the server reads (Node's `maxHeaderSize`, 16 KiB by
 * default): most often a URL of many kilobytes. Answered before any route is looked up, by the
 * server's `clientError` handler (clientErrors.ts), never by an endpoint.
 */
export class RequestHeaderFieldsTooLarge extends Schema.TaggedError<RequestHeaderFieldsTooLarge>()("RequestHeaderFieldsTooLarge", {
  limit_bytes: Schema.Int
}) {
  override get message(): string {
    return `The request line and headers exceed ${this.limit_bytes} bytes: send a shorter URL or fewer headers`
  }
}

/** A request for a path the API does not have. */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()("RouteNotFound", {
  method: Schema.String,
  path: Schema.String
}) {
  override get message(): string {
    return `No route ${this.method} ${this.path}: see /openapi.json for the API's routes`
  }
}

/** A request with a method its path does not take; `allowed` (also the `Allow` header) lists those it does. */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  method: Schema.String,
  allowed: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `This route does not take ${this.method}; it takes ${this.allowed.join(", ")}`
  }
}

/** What `GET /health` reports (R9: intake opens only once startup recovery finished). */
export const HealthFields = {
  /** `ok` only when the database answers and startup recovery has finished. */
  status: Schema.Literal("ok", "unavailable"),
  database: Schema.Literal("reachable", "unreachable"),
  /** The newest migration applied; null when the database did not answer. */
  schema_version: Schema.NullOr(Schema.Int),
  recovery: Schema.Literal("running", "finished", "failed") satisfies Schema.Schema<RecoveryStatus>,
  /** The package version serving the request. */
  version: Schema.String
}

/** The health report when the service cannot take work: database unreachable, or recovery running or failed. */
export class Unhealthy extends Schema.TaggedError<Unhealthy>()("Unhealthy", HealthFields) {
  override get message(): string {
    if (this.database === "unreachable") return "The database does not answer"
    return this.recovery === "failed"
      ? "Startup recovery failed: no new job is accepted"
      : "Startup recovery is still running: new jobs wait until it finishes"
  }
}

/**
 * The wire form of a tagged error: its encoded fields plus `message`, under
 * `status`. Decoding drops `message` (the class computes it) and rebuilds the
 * error, so a client gets the very class the server failed with.
 */
export const httpError = <A extends { readonly message: string }, I extends object>(
  error: Schema.Schema<A, I>,
  status: number
): Schema.Schema<A, I & { readonly message: string }> =>
  Schema.transformOrFail(
    Schema.extend(Schema.encodedSchema(error), Schema.Struct({ message: Schema.String })),
    Schema.typeSchema(error),
    {
      strict: true,
      decode: ({ message: _, ...fields }) => ParseResult.decodeUnknown(error)(fields),
      encode: (value) => ParseResult.map(ParseResult.encode(error)(value), (fields) => ({ ...fields, message: value.message }))
    }
  ).annotations(HttpApiSchema.annotations({ status })) as Schema.Schema<A, I & { readonly message: string }>

// One schema per error, shared by every endpoint: the server encodes the
// first matching member of its error union, so each class appears once.

/** 400: input that does not match its schema (a bad cursor, a reason too long for its event). */
export const DecodeFailureError = httpError(DecodeFailure, 400)
/** 400: a body that is not JSON. */
export const MalformedBodyError = httpError(MalformedBody, 400)
/** 401: no token, or a wrong one. */
export const UnauthorizedError = httpError(Unauthorized, 401)
/** 403: the job's (narrower) capability profile does not grant what its kind needs; nothing was queued. */
export const CapabilityDeniedError = httpError(CapabilityDenied, 403)
/** 403: the job asked for a profile wider than the policy gives its kind and protocol; nothing was queued. */
export const EscalationDeniedError = httpError(EscalationDenied, 403)
/** 404: no job with that id. */
export const NotFoundError = httpError(NotFound, 404)
/** 409: the lifecycle table forbids the change, or a concurrent change won. */
export const IllegalTransitionError = httpError(IllegalTransition, 409)
/** 409: a submit reused a job id. */
export const AlreadyExistsError = httpError(AlreadyExists, 409)
/** 411: a body without a Content-Length. */
export const LengthRequiredError = httpError(LengthRequired, 411)
/** 431: the request line and headers are longer than the server reads (written by clientErrors.ts, before routing). */
export const RequestHeaderFieldsTooLargeError = httpError(RequestHeaderFieldsTooLarge, 431)
/** 413: the body is larger than the server accepts. */
export const PayloadTooLargeError = httpError(PayloadTooLarge, 413)
/** 422: the job names a capability profile that does not exist. */
export const UnknownProfileError = httpError(UnknownProfile, 422)
/** 422: HSK-4001, a capability id the registry does not know. */
export const UnknownCapabilityError = httpError(UnknownCapability, 422)
/** 500: HSK-500-DB, the database failed. */
export const StorageErrorError = httpError(StorageError, 500)
/** 500: a stored row does not decode. */
export const CorruptRowError = httpError(CorruptRow, 500)
/** 503: startup recovery failed, so intake is closed. */
export const RecoveryFailedError = httpError(RecoveryFailed, 503)
/** 503: the health report of a service that cannot take work. */
export const UnhealthyError = httpError(Unhealthy, 503)
