/**
 * Replay safety for migrations whose work can only be done once (issue 12.4).
 *
 * Every migration must leave an identical schema when it runs again, say
 * after the Migrator's bookkeeping table was lost. Most statements manage on
 * their own (`IF NOT EXISTS`, `CREATE OR REPLACE`, `DROP ... IF EXISTS` before
 * `CREATE`). A table rebuild cannot: running it again would rebuild the table
 * from an older definition and drop what later migrations added. Such a file
 * names, in a `-- skip-if: <query>` comment line, a query that returns a row
 * once its work is done; the runner then skips the file (and still records it
 * as applied).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

const SKIP_IF = /^--\s*skip-if:\s*(\S.*)$/m

/** The `-- skip-if:` query of a migration script, or null when it has none. */
export const skipIfQuery = (script: string): string | null => SKIP_IF.exec(script)?.[1]?.trim() ?? null

/** Whether `script` says its work is already done in the database behind `sql`. */
export const alreadyDone = (sql: SqlClient.SqlClient, script: string): Effect.Effect<boolean, SqlError> => {
  const query = skipIfQuery(script)
  return query === null ? Effect.succeed(false) : Effect.map(sql.unsafe(query), (rows) => rows.length > 0)
}
