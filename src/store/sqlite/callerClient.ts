/**
 * A caller's SQLite client (`SqliteStore.layerFromClient`) as the store runs
 * its statements on it: each one, read or write, holds the client's one
 * connection from acquiring it until it has run.
 *
 * SQLite isolates connections, not fibers, and @effect/sql-sqlite-node's
 * plain acquirer gives the connection's permit back as it hands the
 * connection out. A statement whose fiber yields in between runs after
 * another fiber's BEGIN on that connection, inside its transaction: a write
 * is undone by that transaction's rollback (sqlite-lone-write-race.test.ts),
 * a read returns rows that were never committed
 * (sqlite-dirty-read-race.test.ts). The client's `reserve` is its transaction
 * acquirer, which holds the permit until its scope closes — and @effect/sql
 * runs every statement in a scope of its own — so a client built on
 * `reserve` runs the same statements with the connection held. Inside a
 * transaction (the store's or the caller's) statements use the transaction's
 * connection, as before.
 *
 * The store's own client (ownClient.ts) already acquires that way; it is
 * used as it is.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import { ownConnection } from "./ownClient.js"

/** `client`, or for a caller's client one on the same connection whose statements hold it while they run. */
export const holdingEachStatement = (client: SqlClient.SqlClient): Effect.Effect<SqlClient.SqlClient> =>
  ownConnection(client) !== undefined
    ? Effect.succeed(client)
    : SqlClient.make({
      acquirer: client.reserve,
      transactionAcquirer: client.reserve,
      // The store's SQL as written: a caller's name transforms (if any) are for the caller's own queries.
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    }).pipe(Effect.provide(Reactivity.layer))
