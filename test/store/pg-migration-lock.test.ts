/**
 * A store build that never gets the migration lock is a busy database, not a
 * failed migration, on PostgreSQL as on SQLite
 * (sqlite-lock-wait-interrupt.test.ts). Migrations run under a transaction
 * advisory lock (pg/migrations.ts); another session holding it (another
 * process migrating, here a session that took it and keeps it) past
 * `statementTimeout` made the build fail as `MigrationFailed` with no
 * migration named, though none ran. It is now a `StorageError` (HSK-500-DB)
 * naming the wait; a migration that ran and failed is still `MigrationFailed`
 * (pg-legacy.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"

describe("PostgreSQL: a store build that never gets the migration lock", () => {
  it.scopedLive("another session holds the migration lock past statementTimeout: StorageError naming the wait, not MigrationFailed; the build goes through once it is let go", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("migration lock held")
      const holder = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = await connectPg(url)
          // The same key the store's transaction lock takes (advisory locks of both levels share one key space).
          await client.query("SELECT pg_advisory_lock(hashtext('ai_job_model_migrations'))")
          return client
        }),
        (client) => Effect.promise(() => client.end())
      )
      const failure = yield* Effect.flip(Effect.scoped(Layer.build(PgStore.layer({ url, statementTimeout: "500 millis" }))))
      assert.strictEqual(failure._tag, "StorageError", failure.message)
      assert.match(failure.message, /^HSK-500-DB: .*waiting for the migration lock/)
      yield* Effect.promise(() => holder.query("SELECT pg_advisory_unlock_all()"))
      yield* Effect.scoped(Layer.build(PgStore.layer({ url, statementTimeout: "500 millis" })))
    }), 60_000)
})
