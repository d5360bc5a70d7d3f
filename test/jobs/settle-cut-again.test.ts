/**
 * R8, a worker pool's drain cutting a run's end (internal/jobs/settleCut.ts):
 * under group commit a run's end may share a statement with other callers'.
 * Cancelled, that statement rolls back them all, and each member runs again
 * alone (internal/coalesce.ts) — the cut end too, its call uninterruptible.
 * The cut cancelled once, so that second statement ran on and, once the lock
 * went, wrote the end the pool's WARN said was cut. Now the cut cancels again,
 * by the end's record id, until the write has ended.
 *
 * The write here stands for the store's: each of its statements waits until
 * a cancel names its record, and the first one cancelled sends a second.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { EventId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { cuttable, makeDrainCuts } from "../../src/internal/jobs/settleCut.js"
import type { JobStore } from "../../src/store/JobStore.js"

describe("R8 a run's end cut at the drain's end", () => {
  it.live("R8 an end whose statement is sent again after the cancel (a group-commit member run alone) is cancelled again, until the write ends", () =>
    Effect.gen(function*() {
      const endId = EventId.make(uuidv7())
      const cancels: Array<string> = []
      let waiting: (() => void) | undefined
      // One statement in flight: it fails when a cancel names its record.
      const statement = Effect.async<never, string>((resume) => {
        waiting = () => resume(Effect.fail("cancelled"))
      })
      const store = {
        // Read back by the cut's WARN once the write has ended: this stand-in holds no job.
        getJob: () => Effect.fail(new Error("a stand-in store holds no job")),
        cancelWritesOf: (event_id: string) =>
          Effect.sync(() => {
            cancels.push(event_id)
            if (event_id !== endId) return
            const cancel = waiting
            waiting = undefined
            cancel?.()
          })
      } as unknown as JobStore["Type"]
      // The shared statement cancelled, the end's own statement is sent: uninterruptible, as the store's call.
      const write = Effect.uninterruptible(Effect.orElse(statement, () => statement))
      const cuts = makeDrainCuts(() => true)
      // As a run tells its pool: its program has ended, its end is what is written now.
      cuts.view.programEnded("the job")
      const ending = yield* Effect.fork(cuttable(cuts.view, store, "the job", "the run", endId, write))
      while (cuts.waiting().length === 0 || waiting === undefined) yield* Effect.yieldNow()
      yield* cuts.cutAll("time 1s passed")
      const ended = yield* Fiber.await(ending)
      assert.isTrue(Exit.isFailure(ended), "the end was cut")
      assert.isAtLeast(cancels.length, 2, "cancelled again once its second statement was sent")
      assert.isTrue(cancels.every((id) => id === endId), "by the end's record id only")
      // Ended, the write is no longer registered: a later cut sends nothing for it.
      const sent = cancels.length
      yield* cuts.cutAll("was cut short by a repeated signal")
      for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
      assert.strictEqual(cancels.length, sent, "the write has ended")
    }))
})
