/**
 * The lines logged at the given levels by the effects `provide` is applied
 * to (a pool's loops and a run's fiber inherit its logger): what a test
 * asserts the process said, or did not say.
 */
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"

export const capturingLog = (levels: ReadonlyArray<"DEBUG" | "INFO" | "WARN" | "ERROR">) => {
  const lines: Array<string> = []
  /** The same lines with their levels. */
  const leveled: Array<readonly [string, string]> = []
  /** The same lines with their levels, their message parts as given (their count tells text from a dumped value) and their log annotations. */
  const annotated: Array<{ readonly level: string; readonly line: string; readonly parts: number; readonly annotations: Readonly<Record<string, unknown>> }> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    if (!(levels as ReadonlyArray<string>).includes(logLevel.label)) return
    const parts = Array.isArray(message) ? message : [message]
    const line = parts.map(String).join(" ")
    lines.push(line)
    leveled.push([logLevel.label, line])
    annotated.push({ level: logLevel.label, line, parts: parts.length, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
  })
  return {
    lines,
    leveled,
    annotated,
    provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Logger.replace(Logger.defaultLogger, logger))
  }
}
