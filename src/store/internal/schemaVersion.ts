/**
 * The schema version both stores report: the newest migration the Migrator
 * recorded. Only the probe for the bookkeeping table differs by dialect.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { StorageError } from "../StoreErrors.js"

/** The newest migration in `table`, 0 when `tableExists` says it is absent or it is empty. */
export const readSchemaVersion = (
  table: string,
  tableExists: Effect.Effect<boolean, SqlError, SqlClient.SqlClient>
): Effect.Effect<number, StorageError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    if (!(yield* tableExists)) return 0
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly version: number }>`SELECT COALESCE(MAX(migration_id), 0) AS version FROM ${sql(table)}`
    return Number(row?.version ?? 0)
  }).pipe(
    Effect.mapError((cause) => new StorageError({ operation: "JobStore.schemaVersion", cause })),
    Effect.withSpan("JobStore.schemaVersion")
  )
