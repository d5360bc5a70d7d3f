/**
 * The operator's commands as subprocesses, run unchanged on each store:
 * the actions (resume, rework, retry, fail, cancel, pin, unpin), abbreviated job ids,
 * the newest-first jobs list and its order flag, the term_exec alias, and
 * tables that fit the terminal. Each test makes its own jobs in one shared
 * database, through the library, then asks the real CLI about them.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import type { AiJob } from "../../src/domain/AiJob.js"
import * as path from "node:path"
import { type CliResult, lines, runCli, runCliWithBytes, tempDir, widest } from "./cli.js"
import {
  adoptedRunOf,
  allJobs,
  awaitingUserJob,
  completedJob,
  crashedRunAndLoneRun,
  eventsOf,
  failedJob,
  gcSummaries,
  idStartingWith,
  janitorPass,
  jobOf,
  jobWithNodes,
  jobWithEventsInOneMillisecond,
  migratedByCli,
  oldCancelledJobs,
  queuedJob,
  runsOf,
  stalledJob
} from "./fixtures.js"

/** A database the suite runs on. */
export interface CliDatabase {
  readonly name: string
  /** A fresh, empty database: a SQLite path or a postgres:// URL. */
  readonly create: () => Promise<string>
  readonly drop: (url: string) => Promise<void>
}

/** A refusal: exit `code`, nothing on stdout, exactly one line on stderr matching `pattern`. */
export const assertOneLineError = (result: CliResult, code: number, pattern: RegExp) => {
  assert.strictEqual(result.code, code, result.stderr)
  assert.strictEqual(result.stdout, "")
  const errorLines = lines(result.stderr)
  assert.strictEqual(errorLines.length, 1, result.stderr)
  assert.match(errorLines[0] ?? "", pattern)
  assert.notMatch(result.stderr, /\n\s+at /, "no stack trace")
}

const ok = (result: CliResult): string => {
  assert.strictEqual(result.code, 0, result.stderr)
  return result.stdout
}

/** What a command said, as one line (it wraps to the width it is given). */
const said = (result: CliResult): string => ok(result).replace(/\s+/g, " ").trim()

const short = (job: AiJob) => job.job_id.slice(-8)

/** The lifecycle events of a job, as `actor from→to reason`. */
const history = async (url: string, job: AiJob) =>
  (await eventsOf(url, job.job_id))
    .filter((event) => event.type === "system")
    .map((event) => `${event.actor} ${String(event.body["from_state"])}→${String(event.body["to_state"])} ${String(event.body["reason"] ?? "")}`.trim())

