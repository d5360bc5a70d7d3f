/**
 * `JobStore.schemaVersion` before and after migrating: a database nobody
 * migrated yet is refused by a store that will not migrate it — a
 * `MigrationFailed` naming the fix, not a store that reports 0 and fails at
 * every call (behind-schema.test.ts) — and migrating brings the newest
 * shipped migration, on both stores. Migrated stores are covered by the
 * contract suite.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { newestShipped } from "./contract/schema.js"

const versionOf = <E>(store: Layer.Layer<JobStore, E>) => Effect.provide(Effect.flatMap(JobStore, (s) => s.schemaVersion), store)

describe("JobStore.schemaVersion before and after migrating", () => {
  it.effect("R17 an unmigrated SQLite file is refused without migrating; migrating brings the newest shipped migration", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("schema-version")
      assert.match((yield* Effect.flip(versionOf(SqliteStore.layer({ filename, migrate: false })))).message, /the database is not migrated/)
      assert.strictEqual(yield* versionOf(SqliteStore.layer({ filename })), newestShipped("sqlite"))
    }))

  it.scoped("R17 an unmigrated PostgreSQL database is refused without migrating; migrating brings the newest shipped migration", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("schema version")
      assert.match((yield* Effect.flip(versionOf(PgStore.layer({ url, migrate: false })))).message, /the database is not migrated/)
      assert.strictEqual(yield* versionOf(PgStore.layer({ url })), newestShipped("pg"))
    }))
})
