/** Domain errors a caller can `catchTag`. */
import * as Arr from "effect/Array"
import * as Inspectable from "effect/Inspectable"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { JobState } from "./JobState.js"
import { allowedFrom } from "./Lifecycle.js"
import { clipIssueText, MAX_DECODE_ISSUES, withoutAbsentAlternatives } from "./issueBounds.js"
import { escapeUnstorable } from "./Text.js"

/** A requested state change that the lifecycle table (R6) does not allow. */
export class IllegalTransition extends Schema.TaggedError<IllegalTransition>()("IllegalTransition", {
  job_id: Schema.String,
  from: JobState,
  to: JobState,
  /**
   * The `Jobs` operation that asked for the move (`retry`, `cancel`, `resume`…),
   * with the states it accepts: not always every state that reaches `to`
   * (`resume` takes only `stalled` into `running`; `retry` only `failed` into
   * `queued`, a release being no retry). Absent on a move no named operation
   * made (a store's own guard, a run's end).
   */
  operation: Schema.optional(Schema.String),
  accepts: Schema.optional(Schema.Array(JobState))
}) {
  override get message(): string {
    const refused = `Job ${this.job_id} cannot go from ${this.from} to ${this.to}`
    // The operation's own states: "resume a queued job" says what resume is for, not what start is.
    if (this.operation !== undefined && this.accepts !== undefined && this.accepts.length > 0) {
      return `${refused} (${this.operation} moves only a job that is ${either(this.accepts)} to ${this.to})`
    }
    // Where the target can be reached from, so "resume a running job" says what resume is for.
    const from = this.to === "stalled" ? [] : allowedFrom(this.to)
    const only = from.length === 0 ? "" : ` (only a job that is ${either(from)} can go to ${this.to})`
    return `${refused}${only}`
  }
}

/** "a", "a or b", "a, b or c". */
const either = (states: ReadonlyArray<string>): string =>
  states.length < 2 ? states.join("") : `${states.slice(0, -1).join(", ")} or ${states[states.length - 1]}`

/**
 * A change refused because the job is in a terminal state (R6: completed,
 * completed_with_issues, cancelled, poisoned): its record is final, as the
 * audit trail left it. `Jobs.addMetrics` on such a job changes nothing —
 * metrics are a running job's counters, summed with its settle; after that
 * a silent change would make the job disagree with what was audited.
 */
export class JobFinished extends Schema.TaggedError<JobFinished>()("JobFinished", {
  job_id: Schema.String,
  state: JobState,
  /** What was refused (`"addMetrics"`). */
  change: Schema.String
}) {
  override get message(): string {
    return `Job ${this.job_id} is ${this.state}, a terminal state: its record is final, so ${this.change} changes nothing`
  }
}

/** One problem found while decoding: where it is and what was wrong. */
export const DecodeIssue = Schema.Struct({
  path: Schema.String,
  message: Schema.String
})
export type DecodeIssue = typeof DecodeIssue.Type

/**
 * Input that does not match its schema. `issues` lists every problem with its
 * path, so a CLI or API can print them one per line. The message quotes bad
 * input, so it is escaped into storable text (it may end up in an
 * `error_message`, e.g. when a job's outputs are refused).
 */
export class DecodeFailure extends Schema.TaggedError<DecodeFailure>()("DecodeFailure", {
  /** What was being decoded, e.g. "NewAiJob". */
  subject: Schema.String,
  issues: Schema.Array(DecodeIssue)
}) {
  override get message(): string {
    const lines = this.issues.map((issue) => `  - ${issue.path === "" ? "(value)" : issue.path}: ${issue.message}`)
    return escapeUnstorable([`Invalid ${this.subject}:`, ...lines].join("\n"))
  }

  /** Builds the error from a Schema parse error. */
  static fromParseError(subject: string, error: ParseResult.ParseError): DecodeFailure {
    return new DecodeFailure({ subject, issues: formatIssues(error) })
  }
}

/**
 * Schema's rows for `error`. Its default message quotes the refused value, reading its fields:
 * a caller's getter that throws (say beside `job_inputs`' refusal, where `NullOr` says "Expected
 * null, actual {…}") would throw out of the formatting, a defect. Then the rows are made again
 * with each such quote made safely.
 */
const formatSafely = (error: ParseResult.ParseError): ReadonlyArray<ParseResult.ArrayFormatterIssue> => {
  try {
    return ParseResult.ArrayFormatter.formatErrorSync(error)
  } catch {
    return ParseResult.ArrayFormatter.formatIssueSync(quotedSafely(error.issue))
  }
}

/** The value quoted much as Schema would, or a word for it when reading it throws. */
const quoteSafely = (actual: unknown): string => {
  try {
    return typeof actual === "string" ? JSON.stringify(actual) : Inspectable.toStringUnknown(actual, 0)
  } catch {
    return "a value that throws when read"
  }
}

/** `issue` with every default Type message written now, quoting safely (see `formatSafely`). */
const quotedSafely = (issue: ParseResult.ParseIssue): ParseResult.ParseIssue => {
  switch (issue._tag) {
    case "Type":
      return issue.message !== undefined
        ? issue
        : new ParseResult.Type(issue.ast, issue.actual, `Expected ${String(issue.ast)}, actual ${quoteSafely(issue.actual)}`)
    case "Pointer":
      return new ParseResult.Pointer(issue.path, issue.actual, quotedSafely(issue.issue))
    case "Composite":
      return new ParseResult.Composite(
        issue.ast,
        issue.actual,
        Array.isArray(issue.issues) ? Arr.map(issue.issues as Arr.NonEmptyReadonlyArray<ParseResult.ParseIssue>, quotedSafely) : quotedSafely(issue.issues as ParseResult.ParseIssue),
        issue.output
      )
    case "Refinement":
      return new ParseResult.Refinement(issue.ast, issue.actual, issue.kind, quotedSafely(issue.issue))
    case "Transformation":
      return new ParseResult.Transformation(issue.ast, issue.actual, issue.kind, quotedSafely(issue.issue))
    default:
      return issue
  }
}

/** Flattens a parse error into path/message rows, bounded (issueBounds.ts); past the bound the rest are counted in one last issue. */
export const formatIssues = (error: ParseResult.ParseError): Array<DecodeIssue> => {
  const all = withoutAbsentAlternatives(formatSafely(error))
  const issues = all.slice(0, MAX_DECODE_ISSUES).map((issue) => ({
    path: clipIssueText(issue.path.map(String).join(".")),
    message: clipIssueText(issue.message)
  }))
  if (all.length > MAX_DECODE_ISSUES) {
    issues.push({ path: "", message: `… and ${all.length - MAX_DECODE_ISSUES} more issues` })
  }
  return issues
}

/**
 * The issue message for a caller's value that threw while being read (a
 * getter, a Proxy trap): such input is refused as a `DecodeFailure`, never a
 * defect. What it threw is quoted, cut short.
 */
export const readThrew = (error: unknown): string => {
  let what: string
  try {
    what = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  } catch {
    what = "an exception that cannot be shown"
  }
  return clipIssueText(`Reading the value threw (${what}); expected plain data`)
}
