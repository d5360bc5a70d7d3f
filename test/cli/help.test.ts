/**
 * Help as a person reads it: every option described, usage lines that name
 * the whole command, plain text through a pipe (and with NO_COLOR or
 * TERM=dumb), bold headings and the terminal's width on a real terminal, and
 * a clear refusal of an option given without its value. No database needed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { ANSI, type CliResult, runCli, runCliOnTerminal, tempDir, widest } from "./cli.js"
import { assertOneLineError } from "./operator.suite.js"

const COMMANDS = [
  [],
  ["demo"],
  ["migrate"],
  ["recover"],
  ["jobs"],
  ["jobs", "list"],
  ["jobs", "show"],
  ["jobs", "resume"],
  ["jobs", "rework"],
  ["jobs", "retry"],
  ["jobs", "fail"],
  ["jobs", "cancel"],
  ["jobs", "pin"],
  ["jobs", "unpin"],
  ["events"],
  ["prune"],
  ["retention"],
  ["serve"]
] as const

const ok = (result: CliResult): string => {
  assert.strictEqual(result.code, 0, result.stderr)
  return result.stdout
}

/** The lines of a help section, up to the next heading. */
const section = (help: string, title: string): Array<string> => {
  const all = help.split("\n")
  const start = all.indexOf(title)
  if (start === -1) return []
  const end = all.findIndex((line, i) => i > start && /^[A-Z][A-Z ]+$/.test(line))
  return all.slice(start + 1, end === -1 ? undefined : end).filter((line) => line.trim() !== "")
}

