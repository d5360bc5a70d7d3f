/**
 * A describe block whose tests share one layer (one database, one TestClock),
 * built before its first test and released after its last: what
 * @effect/vitest's `layer()` does, without its side effect. In @effect/vitest
 * 0.30 `layer()` assigns its own `effect` onto Vitest's global `it` (fixed
 * upstream in effect-smol #2177, not in the 0.x line), so every `it.effect`
 * collected after it — later in the same file, or in any later file of the
 * same worker now that workers share modules (vitest.config.ts) — ran inside
 * that block's layer, on its one TestClock. Lint forbids importing `layer`
 * from @effect/vitest.
 */
import { afterAll, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as TestContext from "effect/TestContext"
import type * as TestServices from "effect/TestServices"

/** Declares one test of the block: `body` runs with the block's services and its TestClock. */
export type BlockTest<R> = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, R | TestServices.TestServices>,
  timeout?: number
) => void

export const describeWithLayer = <R, E>(
  name: string,
  layer: Layer.Layer<R, E>,
  options: { readonly timeout: number },
  tests: (it: { readonly effect: BlockTest<R> }) => void
): void => {
  describe(name, () => {
    const runtime = ManagedRuntime.make(
      Layer.provideMerge(layer, TestContext.TestContext).pipe(Layer.provide(Logger.remove(Logger.defaultLogger)))
    )
    beforeAll(() => runtime.runtime(), options.timeout)
    afterAll(() => runtime.dispose(), options.timeout)
    tests({
      effect: (testName, body, timeout) =>
        it.live(testName, () => Effect.flatMap(runtime.runtimeEffect, (rt) => Effect.provide(body(), rt)), timeout)
    })
  })
}
