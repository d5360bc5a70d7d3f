/**
 * The states a successful program may leave its job in (`RunOptions.onSuccess`),
 * checked before a run is taken. The type allows only these; a caller past the
 * types (JavaScript, a cast, a config file) could otherwise end a run off the
 * lifecycle table — `queued` (the release edge, reserved to shutdown),
 * `stalled` (recovery's alone, R6a), `awaiting_user` (not from `running`) —
 * or run the program and only then find it cannot settle.
 *
 * `heartbeatInterval` too: past the types a word the Duration parser cannot
 * read was a defect inside the run's heartbeat fiber, after the program had
 * started, and a zero, negative or infinite interval beat in a tight loop or
 * never (its run then stalled by recovery while it worked).
 *
 * An interval at or above the recovery threshold (R9) lets recovery stall a
 * run that beats on time: its program stopped, its end refused. The threshold
 * compared with is this process's Recovery's (`RecoveryGate.threshold`; the
 * default 30 s where it runs none), which its own sweeps use and which other
 * processes of the same application presumably share; theirs a run cannot
 * read (one set longer everywhere allows a longer beat), so such an interval
 * is taken with a warning naming both, once per pool or `Jobs.run` call.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { decodeWith } from "../../domain/decode.js"
import { DecodeFailure } from "../../domain/Errors.js"
import { readOptions } from "../../domain/knownOptions.js"
import { isPositiveFiniteDuration, readDuration } from "../../util/durationInput.js"

/** Where a successful run may take its job: three of the table's moves out of `running`. */
export const SuccessStates = ["completed", "completed_with_issues", "awaiting_validation"] as const

/** How a successful program ends its job. */
export type SuccessState = typeof SuccessStates[number]

/** The options `RunOptions` names. */
const RUN_OPTIONS: ReadonlyArray<string> = ["heartbeatInterval", "onSuccess"]

const decodeOnSuccess = decodeWith(
  Schema.Struct({
    onSuccess: Schema.optionalWith(Schema.Literal(...SuccessStates), { exact: true }).annotations({
      message: () => `Expected one of ${SuccessStates.join(", ")}`
    })
  }),
  "RunOptions"
)

/** A warning when `interval` (a finite duration above zero) is not under the recovery `threshold`. */
const heartbeatWarning = (interval: unknown, threshold: Duration.Duration): Effect.Effect<void> =>
  Option.match(readDuration(interval), {
    onNone: () => Effect.void,
    onSome: (duration) =>
      Duration.lessThan(duration, threshold)
        ? Effect.void
        : Effect.logWarning(
          `heartbeatInterval ${Duration.format(duration)} is not under the recovery threshold ${Duration.format(threshold)} (R9): ` +
            "a recovery with that threshold (this process's sweep or startup, or another process's) stalls a run that beats " +
            "no more often while its program works, and refuses its end; " +
            "beat more often (default 10 seconds) unless every process's Recovery threshold is longer than the interval"
        )
  })

/**
 * `options` names no other key, `options.onSuccess`, when given, is a state a
 * successful run may reach, and `options.heartbeatInterval`, when given, a
 * finite duration above zero (one not under `recoveryThreshold`, this
 * process's, warned of); else `DecodeFailure`.
 */
export const checkRunOptions = <O extends { readonly onSuccess?: unknown; readonly heartbeatInterval?: unknown }>(
  options: O | undefined,
  recoveryThreshold: Duration.Duration
): Effect.Effect<Partial<O> | undefined, DecodeFailure> => {
  if (options === undefined) return Effect.succeed(undefined)
  // A misspelt `heartbeatIntervl` dropped would beat at the default 10 s instead. Read once: the
  // run uses the copy, so a getter or Proxy trap that throws is refused here, not thrown later.
  const read = readOptions(options, RUN_OPTIONS, "RunOptions")
  if (read instanceof DecodeFailure) return Effect.fail(read)
  if (read.heartbeatInterval !== undefined && !isPositiveFiniteDuration(read.heartbeatInterval)) {
    return Effect.fail(
      new DecodeFailure({
        subject: "RunOptions",
        issues: [{ path: "heartbeatInterval", message: "Expected a finite duration above zero (e.g. \"10 seconds\")" }]
      })
    )
  }
  const checked = read.onSuccess === undefined ? Effect.succeed(read) : Effect.as(decodeOnSuccess(read), read)
  return read.heartbeatInterval === undefined ? checked : Effect.zipLeft(checked, heartbeatWarning(read.heartbeatInterval, recoveryThreshold))
}
