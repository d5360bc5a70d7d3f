/**
 * What a table rebuild must carry that is not the library's own.
 *
 * A SQLite rebuild (rename, create, copy a fixed column list, drop the old
 * table; or, for a table holding no lasting rows, drop and create: 0004's
 * retention grants) takes the old table's indexes and triggers down with it
 * and keeps only the columns it names. On a file a DBA also looks after, that silently
 * dropped their indexes, triggers, columns (with their data) and foreign keys.
 * Following the spirit of SQLite's documented twelve-step ALTER TABLE
 * procedure, the runner saves the indexes and triggers on the tables a script
 * rebuilds that are not the library's, and creates them again from their saved
 * SQL once the script has run. A column or foreign key the rebuild did not
 * carry cannot be put back: the migration fails naming it (before the script
 * runs where it can tell), and the run's one transaction rolls everything
 * back, so the file stays as it was.
 *
 * A DBA's CHECK or UNIQUE written into the table's own CREATE statement goes
 * with the old table too: one the library's migrations do not name is refused
 * before the script runs.
 *
 * SQLite checks neither a trigger's body when it creates it nor a view when a
 * table under it changes: a trigger or view naming a column the rebuild left
 * out would come back broken, and fail every write (or read) after migrate
 * said Applied. So each DBA view, each DBA trigger on a rebuilt table, and
 * each DBA trigger elsewhere naming a rebuilt table or a view that reads one
 * (through other views or not) is compiled before the script and once more
 * after it (a trigger on its own, through the write that fires it); one that
 * worked before and no longer compiles fails the migration, naming it and the
 * DBA's triggers a write reaches it through. One already broken before is
 * re-created as it was: not this migration's doing. A DBA's full-text table
 * indexing a rebuilt table is re-indexed, or refused (fullTextCarry.ts).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { MigrationFailed } from "../StoreErrors.js"
import type { LibraryObjects } from "./libraryObjects.js"
import { type FullTextTable, fullTextOver, reindex } from "./fullTextCarry.js"
import { commaSeparated, SQL_NAME, SQL_NAME_CHAR, stripComments, stripCommentsAndStrings, unquoted } from "./sqlScript.js"
import { compileError, reason } from "./statementComplaint.js"

/**
 * The tables a rebuild script makes anew: those it creates, or renames another
 * to, by name. Not one it creates only if absent (0004's grant anchor): that
 * one, when there, is left as it is.
 */
const REBUILT = /\b(?:CREATE\s+TABLE|RENAME\s+TO)\s+(?!IF\s+NOT\s+EXISTS\b)["`[]?(\w+)/gi

interface Saved {
  readonly type: string
  readonly name: string
  readonly tbl_name: string
  readonly sql: string
}

const failed = (id: number, name: string, message: string) =>
  new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause: new Error(message) })

/** A table's foreign keys as `column -> parent`, lower case. */
const foreignKeysOf = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql<{ readonly from: string; readonly table: string }>`SELECT "from", "table" FROM pragma_foreign_key_list(${table})`,
    (keys) => keys.map((key) => `${key.from.toLowerCase()} -> ${key.table.toLowerCase()}`)
  )

/** A trigger's header: the event it fires on, and the columns an UPDATE OF names. */
const TRIGGER_EVENT = new RegExp(
  String.raw`^\s*CREATE\s+(?:TEMP(?:ORARY)?\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?${SQL_NAME}(?:\s*\.\s*${SQL_NAME})?\s*(?:BEFORE\s+|AFTER\s+|INSTEAD\s+OF\s+)?(DELETE|INSERT|UPDATE)\b(?:\s+OF\s+(${SQL_NAME}(?:\s*,\s*${SQL_NAME})*))?\s*(?<!${SQL_NAME_CHAR})ON\b`,
  "is"
)

/**
 * The write that fires `trigger` and nothing it does not need to: a DELETE, an
 * INSERT of the columns one may write (pragma_table_info leaves out generated
 * ones), or an UPDATE of the columns it names (all, for a plain UPDATE). It
 * matches no row, so compiling it runs nothing.
 */
