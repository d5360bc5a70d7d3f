/**
 * A failure as the library's own logs and spans may show it (R14): a
 * caller's program fails or dies with text the database stores redacted
 * (`error_message`), and a pool's WARN line or a `Jobs.run` / `Jobs.node`
 * span ending with the raw cause handed the same secret to every logger and
 * tracer. Each failure and defect in the cause is replaced by an `Error`
 * holding its name, message and stack as `Cause.pretty` shows them, passed
 * through the recorder's redaction; nothing else of the value (its other
 * keys, its `cause`) is kept. Interruptions and the cause's shape stay.
 *
 * Only for what the library reports: the caller's own error value is never
 * touched. Runs on failure paths only, and never throws (a value whose
 * `toString` or getters throw is shown as undescribable).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Tracer from "effect/Tracer"
import { UNDESCRIBABLE } from "./describeCause.js"

/** One failure or defect as an Error whose text passed `redact`. */
const redactedError = (value: unknown, redact: (text: string) => string): Error => {
  // Effect's pretty printer lowers Error.stackTraceLimit to 1 while it reads a value and does not
  // put it back when reading throws (a throwing toString): every stack after would be one frame.
  const stackTraceLimit = Error.stackTraceLimit
  try {
    const [pretty] = Cause.prettyErrors(Cause.die(value))
    const error = new Error(redact(pretty?.message ?? ""))
    error.name = pretty?.name ?? "Error"
    error.stack = redact(pretty?.stack ?? `${error.name}: ${error.message}`)
    return error
  } catch {
    return new Error(UNDESCRIBABLE)
  } finally {
    Error.stackTraceLimit = stackTraceLimit
  }
}

/** `cause` with every failure and defect's text redacted (`redactedError`); an interruption as it is. */
export const redactCause = (cause: Cause.Cause<unknown>, redact: (text: string) => string): Cause.Cause<Error> =>
  Cause.match(cause, {
    onEmpty: Cause.empty as Cause.Cause<Error>,
    onFail: (error): Cause.Cause<Error> => Cause.fail(redactedError(error, redact)),
    onDie: (defect) => Cause.die(redactedError(defect, redact)),
    onInterrupt: Cause.interrupt,
    onSequential: Cause.sequential,
    onParallel: Cause.parallel
  })

/** `exit` as a span may record it: a failure's cause redacted (`redactCause`), a success as it is. */
export const redactExit = <A>(exit: Exit.Exit<A, unknown>, redact: (text: string) => string): Exit.Exit<A, unknown> =>
  Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause) ? exit : Exit.failCause(redactCause(exit.cause, redact))

/**
 * `effect` in the span `name` (as `Effect.withSpan`), the span ending with
 * the failure redacted (`redactCause`) while `effect`'s own failure — the
 * caller's error value, untouched — is what this returns. The extra steps
 * are two failure handlers, which cost nothing until `effect` fails.
 */
export const withRedactedSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  options: Tracer.SpanOptions,
  redact: (text: string) => string
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    let original: Cause.Cause<E> | undefined
    const shown = Effect.catchAllCause(effect, (cause) => {
      original = cause
      return Effect.failCause(redactCause(cause, redact))
    })
    return Effect.catchAllCause(
      Effect.withSpan(shown, name, options),
      // Always set by then: the span's body is the one place a failure comes from.
      (cause) => Effect.failCause(original ?? (cause as Cause.Cause<never>))
    )
  })
