/**
 * CHECK constraints as text (issue 16, bench/sqliteReplayChecks.ts): finds the
 * named CHECKs of a `CREATE TABLE` text (test/store/sqlite-check-rewrite.test.ts
 * reads the migrations with it), and the rewrites priced there: constant lists
 * as ORs of equalities (migration 0013), the timestamp form without strftime
 * (a candidate, not shipped).
 */

export interface NamedCheck {
  readonly table: string
  readonly name: string
  /** The expression between the CHECK's parentheses. */
  readonly expression: string
  /** Where the expression starts and ends in the table's SQL. */
  readonly start: number
  readonly end: number
}

/** The named CHECK constraints in a `CREATE TABLE` text (quotes and nested parentheses skipped). */
export const namedChecks = (table: string, sql: string): ReadonlyArray<NamedCheck> => {
  const found: Array<NamedCheck> = []
  const head = /CONSTRAINT\s+(\w+)\s+CHECK\s*\(/g
  for (let match = head.exec(sql); match !== null; match = head.exec(sql)) {
    const start = head.lastIndex
    let depth = 1
    let at = start
    for (; depth > 0 && at < sql.length; at++) {
      const char = sql[at]
      if (char === "'") at = sql.indexOf("'", at + 1)
      else if (char === "(") depth++
      else if (char === ")") depth--
    }
    found.push({ table, name: match[1]!, expression: sql.slice(start, at - 1), start, end: at - 1 })
  }
  return found
}

/**
 * The timestamp form of migration 0002 without its `strftime` round trip:
 * bytes (the text as a blob: `length` of text stops at a NUL), not a blob, the digits
 * where they go, a real month, a day the month has (29 February only in a
 * leap year), an hour below 24; minutes and seconds below 60 by the pattern.
 * Same accept/refuse as 0002's form on the 330k values tried (every
 * month/day of 17 years, 29 February of every year, every hh:mm, every
 * ss.sss, and garbage), but priced no cheaper per statement execution than
 * the round trip (`candidate` and `before-0013` in bench/sqliteReplayChecks.ts),
 * so migration 0013 keeps the old words: a candidate measured, not shipped.
 */
export const timestampFormWithoutStrftime = (column: string) =>
  `length(CAST(${column} AS BLOB)) = 24 AND typeof(${column}) <> 'blob'
    AND ${column} GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[012][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
    AND substr(${column}, 6, 2) BETWEEN '01' AND '12'
    AND substr(${column}, 9, 2) BETWEEN '01' AND substr('312931303130313130313031', substr(${column}, 6, 2) * 2 - 1, 2)
    AND substr(${column}, 12, 2) < '24'
    AND (substr(${column}, 6, 5) <> '02-29'
      OR (substr(${column}, 1, 4) % 4 = 0 AND (substr(${column}, 1, 4) % 100 <> 0 OR substr(${column}, 1, 4) % 400 = 0)))`


/**
 * `column IN ('a', 'b', ...)` as `(column = 'a' OR column = 'b' OR ...)`: the
 * same result for every value, NULL included (NULL either way; comparisons
 * with the column's affinity and collation either way). SQLite evaluates a
 * constant list of more than two terms through an ephemeral index that it
 * builds again on every execution of the statement (~2 µs a list a write);
 * the comparisons cost a few dozen nanoseconds.
 */
export const inListsAsEqualities = (expression: string) =>
  expression.replace(/\b(\w+)\s+IN\s*\(([^()]*)\)/g, (match, column: string, list: string) => {
    const terms = list.split(",").map((term) => term.trim())
    return terms.length <= 2 ? match : `(${terms.map((term) => `${column} = ${term}`).join(" OR ")})`
  })
