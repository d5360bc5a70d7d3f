/**
 * A move's options (`reason`, `actor`) and a begin's (`handTo` too), checked
 * before anything is read or written. Their types allow only a string reason,
 * one of the three actors and `caller`/`workers`; a caller past the types
 * (JavaScript, a cast, a config file) got a `StorageError` for an unknown
 * actor (the database's CHECK refused the event), a defect for a reason that
 * is no string, and an unknown `handTo` was taken as `caller` (the run written,
 * offered to no pool). Now each is a `DecodeFailure` naming the option, and
 * nothing changes — a key the options do not name too (knownOptions.ts): a
 * misspelt `reasn` was dropped, and the move stored no reason. A reason is
 * at most `MAX_REASON_CHARACTERS`: a longer one was refused only by the
 * recorder's size bound, as an event (its id never stored) of so many bytes,
 * naming no `reason`.
 *
 * The common case — options of the right types — is a few comparisons; only
 * a refusal runs the Schema, for its issues.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"
import { Actor } from "../../domain/EventRecord.js"
import { unknownOptions } from "../../domain/knownOptions.js"
import { atMostCharacters } from "../../domain/Text.js"

/**
 * The longest reason a move takes, in characters (code points): the engine's bound on the error
 * text it writes itself (describeCause.ts), and one a reason's event fits under the recorder's
 * default size bound (64 KiB) whatever the characters. Refused past it, never cut: it is an
 * operator's own text.
 */
export const MAX_REASON_CHARACTERS = 4_000

const Reason = Schema.String.pipe(
  Schema.filter((reason) => atMostCharacters(reason, MAX_REASON_CHARACTERS), {
    // A refinement's message speaks for its `from` too: a reason that is no text (42) reaches it.
    message: (issue) =>
      typeof issue.actual === "string"
        ? `Expected at most ${MAX_REASON_CHARACTERS} characters, actual ${[...issue.actual].length}`
        : `Expected a string, actual ${issue.actual === null ? "null" : typeof issue.actual}`
  })
)

/** The options a move (and a pin) names. */
export const TRANSITION_OPTIONS: ReadonlyArray<string> = ["reason", "actor"]
/** `Jobs.fail`'s move: a transition's options and the error it records. */
export const FAIL_OPTIONS: ReadonlyArray<string> = [...TRANSITION_OPTIONS, "error"]
/** The options a begin (`start`, `resume`, `rework`) names. */
export const BEGIN_OPTIONS: ReadonlyArray<string> = [...TRANSITION_OPTIONS, "handTo"]

const HandTo = Schema.Literal("caller", "workers")

const BeginOptionsSchema = Schema.Struct({
  reason: Schema.optionalWith(Reason, { exact: true }),
  actor: Schema.optionalWith(Actor, { exact: true }),
  handTo: Schema.optionalWith(HandTo, { exact: true })
})
const decode = Schema.decodeUnknownEither(BeginOptionsSchema, { errors: "all", onExcessProperty: "ignore" })

const ACTORS: ReadonlyArray<unknown> = Actor.literals
const HAND_TO: ReadonlyArray<unknown> = HandTo.literals

const fits = (options: { readonly reason?: unknown; readonly actor?: unknown; readonly handTo?: unknown }): boolean =>
  (options.reason === undefined || typeof options.reason === "string" && atMostCharacters(options.reason, MAX_REASON_CHARACTERS)) &&
  (options.actor === undefined || ACTORS.includes(options.actor)) &&
  (options.handTo === undefined || HAND_TO.includes(options.handTo))

/**
 * Why `options` (a move's, a pin's or a begin's) is refused, or undefined
 * when it is fine: a key not among `known`, or a known one of the wrong
 * type. `subject` names the options in the `DecodeFailure`.
 */
export const optionsRefusal = (options: object | undefined, subject: string, known: ReadonlyArray<string>): DecodeFailure | undefined => {
  const unknown = unknownOptions(options, known, subject)
  if (unknown !== undefined) return unknown
  if (options === undefined || fits(options)) return undefined
  const decoded = decode(options)
  return Either.isLeft(decoded)
    ? DecodeFailure.fromParseError(subject, decoded.left)
    : new DecodeFailure({ subject, issues: [{ path: "", message: "Expected an object of options" }] })
}