const firingWrite = (sql: SqlClient.SqlClient, trigger: Saved) =>
  Effect.gen(function*() {
    const [, event = "", of] = TRIGGER_EVENT.exec(stripComments(trigger.sql)) ?? []
    const table = sql(trigger.tbl_name)
    if (event.toUpperCase() === "DELETE") return sql`DELETE FROM ${table} WHERE 0`
    const columns = of !== undefined
      ? commaSeparated(of).map(unquoted)
      : (yield* sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${trigger.tbl_name})`).map((column) => column.name)
    if (event.toUpperCase() === "INSERT") {
      const list = sql.csv(columns.map((column) => sql`${sql(column)}`))
      return sql`INSERT INTO ${table} (${list}) SELECT ${list} FROM ${table} WHERE 0`
    }
    return sql`UPDATE ${table} SET ${sql.csv(columns.map((column) => sql`${sql(column)} = ${sql(column)}`))} WHERE 0`
  })

/** Runs `effect` with the triggers `names` dropped, in a savepoint rolled back after it. */
const withoutTriggers = <A, E, R>(sql: SqlClient.SqlClient, names: ReadonlyArray<string>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    sql`SAVEPOINT rebuild_carry_check`.unprepared,
    () => Effect.zipRight(Effect.forEach(names, (name) => sql`DROP TRIGGER IF EXISTS ${sql(name)}`.unprepared, { discard: true }), effect),
    () => Effect.orDie(Effect.zipRight(sql`ROLLBACK TO rebuild_carry_check`.unprepared, sql`RELEASE rebuild_carry_check`.unprepared))
  )

/**
 * SQLite's complaints when the write that fires `trigger` is compiled, each
 * undefined when it compiles: `together`, with every trigger that write fires
 * (and those their bodies fire), and `alone`, with the other `dbaTriggers`
 * dropped (in a savepoint, rolled back) when together fails, so one broken
 * trigger of the DBA's neither hides nor blames another.
 *
 * `together` is the same for every trigger one write fires (all of a table's
 * AFTER INSERT triggers): `compiled` keeps it by the write's text for one
 * pass over an unchanged schema, so that pass compiles each write once, not
 * once per trigger (60 triggers on one table, each reading a chain of views,
 * took minutes).
 */
const triggerErrors = (
  sql: SqlClient.SqlClient,
  trigger: Saved,
  dbaTriggers: ReadonlyArray<string>,
  compiled: Map<string, string | undefined>
) =>
  Effect.gen(function*() {
    const write = yield* firingWrite(sql, trigger)
    const [text] = write.compile()
    const together = compiled.has(text) ? compiled.get(text) : yield* compileError(write)
    compiled.set(text, together)
    if (together === undefined) return { together, alone: undefined }
    const alone = yield* withoutTriggers(sql, dbaTriggers.filter((other) => other !== trigger.name), compileError(write))
    return { together, alone }
  })

/** A pattern finding any of `names` as a whole name in SQL text, without case. */
const naming = (names: Iterable<string>) =>
  new RegExp(`(?<![\\w$])(?:${[...names].map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?![\\w$])`, "i")

/**
 * The rebuilt `tables` and every view that reads one, directly or through
 * another view (lower case): what a trigger's body reaches a rebuilt table
 * through.
 */
const reachingRebuilt = (tables: ReadonlyArray<string>, views: ReadonlyArray<Saved>): Set<string> => {
  const reaching = new Set(tables.map((table) => table.toLowerCase()))
  for (let grew = true; grew;) {
    grew = false
    const pattern = naming(reaching)
    for (const view of views) {
      if (!reaching.has(view.name.toLowerCase()) && pattern.test(view.sql)) {
        reaching.add(view.name.toLowerCase())
        grew = true
      }
    }
  }
  return reaching
}

const viewError = (sql: SqlClient.SqlClient, view: string) => compileError(sql`SELECT * FROM ${sql(view)} LIMIT 0`)

const listed = (names: ReadonlyArray<string>) => names.map((name) => `"${name}"`).join(", ")

/** A CHECK or UNIQUE constraint in a CREATE TABLE, with the name a CONSTRAINT clause gives it. */
const CONSTRAINT = /\b(?:CONSTRAINT\s+["`[]?(\w+)["`\]]?\s+)?(CHECK|UNIQUE)\b/gi

/** Where the parenthesised group starting at or after `from` (spaces only between) ends, or `from` when none starts there. */
const groupEnd = (text: string, from: number): number => {
  const open = from + (/^\s*/.exec(text.slice(from))?.[0].length ?? 0)
  if (text[open] !== "(") return from
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++
    else if (text[i] === ")" && --depth === 0) return i + 1
  }
  return text.length
}

/**
 * The CHECK and UNIQUE constraints of `createTable` (a table's SQL as
 * sqlite_master keeps it) that the library does not name: a DBA's, written
 * into the table's own definition, which a rebuild from the library's cannot
 * keep. Each as written (a column's UNIQUE as the word alone).
 */
const foreignConstraints = (createTable: string, library: LibraryObjects): Array<string> => {
  const text = stripComments(createTable)
  // Text in quotes is no clause (a CHECK's own literals may say CHECK): blanked, at the same length.
  const masked = text.replace(/'(?:[^']|'')*'/g, (literal) => `'${" ".repeat(literal.length - 2)}'`)
  return [...masked.matchAll(CONSTRAINT)]
    .filter(([, constraint]) => constraint === undefined || !library.objects.has(constraint.toLowerCase()))
    .map((match) => text.slice(match.index, groupEnd(masked, match.index + match[0].length)).replace(/\s+/g, " "))
}

/**
 * Runs `rebuild` (the statements of rebuild script `id`/`name`) keeping what is
 * not the library's on the tables it rebuilds: their other indexes and triggers
 * are created again after it. What it cannot carry fails the migration, naming
 * it and how to proceed: a column the library does not know or a CHECK/UNIQUE
 * it does not name, before anything runs; a foreign key the rebuilt table no
 * longer has, after (the run's transaction then undoes the rebuild).
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
    const named = [...new Set([...stripCommentsAndStrings(script).matchAll(REBUILT)].map(([, table = ""]) => table.toLowerCase()))]
    const tables = yield* sql<{ readonly name: string; readonly sql: string }>`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND ${sql.in("name", named)}`
    for (const table of tables) {
      // Every column any version of the library's table has had (a later migration's, on a replay, comes back with it).
      const allowed = library.columns().get(table.name.toLowerCase())?.allowed
      // xinfo: table_info leaves out generated columns, which the rebuild drops as surely as any other.
      const columns = yield* sql<{ readonly name: string }>`SELECT name FROM pragma_table_xinfo(${table.name})`
      const unknown = columns.map((column) => column.name).filter((column) => allowed?.has(column.toLowerCase()) !== true)
      if (unknown.length > 0) {
        return yield* failed(id, name, `table ${table.name} has column(s) ${listed(unknown)} that this library does not know, and this migration rebuilds ${table.name} from its own column list: nothing was changed; drop or move the column(s), then migrate again`)
      }
      const constraints = foreignConstraints(table.sql, library)
      if (constraints.length > 0) {
        return yield* failed(id, name, `table ${table.name} has constraint(s) ${listed(constraints)} that this library does not define, and this migration rebuilds ${table.name} from its own definition: nothing was changed; drop the constraint(s) (a rebuild of the table), then migrate again`)
      }
    }
    const keysBefore = yield* Effect.forEach(tables, (table) => foreignKeysOf(sql, table.name))
    const saved = (yield* sql<Saved>`
      SELECT type, name, tbl_name, sql FROM sqlite_master
      WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND ${sql.in("tbl_name", tables.map((table) => table.name))}
      ORDER BY type = 'trigger', rowid`).filter((object) => !library.objects.has(object.name.toLowerCase()))
    // What of the DBA's may use a rebuilt table, and works now (one already broken is not this
    // migration's doing): every view (one may select from another), the triggers on the rebuilt
    // tables, and the triggers elsewhere whose bodies name one or a view reading one.
    const views: Array<string> = []
    const triggers: Array<{ readonly trigger: Saved; readonly firedTogether: boolean }> = []
    const fullText: Array<FullTextTable> = []
    if (tables.length > 0) {
      const all = yield* sql<Saved>`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY rowid`
      // A trigger may reach a rebuilt table through a view (the library's or the DBA's, over another view or not).
      const reaching = reachingRebuilt(tables.map((table) => table.name), all.filter((object) => object.type === "view"))
      const mentions = naming(reaching)
      fullText.push(...yield* fullTextOver(sql, reaching))
      const others = all.filter((object) => !library.objects.has(object.name.toLowerCase()))
      const dbaTriggers = others.filter((object) => object.type === "trigger").map((object) => object.name)
      const compiledBefore = new Map<string, string | undefined>()
      for (const object of others) {
        if (object.type === "view") {
          if ((yield* viewError(sql, object.name)) === undefined) views.push(object.name)
        } else if (reaching.has(object.tbl_name.toLowerCase()) || mentions.test(object.sql)) {
          const { alone, together } = yield* triggerErrors(sql, object, dbaTriggers, compiledBefore)
          if (alone === undefined) triggers.push({ trigger: object, firedTogether: together === undefined })
        }
      }
    }

    yield* rebuild

    for (const [index, table] of tables.entries()) {
      const now = yield* foreignKeysOf(sql, table.name)
      const columns = (yield* sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${table.name})`).map((column) => column.name.toLowerCase())
      // A key on a column the rebuild left out is the library's own (a later migration adds both again).
      const lostKeys = (keysBefore[index] ?? []).filter((key) => !now.includes(key) && columns.includes(key.split(" -> ")[0] ?? ""))
      if (lostKeys.length > 0) {
        return yield* failed(id, name, `table ${table.name} has foreign key(s) ${listed(lostKeys)} that this library does not define, and this migration rebuilds ${table.name} from its own definition: nothing was changed; drop the foreign key(s), then migrate again`)
      }
    }
    const broken = (what: string, error: string) =>
      failed(id, name, `${what} no longer works after this migration rebuilt the table(s) ${listed(tables.map((table) => table.name))}: ${error}; drop it, migrate, then create it again for the new columns; nothing was changed`)
    for (const object of saved) {
      yield* Effect.mapError(sql.unsafe(object.sql), (cause) =>
        failed(id, name, `cannot create the ${object.type} ${object.name} on ${object.tbl_name} again after rebuilding the table: ${reason(cause)}; nothing was changed`))
    }
    for (const view of views) {
      const error = yield* viewError(sql, view)
      if (error !== undefined) return yield* broken(`the view ${view}`, error)
    }
    const dbaTriggers = (yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'trigger'`)
      .map((trigger) => trigger.name)
      .filter((trigger) => !library.objects.has(trigger.toLowerCase()))
    const compiledAfter = new Map<string, string | undefined>()
    const after = yield* Effect.forEach(triggers, (checked) =>
      Effect.map(triggerErrors(sql, checked.trigger, dbaTriggers, compiledAfter), (errors) => ({ ...checked, ...errors })))
    const first = after.find((checked) => checked.alone !== undefined)
    if (first?.alone !== undefined) {
      // A checked trigger that worked with every trigger its write fires, and now fails only while the
      // broken one is there: a write (to the library's table, for one on it) reaches the broken one through it.
      const firesBroken = after.filter((checked) => checked !== first && checked.firedTogether && checked.alone === undefined && checked.together !== undefined)
      const through = yield* Effect.filter(firesBroken, (checked) =>
        withoutTriggers(sql, [first.trigger.name], Effect.map(Effect.flatMap(firingWrite(sql, checked.trigger), compileError), (error) => error === undefined)))
      const firedThrough = through.length === 0 ? "" : `, fired through ${through.map((checked) => `the trigger ${checked.trigger.name} on ${checked.trigger.tbl_name}`).join(" and ")},`
      return yield* broken(`the trigger ${first.trigger.name} on ${first.trigger.tbl_name}${firedThrough}`, first.alone)
    }
    for (const table of fullText) {
      const error = yield* reindex(sql, table)
      if (error !== undefined) return yield* broken(`the full-text table ${table.name} (content=${table.content})`, error)
    }
  }).pipe(Effect.catchTag("SqlError", (cause) => Effect.fail(new MigrationFailed({ dialect: "sqlite", migration_id: id, migration_name: name, statement: null, cause }))))
