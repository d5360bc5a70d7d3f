/**
 * The real `ai-jobs` against a SQLite file: every command's output and exit
 * code, and the bad-input refusals (exit 2, one line, nothing changed).
 * Read-only checks share one demo database and run concurrently.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import type { AiJob } from "../../src/domain/AiJob.js"
import { type CliOptions, type CliResult, lines, runCli, tempDir, widest } from "./cli.js"
import { allJobs, crashedRun, eventCount, failedJob, jobOf as storedJob, migratedByCli, queuedJobAt, stalledJob } from "./fixtures.js"
import { assertOneLineError } from "./operator.suite.js"
import { openSqlite } from "../reliability/snapshot.js"

const parseJson = <A>(result: CliResult): A => {
  assert.strictEqual(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as A
}

let cwd = ""
let db = ""
let demo: CliResult
let jobs: ReadonlyArray<AiJob> = []
/** `ai-jobs <args>` in the demo's folder, on the demo's database (named by DATABASE_URL). */
const cli = (args: ReadonlyArray<string>, options: CliOptions = {}) =>
  runCli(args, { cwd, ...options, env: { DATABASE_URL: db, ...options.env } })
const jobOf = (state: AiJob["state"]) => {
  const job = jobs.find((j) => j.state === state)
  assert.isDefined(job, `a ${state} job`)
  return job as AiJob
}

beforeAll(async () => {
  cwd = tempDir("sqlite")
  // No --database: the demo's own ./data/demo.db, relative to the working directory.
  demo = await runCli(["demo"], { cwd })
  db = path.join(cwd, "data", "demo.db")
  jobs = await allJobs(db)
}, 120_000)

/** What a folder holds: file names, and the database's bytes (as a hash) and modification time. */
const snapshot = (dir: string, file: string) => ({
  files: fs.readdirSync(dir).sort(),
  sha256: createHash("sha256").update(fs.readFileSync(file)).digest("hex"),
  mtime: fs.statSync(file).mtimeMs
})

/** A system user's ids, from /etc/passwd. */
const account = (user: string) => {
  const entry = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((line) => line.startsWith(`${user}:`))
  assert.isDefined(entry, `the ${user} system user (the PostgreSQL test harness runs as it too)`)
  const [, , uidText = "", gidText = ""] = (entry ?? "").split(":")
  return { uid: Number(uidText), gid: Number(gidText) }
}
const uid = (user: string) => account(user).uid
const gid = (user: string) => account(user).gid

/** The demo's output with each run of whitespace (line breaks of wrapped text too) as one space. */
const flat = (text: string) => text.replace(/\s+/g, " ")

