/**
 * The span of a module function outside the recorder (`Janitor.prune`,
 * `Recovery.recoverStalledRuns`): a refusal names the caller's options (an
 * option key `password=…`), and a plain `Effect.fn` span ended with that raw
 * failure for every tracer (R14). It ends with the failure redacted by the
 * recorder in context (its rules too), else by the default rules; the caller
 * gets its own error value, untouched.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { withRedactedSpan } from "../redactCause.js"
import { FlightRecorder } from "./recorder.js"
import * as Redactor from "./Redactor.js"

const byDefaultRules = Redactor.make({ rules: [] }).redact

/** `effect` in the span `name`, a failure ending it redacted (`withRedactedSpan`). */
export const withServiceSpan = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(FlightRecorder), (recorder) =>
    withRedactedSpan(effect, name, {}, Option.isSome(recorder) ? recorder.value.redact : byDefaultRules))
