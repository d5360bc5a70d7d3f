/**
 * The platform answers a request that does not match the API's shapes with
 * `HttpApiDecodeError`, whose message and issues quote the refused value
 * whole — a 500 kB field came back as a 2 MB answer (the value twice). This
 * API-level middleware bounds it as the domain bounds `DecodeFailure`
 * (domain/issueBounds.ts): at most 50 issues, each message and path segment
 * cut at 1,000 characters, each saying how long it was; the summary at 4,000,
 * by whole issue lines, ending with how many it leaves out — and, as there,
 * without an optional field's `Expected undefined` beside a more specific
 * issue at the same place.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import { clipIssueText, MAX_DECODE_ISSUES, withoutAbsentAlternatives } from "../domain/issueBounds.js"
import { clipText } from "../domain/Text.js"

/** The summary's bound: every kept issue, one text. */
const MAX_SUMMARY = 4_000

/** A path as Schema's formatters print it: `["entity_refs"][0]["x"]`; the whole input is `(input)`. */
const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "(input)" : path.map((key) => `[${typeof key === "symbol" ? String(key) : JSON.stringify(key)}]`).join("")

/**
 * `error` with its quotes of the request cut to size, and its message the
 * issues one per line (`["job_kind"]: Expected one of …`). The platform's
 * message is Schema's tree, which prints each level's whole schema on the
 * way down to a problem; the issues already say where and what.
 */
export const bounded = (error: HttpApiDecodeError): HttpApiDecodeError => {
  // As `DecodeFailure` does: an optional field's "Expected undefined/null" beside a more specific issue at the same place is left out.
  const specific = withoutAbsentAlternatives(error.issues)
  const issues = specific.slice(0, MAX_DECODE_ISSUES).map((issue) => ({
    _tag: issue._tag,
    path: issue.path.map((key) => typeof key === "string" ? clipIssueText(key) : key),
    message: clipIssueText(issue.message)
  }))
  const lines = issues.map((issue) => `${pathText(issue.path)}: ${issue.message}`)
  return new HttpApiDecodeError({
    message: lines.length === 0 ? clipText(error.message, MAX_SUMMARY) : summary(lines, specific.length),
    issues
  })
}

/**
 * The first issue lines that fit in `MAX_SUMMARY` beside the line counting
 * the rest of `total`, whole: cut as one text, the count (the only word on
 * how many were left out) was what fell off. A first line too long to fit
 * is itself cut, so the count stays.
 */
const summary = (lines: ReadonlyArray<string>, total: number): string => {
  const rest = (shown: number) => shown < total ? `\n(and ${total - shown} more)` : ""
  let shown = 0
  let text = ""
  for (const line of lines) {
    const next = shown === 0 ? line : `${text}\n${line}`
    if (next.length + rest(shown + 1).length > MAX_SUMMARY) break
    text = next
    shown++
  }
  return shown > 0 ? text + rest(shown) : clipText(lines[0]!, MAX_SUMMARY - rest(1).length) + rest(1)
}

/** A request value refused by `error`, as the platform refuses one: its `HttpApiDecodeError`, bounded. */
export const refusedRequest = (error: ParseResult.ParseError): Effect.Effect<never, HttpApiDecodeError> =>
  Effect.flatMap(HttpApiDecodeError.fromParseError(error), (decodeError) => Effect.fail(bounded(decodeError)))

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
