/**
 * A store in a schema the search_path does not name. Migrated with
 * `?options=-c search_path=jobs` and opened without it, the database looked
 * unmigrated: the refusal advised `ai-jobs migrate`, which would have built
 * a second, empty store in `public` beside the real one (found by a
 * regression probe). So a store build that does not migrate, about to refuse
 * the database as not migrated, first looks over its other schemas — one
 * catalogue read, on that refusal only — and, finding a store, says where it
 * is and how to point at it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { JOBS_TABLE } from "../internal/bookkeepingRows.js"
import { type MigrationFailed, StorageError } from "../StoreErrors.js"
import { searchPathOption, searchPathRefusal } from "./searchPathOption.js"

/** A schema off the search_path holding a store, with the search_path's schemas on every row. */
interface ElsewhereRow {
  readonly name: string
  readonly quoted: string
  readonly path: ReadonlyArray<string> | null
}

/** The schemas off the search_path that hold a store — the bookkeeping `table` and `ai_jobs`, as tables — in one catalogue read. */
const storesOffThePath = (table: string, operation: string): Effect.Effect<ReadonlyArray<ElsewhereRow>, StorageError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<ElsewhereRow>`SELECT n.nspname::text AS name, quote_ident(n.nspname) AS quoted, current_schemas(false)::text[] AS path
      FROM pg_namespace n
      WHERE n.nspname <> ALL (current_schemas(false))
        AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = ${table} AND c.relkind IN ('r', 'p'))
        AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = ${JOBS_TABLE} AND c.relkind IN ('r', 'p'))
      ORDER BY n.nspname`.withoutTransform.pipe(
      Effect.mapError((cause) => new StorageError({ operation, cause }))
    ))

/** The search_path's schemas, as the rows name them (the system's left out). */
const pathOf = (rows: ReadonlyArray<ElsewhereRow>): ReadonlyArray<string> => (rows[0]?.path ?? []).filter((schema) => !schema.startsWith("pg_"))

/** Where the stores are and how to reach each: `schema "jobs" of this database holds one: name the one to use in the URL — ?options=…`. */
const whereAndHow = (rows: ReadonlyArray<ElsewhereRow>): string => {
  const schemas = rows.map((row) => `"${row.name}"`).join(", ")
  return `${rows.length === 1 ? `schema ${schemas} of this database holds one` : `schemas ${schemas} of this database hold one each`}: ` +
    `name the one to use in the URL — ${rows.map((row) => `?options=${searchPathOption(row.quoted)}`).join(" or ")}`
}

/**
 * Fails with `MigrationFailed` naming the schemas off the search_path that
 * hold a store and the URL option for each; succeeds when none does. The
 * search_path's own schemas were looked at already (a later one holding a
 * store is refused on its own: migrations.ts `shadowedStore`).
 */
export const refuseStoreElsewhere = (table: string): Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const rows = yield* storesOffThePath(table, "JobStore.schemaVersion")
    if (rows.length === 0) return
    const path = pathOf(rows)
    return yield* searchPathRefusal(
      `no schema on the search_path (${path.length === 0 ? "none that exists" : path.join(", ")}) holds a job store, ` +
        `but ${whereAndHow(rows)}; a store migrated with this URL would be a second, empty one beside it; nothing was changed`
    )
  })

/**
 * After a migration created a new store, or upgraded a reference database
 * in place (migration 1 applied; `upgraded` says which), warns when schemas
 * off the search_path already hold one: a URL without the `search_path`
 * option that reached the real store builds a second one in `public`. A new
 * store may be meant, so it is said, not refused. The store is built by
 * then: a failed look only loses the warning.
 */
export const warnOfStoreElsewhere = (table: string, upgraded: boolean): Effect.Effect<void, never, SqlClient.SqlClient> =>
  storesOffThePath(table, "PgStore.migrate, looking for other stores").pipe(
    Effect.flatMap((rows) => {
      if (rows.length === 0) return Effect.void
      const schema = `schema "${pathOf(rows)[0] ?? "public"}", the search_path's first`
      return Effect.logWarning(
        upgraded
          ? `migrate upgraded the reference implementation's job tables in place in ${schema}, but ${whereAndHow(rows)}; the upgraded store is a separate one`
          : `migrate created a new job store in ${schema}, but ${whereAndHow(rows)}; the new store is a second, separate one`
      )
    }),
    Effect.catchAll(() => Effect.void)
  )
