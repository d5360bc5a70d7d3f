/**
 * How much of a decode error is kept. Schema's messages quote the refused
 * value whole, so a megabyte of bad input would otherwise come back whole —
 * in an HTTP answer, a log line or a failed job's `error_message`. The
 * domain's `DecodeFailure` and the HTTP API's `HttpApiDecodeError` keep the
 * same bounds (README, *The API*).
 */
import { clipText } from "./Text.js"

/** The most issues an error lists. */
export const MAX_DECODE_ISSUES = 50

/** The longest issue message (and path) kept. */
export const MAX_ISSUE_TEXT = 1_000

/** The first `MAX_DECODE_ISSUES` of `issues`; past the bound the rest are counted in one last issue. */
export const boundIssues = <I extends { readonly path: string; readonly message: string }>(
  issues: ReadonlyArray<I>
): Array<I | { readonly path: string; readonly message: string }> =>
  issues.length <= MAX_DECODE_ISSUES
    ? [...issues]
    : [...issues.slice(0, MAX_DECODE_ISSUES), { path: "", message: `… and ${issues.length - MAX_DECODE_ISSUES} more issues` }]

/** An issue's message or path, cut at `MAX_ISSUE_TEXT`, saying how long it was. */
export const clipIssueText = (text: string): string => clipText(text, MAX_ISSUE_TEXT)

/** Schema's issue for the `null` or `undefined` member of a union (`NullOr`, an optional field). */
const absentAlternative = /^Expected (null|undefined), actual /

/**
 * `issues` without those that only say a value is not the `null` or `undefined` a union
 * (`NullOr(Json)`, an optional field, an optional body) would also take, when another issue at
 * the same place or inside it says what is wrong: `job_inputs.s: Text must not contain U+0000`
 * alone, not also `job_inputs: Expected null, actual {…}`. Such an issue with nothing more
 * specific beside it is kept.
 */
export const withoutAbsentAlternatives = <I extends { readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>(
  issues: ReadonlyArray<I>
): ReadonlyArray<I> => {
  const specific = issues.filter((issue) => !absentAlternative.test(issue.message))
  return issues.filter((issue) =>
    !absentAlternative.test(issue.message) ||
    !specific.some((other) => other.path.length >= issue.path.length && issue.path.every((key, i) => other.path[i] === key))
  )
}
