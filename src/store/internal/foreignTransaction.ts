/**
 * A transaction on another database is not joined.
 *
 * @effect/sql keeps one open transaction per fiber for every client: its
 * `TransactionConnection` is a single tag, whichever client set it (Effect 4
 * gives each client its own). So inside an application's
 * `sql.withTransaction(...)` on a client of *another* database — its own
 * PostgreSQL database, another SQLite file, the other dialect — every
 * statement of the store would run on that transaction's connection: a job
 * submitted there was written to the application's database, or failed on a
 * table it does not have.
 *
 * Every store method therefore looks at the transaction on its fiber first:
 *
 * - one on the store's database — the store's own, or a caller's on the same
 *   database, through any client — is joined, as before: the caller's rows
 *   and the job commit or roll back together;
 * - any other is taken off the method's context, so the method runs on the
 *   store's own connections, in transactions of its own, and commits whatever
 *   the other transaction does.
 *
 * Telling them apart costs nothing for the store's own client (its
 * connection is recognised as it is). A connection of another engine is
 * another database, without a word to it. One of another client of the same
 * engine is asked once which database it reaches, and the store's own
 * connection the same (PostgreSQL: the database, the server's port, its
 * start time and the `ai_jobs` table the search_path reaches; SQLite: the
 * main file's path); the answer is kept for that connection.
 *
 * `transaction` and `readConsistent` run the caller's effect inside the
 * store's transaction: beside a transaction on another database, statements
 * of that other client inside them would run on the store's connection (the
 * same single tag). Keep the two apart.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { transactionOf } from "./execute.js"

/** How a store tells whether a transaction's connection reaches its own database. */
export interface DatabaseIdentity {
  /** True when `conn` is known to be the store's own without asking. */
  readonly isOwn: (conn: Connection) => boolean
  /**
   * Whether `conn` is of the store's engine, so it may be asked: a statement
   * another engine refuses would break the caller's transaction (PostgreSQL
   * aborts one after any failed statement), so any other is not asked.
   */
  readonly mayAsk: (conn: Connection) => boolean
  /** What the answer about `conn` is kept under (a pool's connection wrapper is new per transaction). */
  readonly keyOf: (conn: Connection) => object
  /** Which database `conn` reaches; fails when it cannot answer (another engine). */
  readonly reachedBy: (conn: Connection) => Effect.Effect<string, unknown>
  /** Which database the store's own connections reach (run with no transaction on the fiber). */
  readonly own: Effect.Effect<string, unknown>
}

/** Whether `error` is PostgreSQL's "current transaction is aborted" (SQLSTATE 25P02), as a driver's error or its cause. */
const isAbortedTransaction = (error: unknown): boolean => {
  for (let current = error, depth = 0; typeof current === "object" && current !== null && depth < 4; depth++) {
    if ((current as { readonly code?: unknown }).code === "25P02") return true
    current = (current as { readonly cause?: unknown }).cause
  }
  return false
}

/** `effect` with no transaction on its fiber: its statements use the store's own connections. */
export const outsideAnyTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(
    effect as Effect.Effect<A, E, never>,
    (context: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<never>
  ) as Effect.Effect<A, E, R>

/**
 * `service` with every method (and Effect value) run as the module's comment
 * says: a transaction on the store's database joined, any other left out.
 */
export const joiningOwnDatabaseOnly = <S extends object>(service: S, identity: DatabaseIdentity): S => {
  const answers = new WeakMap<object, boolean>()

  /** Whether `conn` reaches the store's database: asked of both sides, kept when both answered. */
  const reachesOwn = (conn: Connection): Effect.Effect<boolean> =>
    Effect.zipWith(identity.reachedBy(conn), outsideAnyTransaction(identity.own), (theirs, ours) => theirs === ours).pipe(
      Effect.tap((same) => Effect.sync(() => answers.set(identity.keyOf(conn), same))),
      // Could not answer. A PostgreSQL transaction already aborted (25P02, a statement of the caller's failed
      // in it): run inside it, where the store's statement fails as the caller's own would — left out, a
      // submit committed on its own while the caller's rows rolled back (found by a regression probe). Any
      // other failure: not joined. Either way asked again next time.
      Effect.catchAll((error) => Effect.succeed(isAbortedTransaction(error)))
    )

  const guarded = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const transaction = transactionOf(fiber)
      if (transaction._tag === "None") return effect
      const conn = transaction.value[0]
      if (identity.isOwn(conn)) return effect
      if (!identity.mayAsk(conn)) return outsideAnyTransaction(effect)
      const known = answers.get(identity.keyOf(conn))
      if (known !== undefined) return known ? effect : outsideAnyTransaction(effect)
      return Effect.flatMap(reachesOwn(conn), (same) => same ? effect : outsideAnyTransaction(effect))
    })

  const wrapped: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(service)) {
    if (typeof value === "function") {
      const method = value as (a: unknown, b: unknown, c: unknown) => Effect.Effect<unknown>
      // Fixed arity (no port method takes more than three): no rest array a call.
      wrapped[name] = (a: unknown, b: unknown, c: unknown) => guarded(method(a, b, c))
    } else {
      wrapped[name] = Effect.isEffect(value) ? guarded(value) : value
    }
  }
  return wrapped as S
}
