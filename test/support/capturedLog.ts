/**
 * The lines logged at the given levels by the effects `provide` is applied
 * to (a pool's loops and a run's fiber inherit its logger): what a test
 * asserts the process said, or did not say.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"

export const capturingLog = (levels: ReadonlyArray<"INFO" | "WARN" | "ERROR">) => {
  const lines: Array<string> = []
  /** The same lines with their levels. */
  const leveled: Array<readonly [string, string]> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (!(levels as ReadonlyArray<string>).includes(logLevel.label)) return
    const line = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    lines.push(line)
    leveled.push([logLevel.label, line])
  })
  return {
    lines,
    leveled,
    provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Logger.replace(Logger.defaultLogger, logger))
  }
}
