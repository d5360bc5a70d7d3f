/**
 * A read-only store's connections: the database refuses every write because
 * every statement runs in a `READ ONLY` transaction the connection opens
 * itself.
 *
 * Not a session setting: `options=-c default_transaction_read_only=on` at
 * startup is refused by PgBouncer 1.18 ("unsupported startup parameter:
 * options", so no read-only store opened behind it), silently dropped by one
 * told to ignore `options` (a "read-only" store then wrote), and in
 * transaction mode a `SET` reaches only the server connection of its own
 * transaction. A transaction's modes go wherever the transaction goes: they
 * hold behind any pooler, in every mode.
 *
 * - a statement sent while the connection is in no transaction runs as
 *   `BEGIN READ ONLY`, the statement, `COMMIT`, each sent once the one
 *   before is answered, and is answered once the `COMMIT` is: the connection
 *   is idle again when its user sees the result. If the `BEGIN READ ONLY`
 *   fails, the statement is not sent: its error is the answer. A named
 *   statement the server refused before running it (another client's name
 *   behind a pooler, a plan a schema change made stale) runs once more, in a
 *   new transaction, as preparedStatements.ts does outside one. Two round
 *   trips more per such statement (see "Reading never writes" in the README);
 * - a transaction's own `BEGIN` (or `START TRANSACTION`) is sent as
 *   `BEGIN … READ ONLY`, and its statements run in it as they are;
 * - statements given while another is in flight wait their turn here, not
 *   in pg's queue (which pg 9 drops): so whether a transaction is open when
 *   one is sent is known from the texts sent before it — a begin that
 *   succeeded opens one, a COMMIT/ROLLBACK/END (whatever its outcome) ends it.
 *
 * Texts that end a transaction in the middle (`COMMIT; INSERT …`) are not
 * guarded: the store sends none.
 */
import type * as Pg from "pg"
import { isStalePreparedStatement } from "./preparedStatements.js"

type Callback = (error: Error | null, result?: unknown) => void

/** One statement that opens a transaction (`BEGIN`, `START TRANSACTION`, with modes), without its `;`. */
const BEGINS = /^\s*(?:BEGIN|START\s+TRANSACTION)\b[^;]*?(?=\s*;?\s*$)/i
/** One statement that ends the transaction (not `ROLLBACK TO SAVEPOINT`). */
const ENDS = /^\s*(?:COMMIT|END|ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?\s*;?\s*$/i

/** A query's text, from its config (a string, or an object with `text`); undefined for a submittable without one. */
export const textOf = (config: unknown): string | undefined =>
  typeof config === "string"
    ? config
    : typeof config === "object" && config !== null && typeof (config as { text?: unknown }).text === "string"
    ? (config as { text: string }).text
    : undefined

/** `args` (a query's config and values, no callback) with its text replaced. */
const withText = (args: ReadonlyArray<unknown>, text: string): Array<unknown> =>
  [typeof args[0] === "string" ? text : { ...(args[0] as object), text }, ...args.slice(1)]

/** The `pg.Client` class over `Base` whose every statement runs in a read-only transaction. */
export const readOnlyClient = (Base: typeof Pg.Client): typeof Pg.Client =>
  class ReadOnlyClient extends Base {
    /** Whether a transaction is open once the statement in flight is answered. */
    #open = false
    #busy = false
    readonly #waiting: Array<() => void> = []

    /** One statement through `Base`. */
    #send(args: ReadonlyArray<unknown>, answered: Callback): void {
      const send = super.query as (...args: Array<unknown>) => unknown
      send.call(this, ...args, answered)
    }

    /** Runs `given` in a read-only transaction (its own, or the one open), then lets the next waiting statement go. */
    #run(given: ReadonlyArray<unknown>, text: string, answered: Callback): void {
      const next: Callback = (error, result) => {
        const waiting = this.#waiting.shift()
        if (waiting === undefined) this.#busy = false
        else waiting()
        answered(error, result)
      }
      if (this.#open) {
        if (ENDS.test(text)) this.#open = false
        return this.#send(given, next)
      }
      const begin = BEGINS.exec(text)
      if (begin !== null) {
        return this.#send(withText(given, `${begin[0]} READ ONLY`), (error, result) => {
          this.#open = error === null || error === undefined
          next(error, result)
        })
      }
      this.#unit(given, false, next)
    }

    /** `BEGIN READ ONLY`, `given`, `COMMIT`; run once more after a named statement the server refused (as outside a transaction). */
    #unit(given: ReadonlyArray<unknown>, retried: boolean, answered: Callback): void {
      this.#send(["BEGIN READ ONLY"], (error) => {
        // The statement is not sent outside a read-only transaction.
        if (error !== null && error !== undefined) return answered(error)
        this.#send(given, (failure, result) =>
          this.#send(["COMMIT"], (error) =>
            !retried && error === null && isStalePreparedStatement(failure)
              // It failed before running; the pool has dropped its names (preparedStatements.ts).
              ? this.#unit(given, true, answered)
              : answered(failure ?? error ?? null, result)))
      })
    }

    override query(...args: Array<unknown>): never {
      const last = args[args.length - 1]
      const callback = typeof last === "function" ? last as Callback : undefined
      const given = (callback === undefined ? args : args.slice(0, -1)).filter((arg, i) => i === 0 || arg !== undefined)
      const text = textOf(given[0])
      // A submittable (a cursor): the store sends none; refused rather than run unguarded.
      if (text === undefined) throw new TypeError("PgStore (readonly): only text statements are sent")
      const run = (answered: Callback) => {
        const go = () => this.#run(given, text, answered)
        if (this.#busy) return void this.#waiting.push(go)
        this.#busy = true
        go()
      }
      if (callback !== undefined) return void run(callback) as never
      return new Promise((resolve, reject) => run((error, result) => error === null || error === undefined ? resolve(result) : reject(error))) as never
    }
  }
