/**
 * `JobStore.schemaVersion` on a database nobody migrated yet: 0 on both
 * stores, not an error (a health check must tell "unmigrated" from "down").
 * Migrated stores are covered by the contract suite.
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
  it.effect("R17 an unmigrated SQLite file reports 0; migrating brings the newest shipped migration", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("schema-version")
      assert.strictEqual(yield* versionOf(SqliteStore.layer({ filename, migrate: false })), 0)
      assert.strictEqual(yield* versionOf(SqliteStore.layer({ filename })), newestShipped("sqlite"))
    }))

  it.scoped("R17 an unmigrated PostgreSQL database reports 0; migrating brings the newest shipped migration", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("schema version")
      assert.strictEqual(yield* versionOf(PgStore.layer({ url, migrate: false })), 0)
      assert.strictEqual(yield* versionOf(PgStore.layer({ url })), newestShipped("pg"))
    }))
})
