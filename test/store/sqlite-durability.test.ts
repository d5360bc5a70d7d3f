/**
 * Issue 16.2: SQLite durability is an explicit store option. better-sqlite3 is
 * built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so on a WAL file it commits
 * without an fsync unless the connection sets `PRAGMA synchronous` itself;
 * the store sets it from `durability` ("full" by default: fsync per commit).
 * The option reaches the store from `layer`, `layerConfig` and a database URL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Storage from "../../src/store/DatabaseUrl.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { readBusyTimeout } from "../../src/store/sqlite/transaction.js"
import { expectTag, failureOf } from "./fixtures.js"
import { rawRows, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** `PRAGMA synchronous` as the store's own connection reports it: 1 = NORMAL, 2 = FULL. */
const synchronousOf = (filename: string, options: Omit<SqliteStore.SqliteStoreOptions, "filename">) =>
  Effect.provide(
    Effect.map(rawRows<{ readonly synchronous: number }>("PRAGMA synchronous"), (rows) => rows[0]?.synchronous),
    storeWithClient(filename, options)
  )

/** Builds a layer and returns its failure (the test fails if it builds). */
const buildFailure = <A, E>(layer: Layer.Layer<A, E>) => failureOf(Effect.scoped(Layer.build(layer)))

describe("issue 16.2 SQLite durability option", () => {
  it.scoped("issue 16.2 on a WAL file the pragma in effect is FULL by default and for \"full\", NORMAL for \"normal\"", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const journal = yield* Effect.provide(rawRows<{ readonly journal_mode: string }>("PRAGMA journal_mode"), storeWithClient(filename))
      assert.deepStrictEqual(journal, [{ journal_mode: "wal" }])
      assert.strictEqual(yield* synchronousOf(filename, {}), 2)
      assert.strictEqual(yield* synchronousOf(filename, { durability: "full" }), 2)
      assert.strictEqual(yield* synchronousOf(filename, { durability: "normal" }), 1)
      // Per connection, not per file: a later "full" connection is FULL again.
      assert.strictEqual(yield* synchronousOf(filename, { durability: "full" }), 2)
    }))

  it.scoped("R17 a busyTimeoutMs that is NaN, infinite or below zero is a StorageError naming it (NaN fell back to the default, a negative one to no wait at all)", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
        const failure = yield* buildFailure(SqliteStore.layer({ filename, busyTimeoutMs: bad }))
        assert.match(expectTag(failure, "StorageError").message, /busyTimeoutMs must be a finite number of milliseconds ≥ 0/, String(bad))
      }
      // Zero is a choice (never wait), and a fraction is cut to whole milliseconds (the store's own wait budget, issue 16.3).
      const budget = (busyTimeoutMs: number) => Effect.provide(readBusyTimeout, storeWithClient(filename, { busyTimeoutMs }))
      assert.strictEqual(yield* budget(0), 0)
      assert.strictEqual(yield* budget(250.7), 250)
    }))

  it.scoped("issue 16.2 an unknown durability is a StorageError from layer, layerConfig and a database URL", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const bogus = "fsync-sometimes" as SqliteStore.SqliteDurability
      const fromLayer = yield* buildFailure(SqliteStore.layer({ filename, durability: bogus }))
      assert.match(expectTag(fromLayer, "StorageError").message, /durability must be "normal" or "full"/)
      const fromConfig = yield* buildFailure(
        SqliteStore.layerConfig({
          filename: Config.succeed(filename),
          durability: Config.string("durability") as Config.Config<SqliteStore.SqliteDurability>
        }).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["durability", bogus]])))))
      )
      assert.match(expectTag(fromConfig, "StorageError").message, /durability must be "normal" or "full"/)
      const fromUrl = yield* buildFailure(Storage.layerFromUrl(`sqlite:${filename}`, { durability: bogus }))
      assert.match(expectTag(fromUrl, "StorageError").message, /durability must be "normal" or "full"/)
    }))

  it.scoped("R17 a misspelt option (durabilty) is a StorageError naming it, from layer, layerFromClient and a database URL of either dialect; no file is created", () =>
    Effect.gen(function*() {
      // Dropped, "full" stood in for the "normal" meant (or "normal" for "full"), without a word.
      const filename = yield* tempDatabaseFile()
      const fresh = path.join(path.dirname(filename), "never-created", "jobs.db")
      const refusals = [
        yield* buildFailure(SqliteStore.layer({ filename: fresh, durabilty: "normal" } as never)),
        yield* buildFailure(Storage.layerFromUrl(`sqlite:${fresh}`, { durabilty: "normal" } as never)),
        yield* buildFailure(Storage.layerFromUrl("postgres://127.0.0.1:1/none", { statementTimout: "5 seconds" } as never)),
        yield* buildFailure(storeWithClient(filename, { durabilty: "normal" } as never))
      ]
      for (const [index, failure] of refusals.entries()) {
        const message = expectTag(failure, "StorageError").message
        assert.match(message, /(durabilty|statementTimout): is unexpected/, String(index))
        assert.notInclude(message, "ECONNREFUSED", "refused before any connection is tried")
      }
      assert.isFalse(fs.existsSync(path.dirname(fresh)), "nothing created")
    }))

  it.scoped("R17 a switch that is not true or false (readonly: \"true\" from an environment variable) is a StorageError naming it; the file is not opened for writes", () =>
    Effect.gen(function*() {
      // "true" was read as not read-only: the file was created, opened for writes and migrated.
      const filename = yield* tempDatabaseFile()
      const fresh = path.join(path.dirname(filename), "never-created", "jobs.db")
      const cases: ReadonlyArray<readonly [object, string]> = [
        [{ readonly: "true" }, "readonly"],
        [{ migrate: "false" }, "migrate"],
        [{ groupCommit: 1 }, "groupCommit"]
      ]
      for (const [options, name] of cases) {
        const message = expectTag(yield* buildFailure(SqliteStore.layer({ filename: fresh, ...options } as never)), "StorageError").message
        assert.include(message, `${name} must be true or false`)
        const viaClient = expectTag(yield* buildFailure(storeWithClient(filename, options as never)), "StorageError").message
        assert.include(viaClient, `${name} must be true or false`)
      }
      assert.isFalse(fs.existsSync(path.dirname(fresh)), "nothing created")
      // A file name that is not text says so (it was called one holding U+0000).
      const notText = expectTag(yield* buildFailure(SqliteStore.layer({ filename: 123 } as never)), "StorageError").message
      assert.include(notText, "a database file name is text, got number")
    }))
})
