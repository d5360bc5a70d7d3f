/**
 * Another session holding a table in EXCLUSIVE mode (or `mode`) until
 * `release` commits, for tests that force an interleaving on PostgreSQL: a
 * store statement that writes the table (in ACCESS EXCLUSIVE mode, reads it
 * too) waits behind it. `held` runs in the holding transaction after the
 * lock, committed by `release`: a migration's work, as the Migrator holds
 * its bookkeeping table. `blocked` waits until a session of the database
 * waits on a lock (the statement in flight has reached the table).
 */
import * as Effect from "effect/Effect"
import { connectPg } from "./pg-database.js"

export const holdTable = (url: string, table: string, mode = "EXCLUSIVE", held: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const holder = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const client = await connectPg(url)
        await client.query("BEGIN")
        await client.query(`LOCK TABLE ${table} IN ${mode} MODE`)
        for (const statement of held) await client.query(statement)
        return client
      }),
      (client) => Effect.promise(() => client.query("ROLLBACK").catch(() => undefined).then(() => client.end()))
    )
    const watcher = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
    const blocked = Effect.promise(async () => {
      for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
        const { rows } = await watcher.query<{ readonly n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if (Number(rows[0]?.n) >= 1) return
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      throw new Error(`setup: no statement ever blocked on the held ${table}`)
    })
    return { blocked, release: Effect.promise(() => holder.query("COMMIT")) }
  })
