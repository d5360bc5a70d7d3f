/**
 * Issue 16 (pickup) with issue 15.3: the pool's doorbell (workBell.ts) loses
 * no announcement in the moment between a loop finding nothing to do
 * (`idle`) and parking — the loop's fiber may yield there, and a NOTIFY be
 * read meanwhile. Forced: the announcement is rung exactly in that moment.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { JobId } from "../../src/domain/Ids.js"
import { RecentClaims } from "../../src/internal/wakeUp/recentClaims.js"
import { type Ring, WorkBell } from "../../src/internal/wakeUp/workBell.js"

const queued = { _tag: "JobChanged" as const, job_id: "0190a000-0000-7000-8000-000000000001" as JobId, state: "queued" as const, job_kind: "doc_edit" as const, run_after: 0 }

describe("issue 16 pickup: the pool's doorbell", () => {
  it.effect("issue 15.3 an announcement rung between a loop's idle check and its parking wakes it at once, not at its poll", () =>
    Effect.gen(function*() {
      const bell = new WorkBell(yield* Effect.clock, undefined, new RecentClaims())
      assert.strictEqual(bell.idle(60_000), 60_000, "nothing to do: wait for the poll")
      bell.ring(queued)
      const rings: Array<Ring> = []
      bell.park((ring) => rings.push(ring))
      assert.deepStrictEqual(rings, ["recompute"], "woken at once")
      assert.strictEqual(bell.idle(60_000), 0, "and the kept announcement is work")
    }))

  it.effect("issue 15.3 the bell closed between a loop's idle check and its parking wakes it at once", () =>
    Effect.gen(function*() {
      const bell = new WorkBell(yield* Effect.clock, undefined, new RecentClaims())
      assert.strictEqual(bell.idle(60_000), 60_000)
      bell.close()
      const rings: Array<Ring> = []
      bell.park((ring) => rings.push(ring))
      assert.deepStrictEqual(rings, ["recompute"])
      assert.strictEqual(bell.idle(60_000), 0)
    }))
})
