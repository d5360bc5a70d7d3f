/**
 * The raw drivers, used for baselines and for loading fixtures set-based.
 * better-sqlite3 ships no types and @types/better-sqlite3 is not installed,
 * so it is loaded untyped and the small surface used here is described.
 */
import { createRequire } from "node:module"
import pg from "pg"

/** The part of a better-sqlite3 statement the benchmark uses. */
export interface SqliteStatement {
  run(...params: ReadonlyArray<unknown>): { readonly changes: number }
  all(...params: ReadonlyArray<unknown>): Array<Record<string, unknown>>
  get(...params: ReadonlyArray<unknown>): Record<string, unknown> | undefined
}

/** The part of a better-sqlite3 database the benchmark uses. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  exec(sql: string): void
  pragma(source: string, options?: { readonly simple?: boolean }): unknown
  transaction<A extends ReadonlyArray<unknown>, B>(fn: (...args: A) => B): (...args: A) => B
  close(): void
}

const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => SqliteDatabase

/**
 * Opens a SQLite file the way our store does: WAL, and `PRAGMA synchronous`
 * set explicitly for `durability` (default "full", the store's default).
 * Left alone, better-sqlite3 runs a WAL file at NORMAL (it is built with
 * SQLITE_DEFAULT_WAL_SYNCHRONOUS=1), so a raw baseline would skip the fsync
 * per commit that our store pays.
 */
export const openSqlite = (filename: string, durability: "full" | "normal" = "full"): SqliteDatabase => {
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`)
  return db
}

/** A connected `pg` client; the caller ends it. */
export const connectPg = async (url: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url })
  client.on("error", () => {})
  await client.connect()
  return client
}

/** A `pg` pool with the driver's default size (10), like the other clients benchmarked. */
export const pgPool = (url: string): pg.Pool => {
  const pool = new pg.Pool({ connectionString: url })
  pool.on("error", () => {})
  return pool
}
