/**
 * The CLI's two kinds of failure and their exit codes: bad input (2) is
 * refused before anything is touched; an operational failure (1) happened
 * while doing the work. Each carries the one line printed to stderr.
 */
import * as Schema from "effect/Schema"

/** Exit codes of every command. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  badInput: 2
} as const

/** Input the command refuses (unknown kind, malformed id, bad duration, bad URL): exit 2, nothing changed. */
export class BadInput extends Schema.TaggedError<BadInput>()("BadInput", {
  message: Schema.String
}) {}

/** The work could not be done (database unreachable, job missing, query failed): exit 1. */
export class OperationFailed extends Schema.TaggedError<OperationFailed>()("OperationFailed", {
  message: Schema.String
}) {}

/** The message of an error-like value, following `cause` to the driver's own words when the top is generic. */
export const describeError = (error: unknown): string => {
  const messages: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const message = (current as { readonly message?: unknown }).message
    if (typeof message === "string" && message !== "" && !messages.includes(message)) messages.push(message)
    current = (current as { readonly cause?: unknown }).cause
  }
  if (messages.length === 0) return String(error)
  // One line: the first message names the operation, the last one the driver's reason.
  const first = messages[0] ?? ""
  const last = messages[messages.length - 1] ?? ""
  const text = messages.length > 1 && !first.includes(last) ? `${first}: ${last}` : first
  return text.replace(/\s*\n\s*/g, " ")
}
