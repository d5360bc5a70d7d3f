/**
 * Records every statement better-sqlite3 executes (its Statement prototype's
 * `run` and `all` report to the recordings under way: the real driver on a
 * real file, nothing mocked), for tests that count or inspect the store's
 * statements. The hook is put in once per process and stays. Recordings
 * used to swap the methods in and put the originals back when they ended;
 * in two full runs every recording of one worker process then saw nothing
 * (not reproduced since, cause not proven: one recording ending while
 * another was under way would do it, or a second copy of the driver, so
 * the store's own copy is hooked too).
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

/** The recordings under way: each statement run is pushed to every one of them. */
const recordings = new Set<Array<Seen>>()

/** The hooks put in, by Statement prototype: whether `run` and `all` are still ours. */
const hooks = new WeakMap<object, Record<Method, (...args: Array<unknown>) => unknown>>()

/** Inside a hooked call: a hook around a hook (one put in again over another) records once. */
let reporting = false

/**
 * Makes the Statement prototype of `Driver` report every `run` and `all` to
 * the recordings under way. It stays in, so recordings that overlap never
 * take each other's hook away (as putting the original methods back would);
 * if anything has replaced it since, it is put in again over what is there.
 */
const reportStatementsOf = (Driver: new (filename: string) => { prepare(sql: string): StatementLike; close(): void }) => {
  const probe = new Driver(":memory:")
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<Method, (...args: Array<unknown>) => unknown>
  probe.close()
  const ours = hooks.get(proto)
  if (ours !== undefined && proto.run === ours.run && proto.all === ours.all) return
  const hooked = {} as Record<Method, (...args: Array<unknown>) => unknown>
  for (const method of ["run", "all"] as const) {
    const original = proto[method]
    hooked[method] = function(this: StatementLike, ...args: Array<unknown>) {
      if (reporting || recordings.size === 0) return original.apply(this, args)
      const seen: Seen = { source: this.source, inTransaction: this.database.inTransaction, params: args }
      for (const recording of recordings) recording.push(seen)
      reporting = true
      try {
        return original.apply(this, args)
      } finally {
        reporting = false
      }
    }
    proto[method] = hooked[method]
  }
  hooks.set(proto, hooked)
}

/** better-sqlite3 as the store loads it (ownClient.ts: through @effect/sql-sqlite-node), in case it is not `Database`. */
const storeDriver = () => {
  const require = createRequire(import.meta.url)
  return createRequire(require.resolve("@effect/sql-sqlite-node/SqliteClient"))("better-sqlite3") as typeof Database
}

/** Runs `effect` while recording every statement better-sqlite3 executes. */
export const recordingStatements = <A, E, R>(effect: (seen: ReadonlyArray<Seen>) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      reportStatementsOf(Database)
      reportStatementsOf(storeDriver())
      const seen: Array<Seen> = []
      recordings.add(seen)
      return seen
    }),
    (seen) => Effect.map(effect(seen), (value) => ({ value, seen })),
    (seen) => Effect.sync(() => recordings.delete(seen))
  )

/** Statements that read or change rows by a WHERE (the ones a plan can get wrong). */
export const isQuery = (source: string) => /^\s*(SELECT|UPDATE|DELETE|INSERT\s+INTO\s+\w+\s*\([^)]*\)\s*SELECT|WITH)\b/i.test(source)

/** The plan lines of every query `effect` runs, explained on `filename` with the parameters they ran with. */
export const plansOf = <A, E, R>(filename: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const { seen } = yield* recordingStatements(() => effect)
    const db = new Database(filename)
    try {
      return seen.filter(({ source }) => isQuery(source)).map(({ params, source }) => ({
        source: source.replace(/\s+/g, " ").trim(),
        plan: (db.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...params) as Array<{ readonly detail: string }>).map(
          (row) => row.detail
        )
      }))
    } finally {
      db.close()
    }
  })
