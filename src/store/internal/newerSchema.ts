/**
 * A database upgraded by a newer version of this library is refused, not
 * misread: its bookkeeping names a migration this version does not ship, so
 * its tables may hold columns, states or constraints this code does not know.
 * Like graphile-worker's schema-revision check, the store fails at its first
 * migrate with a `MigrationFailed` that says which version the database is at.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { readdir } from "node:fs/promises"
import { MigrationFailed } from "../StoreErrors.js"

const MIGRATION_FILE = /^(\d+)_.+\.sql$/

/** The highest migration number among the `NNNN_name.sql` files of `directory` (0 when there is none). */
const newestShipped = (directory: URL) =>
  Effect.map(Effect.tryPromise(() => readdir(directory)), (files) =>
    files.reduce((newest, file) => Math.max(newest, Number(MIGRATION_FILE.exec(file)?.[1] ?? 0)), 0))

const padded = (id: number): string => String(id).padStart(4, "0")

/**
 * Fails when the bookkeeping `table` (which must exist: run after the
 * Migrator) records a migration above the newest file in `directory`.
 */
export const refuseNewerSchema = (
  dialect: "sqlite" | "pg",
  table: string,
  directory: URL
): Effect.Effect<void, MigrationFailed, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const shipped = yield* newestShipped(directory)
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly version: number | string | null }>`SELECT MAX(migration_id) AS version FROM ${sql(table)}`
    const version = Number(row?.version ?? 0)
    if (version <= shipped) return
    return yield* new MigrationFailed({
      dialect,
      migration_id: null,
      migration_name: null,
      statement: null,
      cause: new Error(
        `the database's schema is at migration ${padded(version)}, newer than the newest this library ships (${padded(shipped)}): ` +
          "a newer version of @handshake/ai-job-model upgraded it. Run that version (or a later one), or restore a backup taken before the upgrade"
      )
    })
  }).pipe(
    Effect.mapError((cause) =>
      cause instanceof MigrationFailed ? cause : new MigrationFailed({ dialect, migration_id: null, migration_name: null, statement: null, cause })
    )
  )