describe("ai-jobs on a SQLite file", () => {
  it("R9 demo creates its own ./data/demo.db, recovers a crashed run, and prints a timeline with workflow_recovery", () => {
    assert.strictEqual(demo.code, 0, demo.stderr)
    assert.strictEqual(demo.stderr, "")
    assert.isTrue(fs.existsSync(db))
    assert.isFalse(fs.existsSync(path.join(cwd, "data", "handshake.db")), "the default database of the other commands is left alone")
    assert.include(demo.stdout, "workflow_recovery")
    assert.match(demo.stdout, /running→stalled/)
    assert.match(flat(demo.stdout), /DENIED doc_summarize Coder EscalationDenied: Profile Coder is wider than Analyst, .* also grants fs\.write, proc\.exec, terminal\.exec/)
    assert.match(demo.stdout, /error recorded on the job: CommandFailed/)
    assert.include(flat(demo.stdout), `Database: ${db}`)
    assert.include(demo.stdout, "export DATABASE_URL=./data/demo.db")
    assert.include(demo.stdout, "ai-jobs jobs list")
    assert.deepStrictEqual(
      [...jobs.map((job) => job.state)].sort(),
      ["cancelled", "completed", "completed", "completed_with_issues", "failed"]
    )
  })

  it("R15 the demo's refused request can be followed up: it names its trace, and the command it suggests lists its deny events (it had no id to give)", async () => {
    const trace = /DENIED doc_summarize Coder EscalationDenied: .* \(trace ([0-9a-f-]{36})\)/.exec(flat(demo.stdout))?.[1]
    assert.isDefined(trace, demo.stdout)
    assert.include(demo.stdout, `ai-jobs events --trace ${trace}`)
    const events = await cli(["events", "--trace", trace!, "--json"])
    assert.strictEqual(events.code, 0, events.stderr)
    const listed = JSON.parse(events.stdout) as Array<{ type: string; decision_outcome?: string }>
    assert.deepStrictEqual(listed.map((event) => [event.type, event.decision_outcome]), [
      ["capability_action", "deny"],
      ["capability_action", "deny"],
      ["capability_action", "deny"]
    ])
  })

  describe.concurrent("the demo's own database, its width, and read-only files", { timeout: 180_000 }, () => {
    it("R17 the demo never writes into the database DATABASE_URL names: it makes its own ./data/demo.db afresh each run", async () => {
      const elsewhere = path.join(tempDir("elsewhere"), "app.db")
      assert.strictEqual((await runCli(["migrate", "--database", elsewhere])).code, 0)
      const dir = tempDir("demo-env")
      for (const run of [1, 2]) {
        const result = await runCli(["demo"], { cwd: dir, env: { DATABASE_URL: elsewhere, COLUMNS: "300" } })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.include(flat(result.stdout), "(DATABASE_URL is not used by the demo: name a database with --database to run it there.)")
        assert.isAtMost(widest(result.stdout), 100, "on a wide terminal the demo still fits 100 columns")
        assert.isAbove(widest(result.stdout), 80)
        assert.strictEqual((await allJobs(path.join(dir, "data", "demo.db"))).length, 5, `run ${run}: a fresh demo database`)
      }
      assert.deepStrictEqual(await allJobs(elsewhere), [], "nothing written where DATABASE_URL points")
    })

    it("R16 the demo's output fits 80 columns through a pipe", () => {
      assert.isAtMost(widest(demo.stdout), 80, demo.stdout)
    })

    it("README Output fits the terminal: under COLUMNS=40 and 48 every line of the demo fits, its ids printed whole", async () => {
      for (const columns of [40, 48]) {
        const dir = tempDir(`demo-${columns}`)
        const result = await runCli(["demo", "--database", path.join(dir, "demo.db")], { cwd: dir, env: { COLUMNS: String(columns) } })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.isAtMost(widest(result.stdout), columns, result.stdout)
        const jobIds = (await allJobs(path.join(dir, "demo.db"))).map((job) => job.job_id)
        for (const id of jobIds) assert.include(result.stdout, id, "each job id, unbroken")
      }
    })

    // The third case: a WAL file its reader may write, in a folder it may not — no `-shm` can be made beside it.
    for (const [folder, fileMode] of [["read-only", 0o444], ["writable", 0o444], ["read-only", 0o644]] as const) {
      it(`R17 read commands (dry runs included) read a 0${fileMode.toString(8)} SQLite file in a ${folder} folder and write nothing, not even beside it; a write (migrate too) is refused, saying why`, async () => {
        const dir = tempDir(`readonly-${folder}`)
        const file = path.join(dir, "jobs.db")
        assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
        // Written and closed through the library: nothing is left in a WAL file beside it.
        const job = await failedJob(file)
        // The tests run as root, whom permissions do not stop: read as the `postgres` user then.
        const user = "postgres"
        if (process.getuid?.() === 0) {
          if (folder === "writable") fs.chownSync(dir, uid(user), gid(user))
          fs.chownSync(file, folder === "writable" || fileMode === 0o644 ? uid(user) : 0, 0)
        }
        fs.chmodSync(file, fileMode)
        fs.chmodSync(dir, folder === "writable" ? 0o755 : 0o555)
        const before = snapshot(dir, file)
        const read = (args: ReadonlyArray<string>) => runCli([...args, "--database", file], { user, cwd: dir })
        const listed = await read(["jobs", "list", "--json"])
        assert.strictEqual(listed.code, 0, listed.stderr)
        assert.deepStrictEqual((JSON.parse(listed.stdout) as Array<{ job_id: string }>).map((item) => item.job_id), [job.job_id])
        const shown = await read(["jobs", "show", job.job_id.slice(-8)])
        assert.strictEqual(shown.code, 0, shown.stderr)
        assert.match(shown.stdout, /state\s+failed/)
        const events = await read(["events", "--job", job.job_id.slice(-8)])
        assert.strictEqual(events.code, 0, events.stderr)
        assert.match(events.stdout, /running→failed/)
        // A dry run only reads: it opened the file for writing and was refused.
        for (const dryRun of [["prune", "--dry-run", "--older-than", "0s", "--keep", "0"], ["retention", "--dry-run"]]) {
          const counted = await read(dryRun)
          assert.strictEqual(counted.code, 0, `${dryRun[0]}: ${counted.stderr}`)
        }
        assert.match((await read(["prune", "--dry-run", "--older-than", "0s", "--keep", "0"])).stdout, /Would prune 1 of 1/)
        // migrate too: it opened the file and failed at its first write ("attempt to write a readonly database").
        for (const write of [["jobs", "retry", job.job_id.slice(-8)], ["migrate"]]) {
          assertOneLineError(
            await read(write),
            1,
            fileMode === 0o644
              ? /^error: cannot change .*jobs\.db: its folder is read-only, and SQLite writes its journal files beside the database$/
              : /^error: cannot change .*jobs\.db: the file is read-only$/
          )
        }
        assert.deepStrictEqual(snapshot(dir, file), before, "the same files, the database byte for byte, its mtime")
      })
    }
    it("R17 a writable SQLite file whose -wal or -shm beside it is read-only: migrate, recover and a job's move refuse before opening it, naming the side file (exit 1), and change nothing", async () => {
      for (const side of ["-wal", "-shm"]) {
        const dir = tempDir(`readonly-side${side}`)
        const file = path.join(dir, "jobs.db")
        assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
        const job = await failedJob(file)
        // The tests run as root, whom permissions do not stop: act as the `postgres` user, who owns
        // the folder and the database but not the side file.
        const user = "postgres"
        if (process.getuid?.() === 0) {
          fs.chownSync(dir, uid(user), gid(user))
          fs.chownSync(file, uid(user), gid(user))
        }
        fs.writeFileSync(`${file}${side}`, "")
        fs.chmodSync(`${file}${side}`, 0o444)
        const before = snapshot(dir, file)
        for (const write of [["migrate"], ["recover"], ["jobs", "retry", job.job_id.slice(-8)]]) {
          assertOneLineError(
            await runCli([...write, "--database", file], { user, cwd: dir }),
            1,
            new RegExp(`^error: cannot change .*jobs\\.db: its journal file jobs\\.db${side} beside it is read-only$`)
          )
        }
        assert.deepStrictEqual(snapshot(dir, file), before, `${side}: the same files, the database byte for byte`)
      }
    })

    it("R17 a symbolic link in a read-only folder to a SQLite file in a folder the user may write: migrate, recover and a job's move go through it (SQLite keeps the -wal beside the target), and reads see the change", async () => {
      const target = tempDir("link-target")
      const file = path.join(target, "jobs.db")
      assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
      const job = await failedJob(file)
      const user = "postgres"
      if (process.getuid?.() === 0) {
        fs.chownSync(target, uid(user), gid(user))
        fs.chownSync(file, uid(user), gid(user))
      }
      const linkDir = tempDir("link")
      const link = path.join(linkDir, "jobs.db")
      fs.symlinkSync(file, link)
      fs.chmodSync(linkDir, 0o555)
      for (const write of [["migrate"], ["recover"], ["jobs", "retry", job.job_id.slice(-8)]]) {
        const result = await runCli([...write, "--database", link], { user, cwd: linkDir })
        assert.strictEqual(result.code, 0, `${write.join(" ")}: ${result.stderr}`)
      }
      const listed = await runCli(["jobs", "list", "--json", "--database", link], { user, cwd: linkDir })
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual((JSON.parse(listed.stdout) as Array<{ job_id: string; state: string }>).map((item) => [item.job_id, item.state]), [[job.job_id, "queued"]])
      assert.deepStrictEqual(fs.readdirSync(linkDir), ["jobs.db"], "nothing made beside the link")
    })

    it("R17 a name with `..` after a linked folder (d/../jobs.db, d a link to x/y) is read from x/jobs.db, the file the kernel opens, not from ./jobs.db beside the link; migrate names that file", async () => {
      const base = tempDir("dotdot")
      fs.chmodSync(base, 0o755)
      const x = path.join(base, "x")
      const l1 = path.join(base, "l1")
      fs.mkdirSync(path.join(x, "y"), { recursive: true })
      fs.mkdirSync(l1)
      for (const file of [path.join(x, "jobs.db"), path.join(l1, "jobs.db")]) assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
      const real = await failedJob(path.join(x, "jobs.db"))
      // Read as text, d/../jobs.db is l1/jobs.db: another database there, read-only in a read-only folder.
      const twin = await failedJob(path.join(l1, "jobs.db"))
      fs.symlinkSync(path.join(x, "y"), path.join(l1, "d"))
      fs.chmodSync(path.join(l1, "jobs.db"), 0o444)
      fs.chmodSync(l1, 0o555)
      const name = `${l1}/d/../jobs.db`
      const listed = await runCli(["jobs", "list", "--json", "--database", name], { user: "postgres", cwd: base })
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual((JSON.parse(listed.stdout) as Array<{ job_id: string }>).map((item) => item.job_id), [real.job_id])
      assert.notStrictEqual(real.job_id, twin.job_id)
      const migrated = await runCli(["migrate", "--database", name])
      assert.strictEqual(migrated.code, 0, migrated.stderr)
      assert.include(migrated.stdout, `Database ${path.join(x, "jobs.db")} (sqlite)`)
    })

    it("R17 read commands on a SQLite file this user may not read fail with one line naming the file and why, not SQLite's \"unable to open database file\"", async () => {
      const dir = tempDir("unreadable")
      const file = path.join(dir, "jobs.db")
      assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
      const job = await failedJob(file)
      fs.chmodSync(file, 0o000)
      fs.chmodSync(dir, 0o555)
      // Root reads any file: read as the `postgres` user.
      for (const args of [["jobs", "list"], ["jobs", "show", job.job_id.slice(-8)], ["events"]]) {
        assertOneLineError(
          await runCli([...args, "--database", file], { user: "postgres", cwd: dir }),
          1,
          /^error: cannot open database .*jobs\.db: HSK-500-DB: Storage failed during SqliteStore\.open ".*jobs\.db": this process cannot read it: the file is not readable$/
        )
      }
      assert.deepStrictEqual(fs.readdirSync(dir), ["jobs.db"])
    })

    it("R17 a WAL file in a read-only folder whose -wal holds committed changes (no -shm beside it) is read with them, and nothing is written there", async () => {
      const source = tempDir("readonly-wal-source")
      const sourceFile = path.join(source, "jobs.db")
      assert.strictEqual((await runCli(["migrate", "--database", sourceFile])).code, 0)
      const job = await failedJob(sourceFile)
      // A change committed to the WAL and never checkpointed; the pair copied as a backup of a live database holds it.
      const writer = openSqlite(sourceFile)
      writer.pragma("wal_autocheckpoint = 0")
      writer.prepare("UPDATE ai_jobs SET status_reason = 'written to the WAL only' WHERE id = ?").run(job.job_id)
      const dir = tempDir("readonly-wal")
      const file = path.join(dir, "jobs.db")
      fs.copyFileSync(sourceFile, file)
      fs.copyFileSync(`${sourceFile}-wal`, `${file}-wal`)
      writer.close()
      assert.isAbove(fs.statSync(`${file}-wal`).size, 0)
      fs.chmodSync(file, 0o444)
      fs.chmodSync(`${file}-wal`, 0o444)
      fs.chmodSync(dir, 0o555)
      const before = { ...snapshot(dir, file), wal: createHash("sha256").update(fs.readFileSync(`${file}-wal`)).digest("hex") }
      // As root, whom permissions do not stop, the folder would be writable: read as the `postgres` user.
      const listed = await runCli(["jobs", "list", "--json", "--database", file], { user: "postgres", cwd: dir })
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual(
        (JSON.parse(listed.stdout) as Array<{ job_id: string; status_reason: string }>).map((item) => [item.job_id, item.status_reason]),
        [[job.job_id, "written to the WAL only"]]
      )
      assert.deepStrictEqual({ ...snapshot(dir, file), wal: createHash("sha256").update(fs.readFileSync(`${file}-wal`)).digest("hex") }, before)
    })
  })

  describe.concurrent("read-only commands on the demo database", { timeout: 120_000 }, () => {
    it("R5 jobs list prints a table of short ids, newest first; --limit cuts it and says so on stderr", async () => {
      const result = await cli(["jobs", "list", "--limit", "3"], { env: { COLUMNS: "200" } })
      assert.strictEqual(result.code, 0, result.stderr)
      const rows = lines(result.stdout)
      assert.match(rows[0] ?? "", /^JOB\s+KIND\s+STATE\s+PROFILE\s+CREATED\s+UPDATED\s+REASON \/ ERROR$/)
      const newestFirst = [...jobs].reverse()
      assert.deepStrictEqual(rows.slice(1).map((row) => row.split(/\s+/)[0]), newestFirst.slice(0, 3).map((job) => job.job_id.slice(-8)))
      assert.match(rows[3] ?? "", /sheet_transform\s+completed_with_issues\s+Analyst/)
      assert.match(result.stderr, /^\(showing the newest 3 jobs; more match: read on with ai-jobs jobs list --limit 3 --cursor [\w-]+\)\n$/)
      // README: times in tables are to the second (UTC); --json keeps the milliseconds.
      for (const row of rows.slice(1)) assert.match(row, /\s\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z\s/, row)
      assert.notMatch(result.stdout, /:\d{2}\.\d+Z/, result.stdout)
      const one = await cli(["jobs", "list", "--limit", "1"])
      assert.match(one.stderr, /^\(showing the newest 1 job; more match: read on with ai-jobs jobs list --limit 1 --cursor [\w-]+\)\n$/)
    })

    it("R5 jobs list --json is the encoded jobs; --state and --kind filter", async () => {
      const failed = jobOf("failed")
      const result = await cli(["jobs", "list", "--state", "failed,stalled", "--kind", "terminal_exec,doc_edit", "--since", "1h", "--json"])
      const encoded = parseJson<Array<Record<string, unknown>>>(result)
      assert.deepStrictEqual(encoded.map((job) => job["job_id"]), [failed.job_id])
      // The wire form of the domain object: same fields, timestamps as RFC 3339 text.
      assert.deepStrictEqual(Object.keys(encoded[0] ?? {}).sort(), Object.keys(failed).sort())
      assert.strictEqual(encoded[0]?.["created_at"], failed.created_at.toJSON())
      assert.match(String(encoded[0]?.["error_message"]), /^CommandFailed: /)
    })

    it("R5 README a list filter may be repeated instead of comma-separated (--state a --state b), the two forms mixed too; a bad value among them is still named", async () => {
      const commaSeparated = parseJson<Array<Record<string, unknown>>>(await cli(["jobs", "list", "--state", "failed,stalled,completed", "--kind", "terminal_exec,doc_edit,doc_summarize", "--json"]))
      assert.isAbove(commaSeparated.length, 1, "the seeded jobs match more than one state")
      const repeated = await cli(["jobs", "list", "--state", "failed", "--state", "stalled", "--state", "completed", "--kind", "terminal_exec", "--kind", "doc_edit,doc_summarize", "--json"])
      assert.deepStrictEqual(parseJson<Array<Record<string, unknown>>>(repeated), commaSeparated)
      const events = await cli(["events", "--type", "system", "--type", "workflow_recovery", "--json"])
      const types = new Set(parseJson<Array<Record<string, unknown>>>(events).map((event) => event["type"]))
      assert.deepStrictEqual([...types].sort(), ["system", "workflow_recovery"])
      assertOneLineError(await cli(["jobs", "list", "--state", "running", "--state", "done"]), 2, /^error: unknown --state "done"; expected one of queued, running, .*poisoned$/)
    })

    it("R5 jobs list --since T includes a job created at T exactly, as events --since does; a millisecond later leaves it out", async () => {
      const failed = jobOf("failed")
      const at = new Date(failed.created_at.epochMillis).toISOString()
      const later = new Date(failed.created_at.epochMillis + 1).toISOString()
      const ids = async (args: ReadonlyArray<string>) => parseJson<Array<Record<string, unknown>>>(await cli([...args, "--json"])).map((row) => String(row["job_id"]))
      assert.include(await ids(["jobs", "list", "--since", at, "--limit", "1000"]), failed.job_id)
      assert.notInclude(await ids(["jobs", "list", "--since", later, "--limit", "1000"]), failed.job_id)
      assert.include(await ids(["jobs", "list", `--since=${at}`, "--state=failed", "--state=stalled"]), failed.job_id)
    })

    it("R5 README --since T includes T with a date too (help: 2026-01-19): jobs list --since 2026-01-19 includes a job created at 2026-01-19T00:00:00.000Z", async () => {
      const database = path.join(tempDir("since-date"), "jobs.db")
      await migratedByCli(database)
      const midnight = await queuedJobAt(database, new Date("2026-01-19T00:00:00.000Z"))
      const listed = parseJson<Array<Record<string, unknown>>>(await runCli(["jobs", "list", "--since", "2026-01-19", "--json", "--database", database]))
      assert.deepStrictEqual(listed.map((row) => row["job_id"]), [midnight.job_id])
    })

    it("R5 --since a time with digits past the millisecond leaves out a job and the events stamped at that millisecond, which are before it", async () => {
      const failed = jobOf("failed")
      const at = new Date(failed.created_at.epochMillis).toISOString()
      const halfLater = at.replace(/Z$/, "5Z")
      const ids = async (args: ReadonlyArray<string>, key: string) => parseJson<Array<Record<string, unknown>>>(await cli([...args, "--json"])).map((row) => String(row[key]))
      assert.include(await ids(["jobs", "list", "--since", at, "--limit", "1000"], "job_id"), failed.job_id)
      assert.notInclude(await ids(["jobs", "list", "--since", halfLater, "--limit", "1000"], "job_id"), failed.job_id)
      const stampedAt = parseJson<Array<Record<string, unknown>>>(await cli(["events", "--job", failed.job_id, "--json"]))
        .filter((event) => event["timestamp"] === at).map((event) => String(event["event_id"]))
      assert.isAbove(stampedAt.length, 0, "the job's submit is stamped at its creation")
      const since = await ids(["events", "--job", failed.job_id, "--since", halfLater], "event_id")
      for (const event of stampedAt) assert.notInclude(since, event)
    })

    it("R8 jobs show prints the job, its runs with node history, and its events", async () => {
      const failed = jobOf("failed")
      const result = await cli(["jobs", "show", failed.job_id])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stdout, new RegExp(`^Job ${failed.job_id}`))
      assert.match(result.stdout, /state\s+failed/)
      assert.match(result.stdout, /0\s+plan\s+plan\s+completed/)
      assert.match(result.stdout, /1\s+exec\s+terminal\s+failed/)
      // terminal.exec allowed at submit and again at start, queued, running, the command, failed.
      assert.include(result.stdout, "Flight Recorder events (6)")
      assert.match(result.stdout, /running→failed/)
    })

    it("R8 jobs show --json has the job, runs with nodes, and events", async () => {
      const recovered = jobs.find((job) => job.job_kind === "doc_ingest")
      assert.isDefined(recovered)
      const detail = parseJson<{
        job: { job_id: string; state: string }
        runs: Array<{ status: string; nodes: Array<{ node_id: string }> }>
        events: Array<{ type: string }>
      }>(await cli(["jobs", "show", recovered?.job_id ?? "", "--json"]))
      assert.strictEqual(detail.job.job_id, recovered?.job_id)
      // The crashed run was stalled by recovery; the operator's resume ran under a new one (R6c).
      assert.deepStrictEqual(detail.runs.map((run) => run.status), ["stalled", "completed"])
      assert.deepStrictEqual(detail.runs[1]?.nodes.map((node) => node.node_id), ["ingest"])
      assert.include(detail.events.map((event) => event.type), "workflow_recovery")
    })

    it("R9 events --type workflow_recovery --json gives the recovery event with every R9 field", async () => {
      const events = parseJson<Array<Record<string, unknown>>>(await cli(["events", "--type", "workflow_recovery", "--json"]))
      assert.strictEqual(events.length, 1)
      const event = events[0] ?? {}
      assert.strictEqual(event["actor"], "system")
      assert.strictEqual(event["from_state"], "running")
      assert.strictEqual(event["to_state"], "stalled")
      assert.strictEqual(event["threshold_secs"], 30)
      assert.match(String(event["last_heartbeat_ts"]), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      for (const field of ["workflow_run_id", "job_id", "reason", "trace_id", "event_id", "timestamp"]) assert.property(event, field)
    })

    it("R10 events --job prints that job's timeline", async () => {
      const failed = jobOf("failed")
      const byJob = await cli(["events", "--job", failed.job_id], { env: { COLUMNS: "200" } })
      assert.strictEqual(byJob.code, 0, byJob.stderr)
      const rows = lines(byJob.stdout)
      assert.match(rows[0] ?? "", /^TIME\s+TYPE\s+ACTOR\s+JOB\s+FROM→TO\s+DETAIL$/)
      assert.strictEqual(rows.length, 7)
      assert.strictEqual(byJob.stdout.match(/capability_action\s+system\s+\w{8}\s+-\s+terminal\.exec: allow$/gm)?.length, 2,
        "terminal.exec is decided at submit and again at start")
      assert.match(byJob.stdout, /terminal_command\s+agent/)
      assert.match(byJob.stdout, /running→failed/)
    })

    it("R18 issue 12.6 prune --dry-run reports the Janitor's counts and changes nothing", async () => {
      const events = await eventCount(db)
      const result = parseJson<Record<string, unknown>>(
        await cli(["prune", "--older-than", "0s", "--keep", "1", "--dry-run", "--json"])
      )
      // Prunable: 2 completed, 1 completed_with_issues, 1 cancelled and the failed one; the newest is kept.
      assert.deepStrictEqual(result, {
        ...result, dry_run: true, keep_newest: 1, scanned: 5, pruned: 4, spared_pinned: 0, spared_window: 1
      })
      assert.strictEqual((await allJobs(db)).length, jobs.length)
      assert.strictEqual(await eventCount(db), events, "a dry run records nothing")
    })
  })

  describe.concurrent("bad input: exit 2, one line naming the problem and what is accepted, nothing changed", { timeout: 120_000 }, () => {
    it("R1 an unknown --kind", async () => {
      assertOneLineError(
        await cli(["jobs", "list", "--kind", "doc_test"]),
        2,
        /^error: unknown --kind "doc_test"; expected one of doc_edit, doc_rewrite, doc_summarize, .*, distillation_eval \(or the legacy alias term_exec\)$/
      )
    })

    it("R2 an unknown --state", async () => {
      assertOneLineError(await cli(["jobs", "list", "--state", "running,done"]), 2, /^error: unknown --state "done"; expected one of queued, running, .*poisoned$/)
    })

    it("R12 an unknown event --type", async () => {
      assertOneLineError(await cli(["events", "--type", "audit"]), 2, /^error: unknown --type "audit"; expected one of workflow_recovery, .*security_violation$/)
    })

    it("R12 HSK-GC-003 a system event's name as --type says which type to ask for", async () => {
      assertOneLineError(await cli(["events", "--type", "gc_summary"]), 2, /^error: unknown --type "gc_summary": it names a system event; list them with --type system$/)
    })

    it("R17 an option given an empty value (--limit=, --since=): one line naming the option and what it takes, not @effect/cli's unknown argument", async () => {
      assertOneLineError(await cli(["jobs", "list", "--limit="]), 2, /^error: --limit needs a value \(n\): Show at most this many rows/)
      assertOneLineError(await cli(["jobs", "list", "--since="]), 2, /^error: --since needs a value \(time\|duration\): Only jobs created since/)
      assertOneLineError(await cli(["events", "--type="]), 2, /^error: --type needs a value \(type,\.\.\.\): Only events of these types/)
    })

    it("R17 a command given too few or too many arguments: one line naming what is missing or extra, with its usage", async () => {
      const usage = (command: string) => `usage: ai-jobs ${command} \\[--database path\\|url\\] .*<job-id>$`
      assertOneLineError(await cli(["jobs", "show"]), 2, new RegExp(`^error: missing <job-id> for ai-jobs jobs show; ${usage("jobs show")}`))
      assertOneLineError(await cli(["jobs", "cancel", "--reason", "x"]), 2, new RegExp(`^error: missing <job-id> for ai-jobs jobs cancel; ${usage("jobs cancel")}`))
      assertOneLineError(
        await cli(["jobs", "show", "a", "b"]),
        2,
        new RegExp(`^error: unexpected argument "b" for ai-jobs jobs show: it takes only <job-id>; ${usage("jobs show")}`)
      )
      assertOneLineError(
        await cli(["jobs", "list", "extra"]),
        2,
        /^error: unexpected argument "extra" for ai-jobs jobs list: it takes no arguments, only options; usage: ai-jobs jobs list \[--database path\|url\] /
      )
      assertOneLineError(await cli(["prune", "now"]), 2, /^error: unexpected argument "now" for ai-jobs prune: it takes no arguments, only options; usage: ai-jobs prune /)
    })

    it("R5 a malformed job id in jobs show", async () => {
      assertOneLineError(
        await cli(["jobs", "show", "12-zz"]),
        2,
        /^error: malformed job id "12-zz"; expected a job id \(a UUID such as 123e4567-e89b-42d3-a456-426614174000\), its start \(4 or more hex digits\) or its short id \(its last 8 hex digits\)$/
      )
    })

    it("R18 a bad duration or count", async () => {
      const [duration, limit] = await Promise.all([
        cli(["prune", "--older-than", "30"]),
        cli(["events", "--limit", "0"])
      ])
      assertOneLineError(duration, 2, /^error: bad --older-than "30"; expected a duration up to 50 years: .*\(e\.g\. 30d, 12h, 90s\)$/)
      assertOneLineError(limit, 2, /^error: bad --limit "0"; expected a whole number from 1 to/)
      // README: recovery takes a threshold of whole seconds ≥ 1 s (0 would stall every live run); a duration is up to 50 years.
      assertOneLineError(await cli(["recover", "--threshold", "0"]), 2, /^error: bad --threshold "0"; expected a whole number from 1 to/)
      assertOneLineError(await cli(["prune", "--older-than", "18300d"]), 2, /^error: bad --older-than "18300d"; expected a duration up to 50 years/)
      const fiftyYears = await cli(["prune", "--older-than", "18250d", "--dry-run"])
      assert.strictEqual(fiftyYears.code, 0, fiftyYears.stderr)
      // Decimal digits only, as the HTTP API's ?limit= (padding was trimmed: found by an outside probe).
      for (const value of [" 5", "5 ", "+5", "1e3", "0x10"]) {
        const quoted = JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        assertOneLineError(await cli(["events", "--limit", value]), 2, new RegExp(`^error: bad --limit ${quoted}; expected a whole number`))
      }
    })

    it("R17 a database URL with an unsupported scheme is refused before anything is opened", async () => {
      const empty = tempDir("untouched")
      const result = await runCli(["migrate", "--database", "mysql://localhost/jobs"], { cwd: empty })
      assertOneLineError(
        result,
        2,
        /^error: bad --database: Unsupported database "mysql:\/\/localhost\/jobs": the scheme mysql is not supported\. Use a SQLite file path \(\.\/data\/handshake\.db\), sqlite:<path>\[\?mode=rwc\|rw\|ro\|memory\], sqlite::memory:, or postgres:\/\/user@host:port\/db$/
      )
      assert.deepStrictEqual(fs.readdirSync(empty), [])
    })

    it("R17 a sqlite: URL's path is percent-decoded, as sqlx decodes it: migrate on sqlite://…/my%20jobs.db reaches the database my jobs.db and makes no my%20jobs.db; a % that starts no escape is refused (exit 2), nothing made", async () => {
      const dir = tempDir("url-escapes")
      assert.strictEqual((await runCli(["migrate", "--database", path.join(dir, "my jobs.db")])).code, 0)
      const url = `sqlite://${dir}/my%20jobs.db`
      const again = await runCli(["migrate", "--database", url])
      assert.strictEqual(again.code, 0, again.stderr)
      assert.include(flat(again.stdout), `Database ${path.join(dir, "my jobs.db")} (sqlite) is migrated: the schema is up to date. Nothing to apply`)
      const listed = await runCli(["jobs", "list", "--database", `${url}?mode=ro`])
      assert.strictEqual(listed.code, 0, listed.stderr)
      const before = fs.readdirSync(dir).sort()
      assert.deepStrictEqual(before.filter((file) => file.endsWith(".db")), ["my jobs.db"], "no file named with the escape")
      assertOneLineError(
        await runCli(["migrate", "--database", `sqlite://${dir}/my%zzjobs.db`]),
        2,
        /^error: bad --database: Unsupported database ".*my%zzjobs\.db": its path holds a % that starts no escape \(%XX, two hex digits; a % itself is %25\) or escapes that are no UTF-8 text\. Use /
      )
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), before)
    })

    it("R17 README Exit codes: an option the command does not take is one line naming it and the command's options (exit 2), as every other bad input — not @effect/cli's 'Received unknown argument' (found by an outside probe)", async () => {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, string]> = [
        [["jobs", "list", "--colour"], "--colour", "jobs list"],
        [["jobs", "list", "--databse", "x.db"], "--databse", "jobs list"],
        [["events", "--limit", "5", "--jobs", "abcd"], "--jobs", "events"]
      ]
      for (const [args, option, command] of cases) {
        assertOneLineError(
          await cli(args),
          2,
          new RegExp(`^error: unknown option "${option}" for ai-jobs ${command}; expected one of --database, .* \\(see: ai-jobs ${command} --help\\)$`)
        )
      }
      // A value that looks like an option is still the option's value.
      const reason = await cli(["jobs", "cancel", "00000000", "--reason", "--force was used"])
      assert.notMatch(reason.stderr, /unknown option/)
    })
  })

  describe.concurrent("operational failures: exit 1, one line", { timeout: 120_000 }, () => {
    it("R15 jobs resume the capability policy refuses says the job is now failed (exit 1): it is not a refusal that changed nothing", async () => {
      const file = path.join(tempDir("resume-refused"), "jobs.db")
      assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
      const stalled = await stalledJob(file)
      // Stored under a profile wider than the policy's for its kind (an older policy's, or another system's).
      const db = openSqlite(file)
      db.prepare("UPDATE ai_jobs SET capability_profile_id = 'Coder' WHERE id = ?").run(stalled.job_id)
      db.close()
      const result = await runCli(["jobs", "resume", stalled.job_id, "--database", file])
      assertOneLineError(result, 1, /^error: Profile Coder is wider than Analyst, .*; the capability policy refused the resume, so the job is now failed \(retry queues it again\)$/)
      assert.strictEqual((await storedJob(file, stalled.job_id)).state, "failed")
    })
    it("R5 jobs show of an id that names no job", async () => {
      assertOneLineError(await cli(["jobs", "show", "123e4567-e89b-42d3-a456-426614174000"]), 1, /^error: No job with id 123e4567-e89b-42d3-a456-426614174000$/)
      assertOneLineError(await cli(["jobs", "show", "12345"]), 1, /^error: no job id starts with "12345"$/)
    })

    it("R17 a SQLite file that does not exist is not created by a read", async () => {
      const missing = path.join(cwd, "missing", "jobs.db")
      assertOneLineError(await cli(["events", "--database", missing]), 1, /^error: no SQLite database at .*missing\/jobs\.db; create it with: ai-jobs migrate/)
      assert.isFalse(fs.existsSync(missing))
    })
  })

  describe("commands that change the database", { timeout: 120_000 }, () => {
    it("R16 migrate creates a new database named by DATABASE_URL (and its folder)", async () => {
      const fresh = path.join(tempDir("migrate"), "nested", "fresh.db")
      const result = parseJson<Record<string, unknown>>(
        await runCli(["migrate", "--json"], { cwd, env: { DATABASE_URL: `sqlite:${fresh}` } })
      )
      const newest = Math.max(...fs.readdirSync(new URL("../../migrations/sqlite/", import.meta.url)).map((name) => Number.parseInt(name, 10)))
      assert.deepStrictEqual(result, { database: fresh, dialect: "sqlite", migrated: true, schema_version: newest, schema_version_before: 0, applied: true })
      assert.deepStrictEqual(await allJobs(fresh), [])
    })

    it("R16 migrate says what it did: the schema version it applied, then that there is nothing to apply", async () => {
      const fresh = path.join(tempDir("migrate-twice"), "jobs.db")
      const newest = Math.max(...fs.readdirSync(new URL("../../migrations/sqlite/", import.meta.url)).map((name) => Number.parseInt(name, 10)))
      const first = await runCli(["migrate", "--database", fresh], { cwd })
      assert.strictEqual(first.code, 0, first.stderr)
      assert.match(first.stdout, new RegExp(`is migrated: the schema is up to date\\. Applied: schema version ${newest} \\(the database had none of ours`))
      const again = await runCli(["migrate", "--database", fresh], { cwd })
      assert.strictEqual(again.code, 0, again.stderr)
      assert.match(again.stdout, new RegExp(`is migrated: the schema is up to date\\. Nothing to apply \\(schema version ${newest}\\)\\.`))
      // --json says the same, as fields.
      const json = parseJson<Record<string, unknown>>(await runCli(["migrate", "--json", "--database", fresh], { cwd }))
      assert.deepInclude(json, { schema_version: newest, schema_version_before: newest, applied: false })
    })

    it("R9 recover moves a crashed worker's run to stalled, with its event", async () => {
      const crashed = await crashedRun(db)
      const result = parseJson<{
        threshold_secs: number
        recovered: Array<{ id: string; job_id: string; status: string; error_message: string | null }>
      }>(
        await cli(["recover", "--threshold", "60", "--json"])
      )
      assert.strictEqual(result.threshold_secs, 60)
      assert.deepStrictEqual(result.recovered.map((run) => run.id), [crashed.run.id])
      // R9 audit: the report prints the run as stored after the move, not as it was before.
      assert.strictEqual(result.recovered[0]?.status, "stalled")
      assert.match(result.recovered[0]?.error_message ?? "", /^stalled \(on-demand recovery: heartbeat timeout\): last heartbeat .*, threshold 60s$/)
      const after = (await allJobs(db)).find((job) => job.job_id === crashed.job.job_id)
      assert.strictEqual(after?.state, "stalled")
    })

    it("R9 demo --database runs on the database it names and adds a round of jobs there", async () => {
      const before = (await allJobs(db)).length
      const again = await runCli(["demo", "--database", db], { cwd: tempDir("demo-again") })
      assert.strictEqual(again.code, 0, again.stderr)
      assert.include(again.stdout, "workflow_recovery")
      assert.strictEqual((await allJobs(db)).length, before + 5)
    })

    it("R18 issue 12.6 prune deletes old terminal and failed jobs but keeps the newest --keep, prints the report; events stay, plus its gc_summary", async () => {
      const before = await allJobs(db)
      const events = await eventCount(db)
      const prunable = before.filter((job) => ["completed", "completed_with_issues", "cancelled", "poisoned", "failed"].includes(job.state))
      const result = await cli(["prune", "--older-than", "0s", "--keep", "2"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(
        result.stdout,
        new RegExp(`^Pruned ${prunable.length - 2} of ${prunable.length} terminal or failed job\\(s\\) last updated before .*; spared 0 pinned and 2 among the newest 2`)
      )
      assert.strictEqual((await allJobs(db)).length, before.length - (prunable.length - 2))
      assert.strictEqual(await eventCount(db), events + 1, "the events stay, and the pass's gc_summary is added")
    })

    it("R13 retention --dry-run counts the events older than --older-than and purges none", async () => {
      const events = await eventCount(db)
      assert.isAbove(events, 0)
      const counted = await cli(["retention", "--older-than", "0s", "--dry-run"])
      assert.strictEqual(counted.code, 0, counted.stderr)
      assert.match(counted.stdout, new RegExp(`^Would purge ${events} Flight Recorder event\\(s\\) older than .*; nothing changed\\.`))
      const asJson = await cli(["retention", "--older-than", "0s", "--dry-run", "--json"])
      assert.strictEqual(asJson.code, 0, asJson.stderr)
      const report = JSON.parse(asJson.stdout) as { readonly dry_run: boolean; readonly purged: number }
      assert.deepStrictEqual([report.dry_run, report.purged], [true, events])
      const none = await cli(["retention", "--dry-run"])
      assert.match(none.stdout, /^Would purge 0 Flight Recorder event\(s\)/, "none is older than the 7-day window")
      assert.strictEqual(await eventCount(db), events, "nothing purged")
    })

    it("R13 retention purges events older than --older-than, leaving the gc_summary that records the purge", async () => {
      const events = await eventCount(db)
      const purged = await cli(["retention", "--older-than", "0s"])
      assert.strictEqual(purged.code, 0, purged.stderr)
      assert.match(purged.stdout, new RegExp(`^Purged ${events} Flight Recorder event\\(s\\) older than `))
      assert.strictEqual(await eventCount(db), 1, "only the purge's own gc_summary is left")
    })
  })
})

