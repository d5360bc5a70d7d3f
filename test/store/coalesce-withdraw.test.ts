/**
 * Group commit's line (store/internal/coalesce.ts, f137): a caller
 * interrupted while it waits in line — nothing of it sent — is withdrawn: it
 * fails interrupted, and the statement formed after holds only the others,
 * each of whom gets its own result. An uninterruptible caller (a run's own
 * end outside a drain) is carried out as before. The runner's own contract,
 * without a database: which inputs each statement was given.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Coalesce from "../../src/store/internal/coalesce.js"

const HANG_BOUND = "5 seconds"

/** A runner whose first statement waits for `gate`; every statement's inputs recorded. */
const gated = (gate: Deferred.Deferred<void>) => {
  const statements: Array<ReadonlyArray<number>> = []
  const submit = Coalesce.make<number, number, never>({
    slots: 1,
    maxBatch: 64,
    one: (input) => Effect.zipRight(Effect.sync(() => statements.push([input])), statements.length === 0 ? Deferred.await(gate) : Effect.void).pipe(Effect.as(input * 10)),
    many: (inputs) => Effect.sync(() => (statements.push(inputs), inputs.map((input) => input * 10)))
  })
  return { statements, submit }
}

/** `test` with a gate, let go however it ends: a caller still in line (the old code) ends, and the test with it. */
const withGate = <A, E>(test: (gate: Deferred.Deferred<void>) => Effect.Effect<A, E>) =>
  Effect.flatMap(Deferred.make<void>(), (gate) => Effect.ensuring(test(gate), Deferred.succeed(gate, undefined)))

describe("group commit's line", () => {
  it.live("f137 a caller interrupted in line is withdrawn: it fails interrupted and the next statement holds only the others, each with its own result", () =>
    withGate((gate) =>
    Effect.gen(function*() {
      const { statements, submit } = gated(gate)
      const leader = yield* Effect.fork(submit(1))
      yield* Effect.yieldNow()
      const waiters = yield* Effect.forEach([2, 3, 4], (input) => Effect.fork(submit(input)))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(statements, [[1]], "the leader's statement is out, the others wait in line")
      // Ends at once when withdrawn; a caller left in line would wait for the gate (bounded only so that it fails, not hangs).
      yield* Fiber.interrupt(waiters[1]!).pipe(Effect.timeoutFail({ duration: HANG_BOUND, onTimeout: () => new Error("the interrupted caller stayed in line") }))
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(leader), 10)
      assert.strictEqual(yield* Fiber.join(waiters[0]!), 20)
      assert.strictEqual(yield* Fiber.join(waiters[2]!), 40)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(waiters[1]!)))
      assert.deepStrictEqual(statements, [[1], [2, 4]], "the withdrawn input is in no statement")
      // The slot was not lost: a later call runs at once.
      assert.strictEqual(yield* submit(5), 50)
    })))

  it.live("f137 an uninterruptible caller interrupted in line is carried out, as before", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { statements, submit } = gated(gate)
      const leader = yield* Effect.fork(submit(1))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(Effect.uninterruptible(submit(2)))
      yield* Effect.yieldNow()
      const interrupting = yield* Effect.fork(Fiber.interrupt(waiter))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(leader)
      yield* Fiber.join(interrupting)
      assert.deepStrictEqual(statements, [[1], [2]])
    }))
})