export const runOperatorSuite = (database: CliDatabase): void => {
  describe(`ai-jobs operator commands on ${database.name}`, () => {
    let url = ""
    const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => runCli([...args, "--database", url], { env })

    beforeAll(async () => {
      url = await database.create()
      await migratedByCli(url)
    }, 120_000)
    afterAll(() => database.drop(url))

    describe.concurrent("actions", { timeout: 120_000 }, () => {
      it("R18 jobs show of a pruned job says it was pruned and names the command that still reads its events; an id nothing names is a plain miss", async () => {
        const [old] = await oldCancelledJobs(url, 1)
        ok(await cli(["prune", "--older-than", "30d", "--keep", "0"]))
        assertOneLineError(await cli(["jobs", "show", old!.job_id]), 1, new RegExp(
          `^error: No job with id ${old!.job_id}: the job was pruned; the audit trail kept of it still names it \\(its events, by this job id\\) — read them: ai-jobs events --job ${old!.job_id}$`
        ))
        assert.include(ok(await cli(["events", "--job", old!.job_id])), "cancelled")
        assertOneLineError(await cli(["jobs", "show", "123e4567-e89b-42d3-a456-426614174999"]), 1, /^error: No job with id 123e4567-e89b-42d3-a456-426614174999$/)
      })

      it("R6 jobs resume <short id> --reason: a stalled job runs again under a new workflow run, recorded as a human action", async () => {
        const job = await stalledJob(url)
        assert.strictEqual(job.state, "stalled")
        const result = await cli(["jobs", "resume", short(job), "--reason", "disk replaced"])
        const after = await jobOf(url, job.job_id)
        assert.strictEqual(after.state, "running")
        assert.strictEqual(after.status_reason, "disk replaced")
        const runs = await runsOf(url, job.job_id)
        assert.deepStrictEqual(runs.map((run) => run.status), ["stalled", "running"], "the crashed run stays stalled; a new one runs")
        assert.strictEqual(after.workflow_run_id, runs[1]?.id)
        assert.strictEqual(said(result), `Resumed job ${job.job_id}: stalled → running, under new workflow run ${runs[1]?.id}.`)
        assert.deepStrictEqual((await history(url, job)).slice(-1), ["human stalled→running disk replaced"])
        // Offered to worker pools: a pool of its kind, in another process, takes the new run (once).
        assert.strictEqual(await adoptedRunOf(url, after), runs[1]?.id)
        assert.strictEqual(await adoptedRunOf(url, after), null)
      })

      it("R6 jobs rework <short id> --reason: a job awaiting the user runs again under a new workflow run offered to worker pools, recorded as a human action", async () => {
        // Its own kind: the resume test runs beside it on this database, and a pool's look takes every offered run of its kind.
        const job = await awaitingUserJob(url, { job_kind: "spec_router" })
        assert.strictEqual(job.state, "awaiting_user")
        const result = await cli(["jobs", "rework", short(job), "--reason", "user chose option B"])
        const after = await jobOf(url, job.job_id)
        assert.deepStrictEqual([after.state, after.status_reason], ["running", "user chose option B"])
        const runs = await runsOf(url, job.job_id)
        assert.strictEqual(runs.length, 2, "a rework runs under a new workflow run (R6c)")
        assert.strictEqual(after.workflow_run_id, runs[1]?.id)
        assert.strictEqual(said(result), `Reworked job ${job.job_id}: awaiting_user → running, under new workflow run ${runs[1]?.id}.`)
        assert.deepStrictEqual((await history(url, job)).slice(-1), ["human awaiting_user→running user chose option B"])
        // Offered to worker pools, as a resume's run is: a pool of its kind, in another process, takes it (once).
        assert.strictEqual(await adoptedRunOf(url, after), runs[1]?.id)
        assert.strictEqual(await adoptedRunOf(url, after), null)
        const json = JSON.parse(ok(await cli(["jobs", "rework", short(await awaitingUserJob(url)), "--json"]))) as {
          job: { state: string; workflow_run_id: string }
          run: { id: string; status: string }
        }
        assert.deepStrictEqual([json.job.state, json.run.status, json.job.workflow_run_id], ["running", "running", json.run.id])
      })

      it("R6 jobs rework of a job that is not awaiting the user is refused (exit 1, one line naming awaiting_user): no new run, no event", async () => {
        for (const job of [await stalledJob(url), await queuedJob(url)]) {
          const events = (await eventsOf(url, job.job_id)).length
          const runs = (await runsOf(url, job.job_id)).length
          assertOneLineError(
            await cli(["jobs", "rework", short(job)]),
            1,
            new RegExp(`^error: cannot rework job ${job.job_id}: it is ${job.state}; only jobs that are awaiting_user can be reworked$`)
          )
          assert.deepStrictEqual(await jobOf(url, job.job_id), job)
          assert.strictEqual((await runsOf(url, job.job_id)).length, runs)
          assert.strictEqual((await eventsOf(url, job.job_id)).length, events)
        }
      })

      it("R6 jobs list after a resume: the running job's row says why it runs, not the stall's error it no longer is in", async () => {
        const job = await stalledJob(url)
        ok(await cli(["jobs", "resume", short(job), "--reason", "host back"]))
        assert.match((await jobOf(url, job.job_id)).error_message ?? "", /^stalled/, "the row keeps the stall's error (jobs show prints it)")
        const listed = lines(ok(await cli(["jobs", "list", "--state", "running", "--limit", "1000"], { COLUMNS: "100" })))
        const at = listed.findIndex((line) => line.startsWith(short(job)))
        assert.isAtLeast(at, 0, listed.join("\n"))
        const row = [listed[at], ...listed.slice(at + 1).filter((_, i, rest) => rest.slice(0, i + 1).every((line) => /^\s/.test(line)))].join(" ")
        assert.include(row, "host back", row)
        assert.notInclude(row, "stalled", row)
      })

      it("R6 R9 jobs list shows a stalled job's own error (its last heartbeat and the threshold), as it does a failed or poisoned job's, not its bare status reason \"stalled\"", async () => {
        const job = await stalledJob(url)
        const error = job.error_message ?? ""
        assert.match(error, /last heartbeat .*, threshold 60s$/)
        assert.strictEqual(job.status_reason, "stalled")
        const listed = lines(ok(await cli(["jobs", "list", "--state", "stalled", "--limit", "1000"], { COLUMNS: "400" })))
        const row = listed.find((line) => line.startsWith(short(job)))
        assert.isDefined(row, listed.join("\n"))
        assert.isTrue(row!.endsWith(error), row)
      })

      it("R6c jobs retry <start of the id>: a failed job is queued again, recorded as a human action", async () => {
        const job = await failedJob(url, { job_id: idStartingWith(`a${Math.random().toString(16).slice(2, 9)}`) })
        const result = await cli(["jobs", "retry", job.job_id.slice(0, 13)])
        assert.strictEqual(said(result), `Retried job ${job.job_id}: failed → queued.`)
        assert.strictEqual((await jobOf(url, job.job_id)).state, "queued")
        assert.deepStrictEqual((await history(url, job)).slice(-1), ["human failed→queued"])
      })

      it("R6 jobs fail, then jobs retry: a stalled job goes back to the queue worker pools claim from, each step a human action", async () => {
        const job = await stalledJob(url)
        assert.strictEqual(said(await cli(["jobs", "fail", short(job), "--reason", "worker host lost"])), `Failed job ${job.job_id}: stalled → failed.`)
        const failed = await jobOf(url, job.job_id)
        assert.strictEqual(failed.state, "failed")
        assert.strictEqual(failed.error_message, "worker host lost")
        assert.strictEqual(said(await cli(["jobs", "retry", short(job)])), `Retried job ${job.job_id}: failed → queued.`)
        assert.strictEqual((await jobOf(url, job.job_id)).state, "queued")
        assert.deepStrictEqual((await history(url, job)).slice(-2), ["human stalled→failed worker host lost", "human failed→queued"])
      })

      it("R6 jobs cancel: a queued job is cancelled by a human; cancelling it again is refused (exit 1, one line) and changes nothing", async () => {
        const job = await queuedJob(url)
        assert.strictEqual(said(await cli(["jobs", "cancel", job.job_id, "--reason", "duplicate"])), `Cancelled job ${job.job_id}: queued → cancelled.`)
        const cancelled = await jobOf(url, job.job_id)
        assert.strictEqual(cancelled.state, "cancelled")
        const events = await eventsOf(url, job.job_id)
        assertOneLineError(
          await cli(["jobs", "cancel", short(job)]),
          1,
          new RegExp(`^error: cannot cancel job ${job.job_id}: it is cancelled; only jobs that are queued, running, stalled, awaiting_validation or awaiting_user can be cancelled$`)
        )
        assert.deepStrictEqual(await jobOf(url, job.job_id), cancelled)
        assert.strictEqual((await eventsOf(url, job.job_id)).length, events.length)
        assert.deepStrictEqual((await history(url, job)).slice(-1), ["human queued→cancelled duplicate"])
      })

      it("R6a jobs resume of a job that is not stalled is refused: exit 1, no new run, no event", async () => {
        const job = await completedJob(url)
        const events = (await eventsOf(url, job.job_id)).length
        assertOneLineError(
          await cli(["jobs", "resume", short(job)]),
          1,
          /^error: cannot resume job .*: it is completed; only jobs that are stalled can be resumed$/
        )
        assert.strictEqual((await runsOf(url, job.job_id)).length, 1)
        assert.strictEqual((await eventsOf(url, job.job_id)).length, events)
      })

      it("R6b jobs retry of a job that did not fail is refused: exit 1, nothing changed", async () => {
        const job = await completedJob(url)
        assertOneLineError(await cli(["jobs", "retry", short(job)]), 1, /^error: cannot retry job .*: it is completed; only jobs that are failed can be retried$/)
        assert.strictEqual((await jobOf(url, job.job_id)).state, "completed")
      })

      it("R18 jobs pin and unpin are audited human actions; pinning a pinned job changes nothing", async () => {
        const job = await completedJob(url)
        assert.strictEqual(said(await cli(["jobs", "pin", short(job), "--reason", "incident 7"])), `Pinned job ${job.job_id}: pruning keeps it.`)
        assert.isTrue((await jobOf(url, job.job_id)).is_pinned)
        const events = (await eventsOf(url, job.job_id)).length
        assert.strictEqual(said(await cli(["jobs", "pin", short(job)])), `Job ${job.job_id} is already pinned; nothing changed.`)
        assert.strictEqual((await eventsOf(url, job.job_id)).length, events, "no event for a pin that changed nothing")
        assert.match(ok(await cli(["jobs", "show", short(job)])), /pinned\s+yes/)
        assert.strictEqual(said(await cli(["jobs", "unpin", short(job)])), `Unpinned job ${job.job_id}: pruning may delete it again.`)
        assert.isFalse((await jobOf(url, job.job_id)).is_pinned)
        assert.deepStrictEqual((await history(url, job)).slice(-2), [
          "human completed→completed pinned: incident 7",
          "human completed→completed unpinned"
        ])
        assert.strictEqual((await jobOf(url, job.job_id)).state, "completed")
      })

      it("R18 a pin in a job's timeline is no transition: events --job and jobs show print - in FROM→TO, not completed→completed", async () => {
        const job = await completedJob(url)
        ok(await cli(["jobs", "pin", short(job), "--reason", "incident 8"]))
        for (const args of [["events", "--job", job.job_id], ["jobs", "show", short(job)]]) {
          const output = ok(await cli(args, { COLUMNS: "400" }))
          const pin = lines(output).find((line) => line.includes("pinned: incident 8"))
          assert.isDefined(pin, output)
          assert.notInclude(output, "completed→completed", output)
          assert.match(pin!, /\shuman\s+\S+\s+-\s+/, pin)
        }
      })

      it("R17 jobs show says when it shows only the oldest of a job's events (--events-limit), in its table and in --json, and how to read the rest", async () => {
        const job = await completedJob(url)
        const recorded = await eventsOf(url, job.job_id)
        assert.isAbove(recorded.length, 2, "a completed job has more events than the cap below")
        const shown = JSON.parse(ok(await cli(["jobs", "show", short(job), "--json", "--events-limit", "2"]))) as {
          events: ReadonlyArray<{ event_id: string }>
          events_truncated: boolean
          events_rest?: string
        }
        assert.deepStrictEqual(shown.events.map((event) => event.event_id), recorded.slice(0, 2).map((event) => event.event_id))
        assert.strictEqual(shown.events_truncated, true)
        assert.match(shown.events_rest ?? "", new RegExp(`^ai-jobs events --database ${url} --job ${job.job_id} --cursor \\S+$`))
        const table = await cli(["jobs", "show", short(job), "--events-limit", "2"], { COLUMNS: "400" })
        ok(table)
        assert.strictEqual(
          lines(table.stderr).join("\n"),
          `(showing the oldest 2 events of this job; more match: read the rest with ${shown.events_rest})`
        )
        // Under the cap: the whole history, said to be whole, and no notice.
        const whole = await cli(["jobs", "show", short(job), "--json", "--events-limit", String(recorded.length)])
        const all = JSON.parse(ok(whole)) as { events: ReadonlyArray<unknown>; events_truncated: boolean; events_rest?: string }
        assert.strictEqual(all.events.length, recorded.length)
        assert.strictEqual(all.events_truncated, false)
        assert.isUndefined(all.events_rest)
        assert.strictEqual(whole.stderr, "")
      })

      it("R14 jobs show gives a node's payload inline only up to 4096 bytes of JSON text; a longer one is left out (its size in the table, null beside an input_payload_ref { bytes, command } in --json), and jobs node <run-id> <sequence> shows that node in full", async () => {
        // JSON strings: their text is the same on both stores (jsonb's text form spaces only `:` and `,`).
        const long = "x".repeat(5000)
        const job = await jobWithNodes(url, 2, 0, (i) => (i === 0 ? long : "small"))
        const [run] = (await runsOf(url, job.job_id)).map((r) => r.id as string)
        type Node = { node_id: string; input_payload: unknown; input_payload_ref: { bytes: number; command: string } | null; output_payload_ref: unknown }
        const shown = JSON.parse(ok(await cli(["jobs", "show", short(job), "--json"]))) as { runs: ReadonlyArray<{ nodes: ReadonlyArray<Node> }> }
        const command = `ai-jobs jobs node ${run} 0 --database ${url}`
        assert.deepStrictEqual(
          shown.runs[0]!.nodes.map((node) => [node.node_id, node.input_payload, node.input_payload_ref, node.output_payload_ref]),
          [["node-0", null, { bytes: 5002, command }, null], ["node-1", "small", null, null]]
        )
        const table = ok(await cli(["jobs", "show", short(job)], { COLUMNS: "400" }))
        assert.include(table, "(5002 bytes, left out)")
        assert.include(table, `ai-jobs jobs node ${run} <seq> shows a node in full`)
        assert.notInclude(table, "x".repeat(100))
        // The command the reference names: the node in full.
        const full = JSON.parse(ok(await cli(["jobs", "node", run!, "0", "--json"]))) as { node_id: string; input_payload: unknown }
        assert.deepStrictEqual([full.node_id, full.input_payload], ["node-0", long])
        assert.include(ok(await cli(["jobs", "node", run!, "0"])), long)
        assertOneLineError(await cli(["jobs", "node", run!, "2"]), 1, /^error: No node execution with id .*\/2$/)
        assertOneLineError(await cli(["jobs", "node", run!, "1.5"]), 2, /sequence/)
        assertOneLineError(await cli(["jobs", "node", "not-a-run", "0"]), 2, /run id/)
      })

      it("R14 jobs show prints each run's first nodes (--nodes-limit) and the oldest runs (--runs-limit), says a cut in its table, in --json and on stderr; exactly the limit is no cut", async () => {
        const job = await jobWithNodes(url, 5, 2)
        const runs = (await runsOf(url, job.job_id)).map((run) => run.id as string)
        type Shown = {
          runs: ReadonlyArray<{ id: string; nodes: ReadonlyArray<{ node_id: string; sequence: number }>; nodes_truncated: boolean }>
          runs_truncated: boolean
        }
        const cut = await cli(["jobs", "show", short(job), "--json", "--nodes-limit", "3", "--runs-limit", "2"])
        const shown = JSON.parse(ok(cut)) as Shown
        assert.deepStrictEqual(shown.runs.map((run) => run.id), runs.slice(0, 2))
        assert.strictEqual(shown.runs_truncated, true)
        assert.deepStrictEqual(shown.runs[0]!.nodes.map((node) => node.node_id), ["node-0", "node-1", "node-2"])
        assert.deepStrictEqual(shown.runs.map((run) => run.nodes_truncated), [true, false])
        assert.deepStrictEqual(lines(cut.stderr), [
          "(showing the oldest 2 workflow runs of this job; more follow: show more with --runs-limit)",
          `(showing the first 3 node executions of run ${runs[0]}; more follow: show more with --nodes-limit, or page through them with GET /runs/${runs[0]}/nodes?cursor=2 of ai-jobs serve)`
        ])
        const table = await cli(["jobs", "show", short(job), "--nodes-limit", "3", "--runs-limit", "2"], { COLUMNS: "400" })
        const text = ok(table)
        assert.include(text, "Workflow runs (2, the oldest; more follow)")
        assert.include(text, "(the first 3 node executions; more follow)")
        assert.include(text, "node-2")
        assert.notInclude(text, "node-3")
        assert.notInclude(text, runs[2]!)
        assert.strictEqual(table.stderr, cut.stderr)

        const exact = await cli(["jobs", "show", short(job), "--json", "--nodes-limit", "5", "--runs-limit", "3"])
        const whole = JSON.parse(ok(exact)) as Shown
        assert.deepStrictEqual(whole.runs.map((run) => run.id), runs)
        assert.deepStrictEqual(whole.runs[0]!.nodes.map((node) => node.sequence), [0, 1, 2, 3, 4])
        assert.deepStrictEqual([whole.runs_truncated, whole.runs.map((run) => run.nodes_truncated)], [false, [false, false, false]])
        assert.strictEqual(exact.stderr, "")
        const plain = ok(await cli(["jobs", "show", short(job), "--nodes-limit", "5", "--runs-limit", "3"], { COLUMNS: "400" }))
        assert.include(plain, "Workflow runs (3)")
        assert.notInclude(plain, "more follow")
        // Parsed as --events-limit is (Parse.integer): one refusal each shows the option is checked.
        assertOneLineError(await cli(["jobs", "show", short(job), "--nodes-limit", "0"]), 2, /--nodes-limit/)
        assertOneLineError(await cli(["jobs", "show", short(job), "--runs-limit", "1.5"]), 2, /--runs-limit/)
      })

      it("R17 R10 jobs show's read-the-rest command (and events_rest) continues right after the last event shown: no repeat, no gap, with many events in one millisecond", async () => {
        const job = await jobWithEventsInOneMillisecond(url, 12)
        const recorded = (await eventsOf(url, job.job_id)).map((event) => event.event_id)
        assert.isAtLeast(recorded.length, 13)
        for (const cap of [1, 5, recorded.length - 1]) {
          const shown = JSON.parse(ok(await cli(["jobs", "show", short(job), "--json", "--events-limit", String(cap)]))) as {
            events: ReadonlyArray<{ event_id: string }>
            events_rest?: string
          }
          const rest = JSON.parse(ok(await runPrinted(`${shown.events_rest ?? ""} --json`))) as ReadonlyArray<{ event_id: string }>
          assert.deepStrictEqual(
            [...shown.events, ...rest].map((event) => event.event_id),
            recorded,
            `--events-limit ${cap}: what is shown, then what the hint reads, is the whole history once, in recorded order`
          )
        }
      })

      it("R10 events --cursor refuses a cursor no page gave, and one of the other order unless --order says it, as bad input", async () => {
        const job = await jobWithEventsInOneMillisecond(url, 3)
        assertOneLineError(await cli(["events", "--cursor", "bm90IGEgY3Vyc29y"]), 2, /^error: bad --cursor: Not a cursor returned by a previous page$/)
        const shown = JSON.parse(ok(await cli(["jobs", "show", short(job), "--json", "--events-limit", "1"]))) as { events_rest?: string }
        const cursor = /--cursor (\S+)$/.exec(shown.events_rest ?? "")?.[1] ?? ""
        assertOneLineError(
          await cli(["events", "--cursor", cursor, "--order", "newest"]),
          2,
          /^error: bad --cursor: it continues a listing oldest first; give --order oldest with it$/
        )
      })

      it("R10 actions print the job as JSON with --json, and resume its new workflow run", async () => {
        const job = await stalledJob(url)
        const resumed = JSON.parse(ok(await cli(["jobs", "resume", short(job), "--json"]))) as {
          job: { job_id: string; state: string; workflow_run_id: string }
          run: { id: string; status: string; job_id: string }
        }
        assert.strictEqual(resumed.job.job_id, job.job_id)
        assert.strictEqual(resumed.job.state, "running")
        assert.strictEqual(resumed.run.status, "running")
        assert.strictEqual(resumed.run.job_id, job.job_id)
        assert.strictEqual(resumed.job.workflow_run_id, resumed.run.id)
        const pinned = JSON.parse(ok(await cli(["jobs", "pin", short(job), "--json"]))) as Record<string, Record<string, unknown>>
        assert.deepStrictEqual(Object.keys(pinned), ["job"])
        assert.strictEqual(pinned["job"]?.["is_pinned"], true)
      })

      it("R5 an action on an id that names no job exits 1; a malformed id or a reason the recorder refuses exits 2; nothing changes", async () => {
        const job = await queuedJob(url)
        const before = (await eventsOf(url, job.job_id)).length
        assertOneLineError(await cli(["jobs", "cancel", "123e4567-e89b-42d3-a456-426614174000"]), 1, /^error: No job with id 123e4567-e89b-42d3-a456-426614174000$/)
        assertOneLineError(await cli(["jobs", "cancel", "12-zz"]), 2, /^error: malformed job id "12-zz"; expected a job id \(a UUID/)
        assertOneLineError(
          await cli(["jobs", "cancel", short(job), "--reason", "x".repeat(70_000)]),
          2,
          /^error: bad --reason: Invalid TransitionOptions: - reason: Expected at most 4000 characters, actual 70000$/
        )
        assert.strictEqual((await jobOf(url, job.job_id)).state, "queued")
        assert.strictEqual((await eventsOf(url, job.job_id)).length, before)
      })
    })

    /** A cut listing's notice with --json: the cursor and the command that reads on. */
    type ReadOn = { readonly next_cursor: string; readonly rest: string }

    /**
     * A command a notice printed, run as printed (through a shell) where DATABASE_URL names
     * another database, one that is not there: it must name the database it reads on in.
     */
    const runPrinted = (printed: string, env: Record<string, string> = {}) => {
      assert.isTrue(printed.startsWith(`ai-jobs `), printed)
      assert.include(printed, ` --database ${url} `, "names the database the cursor came from")
      return runCliWithBytes(printed.slice("ai-jobs ".length), { env: { DATABASE_URL: path.join(tempDir("elsewhere"), "none.db"), ...env } })
    }

    /**
     * Runs a listing with --json, then each command its notice gives, to the end: every row
     * read (by `key`), and each notice. At most 50 pages: a notice that never ends is a failure.
     */
    const readToEnd = async (args: ReadonlyArray<string>, key: string) => {
      const rows: Array<string> = []
      const notices: Array<ReadOn> = []
      let result = await cli([...args, "--json"])
      for (let page = 0;; page++) {
        assert.isBelow(page, 50, "the read-on commands end")
        rows.push(...(JSON.parse(ok(result)) as Array<Record<string, string>>).map((row) => row[key]!))
        if (result.stderr === "") break
        const notice = JSON.parse(result.stderr) as ReadOn
        assert.isTrue(notice.rest.endsWith(` --json --cursor ${notice.next_cursor}`), notice.rest)
        notices.push(notice)
        result = await runPrinted(notice.rest)
      }
      return { rows, notices }
    }

    /** A notice with its --since instant left out: "1h" ago is another instant in a later command. */
    const sinceElided = (notice: string) => notice.replace(/ --since \S+ /, " --since … ")

    /**
     * `command` (`events`, `jobs list`) with `filters`, 4 a page, read to its end by following the
     * --json notices: each of `expected` once, in order; the first notice repeats the filters as
     * parsed (a --since as an instant), and the text listing's notice is the same command but --json.
     * `newestFirst`: whether the listing reads newest first.
     */
    const readsOnWithFilters = async (
      command: ReadonlyArray<string>,
      key: string,
      noun: string,
      filters: ReadonlyArray<string>,
      expected: ReadonlyArray<string>,
      newestFirst: boolean
    ) => {
      const args = [...command, ...filters, "--limit", "4"]
      const { notices, rows } = await readToEnd(args, key)
      assert.deepStrictEqual(rows, expected, `${filters.join(" ")}: each ${noun} once, in order`)
      assert.strictEqual(notices.length, Math.ceil(expected.length / 4) - 1, filters.join(" "))
      const rest = notices[0]!.rest
      assert.match(rest, / --since \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z |^(?!.* --since )/)
      const table = await cli(args, { COLUMNS: "200" })
      ok(table)
      assert.strictEqual(
        sinceElided(table.stderr),
        sinceElided(`(showing the ${newestFirst ? "newest" : "oldest"} 4 ${noun}s; more match: read on with ${rest.replace(" --json", "")})\n`),
        "the same command but --json"
      )
      return rest
    }

    it("R18 audit: an operator's prune records its gc_summary as actor human, as retention and the job actions do; the Janitor's scheduled pass stays system", async () => {
      // A database of its own: a prune deletes every old job, and the summaries counted are this test's alone.
      const own = await database.create()
      try {
        await migratedByCli(own)
        await oldCancelledJobs(own, 2)
        const pruned = JSON.parse(ok(await runCli(["prune", "--older-than", "20d", "--keep", "0", "--json", "--database", own]))) as { readonly pruned: number }
        assert.strictEqual(pruned.pruned, 2)
        const [operator, ...none] = await gcSummaries(own)
        assert.deepStrictEqual(none, [], "one batch, one summary")
        assert.include(operator, { event_name: "gc_summary", actor: "human", items_pruned: 2, dry_run: false })
        await oldCancelledJobs(own, 1)
        const pass = await janitorPass(own, { olderThan: "20 days", keepNewest: 0 })
        assert.strictEqual(pass.pruned, 1)
        const summaries = await gcSummaries(own)
        assert.deepStrictEqual(summaries.map((summary) => [summary["actor"], summary["items_pruned"]]), [["human", 2], ["system", 1]])
      } finally {
        await database.drop(own)
      }
    }, 120_000)

    it("R9 recover says of each run it stalled whether its job was stalled with it: not for a run stalled alone (its job running under another run), in the table and in --json's stalled_jobs", async () => {
      // A database of its own: recovery stalls every stale run, other tests' crashed workers' too.
      const own = await database.create()
      try {
        await migratedByCli(own)
        const text = await crashedRunAndLoneRun(own)
        const rows = lines(ok(await runCli(["recover", "--threshold", "60", "--database", own])))
        assert.strictEqual(rows[0], "Recovered 2 stalled run(s) (threshold 60s).")
        assert.match(rows[1] ?? "", /^RUN\s+JOB\s+JOB STALLED\s+LAST HEARTBEAT$/)
        assert.sameMembers(rows.slice(2).map((row) => row.split(/\s{2,}/).slice(0, 3).join(" | ")), [
          `${text.run.id.slice(-8)} | ${short(text.job)} | yes`,
          `${text.lone.id.slice(-8)} | ${short(text.job)} | no (run alone)`
        ])
        const after = await jobOf(own, text.job.job_id)
        assert.deepStrictEqual([after.state, after.workflow_run_id], ["stalled", text.run.id], "the job was stalled with its own run only")

        const json = await crashedRunAndLoneRun(own)
        const report = JSON.parse(ok(await runCli(["recover", "--threshold", "60", "--json", "--database", own]))) as {
          readonly recovered: ReadonlyArray<{ readonly id: string; readonly job_id: string }>
          readonly stalled_jobs: ReadonlyArray<string>
        }
        assert.sameMembers(report.recovered.map((run) => `${run.id} ${run.job_id}`), [json.run.id, json.lone.id].map((id) => `${id} ${json.job.job_id}`))
        assert.deepStrictEqual(report.stalled_jobs, [json.job.job_id], "the job once, for the run it was stalled with")
      } finally {
        await database.drop(own)
      }
    }, 120_000)

    describe.concurrent("reading on after a cut listing", { timeout: 300_000 }, () => {
      it("R10 R17 events: a cut listing's notice gives the command that reads on (--cursor), in text and --json, with every filter; following the notices reads each event once", async () => {
        const job = await jobWithEventsInOneMillisecond(url, 7)
        const recorded = await eventsOf(url, job.job_id)
        const ids = recorded.map((event) => event.event_id as string)
        const diagnostics = recorded.filter((event) => event.type === "diagnostic").map((event) => event.event_id as string)
        assert.strictEqual(diagnostics.length, 7)
        assert.isAbove(ids.length, 8, "7 diagnostics and the submission's events")
        const combinations: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
          [["--job", short(job), "--type", "diagnostic", "--since", "1h"], diagnostics],
          [["--trace", job.trace_id, "--order", "newest"], [...ids].reverse()],
          [
            ["--trace", job.trace_id, "--type", "diagnostic,system", "--since", DateTime.formatIso(job.created_at), "--order", "newest"],
            recorded.filter((event) => event.type === "diagnostic" || event.type === "system").map((event) => event.event_id as string).reverse()
          ]
        ]
        for (const [filters, expected] of combinations) {
          const rest = await readsOnWithFilters(["events"], "event_id", "event", filters, expected, filters.includes("newest"))
          // Given as parsed: the whole job id, an instant rather than "1h ago" (the command reads the same rows later).
          if (filters.includes("--job")) assert.include(rest, `--job ${job.job_id} `)
        }
      })

      it("R17 jobs show's read-the-rest command, followed past 100 remaining events, is cut with a notice that reads on (--cursor): the whole history once", async () => {
        const job = await jobWithEventsInOneMillisecond(url, 230)
        const recorded = (await eventsOf(url, job.job_id)).map((event) => event.event_id as string)
        const shown = JSON.parse(ok(await cli(["jobs", "show", short(job), "--json", "--events-limit", "10"]))) as {
          events: ReadonlyArray<{ event_id: string }>
          events_rest?: string
        }
        const hint = shown.events_rest ?? ""
        const page = await runPrinted(hint, { COLUMNS: "200" })
        ok(page)
        assert.strictEqual(
          page.stderr.replace(/ --cursor [\w-]+\)\n$/, " --cursor …)\n"),
          `(showing the oldest 100 events; more match: read on with ai-jobs events --database ${url} --job ${job.job_id} --cursor …)\n`
        )
        const { notices, rows } = await readToEnd(hint.replace(` --database ${url}`, "").split(" ").slice(1), "event_id")
        assert.strictEqual(notices.length, 2, "221 events: pages of 100, 100 and 21")
        assert.deepStrictEqual([...shown.events.map((event) => event.event_id), ...rows], recorded)
      })

      it("R5 R7 jobs list --cursor: a cut listing's notice gives the command that reads on, in text and --json, with every filter; following the notices reads each job once", async () => {
        const kind = "distillation_eval"
        for (let i = 0; i < 4; i++) await queuedJob(url, { job_kind: kind })
        for (let i = 0; i < 2; i++) await failedJob(url, { job_kind: kind })
        const made = (await allJobs(url)).filter((job) => job.job_kind === kind).map((job) => job.job_id as string)
        assert.strictEqual(made.length, 6)
        const combinations: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
          [["--kind", kind], [...made].reverse()],
          [["--kind", kind, "--state", "queued,failed", "--since", "1h", "--order", "oldest"], made]
        ]
        for (const [filters, expected] of combinations) {
          await readsOnWithFilters(["jobs", "list"], "job_id", "job", filters, expected, !filters.includes("oldest"))
        }
      })

      it("R7 jobs list --cursor refuses, as bad input (exit 2), a cursor no page gave, one of events, and one of the other order unless --order says it; events refuses one of jobs", async () => {
        const job = await jobWithEventsInOneMillisecond(url, 3)
        await queuedJob(url)
        await queuedJob(url)
        const noticeOf = async (args: ReadonlyArray<string>) => JSON.parse((await cli([...args, "--limit", "1", "--json"])).stderr) as ReadOn
        const jobsCursor = (await noticeOf(["jobs", "list"])).next_cursor
        const eventsCursor = (await noticeOf(["events", "--job", job.job_id])).next_cursor
        assertOneLineError(await cli(["jobs", "list", "--cursor", "bm90IGEgY3Vyc29y"]), 2, /^error: bad --cursor: Not a cursor returned by a previous page$/)
        assertOneLineError(
          await cli(["jobs", "list", "--cursor", eventsCursor]),
          2,
          /^error: bad --cursor: Not a cursor returned by a previous page of jobs: it continues a listing of events$/
        )
        assertOneLineError(
          await cli(["events", "--cursor", jobsCursor]),
          2,
          /^error: bad --cursor: Not a cursor returned by a previous page of events: it continues a listing of jobs$/
        )
        assertOneLineError(
          await cli(["jobs", "list", "--cursor", jobsCursor, "--order", "oldest"]),
          2,
          /^error: bad --cursor: it continues a listing newest first; give --order newest with it$/
        )
      })
    })

    describe.concurrent("abbreviated job ids", { timeout: 120_000 }, () => {
      it("R5 jobs show and events --job take a job's short id (as tables print it) or the start of its id", async () => {
        const job = await failedJob(url)
        const byShort = JSON.parse(ok(await cli(["jobs", "show", short(job), "--json"]))) as { job: { job_id: string } }
        assert.strictEqual(byShort.job.job_id, job.job_id)
        const byStart = JSON.parse(ok(await cli(["jobs", "show", job.job_id.slice(0, 23).toUpperCase(), "--json"]))) as { job: { job_id: string } }
        assert.strictEqual(byStart.job.job_id, job.job_id)
        const events = JSON.parse(ok(await cli(["events", "--job", short(job), "--json"]))) as Array<{ job_id: string }>
        assert.deepStrictEqual(events.map((event) => event.job_id), (await eventsOf(url, job.job_id)).map(() => job.job_id))
        assert.isAbove(events.length, 2)
      })

      it("R5 an abbreviation that matches several jobs is refused: exit 2, one line naming them", async () => {
        const prefix = `b${Math.random().toString(16).slice(2, 9)}`
        const a = await queuedJob(url, { job_id: idStartingWith(`${prefix}1`) })
        const b = await queuedJob(url, { job_id: idStartingWith(`${prefix}2`) })
        const [first, second] = [a.job_id, b.job_id].sort()
        for (const args of [["jobs", "show", prefix], ["events", "--job", prefix], ["jobs", "cancel", prefix]]) {
          const flag = args[0] === "events" ? "--job" : "job id"
          assertOneLineError(
            await cli(args),
            2,
            new RegExp(`^error: ambiguous ${flag} "${prefix}": 2 jobs match \\(${first}, ${second}\\); give more of the id$`)
          )
        }
        assert.deepStrictEqual([(await jobOf(url, a.job_id)).state, (await jobOf(url, b.job_id)).state], ["queued", "queued"])
        assert.strictEqual(said(await cli(["jobs", "cancel", `${prefix}2`])), `Cancelled job ${b.job_id}: queued → cancelled.`)
      })

      it("R5 an abbreviation that matches no job exits 1 with one line; one that is no abbreviation exits 2", async () => {
        assertOneLineError(await cli(["jobs", "show", "fffffff0"]), 1, /^error: no job id starts or ends with "fffffff0"$/)
        assertOneLineError(await cli(["events", "--job", "ffff0"]), 1, /^error: no job id starts with "ffff0" among the stored jobs; the events of a job not stored \(denied, or pruned\) take its whole id$/)
        assertOneLineError(await cli(["jobs", "show", "abc"]), 2, /^error: malformed job id "abc"; expected a job id/)
        assertOneLineError(await cli(["events", "--job", "not-hex"]), 2, /^error: malformed --job "not-hex"; expected a job id/)
      })
    })

    // Its tests run at once, each a dozen or more CLI processes: 120 s was seen to run out at full-suite load.
    describe.concurrent("jobs list", { timeout: 300_000 }, () => {
      it("R5 jobs list shows the newest jobs first; --order oldest the other way; a cut listing says which end it shows", async () => {
        const created: Array<AiJob> = []
        for (const ago of ["3 minutes", "2 minutes", "1 minute"] as const) created.push(await queuedJob(url, { job_kind: "canvas_cluster" }, ago))
        const ids: Array<string> = created.map((job) => job.job_id)
        const listed = (result: CliResult) => (JSON.parse(ok(result)) as Array<{ job_id: string }>).map((job) => job.job_id)
        assert.deepStrictEqual(listed(await cli(["jobs", "list", "--kind", "canvas_cluster", "--json"])), [...ids].reverse())
        const newest = await cli(["jobs", "list", "--kind", "canvas_cluster", "--limit", "2", "--json"])
        assert.deepStrictEqual(listed(newest), [ids[2], ids[1]])
        assert.match(newest.stderr, new RegExp(`^\\{"next_cursor":"[\\w-]+","rest":"ai-jobs jobs list --database ${url} --kind canvas_cluster --limit 2 --json --cursor [\\w-]+"\\}\n$`))
        const oldest = await cli(["jobs", "list", "--kind", "canvas_cluster", "--order", "oldest", "--limit", "2", "--json"])
        assert.deepStrictEqual(listed(oldest), [ids[0], ids[1]])
        assert.match(oldest.stderr, new RegExp(`^\\{"next_cursor":"[\\w-]+","rest":"ai-jobs jobs list --database ${url} --kind canvas_cluster --order oldest --limit 2 --json --cursor [\\w-]+"\\}\n$`))
        const table = lines(ok(await cli(["jobs", "list", "--kind", "canvas_cluster"])))
        assert.deepStrictEqual(table.filter((line) => /^[0-9a-f]{8}\s/.test(line)).map((line) => line.slice(0, 8)), [...created].reverse().map(short))
        assertOneLineError(await cli(["jobs", "list", "--order", "sideways"]), 2, /^error: unknown --order "sideways"; expected one of newest, oldest$/)
      })

      it("R10 events takes the filters GET /events has: --run, --event, --until ([since, until)), --order newest; bad values are one line", async () => {
        const listed = (result: CliResult) => (JSON.parse(ok(result)) as Array<{ event_id: string }>).map((event) => event.event_id)
        const done = await completedJob(url, { job_kind: "doc_summarize" })
        const all = await eventsOf(url, done.job_id)
        const ids = all.map((event) => event.event_id as string)
        assert.isAtLeast(ids.length, 3)
        assert.deepStrictEqual(listed(await cli(["events", "--job", done.job_id, "--json"])), ids)
        assert.deepStrictEqual(listed(await cli(["events", "--job", done.job_id, "--order", "newest", "--json"])), [...ids].reverse())
        const cut = await cli(["events", "--job", done.job_id, "--order", "newest", "--limit", "1", "--json"])
        assert.deepStrictEqual(listed(cut), [ids[ids.length - 1]])
        assert.match(cut.stderr, new RegExp(`^\\{"next_cursor":"[\\w-]+","rest":"ai-jobs events --database ${url} --job ${done.job_id} --order newest --limit 1 --json --cursor [\\w-]+"\\}\n$`))
        const run = (await runsOf(url, done.job_id))[0]!.id as string
        const ofRun = all.filter((event) => event.workflow_run_id === run).map((event) => event.event_id as string)
        assert.isAtLeast(ofRun.length, 1)
        assert.isBelow(ofRun.length, ids.length, "the submit's events have no run")
        assert.deepStrictEqual(listed(await cli(["events", "--run", run, "--json"])), ofRun)
        assert.deepStrictEqual(listed(await cli(["events", "--event", ids[1]!, "--json"])), [ids[1]])
        // A job queued three minutes ago: its events are before "2m" ago; [since, until) at its own instant.
        const old = await queuedJob(url, { job_kind: "doc_summarize" }, "3 minutes")
        const oldEvents = (await eventsOf(url, old.job_id)).map((event) => event.event_id as string)
        assert.isAtLeast(oldEvents.length, 1)
        assert.deepStrictEqual(listed(await cli(["events", "--job", old.job_id, "--until", "2m", "--json"])), oldEvents)
        assert.deepStrictEqual(listed(await cli(["events", "--job", done.job_id, "--until", "2m", "--json"])), [])
        const at = DateTime.formatIso((await eventsOf(url, old.job_id))[0]!.timestamp)
        assert.deepStrictEqual(listed(await cli(["events", "--job", old.job_id, "--until", at, "--json"])), [])
        assert.deepStrictEqual(listed(await cli(["events", "--job", old.job_id, "--since", at, "--json"])), oldEvents)
        assertOneLineError(await cli(["events", "--run", "nope"]), 2, /^error: malformed --run "nope"; expected a UUID/)
        assertOneLineError(await cli(["events", "--event", "nope"]), 2, /^error: malformed --event "nope"; expected a UUID/)
        assertOneLineError(await cli(["events", "--until", "yesterday"]), 2, /^error: bad --until "yesterday"; expected a duration ago/)
        assertOneLineError(await cli(["events", "--order", "sideways"]), 2, /^error: unknown --order "sideways"; expected one of newest, oldest$/)
      })

      it("R1a jobs list --kind term_exec lists terminal_exec jobs, as submit accepts the alias", async () => {
        const job = await queuedJob(url, { job_kind: "term_exec", capability_profile_id: "Coder" })
        assert.strictEqual(job.job_kind, "terminal_exec")
        const listed = JSON.parse(ok(await cli(["jobs", "list", "--kind", "term_exec", "--json"]))) as Array<{ job_id: string; job_kind: string }>
        assert.include(listed.map((item) => item.job_id), job.job_id)
        assert.deepStrictEqual([...new Set(listed.map((item) => item.job_kind))], ["terminal_exec"])
      })

      it("R5 tables fit 80 columns through a pipe and use a wider terminal's COLUMNS", async () => {
        const failed = await failedJob(url, { job_kind: "asr_transcribe" })
        for (const args of [["jobs", "list"], ["events", "--job", short(failed)], ["jobs", "show", short(failed)]]) {
          const narrow = ok(await cli(args))
          assert.isAtMost(widest(narrow), 80, `${args.join(" ")}:\n${narrow}`)
          const wide = ok(await cli(args, { COLUMNS: "200" }))
          assert.isAtMost(widest(wide), 200)
          assert.isAbove(widest(wide), 80, `${args.join(" ")} uses the width it is given`)
        }
        const wide = lines(ok(await cli(["jobs", "list", "--kind", "asr_transcribe"], { COLUMNS: "200" })))
        assert.match(wide[0] ?? "", /^JOB\s+KIND\s+STATE\s+PROFILE\s+CREATED\s+UPDATED\s+REASON \/ ERROR$/)
        assert.match(wide[1] ?? "", new RegExp(`^${short(failed)}\\s+asr_transcribe\\s+failed\\s+Analyst\\s+.*ToolError: the tool crashed$`))
        const narrow = lines(ok(await cli(["jobs", "list", "--kind", "asr_transcribe"])))
        assert.notMatch(narrow[0] ?? "", /UPDATED/, "at 80 columns the least useful column is left out")
        assert.match(narrow.join("\n"), new RegExp(`${short(failed)}\\s+asr_transcribe\\s+failed.*\\n\\s{4}ToolError: the tool crashed`), "the reason moves under its row")
        assert.strictEqual((await allJobs(url)).find((job) => job.job_id === failed.job_id)?.state, "failed")
      })
    })
  })
}
