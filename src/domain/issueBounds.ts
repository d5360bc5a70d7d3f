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

/** An issue's message or path, cut at `MAX_ISSUE_TEXT`, saying how long it was. */
export const clipIssueText = (text: string): string => clipText(text, MAX_ISSUE_TEXT)
