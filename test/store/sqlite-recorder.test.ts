/**
 * The statement recorder the SQLite statement tests count with
 * (sqlite-recorder.ts) keeps counting when recordings overlap, when one ends
 * while another is under way, and when something has put the driver's own
 * methods back since — each a way a recording could be left seeing nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Database, recordingStatements, type StatementLike } from "./sqlite-recorder.js"

/** Runs `sql` on a fresh in-memory database. */
const runOnce = (sql: string) =>
  Effect.sync(() => {
    const db = new Database(":memory:")
    db.prepare(sql).all()
    db.close()
  })

/** The test's own statements among `seen` (the recorder's probe runs `SELECT 1`). */
const ours = (seen: ReadonlyArray<{ readonly source: string }>) => seen.map((s) => s.source).filter((s) => s.startsWith("SELECT '"))

describe("the SQLite statement recorder (test support)", () => {
  it.live("issue 16 overlapping recordings each see what runs while they are under way, and one that ends first leaves the other counting", () =>
    Effect.gen(function*() {
      // `first` starts, `second` starts, `first` ends, `second` goes on.
      const first = yield* Effect.fork(recordingStatements(() =>
        Effect.zipRight(runOnce("SELECT 'first'"), Effect.sleep("20 millis"))))
      yield* Effect.sleep("5 millis")
      const second = yield* recordingStatements(() =>
        Effect.gen(function*() {
          yield* runOnce("SELECT 'both'")
          yield* Fiber.join(first)
          yield* runOnce("SELECT 'second, after the first ended'")
        }))
      assert.deepStrictEqual(ours(second.seen), ["SELECT 'both'", "SELECT 'second, after the first ended'"])
    }))

  it.live("issue 16 a hook replaced since (the driver's own methods put back) is put in again by the next recording, and a hook put in over another records once", () =>
    Effect.gen(function*() {
      yield* recordingStatements(() => Effect.void)
      const db = new Database(":memory:")
      const proto = Object.getPrototypeOf(db.prepare("SELECT 1")) as Record<"run" | "all", (this: StatementLike, ...args: Array<unknown>) => unknown>
      db.close()
      const hooked = proto.all
      // Something wraps the hook; then the next recording finds the method not its own.
      proto.all = function(this: StatementLike, ...args: Array<unknown>) {
        return hooked.apply(this, args)
      }
      try {
        const { seen } = yield* recordingStatements(() => runOnce("SELECT 'once'"))
        assert.deepStrictEqual(ours(seen), ["SELECT 'once'"], "recorded once, not once per hook")
      } finally {
        proto.all = hooked
      }
    }))
})
