/** The CLI under hostile input on a SQLite file (see hostile.suite.ts), and files that are no database. */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { runCli, tempDir } from "./cli.js"
import { runHostileCliSuite } from "./hostile.suite.js"
import { assertOneLineError } from "./operator.suite.js"

runHostileCliSuite({
  name: "SQLite",
  create: async () => path.join(tempDir("hostile"), "jobs.db"),
  drop: async () => {}
})

describe("ai-jobs on a path that holds no database", { timeout: 120_000 }, () => {
  it("R17 a file that is not a database, or a directory: every command exits 1 with one line and leaves it as it was", async () => {
    const dir = tempDir("notdb")
    const file = path.join(dir, "notes.txt")
    fs.writeFileSync(file, "these are notes, not a database\n")
    for (const args of [["jobs", "list"], ["events"], ["jobs", "cancel", "0123abcd"], ["migrate"], ["prune", "--dry-run"]]) {
      for (const target of [file, dir]) {
        const result = await runCli([...args, "--database", target])
        assertOneLineError(result, 1, /^error: cannot open database /)
        assert.notMatch(result.stderr, /unexpected failure/)
      }
    }
    assert.strictEqual(fs.readFileSync(file, "utf8"), "these are notes, not a database\n")
    assert.deepStrictEqual(fs.readdirSync(dir), ["notes.txt"], "no -wal, -shm or journal beside it")
  })
})

describe("ai-jobs on a path that is no file", { timeout: 120_000 }, () => {
  it("R17 a named pipe or a device is no SQLite database: every command exits 1 at once with one line, never waiting on it", async () => {
    const dir = tempDir("notfile")
    const fifo = path.join(dir, "pipe")
    execFileSync("mkfifo", [fifo])
    const runs = [fifo, "/dev/null"].flatMap((target) =>
      [["jobs", "list"], ["events"], ["jobs", "cancel", "0123abcd"], ["migrate"], ["serve", "--port", "0"]].map(async (args) =>
        [target, args, await runCli([...args, "--database", target])] as const))
    for (const [target, args, result] of await Promise.all(runs)) {
      assert.strictEqual(result.code, 1, `${args.join(" ")} on ${target}: ${result.stderr}`)
      assertOneLineError(result, 1, new RegExp(`^error: cannot open database ${target}: it is not a regular file`))
    }
    assert.isTrue(fs.statSync(fifo).isFIFO(), "the pipe is left as it was")
    assert.deepStrictEqual(fs.readdirSync(dir), ["pipe"], "no -wal, -shm or journal beside it")
  })
})

describe("ai-jobs serve with a token no client could send", { timeout: 120_000 }, () => {
  it("README The token: a token with a control character, a non-ASCII letter or a space at either end is refused (exit 2, one line) before anything listens", async () => {
    const database = path.join(tempDir("serve-token"), "jobs.db")
    assert.strictEqual((await runCli(["migrate", "--database", database])).code, 0)
    const tokens = ["0123456789abcdef ", " 0123456789abcdef", "0123456789abcdef\n", "0123456789\u001babcdef", "0123456789abcdéf"]
    for (const token of tokens) {
      const flagged = await runCli(["serve", "--port", "0", "--token", token, "--database", database])
      assertOneLineError(flagged, 2, /^error: bad --token: the token must be printable ASCII without spaces at either end/)
      const fromEnv = await runCli(["serve", "--port", "0", "--database", database], { env: { AI_JOBS_TOKEN: token } })
      assertOneLineError(fromEnv, 2, /^error: bad AI_JOBS_TOKEN: the token must be printable ASCII without spaces at either end/)
    }
  })
})
