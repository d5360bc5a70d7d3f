/**
 * A spinner on stderr while a long operation runs — only when stderr is a
 * terminal, so pipes, logs and tests see clean output.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** Runs `effect` with a spinner labelled `label` on a TTY stderr; the line is cleared afterwards. */
export const withProgress = (label: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // Decided when the operation runs, not when it is built.
  Effect.suspend(() => spin(label, effect))

const spin = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const stderr = process.stderr
  if (!stderr.isTTY) return effect
  let frame = 0
  const draw = Effect.sync(() => {
    stderr.write(`\r${FRAMES[frame % FRAMES.length]} ${label}…`)
    frame += 1
  })
  const clear = Effect.sync(() => stderr.write("\r\x1b[2K"))
  return Effect.acquireUseRelease(
    // Acquisition is uninterruptible and a fork inherits that: make the spinner itself interruptible again.
    Effect.forkDaemon(Effect.interruptible(Effect.repeat(draw, Schedule.spaced("80 millis")))),
    () => effect,
    (spinner) => Effect.zipRight(Fiber.interrupt(spinner), clear)
  )
}
