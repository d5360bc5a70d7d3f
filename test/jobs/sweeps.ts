/**
 * What the recovery-sweep tests share: waiting for a sweep's sleep to be
 * armed on the TestClock, and a store whose finished sweeps are counted.
 */
import { assert } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { JobStore } from "../../src/store/JobStore.js"
import { realSleep } from "./shared-database.js"

/** Waits (real time) until a sleep due `ms` from the clock's now is armed. */
export const armedIn = (ms: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const due = (yield* Clock.currentTimeMillis) + ms
    for (let tries = 0; tries < 2_500; tries++) {
      if (Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(due)) return
      yield* realSleep(2)
    }
    assert.fail(`no sleep due at ${due} ms; armed: ${Chunk.toReadonlyArray(yield* TestClock.sleeps()).join(", ")}`)
  })

/** `store` with its finished sweeps counted: a sweep ends with a batch that found nothing. */
export const countingSweeps = (store: JobStore["Type"]) => {
  let sweeps = 0
  const counted: JobStore["Type"] = {
    ...store,
    stallStaleRuns: (options) => Effect.tap(store.stallStaleRuns(options), (stalled) => Effect.sync(() => stalled.length === 0 && sweeps++))
  }
  const atLeast = (n: number): Effect.Effect<void> => Effect.suspend(() => (sweeps >= n ? Effect.void : Effect.zipRight(realSleep(5), atLeast(n))))
  return { store: counted, sweeps: () => sweeps, atLeast }
}
