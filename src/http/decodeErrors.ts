/**
 * The platform answers a request that does not match the API's shapes with
 * `HttpApiDecodeError`, whose message and issues quote the refused value
 * whole — a 500 kB field came back as a 2 MB answer (the value twice). This
 * API-level middleware bounds it as the domain bounds `DecodeFailure`
 * (domain/Errors.ts): at most 50 issues, each message and path segment cut at
 * 1,000 characters, the summary at 4,000, each saying how long it was.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { clipText } from "../domain/Text.js"

const MAX_ISSUES = 50
const MAX_ISSUE_TEXT = 1_000
const MAX_SUMMARY = 4_000

/** `error` with its quotes of the request cut to size; the same error when nothing is too long. */
export const bounded = (error: HttpApiDecodeError): HttpApiDecodeError => {
  const long = error.message.length > MAX_SUMMARY || error.issues.length > MAX_ISSUES ||
    error.issues.some((issue) =>
      issue.message.length > MAX_ISSUE_TEXT ||
      issue.path.some((key) => typeof key === "string" && key.length > MAX_ISSUE_TEXT)
    )
  if (!long) return error
  return new HttpApiDecodeError({
    message: clipText(error.message, MAX_SUMMARY),
    issues: error.issues.slice(0, MAX_ISSUES).map((issue) => ({
      _tag: issue._tag,
      path: issue.path.map((key) => typeof key === "string" ? clipText(key, MAX_ISSUE_TEXT) : key),
      message: clipText(issue.message, MAX_ISSUE_TEXT)
    }))
  })
}

/** The API-level middleware that bounds every `HttpApiDecodeError` before it is written. */
export const layer = (): Layer.Layer<never> =>
  HttpApiBuilder.middleware((app) =>
    Effect.catchAllCause(app, (cause) => {
      const failure = Cause.failureOption(cause)
      // The app's failures are typed `never` here but arrive as the route's typed errors, re-failed alike.
      return Option.isSome(failure) && (failure.value as unknown) instanceof HttpApiDecodeError
        ? Effect.fail(bounded(failure.value as unknown as HttpApiDecodeError)) as never
        : Effect.failCause(cause)
    }))
