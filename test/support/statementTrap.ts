/**
 * Interrupts a fiber when the Nth database statement from now starts (the
 * idea of an outside probe's harness): the drivers are hooked — pg's
 * `Client.prototype.query`, better-sqlite3's statement `run`/`all`/`get`/
 * `iterate` and `Database.exec` — and the trap, when armed, interrupts the
 * caller as its statement starts. The statement still runs (better-sqlite3
 * is synchronous; a pg query is sent), so the interrupt takes effect where
 * the store lets it: between statements, or once a statement or commit ended.
 * Unarmed, the hooks call straight through. Installed once per
 * worker (the drivers' modules are shared by every test file in it).
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { createRequire } from "node:module"

interface Trap {
  /** Statements left before the one that interrupts; armed while positive. */
  left: number
  /** Only statements whose text matches count, when set. */
  match: RegExp | undefined
  fire: (() => void) | undefined
  /** The text of the statement that fired. */
  firedAt: string | undefined
}

const KEY = Symbol.for("hsk.test.statementTrap")

const installed = (): Trap => {
  const global = globalThis as { [KEY]?: Trap }
  const existing = global[KEY]
  if (existing !== undefined) return existing
  const trap: Trap = { left: 0, match: undefined, fire: undefined, firedAt: undefined }
  global[KEY] = trap
  const started = (text: string) => {
    if (trap.left <= 0 || trap.fire === undefined) return
    if (trap.match !== undefined && !trap.match.test(text)) return
    trap.left--
    if (trap.left === 0) {
      trap.firedAt = text
      trap.fire()
    }
  }
  const require = createRequire(import.meta.url)
  const pg = require("pg")
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function(this: unknown, ...args: Array<unknown>) {
    const first = args[0] as string | { readonly text?: string; readonly name?: string } | undefined
    started(typeof first === "string" ? first : first?.text ?? first?.name ?? "")
    return query.apply(this, args)
  }
  const Database = require("better-sqlite3")
  const db = new Database(":memory:")
  const Statement = Object.getPrototypeOf(db.prepare("SELECT 1"))
  db.close()
  for (const method of ["run", "all", "get", "iterate"]) {
    const original = Statement[method]
    Statement[method] = function(this: { readonly source: string }, ...args: Array<unknown>) {
      started(this.source)
      return original.apply(this, args)
    }
  }
  const exec = Database.prototype.exec
  Database.prototype.exec = function(this: unknown, text: string) {
    started(text)
    return exec.call(this, text)
  }
  return trap
}

const trap = installed()

/** What `interruptAtStatement` saw: the call's exit, and the statement it was interrupted at (none: it ended first). */
export interface Interrupted<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly firedAt: string | undefined
}

/**
 * Runs `effect` on a fiber of its own and interrupts it as the `n`th
 * statement from now starts (counting only those matching `match`, when
 * given); `firedAt` undefined when the effect ended before it.
 */
export const interruptAtStatement = <A, E, R>(effect: Effect.Effect<A, E, R>, n: number, match?: RegExp) =>
  Effect.gen(function*() {
    // The trap may fire as the fork starts the effect, before the fiber is known here.
    const target: { fiber?: Fiber.RuntimeFiber<A, E>; early?: boolean } = {}
    trap.match = match
    trap.firedAt = undefined
    trap.fire = () => {
      if (target.fiber === undefined) target.early = true
      else target.fiber.unsafeInterruptAsFork(FiberId.none)
    }
    trap.left = n
    const fiber = target.fiber = yield* Effect.fork(effect)
    if (target.early === true) fiber.unsafeInterruptAsFork(FiberId.none)
    const exit = yield* Fiber.await(fiber)
    return { exit, firedAt: disarm() } satisfies Interrupted<A, E>
  })

/** Disarms the trap; the statement it fired at, if it did. */
const disarm = (): string | undefined => {
  const firedAt = trap.firedAt
  trap.left = 0
  trap.fire = undefined
  trap.match = undefined
  return firedAt
}

/**
 * Runs `effect`, and `action` — synchronously, before the statement runs —
 * as the `nth` (first, unless told) statement matching `match` starts:
 * another connection's commit forced between two statements of the store,
 * or a lock let go once a write has met it (its statement tried again).
 * Gives the effect's result and the statement `action` ran before (none: it
 * never ran).
 */
export const beforeStatement = <A, E, R>(effect: Effect.Effect<A, E, R>, match: RegExp, action: () => void, nth = 1) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      trap.match = match
      trap.firedAt = undefined
      trap.fire = action
      trap.left = nth
    }),
    () => Effect.map(Effect.exit(effect), (exit) => ({ exit, firedAt: trap.firedAt })),
    () => Effect.sync(disarm)
  )

/**
 * Runs `createJob` (one write: its lone INSERT, or its transaction's BEGIN
 * IMMEDIATE) while another connection holds the file's write lock, and
 * `release` — the holder told to let go — as its second try starts: once the
 * write has met the lock, and not before. A write that succeeds then waited
 * for the release, however slow the machine; `firedAt` undefined: it never
 * tried again.
 */
export const releasedOnSecondTry = <A, E, R>(createJob: Effect.Effect<A, E, R>, release: () => void) =>
  beforeStatement(createJob, /^\s*(BEGIN IMMEDIATE|INSERT INTO ai_jobs )/i, release, 2)
