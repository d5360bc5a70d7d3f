/**
 * A database upgraded by a newer version of this library is refused, not
 * misread: its bookkeeping names a migration this version does not ship, so
 * its tables may hold columns, states or constraints this code does not know.
 * Like graphile-worker's schema-revision check, a store fails when it is
 * built — migrating or not, read-only too — with a `MigrationFailed` that says
 * which version the database is at.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { readdir } from "node:fs/promises"
import { MigrationFailed, StorageError } from "../StoreErrors.js"
import { padded } from "./migrationLabel.js"

const MIGRATION_FILE = /^(\d+)_(.+)\.sql$/

/** What each directory's listing gave: the files ship with the package, so once per process. */
const shippedByDirectory = new Map<string, ReadonlyMap<number, string>>()

/**
 * The migrations of the `NNNN_name.sql` files of `directory`: each number
 * with the name the Migrator records for it (the file's name after `NNNN_`).
 */
export const shippedMigrations = (directory: URL): Effect.Effect<ReadonlyMap<number, string>, unknown> =>
  Effect.suspend(() => {
    const known = shippedByDirectory.get(directory.href)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.map(Effect.tryPromise(() => readdir(directory)), (files) => {
      const shipped = new Map<number, string>()
      for (const file of files) {
        const [, id, name] = MIGRATION_FILE.exec(file) ?? []
        if (id !== undefined && name !== undefined) shipped.set(Number(id), name)
      }
      shippedByDirectory.set(directory.href, shipped)
      return shipped
    })
  })

/** The highest migration number among `shipped` (0 when there is none). */
export const newestOf = (shipped: ReadonlyMap<number, string>): number => Math.max(0, ...shipped.keys())

/** The highest migration number among the `NNNN_name.sql` files of `directory` (0 when there is none). */
export const newestShipped = (directory: URL): Effect.Effect<number, unknown> => Effect.map(shippedMigrations(directory), newestOf)

/**
 * Why a database whose bookkeeping records `current` is refused by this
 * version shipping `shipped` — a newer version upgraded it — or undefined.
 */
export const newerRefusal = (current: number, shipped: ReadonlyMap<number, string>): Error | undefined => {
  const newest = newestOf(shipped)
  return current <= newest ? undefined : new Error(
    `the database's schema is at migration ${padded(current)}, newer than the newest this library ships (${padded(newest)}): ` +
      "a newer version of @handshake/ai-job-model upgraded it. Run that version (or a later one), or restore a backup taken before the upgrade"
  )
}

/**
 * Fails with a `MigrationFailed` when `refusal` finds a reason in `version` —
 * the newest migration the database's bookkeeping records, 0 without one —
 * against the migrations of `directory`.
 */
export const refuseSchema = (
  dialect: "sqlite" | "pg",
  version: Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient>,
  directory: URL,
  refusal: (current: number, shipped: ReadonlyMap<number, string>) => Error | undefined
): Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const shipped = yield* shippedMigrations(directory)
    const cause = refusal(yield* version, shipped)
    if (cause === undefined) return
    return yield* new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause })
  }).pipe(
    // The version not read as the database failed is the read's StorageError; a bookkeeping table that is
    // not this library's is the read's MigrationFailed (internal/schemaVersion.ts).
    Effect.mapError((cause) =>
      cause instanceof MigrationFailed || cause instanceof StorageError
        ? cause
        : new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause })
    )
  )

/** Fails when `version` is above the newest file in `directory` (`newerRefusal`). */
export const refuseNewerSchema = (
  dialect: "sqlite" | "pg",
  version: Effect.Effect<number, StorageError | MigrationFailed, SqlClient.SqlClient>,
  directory: URL
): Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> => refuseSchema(dialect, version, directory, newerRefusal)
