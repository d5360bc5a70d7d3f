/**
 * Awaiting a job (issue 15.6): read it; if it is not yet in a wanted state,
 * wait for an announcement that it changed (WakeUp) or the poll interval,
 * whichever comes first, and read it again — until the timeout. Both waits
 * are on Effect's `Clock`, so `TestClock` drives them.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { AiJob } from "../../domain/AiJob.js"
import { decodeWith } from "../../domain/decode.js"
import { DecodeFailure } from "../../domain/Errors.js"
import { unknownOptions } from "../../domain/knownOptions.js"
import type { JobId } from "../../domain/Ids.js"
import { JobState as JobStateSchema } from "../../domain/JobState.js"
import type { JobState } from "../../domain/JobState.js"
import type { ReadError } from "../../store/JobStore.js"
import type { NotFound } from "../../store/StoreErrors.js"
import { sleep, timeoutOption } from "../../util/clockSleep.js"
import { readDuration } from "../../util/durationInput.js"
import * as WakeUp from "../wakeUp/wakeUp.js"

/**
 * The states `await` waits for unless told otherwise: the terminal ones and
 * `failed` (a failed job the retry policy takes back is queued in the same
 * transaction, so a `failed` job one can read has no automatic retry coming).
 */
export const settledStates: ReadonlyArray<JobState> = ["completed", "completed_with_issues", "cancelled", "poisoned", "failed"]

/** `Jobs.await` gave up: the job did not reach a wanted state in time. */
export class AwaitTimeout extends Schema.TaggedError<AwaitTimeout>()("AwaitTimeout", {
  job_id: Schema.String,
  /** The state the job is in when the time ran out. */
  state: Schema.String,
  /** The states waited for. */
  until: Schema.Array(Schema.String),
  timeout: Schema.String
}) {
  override get message(): string {
    return `Job ${this.job_id} is still ${this.state} after ${this.timeout} (waited for ${this.until.join(", ")})`
  }
}

/** Options of `Jobs.await`. */
export interface AwaitOptions {
  /** The states to wait for. Default: a terminal state or `failed` (`settledStates`). */
  readonly until?: ReadonlyArray<JobState> | undefined
  /** How long to wait before failing with `AwaitTimeout`. Default: without end. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How often to read the job again without an announcement. Default 1 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
}

const decodeUntil = decodeWith(Schema.Array(JobStateSchema), "AwaitOptions.until")

/** The options `await` names (knownOptions.ts: a misspelt `untill` would wait for the default states). */
const AWAIT_OPTIONS: ReadonlyArray<string> = ["until", "timeout", "pollInterval"]

/**
 * A duration option as a `Duration`, or a `DecodeFailure` naming it. A
 * number that is NaN or below zero is refused (the parser reads it as zero:
 * a timeout of `NaN` timed out at once); `positive` refuses zero too (a
 * poll interval of zero reads the job in a tight loop).
 */
const durationOption = (
  input: Duration.DurationInput | undefined,
  path: string,
  positive: boolean
): Effect.Effect<Duration.Duration | undefined, DecodeFailure> => {
  if (input === undefined) return Effect.succeed(undefined)
  const read = readDuration(input)
  if (Option.isSome(read) && (!positive || Duration.greaterThan(read.value, Duration.zero))) return Effect.succeed(read.value)
  const message = positive ? "Expected a duration above zero (e.g. \"1 second\")" : "Expected a duration (e.g. \"5 seconds\"; zero looks once)"
  return Effect.fail(new DecodeFailure({ subject: "AwaitOptions", issues: [{ path, message }] }))
}

/** `options` checked: only the options it names, the states job states (one at least), the durations durations. */
const decodeAwaitOptions = (options: AwaitOptions) => {
  const unknown = unknownOptions(options, AWAIT_OPTIONS, "AwaitOptions")
  if (unknown !== undefined) return Effect.fail(unknown)
  // At least one state: with none, nothing is ever wanted and the wait has no end.
  if (Array.isArray(options.until) && options.until.length === 0) {
    return Effect.fail(new DecodeFailure({
      subject: "AwaitOptions",
      issues: [{ path: "until", message: "Expected at least one job state (leave until out to wait until the job settles)" }]
    }))
  }
  return Effect.all({
    until: options.until === undefined ? Effect.succeed(undefined) : decodeUntil(options.until),
    pollInterval: durationOption(options.pollInterval, "pollInterval", true),
    timeout: durationOption(options.timeout, "timeout", false)
  })
}

/**
 * `Jobs.await`, over a way to read a job and the wake-up service, if any.
 * `seen`, when given, is told of the job as first read, and as last read before
 * an `AwaitTimeout` (the `Jobs.await` span names its trace: found by an outside probe).
 */
export const makeAwait = (
  getJob: (jobId: JobId) => Effect.Effect<AiJob, NotFound | DecodeFailure | ReadError>,
  wakeUp: WakeUp.WakeUp["Type"] | undefined
) =>
(
  jobId: JobId,
  options: AwaitOptions = {},
  seen?: (job: AiJob) => void
): Effect.Effect<AiJob, AwaitTimeout | NotFound | DecodeFailure | ReadError> =>
  Effect.scoped(Effect.gen(function*() {
    // Checked first: past the types, a state no job can be in (or a duration that is none) would wait forever or die.
    const checked = yield* decodeAwaitOptions(options)
    const until = checked.until ?? settledStates
    const wanted = (state: JobState) => until.includes(state)
    const poll = checked.pollInterval ?? Duration.seconds(1)
    // Subscribed before the first read: a change between the read and the wait is not missed.
    const subscription = wakeUp === undefined ? undefined : yield* wakeUp.subscribe
    const watch = Effect.gen(function*() {
      let last = yield* getJob(jobId)
      // The job as first read names the span: an await its caller ends (a timeout of its own, an
      // interrupt) still leads to the job's trace (found by an outside probe).
      seen?.(last)
      while (!wanted(last.state)) {
        yield* subscription === undefined
          ? sleep(poll)
          : Effect.raceFirst(sleep(poll), WakeUp.awaitChange(subscription, last.job_id, wanted))
        last = yield* getJob(jobId)
      }
      return last
    })
    if (checked.timeout === undefined) return yield* watch
    // The time counts from the call, the first read included: a slow first
    // read must not start the clock late (a caller's "5 seconds" means 5 s).
    const settled = yield* timeoutOption(watch, checked.timeout)
    if (Option.isSome(settled)) return settled.value
    // Timed out: read once more, so the error names the state the job is in now
    // (a read in flight when the time ran out is not lost) and a job that got
    // there at the last moment is returned, not reported as late.
    const last = yield* getJob(jobId)
    if (wanted(last.state)) return last
    seen?.(last)
    return yield* new AwaitTimeout({ job_id: last.job_id, state: last.state, until: [...until], timeout: Duration.format(checked.timeout) })
  }))
