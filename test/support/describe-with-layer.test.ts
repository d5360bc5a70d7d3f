/**
 * The harness's own promise (test/support/describeWithLayer.ts): a block whose
 * tests share a layer changes nothing for the tests declared after it, in this
 * file or — with modules shared by a worker — in any later file.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { describeWithLayer } from "./describeWithLayer.js"

class Marker extends Context.Tag("test/describeWithLayer/Marker")<Marker, string>() {}

describeWithLayer("test harness: a block sharing one layer", Layer.succeed(Marker, "block"), { timeout: 10_000 }, (it) => {
  it.effect("its tests see the block's services and move its one TestClock", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Marker, "block")
      yield* TestClock.adjust("1 hour")
    }))

  it.effect("a later test of the block sees the clock where the earlier one left it", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Marker, "block")
      assert.strictEqual(yield* Clock.currentTimeMillis, 3_600_000)
    }))
})

describe("test harness: tests declared after a block sharing a layer", () => {
  it.effect("see none of the block's services and a TestClock of their own, at 0", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* Effect.serviceOption(Marker)), "the block's layer leaked into a later it.effect")
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    }))
})
