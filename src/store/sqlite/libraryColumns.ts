/**
 * The columns the library's tables may have, read from its migration scripts:
 * for each table, the columns every one of its definitions has (`required`)
 * and every column any version of it has had (`allowed`: each definition's,
 * the ones later migrations add, and the reference's own that 0002 leaves
 * out). A table of one of these names that lacks a required column or has
 * one not allowed is not the library's, nor the reference's: another
 * application's table of the same name.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { MigrationFailed } from "../StoreErrors.js"
import { splitStatements, stripComments } from "./sqlScript.js"

const CREATE_TABLE = /^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?["`[]?(\w+)["`\]]?\s*\(/i
const ADDS_COLUMN = /^ALTER\s+TABLE\s+["`[]?(\w+)["`\]]?\s+ADD\s+(?:COLUMN\s+)?["`[]?(\w+)/i
const TABLE_CONSTRAINT = /^(?:CONSTRAINT|CHECK|PRIMARY|FOREIGN|UNIQUE)\b/i

/** The reference's own columns that 0002's legacy upgrade leaves out (its node executions' stamps). */
const REFERENCE_ONLY: Readonly<Record<string, ReadonlyArray<string>>> = {
  workflow_node_executions: ["created_at", "updated_at"]
}

/** The column definitions of a CREATE TABLE body (from its opening parenthesis), split at its top-level commas. */
const topLevelItems = (text: string, open: number): Array<string> => {
  const items: Array<string> = []
  let depth = 0
  let start = open + 1
  for (let i = open; i < text.length; i++) {
    const char = text[i]
    if (char === "'" || char === "\"") {
      const end = text.indexOf(char, i + 1)
      i = end === -1 ? text.length : end
    } else if (char === "(") depth++
    else if (char === ")") {
      depth--
      if (depth === 0) {
        items.push(text.slice(start, i))
        break
      }
    } else if (char === "," && depth === 1) {
      items.push(text.slice(start, i))
      start = i + 1
    }
  }
  return items
}

/** The columns a table of the library's may have: all its definitions have `required`; `allowed` is every column it ever had. */
export interface TableColumns {
  readonly required: ReadonlySet<string>
  readonly allowed: ReadonlySet<string>
}

/** Each table the scripts create, by lower-case name, with its columns (lower case). */
export const libraryColumns = (scripts: ReadonlyArray<string>): ReadonlyMap<string, TableColumns> => {
  const definitions = new Map<string, Array<ReadonlyArray<string>>>()
  const added = new Map<string, Array<string>>()
  for (const script of scripts) {
    for (const statement of splitStatements(script).map(stripComments)) {
      const create = CREATE_TABLE.exec(statement)
      if (create !== null) {
        const table = (create[1] ?? "").toLowerCase()
        const columns = topLevelItems(statement, create[0].length - 1)
          .map((item) => item.trim())
          .filter((item) => item !== "" && !TABLE_CONSTRAINT.test(item))
          .map((item) => (/^["`[]?(\w+)/.exec(item)?.[1] ?? item).toLowerCase())
        definitions.set(table, [...(definitions.get(table) ?? []), columns])
      }
      const add = ADDS_COLUMN.exec(statement)
      if (add !== null) {
        const table = (add[1] ?? "").toLowerCase()
        added.set(table, [...(added.get(table) ?? []), (add[2] ?? "").toLowerCase()])
      }
    }
  }
  return new Map([...definitions].map(([table, versions]) => {
    const [first = [], ...rest] = versions
    const required = new Set(first.filter((column) => rest.every((columns) => columns.includes(column))))
    const allowed = new Set([...versions.flat(), ...(added.get(table) ?? []), ...(REFERENCE_ONLY[table] ?? [])])
    return [table, { required, allowed }]
  }))
}

const listed = (names: ReadonlyArray<string>) => names.map((name) => `"${name}"`).join(", ")

/**
 * Fails when a table already in a never-migrated file has one of the library's
 * names but not its columns (nor the reference's, whose tables 0001 adopts and
 * 0002 upgrades): another application's table, even an empty one, which the
 * migrations would take over (0001's IF NOT EXISTS) and replace, or a Handshake
 * version this library does not upgrade; or, with every column it must have and
 * more, most likely a DBA's column the upgrade cannot carry. Names the table and
 * the columns that do not match.
 */
export const refuseForeignTables = (
  sql: SqlClient.SqlClient,
  library: ReadonlyMap<string, TableColumns>
): Effect.Effect<void, MigrationFailed | SqlError> =>
  Effect.gen(function*() {
    const tables = yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
    for (const { name } of tables) {
      const expected = library.get(name.toLowerCase())
      if (expected === undefined) continue
      // xinfo: table_info leaves out generated columns, which the upgrade's rebuild drops too.
      const columns = (yield* sql<{ readonly name: string }>`SELECT name FROM pragma_table_xinfo(${name})`).map((column) => column.name.toLowerCase())
      const unknown = columns.filter((column) => !expected.allowed.has(column))
      const missing = [...expected.required].filter((column) => !columns.includes(column))
      if (unknown.length === 0 && missing.length === 0) continue
      const extra = `column(s) ${listed(unknown)} that neither this library's ${name} nor the reference's has`
      // Every column ours or the reference's must have, and more: most likely a DBA's column on a
      // reference (or our) table, which the upgrade's rebuild cannot carry; moving the table would abandon it.
      const explanation = missing.length === 0
        ? `table ${name} has every column this library's (or the reference's) ${name} must have, and ${extra}: the upgrade cannot carry the column(s); nothing was changed. Drop or move the column(s), then migrate again (if it is another application's table of the same name, rename or move that table instead)`
        : `table ${name} ${unknown.length > 0 ? `has ${extra} and ` : ""}lacks column(s) ${listed(missing)}: it is another application's table of the same name, or a Handshake version this library does not upgrade, which migrate would take over; nothing was changed. If it is another application's, rename or move that table, then migrate again`
      return yield* new MigrationFailed({ dialect: "sqlite", migration_id: null, migration_name: null, statement: null, cause: new Error(explanation) })
    }
  })
