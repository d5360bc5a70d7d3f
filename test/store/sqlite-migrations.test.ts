/**
 * R16: the SQLite migration files are found next to the package and split
 * into single statements correctly (better-sqlite3 runs one per call), even
 * where a `;` is not a statement boundary.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import { splitStatements } from "../../src/store/sqlite/sqlScript.js"

describe("SQLite migration scripts (R16)", () => {
  it("R16 plain statements split on ;, with surrounding comments and blank fragments dropped", () => {
    const script = `
      -- a header comment; with a semicolon
      CREATE TABLE a (x TEXT);
      /* a block comment; also with one */
      INSERT INTO a VALUES ('one');;
      -- trailing comment only
    `
    assert.deepStrictEqual(splitStatements(script).map((s) => s.replace(/\s+/g, " ")), [
      "-- a header comment; with a semicolon CREATE TABLE a (x TEXT)",
      "/* a block comment; also with one */ INSERT INTO a VALUES ('one')"
    ])
  })

  it("R16 a ; inside strings, quoted identifiers and comments is not a boundary", () => {
    const statements = splitStatements(
      "INSERT INTO t VALUES ('a;b', 'it''s; fine'); SELECT \"odd;name\", [x;y], `z;w` FROM t -- c;\n; SELECT 1"
    )
    assert.deepStrictEqual(statements, [
      "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
      "SELECT \"odd;name\", [x;y], `z;w` FROM t -- c;",
      "SELECT 1"
    ])
  })

  it("R16 a CREATE TRIGGER stays whole: its BEGIN ... END body and any CASE ... END inside it", () => {
    const trigger = `CREATE TRIGGER t_guard BEFORE UPDATE ON t
WHEN NEW.x = 'end;'
BEGIN
  SELECT CASE WHEN NEW.x IS NULL THEN RAISE(ABORT, 'no; null') END;
  UPDATE log SET n = CASE n WHEN 0 THEN 1 ELSE n + 1 END;
END`
    const statements = splitStatements(`CREATE TABLE t (x); ${trigger}; CREATE INDEX t_x ON t (x)`)
    assert.deepStrictEqual(statements, ["CREATE TABLE t (x)", trigger, "CREATE INDEX t_x ON t (x)"])
  })

  it("R16 a CASE ... END outside a trigger does not hold back the split", () => {
    assert.deepStrictEqual(splitStatements("SELECT CASE WHEN 1 THEN 2 END; SELECT 3"), [
      "SELECT CASE WHEN 1 THEN 2 END",
      "SELECT 3"
    ])
  })

  it("R16 the shipped migrations are found relative to the module, numbered 0001..0003 and 0007, every statement a DDL/DML statement", () => {
    const files = readdirSync(migrationsDirectory).filter((name) => name.endsWith(".sql")).sort()
    assert.deepStrictEqual(files, ["0001_reference_schema.sql", "0002_current_schema.sql", "0003_flight_recorder.sql", "0007_job_short_ids.sql"])
    for (const file of files) {
      const statements = splitStatements(readFileSync(new URL(file, migrationsDirectory), "utf8"))
      assert.isAbove(statements.length, 0, file)
      for (const statement of statements) {
        const firstWord = statement.replace(/^(\s*--[^\n]*\n|\s*\/\*[\s\S]*?\*\/)*\s*/, "").split(/\s/)[0]
        assert.include(["CREATE", "ALTER", "INSERT", "UPDATE", "DROP"], firstWord, `${file}: ${statement.slice(0, 80)}`)
      }
    }
    const flightRecorder = splitStatements(readFileSync(new URL("0003_flight_recorder.sql", migrationsDirectory), "utf8"))
    const triggers = flightRecorder.filter((statement) => /CREATE TRIGGER/.test(statement))
    assert.strictEqual(triggers.length, 2)
    for (const trigger of triggers) assert.match(trigger, /RAISE\(ABORT, '[^']+'\);\s*END$/)
  })
})
