/** The progress spinner: drawn on stderr only when it is a terminal, cleared afterwards, never blocking the work's result. */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { withProgress } from "../../src/cli/progress.js"

/** Runs `effect` with stderr presented as a terminal (or not), capturing what is written to it. */
const withStderr = <A, E>(isTTY: boolean, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean }
      const saved = { isTTY: stderr.isTTY, write: stderr.write }
      const written: Array<string> = []
      stderr.isTTY = isTTY
      stderr.write = ((chunk: string | Uint8Array) => {
        written.push(String(chunk))
        return true
      }) as typeof stderr.write
      return { saved, stderr, written }
    }),
    ({ written }) => Effect.map(effect, (value) => ({ value, written })),
    ({ saved, stderr }) =>
      Effect.sync(() => {
        stderr.isTTY = saved.isTTY
        stderr.write = saved.write
      })
  )

describe("progress on stderr", () => {
  it.live("R16 a terminal sees a spinner while a long operation runs, then a cleared line", () =>
    Effect.gen(function*() {
      const { value, written } = yield* withStderr(true, Effect.as(Effect.sleep("250 millis"), 42).pipe(withProgress("migrating")))
      assert.strictEqual(value, 42)
      assert.isAtLeast(written.filter((text) => text.includes("migrating…")).length, 2)
      assert.strictEqual(written[written.length - 1], "\r\x1b[2K")
    }))

  it.live("R16 a pipe sees nothing, and failures pass through unchanged", () =>
    Effect.gen(function*() {
      const { value, written } = yield* withStderr(false, Effect.flip(Effect.fail("boom").pipe(withProgress("pruning"))))
      assert.strictEqual(value, "boom")
      assert.deepStrictEqual(written, [])
    }))
})
