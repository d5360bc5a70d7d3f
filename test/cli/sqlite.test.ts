/**
 * The real `ai-jobs` against a SQLite file: every command's output and exit
 * code, and the bad-input refusals (exit 2, one line, nothing changed).
 * Read-only checks share one demo database and run concurrently.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import type { AiJob } from "../../src/domain/AiJob.js"
import { type CliResult, lines, runCli, tempDir } from "./cli.js"
import { allJobs, crashedRun, eventCount } from "./fixtures.js"

/** A refusal: exit `code`, nothing on stdout, exactly one line on stderr. */
const assertOneLineError = (result: CliResult, code: number, pattern: RegExp) => {
  assert.strictEqual(result.code, code, result.stderr)
  assert.strictEqual(result.stdout, "")
  const errorLines = lines(result.stderr)
  assert.strictEqual(errorLines.length, 1, result.stderr)
  assert.match(errorLines[0] ?? "", pattern)
  assert.notMatch(result.stderr, /\n\s+at /, "no stack trace")
}

const parseJson = <A>(result: CliResult): A => {
  assert.strictEqual(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as A
}

let cwd = ""
let db = ""
let demo: CliResult
let jobs: ReadonlyArray<AiJob> = []
const jobOf = (state: AiJob["state"]) => {
  const job = jobs.find((j) => j.state === state)
  assert.isDefined(job, `a ${state} job`)
  return job as AiJob
}

beforeAll(async () => {
  cwd = tempDir("sqlite")
  // No --database and no DATABASE_URL: the default ./data/handshake.db, relative to the working directory.
  demo = await runCli(["demo"], { cwd })
  db = path.join(cwd, "data", "handshake.db")
  jobs = await allJobs(db)
}, 120_000)

describe("ai-jobs on a SQLite file", () => {
  it("R9 demo creates ./data/handshake.db, recovers a crashed run, and prints a timeline with workflow_recovery", () => {
    assert.strictEqual(demo.code, 0, demo.stderr)
    assert.strictEqual(demo.stderr, "")
    assert.isTrue(fs.existsSync(db))
    assert.include(demo.stdout, "workflow_recovery")
    assert.match(demo.stdout, /running→stalled/)
    assert.match(demo.stdout, /DENIED\s+doc_summarize\s+Coder\s+EscalationDenied: Profile Coder is wider than Analyst, .* also grants fs\.write, proc\.exec, terminal\.exec/)
    assert.match(demo.stdout, /error recorded on the job: CommandFailed/)
    assert.include(demo.stdout, `Database: ${db}`)
    assert.include(demo.stdout, "ai-jobs jobs list")
    assert.deepStrictEqual(
      [...jobs.map((job) => job.state)].sort(),
      ["cancelled", "completed", "completed", "completed_with_issues", "failed"]
    )
  })

  describe.concurrent("read-only commands on the demo database", { timeout: 120_000 }, () => {
    it("R5 jobs list prints a table, oldest first; --limit cuts it and says so on stderr", async () => {
      const result = await runCli(["jobs", "list", "--limit", "3"], { cwd })
      assert.strictEqual(result.code, 0, result.stderr)
      const rows = lines(result.stdout)
      assert.match(rows[0] ?? "", /^JOB\s+KIND\s+STATE\s+PROFILE\s+CREATED\s+UPDATED\s+REASON \/ ERROR$/)
      assert.deepStrictEqual(rows.slice(1).map((row) => row.split(/\s+/)[0]), jobs.slice(0, 3).map((job) => job.job_id))
      assert.match(rows[3] ?? "", /sheet_transform\s+completed_with_issues\s+Analyst/)
      assert.strictEqual(result.stderr, "(showing the first 3 jobs; more match: narrow the filters or raise --limit)\n")
    })

    it("R5 jobs list --json is the encoded jobs; --state and --kind filter", async () => {
      const failed = jobOf("failed")
      const result = await runCli(["jobs", "list", "--state", "failed,stalled", "--kind", "terminal_exec,doc_edit", "--since", "1h", "--json"], { cwd })
      const encoded = parseJson<Array<Record<string, unknown>>>(result)
      assert.deepStrictEqual(encoded.map((job) => job["job_id"]), [failed.job_id])
      // The wire form of the domain object: same fields, timestamps as RFC 3339 text.
      assert.deepStrictEqual(Object.keys(encoded[0] ?? {}).sort(), Object.keys(failed).sort())
      assert.strictEqual(encoded[0]?.["created_at"], failed.created_at.toJSON())
      assert.match(String(encoded[0]?.["error_message"]), /^CommandFailed: /)
    })

    it("R8 jobs show prints the job, its runs with node history, and its events", async () => {
      const failed = jobOf("failed")
      const result = await runCli(["jobs", "show", failed.job_id], { cwd })
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
      }>(await runCli(["jobs", "show", recovered?.job_id ?? "", "--json"], { cwd }))
      assert.strictEqual(detail.job.job_id, recovered?.job_id)
      // The crashed run was stalled by recovery; the operator's resume ran under a new one (R6c).
      assert.deepStrictEqual(detail.runs.map((run) => run.status), ["stalled", "completed"])
      assert.deepStrictEqual(detail.runs[1]?.nodes.map((node) => node.node_id), ["ingest"])
      assert.include(detail.events.map((event) => event.type), "workflow_recovery")
    })

    it("R9 events --type workflow_recovery --json gives the recovery event with every R9 field", async () => {
      const events = parseJson<Array<Record<string, unknown>>>(await runCli(["events", "--type", "workflow_recovery", "--json"], { cwd }))
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
      const byJob = await runCli(["events", "--job", failed.job_id], { cwd })
      assert.strictEqual(byJob.code, 0, byJob.stderr)
      const rows = lines(byJob.stdout)
      assert.match(rows[0] ?? "", /^TIME\s+TYPE\s+ACTOR\s+JOB\s+FROM→TO\s+DETAIL$/)
      assert.strictEqual(rows.length, 7)
      assert.strictEqual(byJob.stdout.match(/capability_action\s+system\s+\w{8}\s+-\s+terminal\.exec: allow \(profile Coder\)/g)?.length, 2,
        "terminal.exec is decided at submit and again at start")
      assert.match(byJob.stdout, /terminal_command\s+agent/)
      assert.match(byJob.stdout, /running→failed/)
    })

    it("R18 issue 12.6 prune --dry-run reports the Janitor's counts and changes nothing", async () => {
      const events = await eventCount(db)
      const result = parseJson<Record<string, unknown>>(
        await runCli(["prune", "--older-than", "0s", "--keep", "1", "--dry-run", "--json"], { cwd })
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
        await runCli(["jobs", "list", "--kind", "doc_test"], { cwd }),
        2,
        /^error: unknown --kind "doc_test"; expected one of doc_edit, doc_rewrite, doc_summarize, .*, distillation_eval$/
      )
    })

    it("R2 an unknown --state", async () => {
      assertOneLineError(await runCli(["jobs", "list", "--state", "running,done"], { cwd }), 2, /^error: unknown --state "done"; expected one of queued, running, .*poisoned$/)
    })

    it("R12 an unknown event --type", async () => {
      assertOneLineError(await runCli(["events", "--type", "audit"], { cwd }), 2, /^error: unknown --type "audit"; expected one of workflow_recovery, .*security_violation$/)
    })

    it("R5 a malformed UUID in jobs show", async () => {
      assertOneLineError(await runCli(["jobs", "show", "12345"], { cwd }), 2, /^error: malformed job id "12345"; expected a UUID/)
    })

    it("R18 a bad duration or count", async () => {
      const [duration, limit] = await Promise.all([
        runCli(["prune", "--older-than", "30"], { cwd }),
        runCli(["events", "--limit", "0"], { cwd })
      ])
      assertOneLineError(duration, 2, /^error: bad --older-than "30"; expected a duration up to 50 years: .*\(e\.g\. 30d, 12h, 90s\)$/)
      assertOneLineError(limit, 2, /^error: bad --limit "0"; expected a whole number from 1 to/)
    })

    it("R17 a database URL with an unsupported scheme is refused before anything is opened", async () => {
      const empty = tempDir("untouched")
      const result = await runCli(["migrate", "--database", "mysql://localhost/jobs"], { cwd: empty })
      assertOneLineError(
        result,
        2,
        /^error: bad --database: Unsupported database "mysql:\/\/localhost\/jobs": the scheme mysql is not supported\. Use a SQLite file path \(\.\/data\/handshake\.db\), sqlite:<path>, sqlite::memory:, or postgres:\/\/user@host:port\/db$/
      )
      assert.deepStrictEqual(fs.readdirSync(empty), [])
    })

    it("R17 @effect/cli's own refusals (an unknown option) exit 2 too, with its usage text", async () => {
      const result = await runCli(["jobs", "list", "--colour"], { cwd })
      assert.strictEqual(result.code, 2)
      assert.strictEqual(result.stdout, "")
      assert.match(result.stderr, /unknown argument: '--colour'/)
    })
  })

  describe.concurrent("operational failures: exit 1, one line", { timeout: 120_000 }, () => {
    it("R5 jobs show of an id that names no job", async () => {
      assertOneLineError(await runCli(["jobs", "show", "123e4567-e89b-42d3-a456-426614174000"], { cwd }), 1, /^error: No job with id 123e4567-e89b-42d3-a456-426614174000$/)
    })

    it("R17 a SQLite file that does not exist is not created by a read", async () => {
      const missing = path.join(cwd, "missing", "jobs.db")
      assertOneLineError(await runCli(["events", "--database", missing], { cwd }), 1, /^error: no SQLite database at .*missing\/jobs\.db; create it with: ai-jobs migrate/)
      assert.isFalse(fs.existsSync(missing))
    })
  })

  describe("commands that change the database", { timeout: 120_000 }, () => {
    it("R16 migrate creates a new database named by DATABASE_URL (and its folder)", async () => {
      const fresh = path.join(tempDir("migrate"), "nested", "fresh.db")
      const result = parseJson<{ database: string; dialect: string; migrated: boolean }>(
        await runCli(["migrate", "--json"], { cwd, env: { DATABASE_URL: `sqlite:${fresh}` } })
      )
      assert.deepStrictEqual(result, { database: fresh, dialect: "sqlite", migrated: true })
      assert.deepStrictEqual(await allJobs(fresh), [])
    })

    it("R9 recover moves a crashed worker's run to stalled, with its event", async () => {
      const crashed = await crashedRun(db)
      const result = parseJson<{ threshold_secs: number; recovered: Array<{ id: string; job_id: string }> }>(
        await runCli(["recover", "--threshold", "60", "--json"], { cwd })
      )
      assert.strictEqual(result.threshold_secs, 60)
      assert.deepStrictEqual(result.recovered.map((run) => run.id), [crashed.run.id])
      const after = (await allJobs(db)).find((job) => job.job_id === crashed.job.job_id)
      assert.strictEqual(after?.state, "stalled")
    })

    it("R9 demo runs again on the same database and adds a round of jobs", async () => {
      const before = (await allJobs(db)).length
      const again = await runCli(["demo"], { cwd })
      assert.strictEqual(again.code, 0, again.stderr)
      assert.include(again.stdout, "workflow_recovery")
      assert.strictEqual((await allJobs(db)).length, before + 5)
    })

    it("R18 issue 12.6 prune deletes old terminal and failed jobs but keeps the newest --keep, prints the report; events stay, plus its gc_summary", async () => {
      const before = await allJobs(db)
      const events = await eventCount(db)
      const prunable = before.filter((job) => ["completed", "completed_with_issues", "cancelled", "poisoned", "failed"].includes(job.state))
      const result = await runCli(["prune", "--older-than", "0s", "--keep", "2"], { cwd })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(
        result.stdout,
        new RegExp(`^Pruned ${prunable.length - 2} of ${prunable.length} terminal or failed job\\(s\\) last updated before .*; spared 0 pinned and 2 among the newest 2`)
      )
      assert.strictEqual((await allJobs(db)).length, before.length - (prunable.length - 2))
      assert.strictEqual(await eventCount(db), events + 1, "the events stay, and the pass's gc_summary is added")
    })

    it("R13 retention purges events older than --older-than", async () => {
      const events = await eventCount(db)
      const purged = await runCli(["retention", "--older-than", "0s"], { cwd })
      assert.strictEqual(purged.code, 0, purged.stderr)
      assert.match(purged.stdout, new RegExp(`^Purged ${events} Flight Recorder event\\(s\\) older than `))
      assert.strictEqual(await eventCount(db), 0)
    })
  })
})
