/**
 * How the stores run their own statements (issue 16: per-call overhead off
 * the hot paths, store internals untraced). A statement yielded directly
 * costs @effect/sql's per-statement machinery: a `sql.execute` span, the
 * transformer lookup, and a scope around acquiring the connection — ~50 of
 * the ~80 Effect operations of one statement, ~30 µs of CPU
 * (bench/statementOverhead.ts). `makeExecute` runs a statement's text
 * on the client's own `Connection` (@effect/sql's, so its connection
 * handling — the transaction's connection inside a transaction, the pool
 * outside — and its `SqlError`s stay), without the span, the transformer or
 * the scope. PostgreSQL only: SQLite's one connection must be held until its
 * statement has run, which a client's acquirer does not do (see
 * sqlite/ownClient.ts `holdingConnection`).
 *
 * PostgreSQL's store built on its own pool (`PgStore.layer`) goes further:
 * outside a transaction its statements skip @effect/sql-pg's pool checkout
 * per statement and run on connections the store holds (`outside`,
 * pg/heldConnections.ts).
 *
 * What it gives up: a `Statement.withTransformer` set by an application
 * does not see the store's statements, and they have no `sql.execute` span;
 * tracing stays at one span per Jobs operation.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/** The open transaction's connection, read from `fiber`'s context: no Effect step (a service lookup costs 3, a map 2). */
export const transactionOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)

/** Runs one statement's text with its parameters: its rows, untransformed. */
export type Execute = <Row = Record<string, unknown>>(
  text: string,
  params: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<Row>, SqlError>

/** Runs a statement outside any transaction, on connections of the store's own (pg/heldConnections.ts). */
export type OutsideTransaction = (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<unknown>, SqlError>

/**
 * `Execute` for `sql`, on `connectionOf(sql)` (a pool-backed connection
 * value). A client
 * without one (another @effect/sql version) runs `sql.unsafe`, the full path.
 * With `outside`, a statement outside a transaction runs there instead (the
 * transaction's connection inside one, as ever).
 */
export const makeExecute = (sql: SqlClient.SqlClient, outside?: OutsideTransaction): Execute => {
  const connection = connectionOf(sql)
  if (connection === undefined) {
    return function fullPath<Row>(text: string, params: ReadonlyArray<unknown>) {
      return sql.unsafe<Row & object>(text, params)
    }
  }
  if (outside !== undefined) {
    return function held<Row>(text: string, params: ReadonlyArray<unknown>) {
      // The transaction's connection read from the fiber's context: one operation, not a service lookup's three.
      return Effect.withFiberRuntime<ReadonlyArray<Row>, SqlError>((fiber) => {
        const transaction = transactionOf(fiber)
        return (transaction._tag === "Some"
          ? transaction.value[0].execute(text, params, undefined)
          : outside(text, params)) as Effect.Effect<ReadonlyArray<Row>, SqlError>
      })
    }
  }
  return function untraced<Row>(text: string, params: ReadonlyArray<unknown>) {
    return Effect.flatMap(connection, (conn) => conn.execute(text, params, undefined) as Effect.Effect<ReadonlyArray<Row>, SqlError>)
  }
}

/**
 * The connection every statement of `sql` acquires — the transaction's inside
 * one, else the client's — as a statement's `acquirer` holds it; undefined for a
 * client without one. For @effect/sql-pg and @effect/sql-sqlite-node it never
 * uses the scope its type allows, so none is made (Effect.scoped alone costs
 * ~37 Effect operations).
 */
export const connectionOf = (sql: SqlClient.SqlClient): Effect.Effect<Connection, SqlError> | undefined => {
  const acquirer: unknown = (sql.unsafe("SELECT 1") as unknown as { readonly acquirer?: unknown }).acquirer
  return Effect.isEffect(acquirer) ? acquirer as Effect.Effect<Connection, SqlError> : undefined
}

/**
 * The connection `sql`'s acquirer gives at once, outside any transaction
 * (@effect/sql-pg's is a new one of the client's own class each time,
 * @effect/sql-sqlite-node's its one connection); undefined for a client
 * whose acquirer does not answer synchronously.
 */
export const connectionNow = (sql: SqlClient.SqlClient): Connection | undefined => {
  const acquirer = connectionOf(sql)
  if (acquirer === undefined) return undefined
  try {
    return Effect.runSync(acquirer)
  } catch {
    return undefined
  }
}

/** Runs a statement built with `sql`'s template through `execute`: compiled here, once per call. */
export const runWith = (execute: Execute) => <Row>(statement: Statement.Statement<Row>): Effect.Effect<ReadonlyArray<Row>, SqlError> => {
  const [text, params] = statement.compile()
  return execute<Row>(text, params)
}
