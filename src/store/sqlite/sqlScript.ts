/**
 * Splits a SQL script into single statements.
 *
 * better-sqlite3 prepares exactly one statement per call, and no Migrator
 * loader reads `.sql` files, so the migration files are split here. The
 * splitter knows just enough SQLite lexing to be safe: quoted strings and
 * identifiers, `--` and `/* *\/` comments, and `CREATE TRIGGER` bodies, whose
 * `BEGIN ... END` block (and any `CASE ... END` inside it) contains `;`.
 */

const isWordChar = (char: string | undefined): boolean => char !== undefined && /[A-Za-z0-9_$]/.test(char)

const skipQuoted = (text: string, start: number, quote: string): number => {
  // A doubled quote inside a quoted run is an escaped quote, not the end.
  let i = start + 1
  while (i < text.length) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) i += 2
      else return i + 1
    } else i++
  }
  return i
}

/** A `[bracketed]` identifier (SQLite's MS Access-style quoting) has no escapes. */
const skipBracketed = (text: string, start: number): number => {
  const end = text.indexOf("]", start)
  return end === -1 ? text.length : end + 1
}

const skipComment = (text: string, start: number): number => {
  if (text.startsWith("--", start)) {
    const end = text.indexOf("\n", start)
    return end === -1 ? text.length : end + 1
  }
  const end = text.indexOf("*/", start + 2)
  return end === -1 ? text.length : end + 2
}

/** The statement without comments, for deciding what kind it is and whether it is empty (and for reading a CREATE TABLE's columns). */
export const stripComments = (statement: string): string => strip(statement, false)

/**
 * The script without comments and with every '…' string literal emptied (''),
 * for reading the names it gives objects: a word in a comment or a RAISE text
 * ("CHECK constraint failed: …") names nothing. Quoted identifiers stay.
 */
export const stripCommentsAndStrings = (script: string): string => strip(script, true)

const strip = (statement: string, emptyStrings: boolean): string => {
  let out = ""
  let i = 0
  while (i < statement.length) {
    const char = statement[i]
    if (statement.startsWith("--", i) || statement.startsWith("/*", i)) {
      i = skipComment(statement, i)
      out += " "
    } else if (char === "'" || char === "\"" || char === "`" || char === "[") {
      const end = char === "[" ? skipBracketed(statement, i) : skipQuoted(statement, i, char)
      out += emptyStrings && char === "'" ? "''" : statement.slice(i, end)
      i = end
    } else {
      out += char
      i++
    }
  }
  return out.trim()
}

const isCreateTrigger = (statementSoFar: string): boolean =>
  /^CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(stripComments(statementSoFar))

/**
 * The statements of `script`, each without its final `;`, in order. Empty
 * and comment-only fragments are dropped.
 */
export const splitStatements = (script: string): Array<string> => {
  const statements: Array<string> = []
  let start = 0
  // Open BEGIN/CASE blocks of the current CREATE TRIGGER statement.
  let depth = 0
  let i = 0
  const push = (end: number) => {
    const statement = script.slice(start, end).trim()
    if (stripComments(statement) !== "") statements.push(statement)
  }
  while (i < script.length) {
    const char = script[i] as string
    if (script.startsWith("--", i) || script.startsWith("/*", i)) {
      i = skipComment(script, i)
    } else if (char === "'" || char === "\"" || char === "`") {
      i = skipQuoted(script, i, char)
    } else if (char === "[") {
      i = skipBracketed(script, i)
    } else if (char === ";") {
      if (depth === 0) {
        push(i)
        start = i + 1
      }
      i++
    } else if (/[A-Za-z_]/.test(char) && !isWordChar(script[i - 1])) {
      let end = i
      while (isWordChar(script[end])) end++
      const word = script.slice(i, end).toUpperCase()
      if ((word === "BEGIN" || word === "CASE") && isCreateTrigger(script.slice(start, i))) depth++
      else if (word === "END" && depth > 0) depth--
      i = end
    } else {
      i++
    }
  }
  push(script.length)
  return statements
}

/** A name or value as SQLite reads it: without its quotes ('', "", ``, []) and their doubling; a bare word as it is. */
export const unquoted = (text: string): string => {
  const trimmed = text.trim()
  const quote = trimmed[0]
  if (quote === "[") return trimmed.slice(1, -1)
  if (quote === "'" || quote === "\"" || quote === "`") return trimmed.slice(1, -1).replaceAll(`${quote}${quote}`, quote)
  return trimmed
}

/**
 * A character of a bare name, for a regular expression: SQLite's tokenizer
 * takes every character from U+0080 up as one (`recherché`, `déclencheur`),
 * beside ASCII letters, digits, `_` and `$`. Also what a keyword read after a
 * name must not follow (`(?<!${SQL_NAME_CHAR})ON`).
 */
export const SQL_NAME_CHAR = String.raw`[\w$\u0080-\uFFFF]`

/**
 * A name as SQLite reads it in a CREATE statement, for a regular expression:
 * quoted ("", ``, [], and '' which SQLite's grammar takes for a name there:
 * `USING 'fts5'(…)`) or a bare word, which starts with a letter, `_` or a
 * character from U+0080 up.
 */
export const SQL_NAME = String.raw`(?:"(?:[^"]|"")*"|\`(?:[^\`]|\`\`)*\`|\[[^\]]*\]|'(?:[^']|'')*'|[A-Za-z_\u0080-\uFFFF]${SQL_NAME_CHAR}*)`

/**
 * `text` (without comments) split at the commas outside quotes and
 * parentheses: a virtual table's module arguments, an UPDATE OF column list.
 */
export const commaSeparated = (text: string): Array<string> => {
  const items: Array<string> = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (char === "'" || char === "\"" || char === "`") i = skipQuoted(text, i, char) - 1
    else if (char === "[") i = skipBracketed(text, i) - 1
    else if (char === "(") depth++
    else if (char === ")") depth--
    else if (char === "," && depth === 0) {
      items.push(text.slice(start, i))
      start = i + 1
    }
  }
  items.push(text.slice(start))
  return items
}
