/**
 * The backends every suite runs on (the `Backend` type is in backend.ts): a
 * fresh SQLite database in memory, on a temporary file, or a fresh PostgreSQL
 * database on the test cluster. Each store's database goes away with its
 * layer: the file's folder is removed, the PostgreSQL database dropped.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import type { Backend } from "./backend.js"
import { freshPgDatabase, rawPgClient } from "./pg-database.js"
import { removeAtExit } from "./removeAtExit.js"

/** A temporary SQLite file path, removed with its WAL files at exit. */
export const tempSqliteFile = (label: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hsk-${label}-`))
  removeAtExit(dir)
  return path.join(dir, "jobs.db")
}

/** A database file in its own temporary folder, removed (with its WAL files) when the scope closes. */
const scopedSqliteFile = (label: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), `hsk-${label}-`))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => path.join(dir, "jobs.db")))

/** One fresh database in memory per store. No second connection can reach it. */
export const sqliteMemory: Backend = {
  name: "SQLite in memory",
  dialect: "sqlite",
  makeStore: () => SqliteStore.layer({ filename: ":memory:" }),
  // The raw client is the store's own: nothing else can reach an in-memory database.
  makeStoreWithSql: () => SqliteStore.layerFromClient().pipe(Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" })))
}

/** A temporary file per store. Two stores over one file are two clients, as two processes would be. */
export const sqliteFile: Backend = {
  name: "SQLite file",
  dialect: "sqlite",
  makeStore: () => Layer.unwrapScoped(Effect.map(scopedSqliteFile("store"), (filename) => SqliteStore.layer({ filename }))),
  makeStoreWithSql: () =>
    Layer.unwrapScoped(Effect.map(scopedSqliteFile("store"), (filename) =>
      // The store first (it migrates), then the raw client on the migrated file.
      Layer.merge(SqliteStore.layer({ filename }), SqliteClient.layer({ filename })))),
  makeTwoStores: () =>
    Effect.gen(function*() {
      const filename = yield* scopedSqliteFile("store")
      const a = yield* Layer.build(SqliteStore.layer({ filename }))
      const b = yield* Layer.build(SqliteStore.layer({ filename }))
      return [a, b] as const
    })
}

/**
 * The store's options in the suites built on `postgres`: named prepared
 * statements are on by default, as for users; `HSK_PG_PREPARED_STATEMENTS=off`
 * runs the same suites with every statement unnamed.
 */
const pgStore = (url: string) =>
  PgStore.layer({ url, preparedStatements: process.env["HSK_PG_PREPARED_STATEMENTS"] !== "off" })

/**
 * A fresh database per store on the test cluster, named after `label`. Two
 * stores over one database are two connection pools, as two processes would
 * be. Its tests may run concurrently: each has its own database.
 */
export const postgres = (label: string): Backend => ({
  name: "PostgreSQL",
  dialect: "pg",
  concurrent: true,
  makeStore: () => Layer.unwrapScoped(Effect.map(freshPgDatabase(label), pgStore)),
  makeStoreWithSql: () =>
    Layer.unwrapScoped(Effect.map(freshPgDatabase(label), (url) => Layer.merge(pgStore(url), rawPgClient(url)))),
  makeTwoStores: () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase(label)
      const a = yield* Layer.build(pgStore(url))
      const b = yield* Layer.build(pgStore(url))
      return [a, b] as const
    })
})