describe("ai-jobs on a SQLite database it cannot use", { timeout: 120_000 }, () => {
  it("R17 serve refuses a file that was never migrated (exit 1, one line saying to migrate), and leaves it empty", async () => {
    const file = path.join(tempDir("serve-unmigrated"), "jobs.db")
    fs.writeFileSync(file, "")
    const result = await runCli(["serve", "--port", "0", "--token", "serve-test-token-0123456789", "--database", file])
    assertOneLineError(result, 1, new RegExp(`^error: database .*jobs\\.db is not migrated: create its schema \\(or upgrade a legacy Handshake database\\) first with: ai-jobs migrate --database `))
    assert.strictEqual(fs.statSync(file).size, 0, "nothing written")
  })

  it("R16 R17 every command but migrate and the demo refuses a database never migrated (a legacy Handshake one) or migrated by an older version: exit 1, one line saying to migrate, nothing written", async () => {
    const dir = tempDir("out-of-date")
    const legacy = path.join(dir, "legacy.db")
    const before = openSqlite(legacy)
    // The reference system's own tables (its legacy shape, as migration 0001 writes it), no row.
    before.exec(fs.readFileSync(new URL("../../migrations/sqlite/0001_reference_schema.sql", import.meta.url), "utf8"))
    before.close()
    const older = path.join(dir, "older.db")
    assert.strictEqual((await runCli(["migrate", "--database", older])).code, 0)
    const migrated = openSqlite(older)
    const newestOf = () => Number(migrated.prepare("SELECT max(migration_id) AS id FROM ai_job_model_migrations").all()[0]!["id"])
    const newest = newestOf()
    migrated.prepare("DELETE FROM ai_job_model_migrations WHERE migration_id = ?").run(newest)
    const previous = newestOf()
    migrated.close()
    const commands = [["jobs", "list"], ["jobs", "show", "123e4567-e89b-42d3-a456-426614174000"], ["jobs", "cancel", "123e4567-e89b-42d3-a456-426614174000"], ["events"], ["recover"], ["prune", "--older-than", "1d"], ["retention", "--older-than", "1d"]]
    for (const [file, line] of [
      [legacy, /is not migrated: create its schema \(or upgrade a legacy Handshake database\) first with: ai-jobs migrate --database .*legacy\.db$/],
      [older, new RegExp(`is at schema version ${previous}, older than this ai-jobs \\(${newest}\\): upgrade it first with: ai-jobs migrate --database .*older\\.db$`)]
    ] as const) {
      const bytes = fs.readFileSync(file)
      for (const args of commands) assertOneLineError(await runCli([...args, "--database", file]), 1, line)
      assert.isTrue(fs.readFileSync(file).equals(bytes), `${path.basename(file)}: nothing written`)
    }
    // migrate brings both up to date, and the commands then work.
    for (const file of [legacy, older]) {
      const migrate = await runCli(["migrate", "--database", file])
      assert.strictEqual(migrate.code, 0, migrate.stderr)
      const list = await runCli(["jobs", "list", "--database", file])
      assert.strictEqual(list.code, 0, list.stderr)
    }
  })

  it("R17 the nil UUID as a job id is bad input (exit 2, one line), not a crash: jobs show, events --job and the actions", async () => {
    const nil = "00000000-0000-0000-0000-000000000000"
    for (const args of [["jobs", "show", nil], ["jobs", "cancel", nil], ["jobs", "pin", nil.toUpperCase()]]) {
      assertOneLineError(await runCli(args), 2, /^error: malformed job id "0{8}-0{4}-0{4}-0{4}-0{12}": the nil UUID is never a job id$/)
    }
    assertOneLineError(await runCli(["events", "--job", nil]), 2, /^error: malformed --job "0{8}-0{4}-0{4}-0{4}-0{12}": the nil UUID is never a job id$/)
  })

  it("R17 sqlite::memory: is refused by every command but the demo, with one line saying why (exit 1)", async () => {
    for (const args of [["jobs", "list"], ["events"], ["recover"], ["serve", "--port", "0"]]) {
      assertOneLineError(
        await runCli([...args, "--database", "sqlite::memory:"]),
        1,
        /^error: an in-memory database \(sqlite::memory:\) starts empty and is gone when the command ends: only ai-jobs demo can use one/
      )
    }
    // The demo runs on one, and suggests no command that could not open it.
    const demoInMemory = await runCli(["demo", "--database", "sqlite::memory:"])
    assert.strictEqual(demoInMemory.code, 0, demoInMemory.stderr)
    assert.notInclude(demoInMemory.stdout, "DATABASE_URL")
    assert.include(flat(demoInMemory.stdout), "It was in memory and is gone when the demo ends")
  })
})

