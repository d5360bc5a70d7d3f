/**
 * Another session holding a table in EXCLUSIVE mode (or `mode`) until
 * `release` commits, for tests that force an interleaving on PostgreSQL: a
 * store statement that writes the table (in ACCESS EXCLUSIVE mode, reads it
 * too) waits behind it. `held` runs in the holding transaction after the
 * lock, committed by `release`: a migration's work, as the Migrator holds
 * its bookkeeping table. `blocked` waits until a session of the database
 * waits on a lock (the statement in flight has reached the table), `blockedBy(n)`
 * until n sessions do.
 */
import * as Effect from "effect/Effect"
import { connectPg } from "./pg-database.js"

export const holdTable = (url: string, table: string, mode = "EXCLUSIVE", held: ReadonlyArray<string> = []) =>
  holding(url, [`LOCK TABLE ${table} IN ${mode} MODE`, ...held], `the held ${table}`)

/**
 * Another session in a transaction that ran `statements` (a lock taken, a row held `FOR UPDATE`),
 * until `release` commits; `what` names the lock in a setup failure.
 */
export const holding = (url: string, statements: ReadonlyArray<string>, what: string) =>
  Effect.gen(function*() {
    const holder = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const client = await connectPg(url)
        await client.query("BEGIN")
        for (const statement of statements) await client.query(statement)
        return client
      }),
      (client) => Effect.promise(() => client.query("ROLLBACK").catch(() => undefined).then(() => client.end()))
    )
    const watcher = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
    /** Waits until `sessions` sessions of the database wait on a lock. */
    const blockedBy = (sessions: number) =>
      Effect.promise(async () => {
        // A blocker that failed instead of blocking would leave this waiting: say so instead of timing out.
        for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
          const { rows } = await watcher.query<{ readonly n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
          )
          if (Number(rows[0]?.n) >= sessions) return
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        throw new Error(`setup: fewer than ${sessions} statement(s) ever blocked on ${what}`)
      })
    return { blocked: blockedBy(1), blockedBy, release: Effect.promise(() => holder.query("COMMIT")) }
  })
