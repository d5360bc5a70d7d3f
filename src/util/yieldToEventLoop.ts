/**
 * Lets the Node event loop run between batches of bulk work. better-sqlite3
 * is synchronous, so a loop of SQLite batches never returns to the event loop
 * on its own: no timer fires — not even the heartbeats of jobs running in the
 * same process. `Effect.yieldNow` only yields to other fibers; this waits for
 * a real macrotask (and is unaffected by the TestClock).
 */
import * as Effect from "effect/Effect"

export const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
