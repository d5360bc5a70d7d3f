/**
 * Everything an exporter or a log shipper would be handed, for tests that
 * assert a secret reaches none of it (R14): every span Effect's own tracer
 * makes (name, attributes, events with their attributes, the exit it ended
 * with) and every log line at every level, DEBUG included (message, cause,
 * annotations). `observe` puts both on an effect and everything it forks.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Tracer from "effect/Tracer"
import { recordingTracer } from "./recordingTracer.js"

/** Effect's native span keeps its events here (not in the public `Span` type). */
type WithEvents = Tracer.Span & { readonly events?: ReadonlyArray<readonly [string, bigint, Record<string, unknown>]> }

const text = (value: unknown): string => typeof value === "string" ? value : Inspectable.toStringUnknown(value)

/** A span as an exporter would send it, as text. */
const spanText = (span: WithEvents): string =>
  JSON.stringify({
    name: span.name,
    attributes: [...span.attributes].map(([key, value]) => [key, text(value)]),
    events: (span.events ?? []).map(([name, , attributes]) => [name, Object.entries(attributes).map(([key, value]) => [key, text(value)])]),
    exit: span.status._tag === "Ended" && Exit.isFailure(span.status.exit) ? Cause.pretty(span.status.exit.cause, { renderErrorCause: true }) : ""
  })

export const observing = Effect.gen(function*() {
  const { spans, tracer } = yield* recordingTracer
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push(JSON.stringify({
      level: logLevel.label,
      message: (Array.isArray(message) ? message : [message]).map(text).join(" "),
      cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause, { renderErrorCause: true }),
      annotations: HashMap.toEntries(annotations).map(([key, value]) => [key, text(value)])
    }))
  })
  const layer = Layer.mergeAll(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All))
  return {
    spans: spans as ReadonlyArray<WithEvents>,
    lines,
    /** `effect` traced and logged into what this observes, at every level. */
    observe: <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.withTracer(tracer), Effect.provide(layer)),
    /** Every span and log line that matches `secret`, as text: what a test asserts is empty. */
    leaks: (secret: RegExp): Array<string> => [
      ...spans.map((span) => spanText(span)).filter((shown) => secret.test(shown)).map((shown) => `span ${shown}`),
      ...lines.filter((line) => secret.test(line)).map((line) => `log ${line}`)
    ]
  }
})
