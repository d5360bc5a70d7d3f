/**
 * A worker pool's options (`Jobs.worker`), checked before any loop claims.
 * The types allow only sound values; past them (JavaScript, a cast, a number
 * read from the environment) a pool was silently idle or wrong: `concurrency:
 * NaN` started no loop, `2.5` three; handlers under keys that are no kind
 * (`term_exec`, a typo) or `kinds: []` claimed nothing, and unknown `kinds`
 * failed every claim, each failure logged and the loop polling on; a `pollInterval` of
 * zero polled in a tight loop; a duration word the parser cannot read was a
 * defect from inside `Duration.decode`. Each is refused with a typed
 * `DecodeFailure` naming every option that is wrong, the pool's own failure
 * (`Jobs.worker`: `StorageError | DecodeFailure`) — at start-up, with
 * nothing started or claimed.
 *
 * The legacy alias `term_exec` is read as `terminal_exec` (R1a) in `kinds`,
 * as the store reads a claim's kinds; as a handlers key it is refused instead,
 * since the handlers' type names the kinds a pool serves and a program under
 * the alias beside one under `terminal_exec` would be two for one kind.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { DecodeFailure, formatIssues } from "../../domain/Errors.js"
import { unknownOptions } from "../../domain/knownOptions.js"
import { isJobKind, JobKind, JobKinds, LegacyTerminalAlias } from "../../domain/JobKind.js"
import { isPositiveFiniteDuration, readDuration } from "../../util/durationInput.js"

/** One refused option, as a `DecodeFailure` lists it. */
interface OptionIssue {
  readonly path: string
  readonly message: string
}

/** A `kinds` list read as the store reads a claim's (the alias as `terminal_exec`). */
const decodeKinds = Schema.decodeUnknownEither(Schema.Array(JobKind), { errors: "all" })

/** The options `checkPoolOptions` reads, as a caller past the types may give them. */
export interface PoolOptionsInput {
  readonly concurrency?: unknown
  readonly pollInterval?: unknown
  readonly drainTimeout?: unknown
  readonly eagerDispatch?: unknown
  readonly handlers?: unknown
  readonly handler?: unknown
  readonly kinds?: unknown
}

/** The options `Jobs.worker` names (`run` is checked by runOptions.ts). */
export const WORKER_OPTIONS: ReadonlyArray<string> = ["concurrency", "pollInterval", "drainTimeout", "eagerDispatch", "run", "handlers", "handler", "kinds"]

/** The default `WorkerOptions.pollInterval`. */
export const DEFAULT_POLL_INTERVAL = Duration.seconds(1)

/** The default `WorkerOptions.drainTimeout`. */
export const DEFAULT_DRAIN_TIMEOUT = Duration.seconds(20)

const kindsMessage = `Expected one of the job kinds ${JobKinds.join(", ")}`

/** What a pool claims, read once from its handlers or `kinds`: the kinds (`undefined`: every kind), or what is wrong. */
type KindsRead = { readonly kinds: ReadonlyArray<JobKind> | undefined } | { readonly issues: ReadonlyArray<OptionIssue> }

const readPoolKinds = (options: PoolOptionsInput): KindsRead => {
  if (options.handlers !== undefined) {
    const handlers = options.handlers
    if (options.handler !== undefined || options.kinds !== undefined) {
      return { issues: [{ path: "handlers", message: "Expected handlers alone, or handler with kinds: not both" }] }
    }
    if (typeof handlers !== "object" || handlers === null || Array.isArray(handlers)) {
      return { issues: [{ path: "handlers", message: "Expected an object of one program per job kind" }] }
    }
    const issues: Array<OptionIssue> = []
    // A key whose program is `undefined` is a kind left out, as the type allows.
    const entries = Object.entries(handlers).filter(([, program]) => program !== undefined)
    for (const [key, program] of entries) {
      if (!isJobKind(key)) {
        const alias = key === LegacyTerminalAlias ? " (the legacy alias term_exec: write terminal_exec)" : ""
        issues.push({ path: `handlers.${key}`, message: `${kindsMessage}${alias}` })
      } else if (typeof program !== "function") {
        issues.push({ path: `handlers.${key}`, message: "Expected a function (the kind's program)" })
      }
    }
    if (entries.length === 0) issues.push({ path: "handlers", message: "Expected a program for at least one job kind" })
    return issues.length > 0 ? { issues } : { kinds: entries.map(([kind]) => kind as JobKind) }
  }
  if (typeof options.handler !== "function") return { issues: [{ path: "handler", message: "Expected a function (the program), or handlers" }] }
  if (options.kinds === undefined) return { kinds: undefined }
  if (Array.isArray(options.kinds) && options.kinds.length === 0) {
    return { issues: [{ path: "kinds", message: "Expected at least one job kind (leave kinds out to claim every kind)" }] }
  }
  return Either.match(decodeKinds(options.kinds), {
    onLeft: (error) => ({
      issues: formatIssues(error).map((issue) => ({ path: issue.path === "" ? "kinds" : `kinds.${issue.path}`, message: issue.message }))
    }),
    onRight: (kinds) => ({ kinds: [...new Set(kinds)] })
  })
}

/** The pool's options read: its loops, its sleeps, and the kinds it claims (`undefined`: every kind). */
export interface PoolSettings {
  readonly concurrency: number
  readonly poll: Duration.Duration
  readonly drain: Duration.Duration
  readonly kinds: ReadonlyArray<JobKind> | undefined
}

/** `options` read, or a `DecodeFailure` naming every option that is wrong. */
export const checkPoolOptions = (options: PoolOptionsInput): Effect.Effect<PoolSettings, DecodeFailure> => {
  const { concurrency, drainTimeout, eagerDispatch, pollInterval } = options
  const read = readPoolKinds(options)
  const issues: Array<OptionIssue> = [
    // A misspelt `drainTimout` dropped would interrupt programs after the default 20 s instead.
    ...(unknownOptions(options, WORKER_OPTIONS, "WorkerOptions")?.issues ?? []),
    ...(typeof concurrency === "number" && Number.isSafeInteger(concurrency) && concurrency >= 1
      ? []
      : [{ path: "concurrency", message: "Expected a whole number of at least 1 (the loops that run jobs at once)" }]),
    ...(pollInterval === undefined || isPositiveFiniteDuration(pollInterval)
      ? []
      : [{ path: "pollInterval", message: "Expected a finite duration above zero (e.g. \"1 second\")" }]),
    // Zero (release at once) and infinity (never interrupt) included.
    ...(drainTimeout === undefined || Option.isSome(readDuration(drainTimeout))
      ? []
      : [{ path: "drainTimeout", message: "Expected a duration (e.g. \"20 seconds\"; zero releases at once)" }]),
    ...(eagerDispatch === undefined || typeof eagerDispatch === "boolean" ? [] : [{ path: "eagerDispatch", message: "Expected a boolean" }]),
    ...("issues" in read ? read.issues : [])
  ]
  if (issues.length > 0 || "issues" in read) return Effect.fail(new DecodeFailure({ subject: "WorkerOptions", issues }))
  return Effect.succeed({
    concurrency: concurrency as number,
    poll: pollInterval === undefined ? DEFAULT_POLL_INTERVAL : Option.getOrElse(readDuration(pollInterval), () => DEFAULT_POLL_INTERVAL),
    drain: drainTimeout === undefined ? DEFAULT_DRAIN_TIMEOUT : Option.getOrElse(readDuration(drainTimeout), () => DEFAULT_DRAIN_TIMEOUT),
    kinds: read.kinds
  })
}
