/**
 * Whether an `ai_job_model_migrations` table is this library's, told from
 * its rows: another tool may keep a table of that very name, with integer
 * ids that look like ours (`(26, 'create_users')`). Taken for ours, its
 * highest id read as our schema version, a store opened on a database with
 * no `ai_jobs` table, or migrated from the wrong migration on (found by a
 * regression probe). So the table is ours only if
 *
 * - every row is a migration this library ships, id AND name (the name the
 *   Migrator records: the file's name after `NNNN_`);
 * - rows above the newest shipped migration — a newer version of this
 *   library upgraded the database (newerSchema.ts) — come with this
 *   version's newest migration recorded too: a newer version applied every
 *   migration this one ships (the Migrator only adds rows), while another
 *   tool's rows never name ours. Names alone cannot tell (`create_users` has
 *   our names' form);
 * - the schema's own tables are there, as tables (a view of that name is
 *   not the schema), once it records the migration that made them
 *   (`schemaTables`): every call touching a missing one would fail, again
 *   and again, as if the database were down.
 *
 * An empty table is ours at version 0 (the Migrator made it, or its rows
 * were removed so the migrations run again).
 */
import * as Either from "effect/Either"
import { migrationLabel, padded } from "./migrationLabel.js"
import { newestOf } from "./newerSchema.js"

/** One row of the bookkeeping table, as the driver gave it. */
export interface BookkeepingRow {
  readonly migration_id: unknown
  readonly name: unknown
}

/** The table every migration leaves, a newer version's too. */
export const JOBS_TABLE = "ai_jobs"

/** A table of the schema, and the migration that made it: a database recording that one has it. */
export type SchemaTable = readonly [name: string, since: number]

/** The tables both dialects' migrations leave. */
const sharedTables: ReadonlyArray<SchemaTable> = [
  [JOBS_TABLE, 1],
  ["workflow_runs", 1],
  ["workflow_node_executions", 1],
  ["flight_recorder_events", 3],
  ["flight_recorder_retention_grants", 3],
  ["run_offers", 16]
]

/** Each dialect's schema tables (SQLite's 0004 adds the retention grants' anchor). */
export const schemaTables: { readonly [D in "sqlite" | "pg"]: ReadonlyArray<SchemaTable> } = {
  sqlite: [...sharedTables, ["flight_recorder_grant_anchor", 4]],
  pg: sharedTables
}

/** The names of `tables`, for the catalogue read that finds which are there. */
export const tableNames = (tables: ReadonlyArray<SchemaTable>): ReadonlyArray<string> => tables.map(([name]) => name)

/** What a refused bookkeeping table is, said after why. */
export const ANOTHER_TOOLS = "it is another tool's table of the same name, or was edited by hand; nothing was changed"

/** How a value read back is quoted in a refusal: `'abc'`, `'3'` for text, `1.5`, `NULL`. */
const quoted = (value: unknown): string =>
  value === null || value === undefined ? "NULL" : typeof value === "string" ? `'${value}'` : String(value)

/** What this library calls migration `id`, for a refusal: `0003_flight_recorder`, or that it has none. */
const ours = (shipped: ReadonlyMap<number, string>, id: number): string => {
  const name = shipped.get(id)
  return name === undefined ? `this library ships no migration ${padded(id)}` : `this library's ${padded(id)} is ${name}`
}

/**
 * The schema version `rows` record (their highest id, 0 when there is none),
 * or, as a sentence, why `table` is not this library's bookkeeping.
 * `expected`: the dialect's schema tables; `present`: those of them that are
 * there beside it, as tables. A schema newer than this version is held to
 * `ai_jobs` alone (it may have dropped others; newerSchema.ts refuses it).
 */
export const recordedVersion = (
  table: string,
  rows: ReadonlyArray<BookkeepingRow>,
  shipped: ReadonlyMap<number, string>,
  expected: ReadonlyArray<SchemaTable>,
  present: ReadonlySet<string>
): Either.Either<number, string> => {
  const newest = newestOf(shipped)
  let version = 0
  let newer: BookkeepingRow | undefined
  for (const row of rows) {
    const id = row.migration_id
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
      return Either.left(
        `${table} holds a migration_id that is no migration's (${quoted(id)}), where every id is a positive integer: ${ANOTHER_TOOLS}`
      )
    }
    version = Math.max(version, id)
    if (id > newest) newer ??= row
    else if (shipped.get(id) !== row.name) {
      return Either.left(`${table} records migration ${id} as ${quoted(row.name)}, where ${ours(shipped, id)}: ${ANOTHER_TOOLS}`)
    }
  }
  if (newer !== undefined && !rows.some((row) => row.migration_id === newest)) {
    // Said as it is: rows of ours up to an older one (edited by hand) are not "none of ours".
    const own = rows.filter((row) => (row.migration_id as number) <= newest).length
    return Either.left(
      `${table} records migration ${String(newer.migration_id)} as ${quoted(newer.name)}, above this library's newest (${padded(newest)}), ` +
        (own === 0
          ? "but none of this library's own"
          : `but not this library's newest, ${migrationLabel(newest, shipped.get(newest) ?? "")} (it records ${own} of this library's ${shipped.size})`) +
        `, which a newer version of it would have kept: ${ANOTHER_TOOLS}`
    )
  }
  const missing = expected.find(([name, since]) =>
    since <= version && (version <= newest || name === JOBS_TABLE) && !present.has(name)
  )
  if (missing !== undefined) {
    return Either.left(
      `${table} records this library's migrations up to ${padded(version)}, but the schema they made is not there (no ${missing[0]} table): ` +
        `its tables were dropped or replaced, or the bookkeeping was copied without them; restore the database from a backup; nothing was changed`
    )
  }
  return Either.right(version)
}
