/**
 * Which database a PostgreSQL connection reaches (internal/foreignTransaction.ts):
 * the store's own client's connections are recognised by their class
 * (@effect/sql-pg makes one per client, so a caller's transaction on the
 * store's own client is its too); any other is asked. The answer names the
 * database and the server — its port and its start time, which two servers
 * on one machine do not share — so a database of the same name on another
 * server is another database, and a restart makes every connection new —
 * and the table the store's unqualified names reach there: a connection whose
 * `search_path` finds another schema's `ai_jobs` (another deployment's, or
 * none) reaches other tables, so its transaction is not joined. Asked once
 * per connection (the answer is kept), never per statement.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Effect from "effect/Effect"
import { connectionNow } from "../internal/execute.js"
import type { DatabaseIdentity } from "../internal/foreignTransaction.js"

const IDENTITY = "SELECT current_database() || '/' || current_setting('port') || '/' || extract(epoch from pg_postmaster_start_time())::text || '/' ||\n" +
  "  coalesce(to_regclass('ai_jobs')::oid::text, '-') AS database"

const reachedBy = (conn: Connection): Effect.Effect<string, unknown> =>
  Effect.flatMap(conn.execute(IDENTITY, [], undefined), (rows) => {
    const database = (rows[0] as { readonly database?: unknown } | undefined)?.database
    return typeof database === "string" ? Effect.succeed(database) : Effect.fail(new Error("no database named"))
  })

export const pgDatabaseIdentity = (sql: SqlClient.SqlClient): DatabaseIdentity => {
  // The class of the client's connections (@effect/sql-pg makes one per client).
  const own = connectionNow(sql)?.constructor
  return {
    isOwn: (conn) => own !== undefined && conn.constructor === own,
    // An @effect/sql-pg connection carries its `pg` client; any other engine's is not asked.
    mayAsk: (conn) => typeof (conn as { readonly pg?: unknown }).pg === "object",
    // A transaction's connection wraps the pool's client, new each time: the answer is kept for the client.
    keyOf: (conn) => (conn as { readonly pg?: object }).pg ?? conn,
    reachedBy,
    own: Effect.scoped(Effect.flatMap(sql.reserve, reachedBy))
  }
}
