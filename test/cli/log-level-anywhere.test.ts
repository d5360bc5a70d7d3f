/**
 * README changelog, "a bad `--log-level` is one line": a level is taken
 * "before or after the command". After a command's options (`jobs list
 * --database d --log-level debug`, `--log-level=debug`, `recover … --log-level
 * error`) @effect/cli answered "Received unknown argument: '--log-level'" and a
 * blank line (exit 2), found by an outside observability probe; it took the
 * flag only before the command or right after its name. Now the level is taken
 * anywhere among the options (moved before the command, where @effect/cli reads it).
 */
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { runCli, tempDir } from "./cli.js"
import { crashedRun, migratedByCli } from "./fixtures.js"

describe("CLI --log-level among a command's options", () => {
  it("R17 jobs list with --log-level (spaced or with =) after its options runs the command, as it does before the command", async () => {
    const database = path.join(tempDir("log-level-anywhere"), "jobs.db")
    await migratedByCli(database)
    for (
      const args of [
        ["jobs", "list", "--database", database, "--log-level", "debug"],
        ["jobs", "list", "--database", database, "--log-level=debug"],
        ["jobs", "list", "--json", "--log-level", "warning", "--database", database],
        ["--log-level", "debug", "jobs", "list", "--database", database]
      ]
    ) {
      const result = await runCli(args)
      assert.strictEqual(result.code, 0, `${args.join(" ")}: ${result.stderr}`)
      assert.strictEqual(result.stderr, "", args.join(" "))
      assert.notStrictEqual(result.stdout, "", args.join(" "))
    }
  })

  it("R17 recover with --log-level after its options (spaced or with =) runs the command: it stalls the crashed run", async () => {
    const database = path.join(tempDir("log-level-recover"), "jobs.db")
    await migratedByCli(database)
    for (const level of [["--log-level", "error"], ["--log-level=debug"]]) {
      await crashedRun(database)
      const result = await runCli(["recover", "--database", database, "--threshold", "60", ...level])
      assert.strictEqual(result.code, 0, `${level.join(" ")}: ${result.stderr}`)
      assert.match(result.stdout, /^Recovered 1 stalled run/, level.join(" "))
    }
  })

  it("R17 a --reason=--log-level is still the reason, and a --log-level after -- is an argument: neither is moved", async () => {
    const missing = path.join(tempDir("log-level-value"), "absent.db")
    // Past the argument checks: the command runs and fails on the database, not on a log level.
    const reason = await runCli(["jobs", "cancel", "0123abcd", "--reason=--log-level", "--log-level", "info", "--database", missing])
    assert.strictEqual(reason.code, 1, reason.stderr)
    assert.match(reason.stderr, /^error: no SQLite database at /)
    const after = await runCli(["jobs", "pin", "--database", missing, "--", "--log-level"])
    // The job id the command was given, as it was given.
    assert.strictEqual(after.code, 2, after.stderr)
    assert.match(after.stderr, /^error: malformed job id "--log-level"/)
  })
})
