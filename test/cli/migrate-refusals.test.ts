/**
 * `ai-jobs migrate` on a database it cannot migrate (found by an outside
 * probe): a read-only SQLite URL was opened read-only, nothing applied, and
 * the command said "is migrated: the schema is up to date", exit 0; an
 * in-memory database was migrated and thrown away, exit 0. Both are now
 * refused before anything is opened, exit 1 with one line, as the other
 * commands refuse an in-memory database.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { runCli, tempDir } from "./cli.js"
import { assertOneLineError } from "./operator.suite.js"

const IN_MEMORY = /^error: an in-memory database \(sqlite::memory:\) starts empty and is gone when the command ends: only ai-jobs demo can use one/

describe("ai-jobs migrate on a database it cannot migrate", { timeout: 180_000 }, () => {
  it("README migrate says up to date only when it is: a read-only SQLite URL (?mode=ro) is refused, exit 1, nothing applied", async () => {
    const cwd = tempDir("migrate-ro")
    fs.writeFileSync(path.join(cwd, "empty.db"), "")
    for (const json of [[], ["--json"]]) {
      const result = await runCli(["migrate", "--database", "sqlite:./empty.db?mode=ro", ...json], { cwd })
      assertOneLineError(result, 1, /^error: cannot migrate .*empty\.db.*: mode=ro opens it read-only/)
    }
    assert.deepStrictEqual(fs.readdirSync(cwd), ["empty.db"], "nothing created beside it")
    assert.strictEqual(fs.statSync(path.join(cwd, "empty.db")).size, 0, "nothing applied")
    assertOneLineError(await runCli(["jobs", "list", "--database", "./empty.db"], { cwd }), 1, /is not migrated/)
    // Migrated by its own name, it is; then ?mode=ro is still refused by migrate, while reads take it.
    const migrated = await runCli(["migrate", "--database", "./empty.db", "--json"], { cwd })
    assert.strictEqual(migrated.code, 0, migrated.stderr)
    assert.strictEqual(JSON.parse(migrated.stdout).applied, true)
    assertOneLineError(await runCli(["migrate", "--database", "sqlite:./empty.db?mode=ro"], { cwd }), 1, /mode=ro opens it read-only/)
    assert.strictEqual((await runCli(["jobs", "list", "--database", "sqlite:./empty.db?mode=ro"], { cwd })).code, 0)
  })

  it("README memory: migrate refuses sqlite::memory:, ?mode=memory and bare :memory: (exit 1, the line every other command gives), creating no file", async () => {
    const cwd = tempDir("migrate-memory")
    for (const url of ["sqlite::memory:", "sqlite:./x.db?mode=memory", ":memory:"]) {
      for (const args of [["migrate"], ["migrate", "--json"], ["jobs", "list"]]) {
        assertOneLineError(await runCli([...args, "--database", url], { cwd }), 1, IN_MEMORY)
      }
    }
    assert.deepStrictEqual(fs.readdirSync(cwd), [])
  })

  it("R17 a SQLite file: URI is refused as no path, exit 2, naming the sqlite: form: migrate said it migrated <cwd>/file:… (mode=memory: nothing written; else another name than the file it made, and folders ./file:/… in the working folder), and jobs list then sent the operator back to that migrate", async () => {
    const cwd = tempDir("file-uri-cwd")
    const dbs = tempDir("file-uri-dbs")
    const refused = /^error: bad --database: Unsupported database "file:.*": a SQLite file: URI is not a path: name the file itself, or write it as sqlite:<path>\[\?mode=rwc\|rw\|ro\|memory\]\. Use /
    for (const url of [
      `file:${dbs}/mem.db?mode=memory`,
      `file:${dbs}/mem.db?vfs=memdb`,
      `file:${dbs}/real.db`,
      `file://localhost${dbs}/real.db`,
      `file:${dbs}/real.db?mode=ro`,
      `file:${dbs}/real.db?immutable=1`
    ]) {
      for (const args of [["migrate"], ["jobs", "list"]]) {
        assertOneLineError(await runCli([...args, "--database", url], { cwd }), 2, refused)
      }
    }
    assertOneLineError(
      await runCli(["migrate"], { cwd, env: { DATABASE_URL: `file:${dbs}/real.db` } }),
      2,
      /^error: bad DATABASE_URL: Unsupported database "file:.*": a SQLite file: URI is not a path/
    )
    // In sqlite: form, the same file is migrated by its own name.
    const migrated = await runCli(["migrate", "--database", `sqlite:${dbs}/real.db`], { cwd })
    assert.strictEqual(migrated.code, 0, migrated.stderr)
    assert.include(migrated.stdout, `${dbs}/real.db (sqlite)`)
    assert.notInclude(migrated.stdout, "file:")
    assert.deepStrictEqual(fs.readdirSync(cwd), [], "no folder file: in the working folder")
    assert.deepStrictEqual(fs.readdirSync(dbs).filter((name) => !name.startsWith("real.db")), [], "only the file migrated in sqlite: form")
  })

  it("README memory: a bare :memory: is SQLite's in-memory database, as sqlite::memory: — the demo runs on it and leaves no file named :memory:", async () => {
    const cwd = tempDir("demo-memory")
    const result = await runCli(["demo", "--database", ":memory:"], { cwd })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "(:memory:)")
    assert.deepStrictEqual(fs.readdirSync(cwd), [])
  })
})
