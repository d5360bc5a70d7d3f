/**
 * What a table rebuild must carry that is not the library's own.
 *
 * A SQLite rebuild (rename, create, copy a fixed column list, drop the old
 * table) takes the old table's indexes and triggers down with it and keeps
 * only the columns it names. On a file a DBA also looks after, that silently
 * dropped their indexes, triggers, columns (with their data) and foreign keys.
 * Following the spirit of SQLite's documented twelve-step ALTER TABLE
 * procedure, the runner saves the indexes and triggers on the tables a script
 * rebuilds that are not the library's, and creates them again from their saved
 * SQL once the script has run. A column or foreign key the rebuild did not
 * carry cannot be put back: the migration fails naming it, and the run's one
 * transaction rolls everything back, so the file stays as it was.
 *
 * Not detected: a DBA's CHECK or UNIQUE constraint written into the table's
 * own CREATE statement (it goes with the old table).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { MigrationFailed } from "../StoreErrors.js"
import type { LibraryObjects } from "./libraryObjects.js"

/** The tables a rebuild script makes anew: those it creates, or renames another to, by name. */
const REBUILT = /\b(?:CREATE\s+TABLE|RENAME\s+TO)\s+(?:IF\s+NOT\s+EXISTS\s+)?["`[]?(\w+)/gi

interface Saved {
  readonly type: string
  readonly name: string
  readonly tbl_name: string
  readonly sql: string
}

/** One table's shape as a rebuild could lose it: its columns and its foreign keys (`column -> parent`), lower case. */
interface Shape {
  readonly table: string
  readonly columns: ReadonlyArray<string>
  readonly foreignKeys: ReadonlyArray<string>
}

const failed = (id: number, name: string, message: string) =>
  new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause: new Error(message) })

const shapeOf = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    Effect.zip(
      sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${table})`,
      sql<{ readonly from: string; readonly table: string }>`SELECT "from", "table" FROM pragma_foreign_key_list(${table})`
    ),
    ([columns, keys]): Shape => ({
      table,
      columns: columns.map((column) => column.name.toLowerCase()),
      foreignKeys: keys.map((key) => `${key.from.toLowerCase()} -> ${key.table.toLowerCase()}`)
    })
  )

const listed = (names: ReadonlyArray<string>) => names.map((name) => `"${name}"`).join(", ")

/**
 * Runs `rebuild` (the statements of rebuild script `id`/`name`) keeping what is
 * not the library's on the tables it rebuilds: their other indexes and triggers
 * are created again after it, and a column or foreign key it did not carry fails
 * the migration, naming it and how to proceed.
 */
export const carryThroughRebuild = <R>(
  sql: SqlClient.SqlClient,
  library: LibraryObjects,
  id: number,
  name: string,
  script: string,
  rebuild: Effect.Effect<void, MigrationFailed, R>
): Effect.Effect<void, MigrationFailed, R> =>
  Effect.gen(function*() {
    const named = [...new Set([...script.matchAll(REBUILT)].map(([, table = ""]) => table.toLowerCase()))]
    const existing = yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND ${sql.in("name", named)}`
    const tables = existing.map((table) => table.name)
    const before = yield* Effect.forEach(tables, (table) => shapeOf(sql, table))
    const saved = (yield* sql<Saved>`
      SELECT type, name, tbl_name, sql FROM sqlite_master
      WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND ${sql.in("tbl_name", tables)}
      ORDER BY type = 'trigger', rowid`).filter((object) => !library.objects.has(object.name.toLowerCase()))

    yield* rebuild

    for (const old of before) {
      const now = yield* shapeOf(sql, old.table)
      // The library's own that a rebuild may leave out: a later migration's column on a replay (that migration adds it
      // again), the reference's node stamps on 0002's upgrade.
      const allowed = library.columns().get(old.table.toLowerCase())?.allowed
      const ours = (column: string) => allowed?.has(column) === true
      const lost = old.columns.filter((column) => !now.columns.includes(column))
      const lostColumns = lost.filter((column) => !ours(column))
      if (lostColumns.length > 0) {
        return yield* failed(id, name, `table ${old.table} has column(s) ${listed(lostColumns)} that this library does not know, and this migration rebuilds ${old.table} from its own column list: nothing was changed; drop or move the column(s), then migrate again`)
      }
      const lostKeys = old.foreignKeys.filter((key) => !now.foreignKeys.includes(key) && !lost.includes(key.split(" -> ")[0] ?? ""))
      if (lostKeys.length > 0) {
        return yield* failed(id, name, `table ${old.table} has foreign key(s) ${listed(lostKeys)} that this library does not define, and this migration rebuilds ${old.table} from its own definition: nothing was changed; drop the foreign key(s), then migrate again`)
      }
    }
    for (const object of saved) {
      yield* Effect.mapError(sql.unsafe(object.sql), (cause) =>
        failed(id, name, `cannot create the ${object.type} ${object.name} on ${object.tbl_name} again after rebuilding the table: ${String((cause.cause as { readonly message?: unknown } | undefined)?.message ?? cause.message)}; nothing was changed`))
    }
  }).pipe(Effect.catchTag("SqlError", (cause) => Effect.fail(new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause }))))
