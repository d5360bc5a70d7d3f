/**
 * Store layers for service-level tests: a fresh SQLite database in memory, on
 * a temporary file, or a fresh PostgreSQL database on the test cluster.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { freshDatabaseUrl } from "./pg-database.js"

/** A named way to get a fresh store. */
export interface StoreBackend {
  readonly name: string
  readonly layer: () => Layer.Layer<JobStore, unknown>
  /** A URL or path another process (or a second layer) can open to reach the same database. */
  readonly shared?: () => Effect.Effect<{ readonly url: string; readonly layer: () => Layer.Layer<JobStore, unknown> }>
}

/** A temporary SQLite file path, removed with its WAL files at exit. */
export const tempSqliteFile = (label: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hsk-${label}-`))
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, "jobs.db")
}

export const sqliteMemory: StoreBackend = {
  name: "SQLite in memory",
  layer: () => SqliteStore.layer({ filename: ":memory:" })
}

export const sqliteFile: StoreBackend = {
  name: "SQLite file",
  layer: () => SqliteStore.layer({ filename: tempSqliteFile("store") }),
  shared: () =>
    Effect.sync(() => {
      const filename = tempSqliteFile("shared")
      return { url: filename, layer: () => SqliteStore.layer({ filename }) }
    })
}

export const postgres = (label: string): StoreBackend => ({
  name: "PostgreSQL",
  layer: () => Layer.unwrapEffect(Effect.map(Effect.promise(() => freshDatabaseUrl(label)), (url) => PgStore.layer({ url }))),
  shared: () =>
    Effect.map(Effect.promise(() => freshDatabaseUrl(label)), (url) => ({ url, layer: () => PgStore.layer({ url }) }))
})
