/**
 * R16: the SQLite migration files are found next to the package and split
 * into single statements correctly (better-sqlite3 runs one per call), even
 * where a `;` is not a statement boundary.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import { skipIfQuery } from "../../src/store/internal/migrationGuard.js"
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

  it("R16 the shipped migrations are found relative to the module, numbered, every statement a DDL/DML statement", () => {
    const files = readdirSync(migrationsDirectory).filter((name) => name.endsWith(".sql")).sort()
    assert.includeMembers(files, ["0001_reference_schema.sql", "0002_current_schema.sql", "0003_flight_recorder.sql", "0004_append_only_and_canonical_ids.sql", "0005_node_status.sql", "0006_job_short_ids.sql"])
    for (const file of files) assert.match(file, /^\d{4}_\w+\.sql$/)
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

  it("issue 12.4 every migration is replay-safe by construction: a file that renames a table names its skip-if; any other CREATE is IF NOT EXISTS or follows a DROP ... IF EXISTS of the same object", () => {
    for (const file of readdirSync(migrationsDirectory).filter((name) => name.endsWith(".sql"))) {
      const script = readFileSync(new URL(file, migrationsDirectory), "utf8")
      if (skipIfQuery(script) !== null) continue
      const statements = splitStatements(script).map((statement) => statement.replace(/^(\s*--[^\n]*\n)*\s*/, ""))
      const dropped = new Set<string>()
      for (const statement of statements) {
        assert.notMatch(statement, /^ALTER TABLE \S+ RENAME/i, `${file} rebuilds a table without a skip-if query`)
        const drop = /^DROP (TABLE|INDEX|TRIGGER|VIEW) IF EXISTS (\S+)/i.exec(statement)
        if (drop !== null) dropped.add(`${drop[1]?.toUpperCase()} ${drop[2]}`)
        const create = /^CREATE (?:UNIQUE )?(TABLE|INDEX|TRIGGER|VIEW) (IF NOT EXISTS )?(\S+)/i.exec(statement)
        if (create !== null && create[2] === undefined) {
          assert.isTrue(dropped.has(`${create[1]?.toUpperCase()} ${create[3]}`), `${file}: ${statement.slice(0, 70)}`)
        }
      }
    }
  })

  it("issue 12.4 skipIfQuery reads the one-line query after `-- skip-if:`, and nothing when there is none", () => {
    assert.strictEqual(skipIfQuery("-- header\n-- skip-if: SELECT 1 FROM t WHERE x = 'a'\nCREATE TABLE t (x)"), "SELECT 1 FROM t WHERE x = 'a'")
    assert.isNull(skipIfQuery("-- skip if: nothing here\nCREATE TABLE t (x)"))
    assert.isNull(skipIfQuery("CREATE TABLE t (x) -- skip-if: in a statement, not a line of its own"))
  })
})
