/**
 * A DBA's full-text table whose content is a table a migration rebuilds.
 *
 * An external-content FTS table (`USING fts5(…, content='ai_jobs')`, FTS3/4's
 * `content=` the same) keeps only its index; it reads its columns from the
 * content table by rowid. A rebuild copies the rows anew (0002 renumbers
 * their rowids and rewrites their values: `term_exec` becomes
 * `terminal_exec`) without the DBA's triggers that keep the index in step, so
 * after migrate a search found the old words on other rows, FTS5's
 * `integrity-check` and FTS4's called the file malformed; and where the
 * rebuild dropped a column the index reads, every read of it and its
 * `rebuild` failed. So each such table whose content can be read before the
 * rebuild is read again after it: one that can no longer be fails the
 * migration naming it; the others are re-indexed from the rebuilt rows (the
 * FTS `rebuild` command, in the migration's transaction).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { commaSeparated, SQL_NAME, SQL_NAME_CHAR, stripComments, unquoted } from "./sqlScript.js"
import { compileError } from "./statementComplaint.js"

/** A DBA's external-content full-text table: its name and the content it indexes. */
export interface FullTextTable {
  readonly name: string
  readonly content: string
  readonly contentRowid: string
}

/**
 * A CREATE VIRTUAL TABLE as sqlite_master keeps it (comments removed): the
 * module and its arguments. Read name by name, as SQLite does: the definition
 * may run over lines, and a quoted name may hold spaces or the word USING.
 */
const VIRTUAL_TABLE = new RegExp(
  String.raw`^\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?${SQL_NAME}(?:\s*\.\s*${SQL_NAME})?\s*(?<!${SQL_NAME_CHAR})USING\s*(${SQL_NAME})\s*\(([\s\S]*)\)\s*$`,
  "i"
)

/** The full-text modules whose tables may index an external content table. */
const FTS_MODULE = /^fts[345]$/i

/** The option `key` of a virtual table's arguments (`content='x'`), unquoted, or undefined. */
const option = (args: ReadonlyArray<string>, key: string): string | undefined => {
  const pattern = new RegExp(`^\\s*${key}\\s*=\\s*([\\s\\S]*)$`, "i")
  for (const arg of args) {
    const match = pattern.exec(arg)
    if (match !== null) return unquoted(match[1] ?? "")
  }
  return undefined
}

/** What the FTS module reads from its content table: the rowid and its columns, compiled (no row read); its complaint, or undefined. */
const contentError = (sql: SqlClient.SqlClient, table: FullTextTable) =>
  Effect.flatMap(
    sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${table.name})`,
    (columns) => compileError(sql`SELECT ${sql(table.contentRowid)}, ${sql.csv(columns.map((column) => sql`${sql(column.name)}`))} FROM ${sql(table.content)} LIMIT 0`)
  )

/**
 * The DBA's FTS3/4/5 tables whose content is one of `reaching` (the rebuilt
 * tables and the views reading them, lower case) and can be read now: one
 * that cannot is already broken, not this migration's doing.
 */
export const fullTextOver = (
  sql: SqlClient.SqlClient,
  reaching: ReadonlySet<string>
): Effect.Effect<Array<FullTextTable>, SqlError> =>
  Effect.gen(function*() {
    const virtual = yield* sql<{ readonly name: string; readonly sql: string }>`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'`
    const found: Array<FullTextTable> = []
    for (const table of virtual) {
      const [, written = "", body = ""] = VIRTUAL_TABLE.exec(stripComments(table.sql)) ?? []
      const module = unquoted(written)
      if (!FTS_MODULE.test(module)) continue
      const args = commaSeparated(body)
      const content = option(args, "content")
      if (content === undefined || !reaching.has(content.toLowerCase())) continue
      const fullText = { name: table.name, content, contentRowid: module.toLowerCase() === "fts5" ? option(args, "content_rowid") ?? "rowid" : "rowid" }
      if ((yield* contentError(sql, fullText)) === undefined) found.push(fullText)
    }
    return found
  })

/**
 * After the rebuild: re-indexes `table` from the rebuilt rows (the FTS
 * `rebuild` command); SQLite's complaint when that fails (its content can no
 * longer be read: a column the rebuild dropped), undefined once done.
 */
export const reindex = (sql: SqlClient.SqlClient, table: FullTextTable): Effect.Effect<string | undefined> =>
  compileError(sql`INSERT INTO ${sql(table.name)} (${sql(table.name)}) VALUES ('rebuild')`)
