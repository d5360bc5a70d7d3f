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

import { libraryColumns, type TableColumns } from "./libraryColumns.js"
import { stripCommentsAndStrings } from "./sqlScript.js"

const CONSTRAINT_NAMES = /\bCONSTRAINT\s+["`[]?(\w+)/gi

const CREATES = /\bCREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?["`[]?(\w+)/gi

/** The reference's indexes on its three tables (its migrations 0002-0007, and older shapes): 0002 creates ours instead. */
const REFERENCE_INDEXES = ["idx_ai_jobs_status", "idx_ai_jobs_gc", "idx_workflow_runs_status", "idx_wne_run_sequence", "idx_wne_run_node", "idx_wne_status"]

/**
 * The names (lower case) of what the library's migrations create: `tables`,
 * and every object (tables and named constraints included) in `objects`; and
 * `columns()`, the columns each of its tables may have (libraryColumns.ts),
 * read from the scripts when first asked (by a rebuild, or a first migrate
 * finding tables of our names).
 */
export interface LibraryObjects {
  readonly tables: ReadonlySet<string>
  readonly objects: ReadonlySet<string>
  readonly columns: () => ReadonlyMap<string, TableColumns>
}

/** The library's objects, from the text of its migration scripts and the bookkeeping table's name. */
export const libraryObjects = (scripts: ReadonlyArray<string>, bookkeepingTable: string): LibraryObjects => {
  const tables = new Set<string>([bookkeepingTable.toLowerCase()])
  const objects = new Set<string>([...tables, ...REFERENCE_INDEXES])
  // Only the statements' own text gives names: words of comments and string literals ("constraint names",
  // "CHECK constraint failed: …") would make a DBA's object of that name count as the library's.
  for (const text of scripts.map(stripCommentsAndStrings)) {
    for (const [, constraint = ""] of text.matchAll(CONSTRAINT_NAMES)) objects.add(constraint.toLowerCase())
    for (const [, kind = "", name = ""] of text.matchAll(CREATES)) {
      if (kind.toUpperCase() === "TABLE") tables.add(name.toLowerCase())
      objects.add(name.toLowerCase())
    }
  }
  let columns: ReadonlyMap<string, TableColumns> | undefined
  return { tables, objects, columns: () => (columns ??= libraryColumns(scripts)) }
}

/** Whether `name` is one of the library's (SQLite compares names without case). */
export const isLibraryTable = (library: LibraryObjects, name: string): boolean => library.tables.has(name.toLowerCase())
