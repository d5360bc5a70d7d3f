/**
 * The retry policy (issue 15.1): how many attempts a job may make in all,
 * and how long a failed job waits before its next attempt — exponential
 * backoff with jitter, bounded. Per job kind, with a default for the kinds
 * not named, and a job's own `max_attempts` and `backoff` (given at submit)
 * overriding its kind's. Pure: the caller supplies the random draw, so a test can too.
 *
 * A failed job with attempts left goes back to `queued`, eligible again after
 * the delay; with none left it stays `failed`. `poisoned` is never retried
 * (R6b): this module is only asked about `failed` jobs.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { readDuration } from "../util/durationInput.js"
import { CanonicalJobKind, JobKinds, LegacyTerminalAlias } from "./JobKind.js"
import type { JobKind } from "./JobKind.js"
import { TIMESTAMP_RANGE_MS } from "./Timestamp.js"

/** The most attempts a job may make: what the databases' CHECK allows (migration 0007). */
export const MAX_ATTEMPTS_LIMIT = 1_000_000

/** A job's total number of attempts: a whole number from 1 (never retried) to 1,000,000. */
export const MaxAttempts = Schema.Int.pipe(Schema.between(1, MAX_ATTEMPTS_LIMIT)).annotations({
  identifier: "MaxAttempts",
  message: () => ({ message: `Expected a whole number of attempts from 1 to ${MAX_ATTEMPTS_LIMIT}`, override: true })
})

/**
 * The longest wait a backoff may name: 365 days. A longer one is a mistake of
 * units, and a retry's eligible time must stay within what the databases
 * store (years 1970–9999).
 */
export const MAX_DELAY = Duration.days(365)
const MAX_DELAY_MS = Duration.toMillis(MAX_DELAY)

const delayMessage = "Expected a finite duration from 0 to 365 days (\"30 seconds\", milliseconds as a number, …)"

/** A delay, as an Effect `Duration` input ("30 seconds", 1000 for milliseconds, …): finite, from 0 to `MAX_DELAY`. */
const Delay = Schema.declare(
  (input: unknown): input is Duration.DurationInput => {
    // readDuration refuses a negative wait ("-1 seconds", -1000, [-1, 0]), which Duration reads as zero.
    const decoded = readDuration(input)
    return decoded._tag === "Some" && Duration.isFinite(decoded.value) && Duration.lessThanOrEqualTo(decoded.value, MAX_DELAY)
  },
  {
    identifier: "Delay",
    message: () => delayMessage,
    jsonSchema: { anyOf: [{ type: "string", description: "an Effect duration: \"30 seconds\", \"2 minutes\"" }, { type: "number", minimum: 0, maximum: MAX_DELAY_MS, description: "milliseconds" }] }
  }
)

/** Each further failure multiplies the wait by this: finite, at least 1. */
const Factor = Schema.Number.pipe(Schema.finite(), Schema.greaterThanOrEqualTo(1))
/** The share (0 to 1) of the wait that is random. */
const Jitter = Schema.Number.pipe(Schema.between(0, 1))

/**
 * Exponential backoff with jitter, bounded: after attempt `n` failed, the job
 * waits `min(max, initial × factor^(n−1))`, less a random share of up to
 * `jitter` of it (so retries of jobs that failed together spread out, and the
 * wait never exceeds `max`). A field it does not know (a misspelt `intial`)
 * is refused, not ignored: its default would silently stand in.
 */
export const Backoff = Schema.Struct({
  /** The wait after the first failure. Default 1 s. */
  initial: Schema.optionalWith(Delay, { default: () => Duration.seconds(1) }),
  /** Each further failure multiplies the wait by this (≥ 1). Default 2. */
  factor: Schema.optionalWith(Factor, { default: () => 2 }),
  /** The longest wait. Default 10 minutes. */
  max: Schema.optionalWith(Delay, { default: () => Duration.minutes(10) }),
  /** The share (0 to 1) of the wait that is random. Default 0.2. */
  jitter: Schema.optionalWith(Jitter, { default: () => 0.2 })
}).annotations({ identifier: "Backoff", parseOptions: { onExcessProperty: "error" } })
export type Backoff = typeof Backoff.Type

/** A wait in milliseconds: finite, 0 to `MAX_DELAY`. */
const Millis = Schema.Number.pipe(Schema.finite(), Schema.between(0, MAX_DELAY_MS))

/**
 * A backoff as a job stores its own (`AiJob.backoff`): every field given,
 * the waits in milliseconds. It is a `Backoff` too (a number is milliseconds
 * there), so it can be submitted again as it reads.
 */
export const BackoffMillis = Schema.Struct({
  initial: Millis,
  factor: Factor,
  max: Millis,
  jitter: Jitter
}).annotations({ identifier: "BackoffMillis", parseOptions: { onExcessProperty: "error" } })
export type BackoffMillis = typeof BackoffMillis.Type

/**
 * A job's own backoff as `submit` takes it (issue 15.1, "overridable per
 * job"): the kind's shape and defaults, stored with its waits in
 * milliseconds. A job without one uses its kind's.
 */
export const JobBackoff = Schema.transform(Backoff, BackoffMillis, {
  strict: true,
  decode: (backoff) => ({
    initial: Duration.toMillis(backoff.initial),
    factor: backoff.factor,
    max: Duration.toMillis(backoff.max),
    jitter: backoff.jitter
  }),
  encode: (stored) => stored
}).annotations({ identifier: "JobBackoff" })

/**
 * One kind's policy: how many attempts in all, and the backoff between them.
 * A field it does not know (`maxAttemps`, `max_attempts`) is refused, not
 * ignored: its default (one attempt, no retries) would silently stand in.
 */