describe.concurrent("ai-jobs help", { timeout: 180_000 }, () => {
  for (const command of COMMANDS) {
    const name = ["ai-jobs", ...command].join(" ")
    it(`R17 ${name} --help: every option described, a full usage line, plain, within 80 columns; its global options name --log-level, taken anywhere`, async () => {
      const help = ok(await runCli([...command, "--help"]))
      assert.notMatch(help, ANSI, "no ANSI styles through a pipe")
      assert.isAtMost(widest(help), 80, help)
      for (const boilerplate of ["A user-defined piece of text.", "A true or false value.", "This setting is optional."]) {
        assert.notInclude(help, boilerplate)
      }
      assert.match(help, new RegExp(`^${name} — \\S`), "it starts with the command and what it does")
      const usage = section(help, "USAGE")
      assert.match(usage[0] ?? "", new RegExp(`^  \\$ ${name}( |$)`), "the usage line names the whole command")
      const options = section(help, "OPTIONS")
      if (command.length > 0 && !(command.length === 1 && command[0] === "jobs")) assert.isNotEmpty(options, "a command has options")
      for (const [i, line] of options.entries()) {
        if (!/^ {2}--/.test(line)) continue
        assert.match(options[i + 1] ?? "", /^ {6}\S/, `${line.trim()} is described`)
        assert.include(usage.join(" "), line.trim().split(" ")[0] ?? "", `${line.trim()} is in the usage`)
      }
      const global = section(help, "GLOBAL OPTIONS")
      const logLevel = global.indexOf("  --log-level level")
      assert.isAtLeast(logLevel, 0, help)
      assert.match(
        global.slice(logLevel + 1).join(" ").replace(/\s+/g, " "),
        /^ Print log messages at this level and above: all, trace, debug, info, warning, error, fatal, none\. Taken anywhere on the command line\./
      )
      for (const [i, line] of section(help, "ARGUMENTS").entries()) {
        if (/^ {2}</.test(line)) assert.match(section(help, "ARGUMENTS")[i + 1] ?? "", /^ {6}\S/, `${line.trim()} is described`)
      }
    })
  }

  it("R17 the root and jobs helps list their commands with what each does; a group named alone shows its help", async () => {
    const root = ok(await runCli([]))
    const commands = section(root, "COMMANDS").filter((line) => /^ {2}\S/.test(line)).map((line) => line.trim().split(/\s+/)[0])
    assert.deepStrictEqual(commands, ["demo", "migrate", "recover", "jobs", "events", "prune", "retention", "serve"])
    const jobs = ok(await runCli(["jobs"]))
    const actions = section(jobs, "COMMANDS").filter((line) => /^ {2}\S/.test(line)).map((line) => line.trim().split(/\s+/)[0])
    assert.deepStrictEqual(actions, ["list", "show", "node", "resume", "rework", "retry", "fail", "cancel", "pin", "unpin"])
    assert.strictEqual(ok(await runCli(["jobs", "--help"])), jobs)
  })

  it("R17 on a terminal help has bold headings and wraps to its width; NO_COLOR and TERM=dumb make it plain", async () => {
    const terminal = await runCliOnTerminal(["jobs", "list", "--help"], { columns: 60 })
    assert.strictEqual(terminal.code, 0, terminal.stdout)
    assert.include(terminal.stdout, "\x1b[1mOPTIONS\x1b[0m")
    assert.isAtMost(widest(terminal.stdout.replace(new RegExp(ANSI.source, "g"), "")), 60, terminal.stdout)
    assert.include(terminal.stdout.replace(/\s+/g, " "), "$ ai-jobs jobs list [--database path|url]")
    for (const env of [{ NO_COLOR: "1" }, { TERM: "dumb" }]) {
      const plain = await runCliOnTerminal(["jobs", "list", "--help"], { columns: 60, env })
      assert.strictEqual(plain.code, 0, plain.stdout)
      assert.notMatch(plain.stdout, ANSI, JSON.stringify(env))
      assert.isAtMost(widest(plain.stdout), 60)
    }
  })

  it("R17 COLUMNS sets the width of help written to a pipe", async () => {
    const wide = ok(await runCli(["jobs", "list", "--help"], { env: { COLUMNS: "140" } }))
    assert.isAtMost(widest(wide), 140)
    assert.isAbove(widest(wide), 80)
    assert.isAtMost(widest(ok(await runCli(["jobs", "list", "--help"], { env: { COLUMNS: "50" } }))), 50)
  })

  it("R17 a word that names no command is refused with one line naming that group's commands (exit 2)", async () => {
    assertOneLineError(
      await runCli(["jobs", "frob"]),
      2,
      /^error: unknown command "frob" for ai-jobs jobs; expected one of list, show, node, resume, rework, retry, fail, cancel, pin, unpin$/
    )
    assertOneLineError(
      await runCli(["frob"]),
      2,
      /^error: unknown command "frob" for ai-jobs; expected one of demo, migrate, recover, jobs, events, prune, retention, serve$/
    )
  })

  it("R17 an option given without its value is refused with one line saying what it takes (exit 2)", async () => {
    assertOneLineError(
      await runCli(["jobs", "list", "--database"]),
      2,
      /^error: --database needs a value \(path\|url\): SQLite file path \(default \.\/data\/handshake\.db\), sqlite:<path>, or postgres:\/\/user:pass@host:port\/db\. Falls back to DATABASE_URL\.$/
    )
    assertOneLineError(await runCli(["events", "--database", "--json"]), 2, /^error: --database needs a value \(path\|url\)/)
    assertOneLineError(await runCli(["jobs", "cancel", "0123abcd", "--reason"]), 2, /^error: --reason needs a value \(text\): Why, recorded/)
    assertOneLineError(await runCli(["jobs", "cancel", "0123abcd", "--reason", "--json"]), 2, /^error: --reason needs a value \(text\)/)
    assertOneLineError(await runCli(["jobs", "list", "--limit", "--state=failed"]), 2, /^error: --limit needs a value/)
  })

  it("R17 README Exit codes: a flag given a value it does not take (--json=maybe, --dry-run=nope) is refused with one line naming the flag and saying it takes none (exit 2); the yes/no words @effect/cli reads still pass", async () => {
    assertOneLineError(await runCli(["jobs", "list", "--json=maybe"]), 2, /^error: --json takes no value, given "maybe": write --json alone$/)
    assertOneLineError(await runCli(["prune", "--dry-run=nope"]), 2, /^error: --dry-run takes no value, given "nope": write --dry-run alone$/)
    assertOneLineError(await runCli(["events", "--json="]), 2, /^error: --json takes no value, given "": write --json alone$/)
    const dir = tempDir("flag-value")
    const missing = path.join(dir, "absent.db")
    // Past the check: the command goes on to open the database, which is not there.
    assertOneLineError(await runCli(["jobs", "list", "--json=false", "--database", missing]), 1, /^error: no SQLite database at /)
  })

  it("R17 README Exit codes: a refusal @effect/cli makes itself (a --log-level it does not know, before the command) exits 2 with nothing on stdout", async () => {
    const result = await runCli(["--log-level", "bogus", "jobs", "list"])
    assert.strictEqual(result.code, 2, result.stderr)
    assert.strictEqual(result.stdout, "")
  })

  // Found by a probe: @effect/cli printed "Invalid subcommand for ai-jobs - use one of …" and a blank line, naming no flag.
  it("R17 README Exit codes: a --log-level given a level it does not take, or none, is one line naming the flag and its levels (exit 2), before or after the command", async () => {
    const levels = "all, trace, debug, info, warning, error, fatal, none"
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--log-level", "bogus", "jobs", "list"], `--log-level takes one of ${levels}; given "bogus"`],
      [["--log-level=Info", "jobs", "list"], `--log-level takes one of ${levels}; given "Info"`],
      [["jobs", "list", "--log-level", "bogus"], `--log-level takes one of ${levels}; given "bogus"`],
      [["jobs", "list", "--json", "--log-level"], `--log-level needs a value: one of ${levels}`]
    ]
    for (const [args, message] of cases) {
      assertOneLineError(await runCli(args), 2, new RegExp(`^error: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`))
    }
    // A level it takes, given after the command with a space, is no unexpected argument: the command runs (and finds no database).
    const dir = tempDir("log-level")
    const missing = path.join(dir, "absent.db")
    assertOneLineError(await runCli(["jobs", "list", "--log-level", "warning", "--database", missing]), 1, /^error: no SQLite database at /)
    assertOneLineError(await runCli(["--log-level", "debug", "jobs", "list", "--database", missing]), 1, /^error: no SQLite database at /)
  })

  it("R17 README the defaults the command table states are the ones help states: jobs show's 100,000 events, jobs list's 100 rows, recover's 30 s, serve's 127.0.0.1 and 8787", async () => {
    const helpOf = async (command: ReadonlyArray<string>) => ok(await runCli([...command, "--help"], { env: { COLUMNS: "200" } })).replace(/\s+/g, " ")
    const [show, list, recover, serve] = await Promise.all([["jobs", "show"], ["jobs", "list"], ["recover"], ["serve"]].map(helpOf))
    assert.match(show!, /the oldest \(default 100,?000\)/)
    assert.match(list!, /Show at most this many rows \(default 100\)/)
    assert.match(recover!, /stalled \(default 30\)/)
    assert.match(serve!, /Address to listen on \(default 127\.0\.0\.1;/)
    assert.match(serve!, /Port to listen on \(default 8787;/)
  })

  it("R17 README Exit codes: an option given twice is refused with one line naming it (exit 2), not called an unknown argument; nothing is opened", async () => {
    const dir = tempDir("twice")
    const [first, second] = [path.join(dir, "a.db"), path.join(dir, "b.db")]
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["migrate", "--database", first, "--database", second], "--database"],
      [["jobs", "list", "--limit", "5", "--limit=6", "--database", first], "--limit"],
      [["jobs", "list", "--json", "--json", "--database", first], "--json"],
      [["retention", "--older-than", "7d", "--dry-run", "--dry-run", "--database", first], "--dry-run"],
      [["jobs", "cancel", "0123abcd", "--reason", "a", "--reason", "b", "--database", first], "--reason"]
    ]
    for (const [args, option] of cases) {
      assertOneLineError(await runCli(args), 2, new RegExp(`^error: ${option} is given more than once; give it once$`))
    }
    assert.deepStrictEqual(fs.readdirSync(dir), [], "no database was created")
    // A value that looks like an option is still a value, and the list filters still join.
    const reason = await runCli(["jobs", "cancel", "0123abcd", "--reason", "--reason twice", "--database", first])
    assert.notMatch(reason.stderr, /more than once/)
    const lists = await runCli(["jobs", "list", "--state", "failed", "--state", "stalled", "--database", first])
    assert.notMatch(lists.stderr, /more than once/)
  })

  it("R17 README Exit codes: an option before its command (ai-jobs --database d jobs list) is one line saying where it goes (exit 2), not a command called invalid", async () => {
    const dir = tempDir("before")
    const database = path.join(dir, "jobs.db")
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--database", database, "migrate"], "--database goes after the command: ai-jobs migrate --database …"],
      [[`--database=${database}`, "jobs", "list"], "--database goes after the command: ai-jobs jobs list --database …"],
      [["jobs", "--json", "list", "--database", database], "--json goes after the command: ai-jobs jobs list --json …"]
    ]
    for (const [args, message] of cases) {
      assertOneLineError(await runCli(args), 2, new RegExp(`^error: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`))
    }
    assert.deepStrictEqual(fs.readdirSync(dir), [], "no database was created")
    // @effect/cli's own options still go first: the command runs (and finds no database).
    const builtIn = await runCli(["--log-level", "error", "jobs", "list", "--database", database])
    assertOneLineError(builtIn, 1, /^error: no SQLite database at /)
  })

  it("R17 a value that is the command's own name or another command's is the value: jobs fail <id> --reason fail is a reason", async () => {
    // The command's name was read as one of its options, so the reason was "forgotten" (found by a regression probe).
    for (const [command, reason] of [["fail", "fail"], ["cancel", "cancel"], ["pin", "pin"], ["fail", "jobs"], ["cancel", "list"]]) {
      const result = await runCli(["jobs", command!, "0123abcd", "--reason", reason!, "--database", "/nonexistent-dir-for-probe/jobs.db"])
      assert.notMatch(result.stderr, /needs a value/, `${command} --reason ${reason}`)
      assert.match(result.stderr, /^error: .*jobs\.db/, `${command} --reason ${reason}`)
    }
    // --log-level is an option, as --json is: given as the reason, the reason was forgotten.
    assertOneLineError(await runCli(["jobs", "fail", "0123abcd", "--reason", "--log-level", "debug"]), 2, /^error: --reason needs a value \(text\)/)
  })

  // Found by a regression probe: `--reason -h` printed help and exited 0, the job untouched, while `--reason --json` was refused.
  it("R17 README Exit codes: -h or --help where an option's value is due is refused as any option there is: one line saying the option needs a value (exit 2), no help, nothing done", async () => {
    const levels = "all, trace, debug, info, warning, error, fatal, none"
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
      [["jobs", "fail", "0123abcd", "--reason", "-h"], /^error: --reason needs a value \(text\): Why, recorded/],
      [["jobs", "fail", "0123abcd", "--reason", "--help"], /^error: --reason needs a value \(text\): Why, recorded/],
      [["jobs", "list", "--limit", "-h"], /^error: --limit needs a value \(n\)/],
      [["jobs", "list", "--log-level", "-h"], new RegExp(`^error: --log-level needs a value: one of ${levels}$`)]
    ]
    for (const [args, expected] of cases) {
      const result = await runCli([...args, "--database", "/nonexistent-dir-for-probe/jobs.db"])
      assertOneLineError(result, 2, expected)
      assert.strictEqual(result.stdout, "", "no help printed")
    }
    // After a value, -h still asks for help.
    const help = await runCli(["jobs", "fail", "0123abcd", "--reason", "done", "-h"])
    assert.strictEqual(help.code, 0, help.stderr)
    assert.include(help.stdout, "--reason")
  })

  // Found by a regression probe: `--log-level --database d` said `given "--database"`, `--reason --log-level` "needs a value".
  it("R17 a --log-level followed by an option (its level forgotten) says it needs a value, as --reason followed by --log-level does", async () => {
    const levels = "all, trace, debug, info, warning, error, fatal, none"
    for (const args of [["jobs", "list", "--log-level", "--database", "x.db"], ["jobs", "list", "--log-level", "--json"], ["--log-level", "--help", "jobs", "list"]]) {
      assertOneLineError(await runCli(args), 2, new RegExp(`^error: --log-level needs a value: one of ${levels}$`))
    }
  })

  it("R17 a value that begins with dashes but names no option is the value: --reason \"--force was used\" is a reason", async () => {
    const result = await runCli(["jobs", "cancel", "0123abcd", "--reason", "--force was used", "--database", "/nonexistent-dir-for-probe/jobs.db"])
    // Past the argument checks: the command runs and fails on the database, not on a missing value.
    assert.notMatch(result.stderr, /needs a value/)
    assert.match(result.stderr, /^error: .*jobs\.db/)
  })

  it("R17 a -- ends the options as @effect/cli reads it, even where a value was due: --reason -- (and --reason -- -- <id>) is one line saying --reason needs a value and how to give the value --; --reason=-- is the value", async () => {
    const expected = /^error: --reason needs a value \(text\): Why, recorded.* \(a -- ends the options; for the value --, write --reason=--\)$/
    assertOneLineError(await runCli(["jobs", "pin", "0123abcd", "--reason", "--"]), 2, expected)
    assertOneLineError(await runCli(["jobs", "pin", "--reason", "--", "--", "0123abcd"]), 2, expected)
    const given = await runCli(["jobs", "pin", "--reason=--", "--", "0123abcd", "--database", "/nonexistent-dir-for-probe/jobs.db"])
    // Past the argument checks: after --, --database is an argument too.
    assertOneLineError(given, 2, /^error: unexpected argument "--database" for ai-jobs jobs pin/)
    const value = await runCli(["jobs", "pin", "--reason=--", "--database", "/nonexistent-dir-for-probe/jobs.db", "--", "0123abcd"])
    assertOneLineError(value, 1, /^error: .*jobs\.db/)
  })
})
