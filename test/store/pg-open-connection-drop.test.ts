/**
 * A connection dropped while a PostgreSQL store opens (a DBA's
 * pg_terminate_backend, a server restarting) is the database failing — a
 * `StorageError`, which a supervisor retries — not `MigrationFailed`, which it
 * treats as permanent (found by an outside chaos probe: 6 of 60 opens of an
 * up-to-date database, killed during the build, said "PostgreSQL migrations
 * failed: terminating connection…", though no migration was pending). The
 * reads made at open — the server's encoding (pg/serverEncoding.ts), the
 * schema version a build without migrating checks (pg/migrations.ts
 * `refuseNewer`) — turned any failure of theirs into `MigrationFailed`. The
 * connection is cut by a proxy right after the server answered that exact
 * statement: its answer never reaches the store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { failureOf } from "./fixtures.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { freshPgDatabase } from "../support/pg-database.js"

/** A migrated database and a proxy to it that cuts the connection once `marker`'s statement was answered. */
const cutAt = (label: string, marker: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    // Up to date: no migration is pending when the store opens through the proxy.
    yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
    const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(url, marker)), (p) => Effect.promise(p.close))
    proxy.state.armed = true
    return proxy
  })

/** The error the store's build failed with through `url`. */
const openFailure = (options: Omit<PgStore.PgStoreOptions, "url">, url: string) =>
  Effect.map(failureOf(Layer.build(PgStore.layer({ ...options, url })).pipe(Effect.scoped)), (error) => {
    assert.instanceOf(error, StorageError, `the build failed with: ${String((error as { readonly message?: unknown }).message)}`)
    return error as StorageError
  })

describe("PostgreSQL store: a connection dropped while it opens", () => {
  it.live("R9 the server's encoding not read (the connection cut at that statement) while migrating is a StorageError naming the read, not MigrationFailed", () =>
    Effect.gen(function*() {
      const proxy = yield* cutAt("open drop encoding migrate", "server_encoding")
      const error = yield* openFailure({}, proxy.url)
      assert.strictEqual(proxy.state.cut, 1, "the encoding's answer was cut")
      assert.include(error.operation, "reading the database's encoding")
    }).pipe(Effect.scoped), 60_000)

  it.live("R9 the server's encoding not read while opening read-only is a StorageError, not MigrationFailed 'Cannot open the store'", () =>
    Effect.gen(function*() {
      const proxy = yield* cutAt("open drop encoding readonly", "server_encoding")
      const error = yield* openFailure({ readonly: true }, proxy.url)
      assert.strictEqual(proxy.state.cut, 1, "the encoding's answer was cut")
      assert.include(error.operation, "reading the database's encoding")
    }).pipe(Effect.scoped), 60_000)

  it.live("R9 the schema version not read while opening without migrating (the newer-schema check) is a StorageError, not MigrationFailed", () =>
    Effect.gen(function*() {
      const proxy = yield* cutAt("open drop version", "current_schemas")
      const error = yield* openFailure({ migrate: false }, proxy.url)
      assert.strictEqual(proxy.state.cut, 1, "the version's answer was cut")
      assert.strictEqual(error.operation, "JobStore.schemaVersion")
    }).pipe(Effect.scoped), 60_000)
})
