/**
 * Which schema objects of a SQLite file are the library's own.
 *
 * A SQLite file may be shared with another application, and a DBA may add
 * objects of their own: the migration run must check and rebuild only what the
 * library made. The library's objects are the tables, indexes, triggers and
 * views its migration scripts create (read from the scripts themselves, so a
 * new migration needs no list kept in step), and the reference's own indexes
 * that 0002's legacy upgrade replaces with its own.
 */

const CREATES = /\bCREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?["`[]?(\w+)/gi

/** The reference's indexes on its three tables (its migrations 0002-0007, and older shapes): 0002 creates ours instead. */
const REFERENCE_INDEXES = ["idx_ai_jobs_status", "idx_ai_jobs_gc", "idx_workflow_runs_status", "idx_wne_run_sequence", "idx_wne_run_node", "idx_wne_status"]

const ADDS_COLUMN = /\bALTER\s+TABLE\s+["`[]?(\w+)["`\]]?\s+ADD\s+(?:COLUMN\s+)?["`[]?(\w+)/gi

/**
 * The names (lower case) of what the library's migrations create: `tables`,
 * every object (tables included) in `objects`, and in `addedColumns` the
 * columns later migrations add to a table (`table.column`): a replayed
 * rebuild drops them, and their migration adds them again.
 */
export interface LibraryObjects {
  readonly tables: ReadonlySet<string>
  readonly objects: ReadonlySet<string>
  readonly addedColumns: ReadonlySet<string>
}

/** The library's objects, from the text of its migration scripts and the bookkeeping table's name. */
export const libraryObjects = (scripts: ReadonlyArray<string>, bookkeepingTable: string): LibraryObjects => {
  const tables = new Set<string>([bookkeepingTable.toLowerCase()])
  const objects = new Set<string>([...tables, ...REFERENCE_INDEXES])
  const addedColumns = new Set<string>()
  for (const script of scripts) {
    for (const [, table = "", column = ""] of script.matchAll(ADDS_COLUMN)) addedColumns.add(`${table}.${column}`.toLowerCase())
    for (const [, kind = "", name = ""] of script.matchAll(CREATES)) {
      if (kind.toUpperCase() === "TABLE") tables.add(name.toLowerCase())
      objects.add(name.toLowerCase())
    }
  }
  return { tables, objects, addedColumns }
}

/** Whether `name` is one of the library's (SQLite compares names without case). */
export const isLibraryTable = (library: LibraryObjects, name: string): boolean => library.tables.has(name.toLowerCase())