export const KindPolicy = Schema.Struct({
  /** Attempts in all, the first included. Default 1: a failed job stays failed. */
  maxAttempts: Schema.optionalWith(MaxAttempts, { default: () => 1 }),
  backoff: Schema.optionalWith(Backoff, { default: () => Schema.decodeSync(Backoff)({}) })
}).annotations({ identifier: "KindPolicy", parseOptions: { onExcessProperty: "error" } })
export type KindPolicy = typeof KindPolicy.Type

/** The kinds' own policies, by canonical kind. */
const KindPolicies = Schema.partial(Schema.Record({ key: CanonicalJobKind, value: KindPolicy }))

/**
 * The kinds' own policies as written: a kind read as every reader of a kind
 * reads it (`term_exec` is `terminal_exec`), both spellings at once refused
 * (one policy would be lost). A misspelt kind is refused, its policy never
 * silently lost.
 */
const KindPoliciesInput = Schema.transformOrFail(
  Schema.partial(Schema.Record({ key: Schema.Literal(...JobKinds, LegacyTerminalAlias), value: KindPolicy }))
    .annotations({ parseOptions: { onExcessProperty: "error" } }),
  Schema.typeSchema(KindPolicies),
  {
    strict: true,
    decode: (kinds, _, ast) => {
      const { [LegacyTerminalAlias]: alias, ...canonical } = kinds
      if (alias === undefined) return ParseResult.succeed(canonical)
      return canonical.terminal_exec === undefined
        ? ParseResult.succeed({ ...canonical, terminal_exec: alias })
        : ParseResult.fail(new ParseResult.Type(ast, kinds, "Expected terminal_exec or its legacy alias term_exec, not both: write terminal_exec alone"))
    },
    encode: ParseResult.succeed
  }
)

/**
 * The retry policy of an application: a default, and the kinds that differ
 * from it. Unknown keys are refused at every level (`defualt`, `kind`), as
 * in `kinds` and `backoff`: dropped, they would leave retries off.
 */
export const RetryPolicy = Schema.Struct({
  default: Schema.optionalWith(KindPolicy, { default: () => Schema.decodeSync(KindPolicy)({}) }),
  kinds: Schema.optionalWith(KindPoliciesInput, { default: () => ({}) })
}).annotations({ identifier: "RetryPolicy", parseOptions: { onExcessProperty: "error" } })
export type RetryPolicy = typeof RetryPolicy.Type
/** A policy as an application writes it: every field optional. */
export type RetryPolicyInput = typeof RetryPolicy.Encoded

/** No automatic retries: what a job had before the engine (and a legacy row still has). */
export const noRetries: RetryPolicy = Schema.decodeSync(RetryPolicy)({})

/** The policy of `kind`: its own if the policy names it, else the default. */
export const forKind = (policy: RetryPolicy, kind: JobKind): KindPolicy => policy.kinds[kind] ?? policy.default

/** The backoff of a job that failed: its own if it was submitted with one, else its kind's. */
export const backoffOf = (
  policy: RetryPolicy,
  job: { readonly job_kind: JobKind; readonly backoff: BackoffMillis | null }
): Backoff => job.backoff ?? forKind(policy, job.job_kind).backoff

/**
 * The wait after attempt `attempt` (1 = the first) failed, given a draw
 * `random` in [0, 1). Bounded: never more than `max`, never less than
 * `(1 − jitter)` of the capped exponential.
 */
export const delayAfter = (backoff: Backoff, attempt: number, random: number): Duration.Duration => {
  const initial = Duration.toMillis(backoff.initial)
  const max = Duration.toMillis(backoff.max)
  // Capped before it can overflow: factor^(n−1) grows past any max quickly.
  const exponent = Math.max(0, Math.floor(attempt) - 1)
  const capped = Math.min(max, initial * Math.pow(backoff.factor, exponent))
  const draw = Math.min(Math.max(random, 0), 1)
  return Duration.millis(Math.round(capped * (1 - backoff.jitter * draw)))
}

/** What happens to a job whose attempt just failed. */
export type RetryDecision =
  | { readonly _tag: "Retry"; readonly attempt: number; readonly delay: Duration.Duration }
  | { readonly _tag: "GiveUp" }

/**
 * Whether a job that failed on `job.attempt` of `job.max_attempts` is tried
 * again, and after how long: the next attempt's number and the wait, or
 * `GiveUp` when none is left.
 */
export const decide = (
  job: { readonly attempt: number; readonly max_attempts: number },
  backoff: Backoff,
  random: number
): RetryDecision =>
  job.attempt < job.max_attempts
    ? { _tag: "Retry", attempt: job.attempt + 1, delay: delayAfter(backoff, job.attempt, random) }
    : { _tag: "GiveUp" }

/**
 * When a retry decided at `now` becomes eligible: `delay` later, or the last
 * instant the stores hold (9999-12-31T23:59:59.999Z) when that comes first.
 * A later instant cannot be stored: the failure's settle failed with it, and
 * the failure went unrecorded, the job left running until recovery stalled it
 * (found by an outside probe). Clamped as every other time bound and sum is
 * (saturating): the job keeps the attempts it was given, the retry as late as
 * time can be written.
 */
export const eligibleAt = (now: DateTime.Utc, delay: Duration.Duration): DateTime.Utc => {
  const at = DateTime.toEpochMillis(now) + Duration.toMillis(delay)
  return at > TIMESTAMP_RANGE_MS.max ? DateTime.unsafeMake(TIMESTAMP_RANGE_MS.max) : DateTime.addDuration(now, delay)
}
