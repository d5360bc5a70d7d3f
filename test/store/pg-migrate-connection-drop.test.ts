/**
 * A connection dropped while a PostgreSQL store migrates (a fresh database,
 * or one a library upgrade migrates) is the database failing — a
 * `StorageError`, which a supervisor retries — not `MigrationFailed`, which it
 * treats as permanent: the migration's transaction rolled back, nothing was
 * refused (found by a regression probe: "PostgreSQL migrations failed: Client
 * has encountered a connection error and is not queryable", the statement's
 * own "Connection terminated" lost). The connection is cut by a proxy right
 * after the server answered that exact statement. A statement the database
 * refuses stays `MigrationFailed` (pg-migration-lock.test.ts, and the
 * foreign-table tests).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { newestShipped, shippedFrom, shippedLabel } from "./contract/schema.js"
import { failureOf } from "./fixtures.js"
import { shippedBefore } from "./pg-support.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { newestSchemaVersion } from "../../src/store/pg/migrations.js"

/** The error the store's build failed with through `url`, asserted a StorageError. */
const openFailure = (url: string) =>
  Effect.map(failureOf(Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)), (error) => {
    assert.instanceOf(error, StorageError, `the build failed with: ${String((error as { readonly message?: unknown }).message)}`)
    return error as StorageError
  })

/** The COMMIT statement as the wire carries it (a simple query: its length, the text, a NUL), not a migration's text that names COMMIT. */
const COMMIT = "Q\u0000\u0000\u0000\u000bCOMMIT\u0000"

/** Every shipped migration, first to newest, as a fresh database's run has them in hand. */
const allShipped = `migrations ${shippedLabel("pg", shippedFrom("pg", 0)[0]!)} to ${shippedLabel("pg", newestShipped("pg"))}`

/**
 * The statements of a migration's transaction, each cut in turn; whether the failing statement's own words are kept;
 * what the run had in hand, named by the StorageError (nothing before the version is read under the lock).
 */
const cuts: ReadonlyArray<readonly [marker: string, ownWords: boolean, inHand: string]> = [
  ["BEGIN", false, ""],
  ["pg_advisory_xact_lock", true, ""],
  ["CREATE TABLE IF NOT EXISTS \"ai_job_model_migrations\"", true, `, applying ${allShipped}`],
  ["-- 0003: the Flight Recorder", true, `, applying migration ${shippedLabel("pg", 3)}`]
]

describe("PostgreSQL store: a connection dropped while it migrates", () => {
  for (const [marker, ownWords, inHand] of cuts) {
    it.live(`R9 the connection cut after the server answered '${marker}' on a fresh database is a StorageError saying nothing committed, not MigrationFailed`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("migrate drop")
        const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(url, marker)), (p) => Effect.promise(p.close))
        proxy.state.armed = true
        const error = yield* openFailure(proxy.url)
        assert.strictEqual(proxy.state.cut, 1, "the statement's answer was cut")
        assert.strictEqual(error.operation, `PgStore.migrate${inHand} (the connection was lost: nothing of the migration committed)`)
        // The statement's own failure, not the ROLLBACK's "not queryable" that followed it.
        if (ownWords) assert.include(error.message, "Connection terminated")
        // Rolled back: opening again (directly) migrates from the start.
        const client = yield* Effect.promise(() => connectPg(url))
        const tables = yield* Effect.promise(() => client.query("SELECT to_regclass('ai_job_model_migrations') IS NULL AS absent"))
        yield* Effect.promise(() => client.end())
        assert.deepStrictEqual(tables.rows, [{ absent: true }])
        yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      }).pipe(Effect.scoped), 60_000)
  }

  it.live("R9 the connection cut during an upgrade's migration is a StorageError, the database left at its version", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("migrate drop upgrade")
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      // As an older version left it: the newest migration not applied yet.
      const client = yield* Effect.promise(() => connectPg(url))
      const newest = Number(yield* Effect.orDie(newestSchemaVersion))
      yield* Effect.promise(() => client.query(`DELETE FROM ai_job_model_migrations WHERE migration_id = ${newest}`))
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(url, `-- ${String(newest).padStart(4, "0")}`)), (p) => Effect.promise(p.close))
      proxy.state.armed = true
      const error = yield* openFailure(proxy.url)
      assert.strictEqual(proxy.state.cut, 1, "the migration's answer was cut")
      assert.strictEqual(error.operation, `PgStore.migrate, applying migration ${shippedLabel("pg", newest)} (the connection was lost: nothing of the migration committed)`)
      assert.include(error.message, "Connection terminated")
      const version = yield* Effect.promise(() => client.query("SELECT max(migration_id) AS version FROM ai_job_model_migrations"))
      yield* Effect.promise(() => client.end())
      assert.strictEqual(Number(version.rows[0]?.["version"]), shippedBefore(newest))
    }).pipe(Effect.scoped), 60_000)

  it.live("R9 the connection cut after the server answered the migration's COMMIT is a StorageError that does not claim nothing committed", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("migrate drop commit")
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(url, COMMIT)), (p) => Effect.promise(p.close))
      proxy.state.armed = true
      const error = yield* openFailure(proxy.url)
      assert.strictEqual(proxy.state.cut, 1, "the COMMIT's answer was cut")
      assert.strictEqual(error.operation, `PgStore.migrate, committing ${allShipped} (the connection was lost as the migration committed: opening again finds whether it did)`)
      // It did commit: opening again finds the database migrated.
      const client = yield* Effect.promise(() => connectPg(url))
      const version = yield* Effect.promise(() => client.query("SELECT max(migration_id) AS version FROM ai_job_model_migrations"))
      yield* Effect.promise(() => client.end())
      assert.strictEqual(Number(version.rows[0]?.["version"]), Number(yield* Effect.orDie(newestSchemaVersion)))
    }).pipe(Effect.scoped), 60_000)
})
