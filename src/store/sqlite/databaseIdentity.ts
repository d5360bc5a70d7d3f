/**
 * Which database a SQLite connection reaches (internal/foreignTransaction.ts):
 * the store's client has one connection, recognised as it is; any other is
 * asked for its main file's full path (`PRAGMA database_list`). An in-memory
 * database has no path: only its own connection reaches it.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Effect from "effect/Effect"
import { connectionNow } from "../internal/execute.js"
import type { DatabaseIdentity } from "../internal/foreignTransaction.js"
import { holdingConnection, ownConnection } from "./ownClient.js"

const reachedBy = (conn: Connection): Effect.Effect<string, unknown> =>
  Effect.flatMap(conn.execute("PRAGMA database_list", [], undefined), (rows) => {
    const main = (rows as ReadonlyArray<{ readonly name?: unknown; readonly file?: unknown }>).find((row) => row.name === "main")
    return typeof main?.file === "string" && main.file !== ""
      ? Effect.succeed(main.file)
      : Effect.fail(new Error("a database without a file"))
  })

export const sqliteDatabaseIdentity = (sql: SqlClient.SqlClient): DatabaseIdentity => {
  // The client's one connection: the store's own client's, or a caller's client's.
  const own = ownConnection(sql)?.connection ?? connectionNow(sql)
  return {
    isOwn: (conn) => conn === own,
    // A SQLite client's connection (@effect/sql-sqlite-*, and the store's own) can export its database;
    // any other engine's is not asked (PostgreSQL would abort the caller's transaction on a PRAGMA).
    mayAsk: (conn) => Effect.isEffect((conn as { readonly export?: unknown }).export),
    keyOf: (conn) => conn,
    reachedBy,
    own: holdingConnection(sql)(reachedBy)
  }
}
