/**
 * One statement run behind the stores' back on a shared database, as another
 * tool would run it: a fresh node-postgres client or better-sqlite3
 * connection of its own, closed after.
 */
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"
import { openSqlite } from "../reliability/snapshot.js"
import type { SharedBackend, SharedDatabase } from "./shared-database.js"

interface PgClient {
  connect(): Promise<void>
  query(text: string, values?: ReadonlyArray<unknown>): Promise<{ readonly rows: Array<Record<string, unknown>> }>
  end(): Promise<void>
}
const PgClient = createRequire(import.meta.url)("pg").Client as new(options: { connectionString: string }) => PgClient

/** Runs one statement behind the store's back (`$1`-style placeholders), as another tool would; its rows. */
export const rawStatement = (database: SharedDatabase, backend: SharedBackend, text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.promise(async () => {
    if (backend.name === "PostgreSQL") {
      const client = new PgClient({ connectionString: database.url })
      await client.connect()
      try {
        return (await client.query(text, params)).rows
      } finally {
        await client.end()
      }
    }
    const db = openSqlite(database.url)
    try {
      const statement = db.prepare(text.replace(/\$\d+/g, "?"))
      return /^\s*SELECT/i.test(text) ? statement.all(...params) : (statement.run(...params), [])
    } finally {
      db.close()
    }
  })
