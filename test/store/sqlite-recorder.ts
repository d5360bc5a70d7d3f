/**
 * Records every statement better-sqlite3 executes (its Statement prototype's
 * `run` and `all` are wrapped for the duration: the real driver on a real
 * file, nothing mocked), for tests that count or inspect the store's
 * statements.
 */
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"

export interface StatementLike {
  readonly source: string
  readonly database: { readonly inTransaction: boolean }
  run(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): unknown
}
type Method = "run" | "all"

export const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  prepare(sql: string): StatementLike
  close(): void
}

/** One statement better-sqlite3 executed: its text, and whether its connection was inside a transaction. */
export interface Seen {
  readonly source: string
  readonly inTransaction: boolean
  /** The values it ran with. */
  readonly params: ReadonlyArray<unknown>
}

/** Runs `effect` while recording every statement better-sqlite3 executes. */
export const recordingStatements = <A, E, R>(effect: (seen: ReadonlyArray<Seen>) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const probe = new Database(":memory:")
      const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<Method, (...args: Array<unknown>) => unknown>
      probe.close()
      const seen: Array<Seen> = []
      const originals = { run: proto.run, all: proto.all }
      for (const method of ["run", "all"] as const) {
        const original = originals[method]
        proto[method] = function(this: StatementLike, ...args: Array<unknown>) {
          seen.push({ source: this.source, inTransaction: this.database.inTransaction, params: args })
          return original.apply(this, args)
        }
      }
      return { proto, originals, seen }
    }),
    ({ seen }) => Effect.map(effect(seen), (value) => ({ value, seen })),
    ({ originals, proto }) => Effect.sync(() => Object.assign(proto, originals))
  )
