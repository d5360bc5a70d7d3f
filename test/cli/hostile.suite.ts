/**
 * The operator CLI under hostile input (task h81), run unchanged on each
 * store: stored text written to drive a terminal (escape sequences, carriage
 * returns, bidirectional overrides — what a job's submitter or program may
 * put in a reason or an error) must reach the operator's screen as text, and
 * filters that name nothing must be refused rather than match nothing.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { lines, runCli } from "./cli.js"
import { eventsOf, jobOf, migratedByCli, queuedJob } from "./fixtures.js"
import { assertOneLineError, type CliDatabase } from "./operator.suite.js"

/** What a terminal would act on rather than show (src/cli/layout.ts `printable`). */
// eslint-disable-next-line no-control-regex
const ACTS_ON_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

/** A reason that retitles the window, recolours, overwrites the line, rings, and reverses what follows. */
const HOSTILE = "ok \u001b]0;pwned\u0007\u001b[31mred\u001b[0m\rover\b\b \u009b2J \u202egnp.exe"

export const runHostileCliSuite = (database: CliDatabase): void => {
  describe(`ai-jobs under hostile input on ${database.name}`, { timeout: 120_000 }, () => {
    let url = ""
    const cli = (args: ReadonlyArray<string>) => runCli([...args, "--database", url])

    beforeAll(async () => {
      url = await database.create()
      await migratedByCli(url)
    }, 120_000)
    afterAll(() => database.drop(url))

    it("R5 README CLI: stored text that would drive the terminal is shown escaped in jobs list, jobs show and events; --json keeps it exactly", async () => {
      const job = await queuedJob(url, { status_reason: HOSTILE })
      const short = job.job_id.slice(-8)
      const cancelled = await cli(["jobs", "cancel", short, "--reason", `bye ${HOSTILE}`])
      assert.strictEqual(cancelled.code, 0, cancelled.stderr)
      assert.notMatch(cancelled.stdout, ACTS_ON_TERMINAL)

      for (const args of [["jobs", "list", "--limit", "1000"], ["jobs", "show", short], ["events", "--job", short]]) {
        const result = await cli(args)
        assert.strictEqual(result.code, 0, result.stderr)
        assert.notMatch(result.stdout, ACTS_ON_TERMINAL, `${args.join(" ")} printed a control character`)
        assert.include(result.stdout, "\\u001b", `${args.join(" ")} shows the escape as text`)
      }
      const shown = (await cli(["jobs", "show", short])).stdout
      for (const escaped of ["\\u001b]0;pwned\\u0007", "\\u000dover\\u0008", "\\u009b2J", "\\u202egnp.exe"]) assert.include(shown, escaped)

      // Machines get the text as stored: one JSON document, the same characters.
      const listed = await cli(["jobs", "list", "--json", "--limit", "1000"])
      assert.strictEqual(listed.code, 0, listed.stderr)
      const items = JSON.parse(listed.stdout) as Array<{ job_id: string; status_reason: string }>
      assert.strictEqual(items.find((item) => item.job_id === job.job_id)?.status_reason, `bye ${HOSTILE}`)
      const events = JSON.parse((await cli(["events", "--job", short, "--json"])).stdout) as Array<{ reason?: string }>
      assert.include(events.map((event) => event.reason), `bye ${HOSTILE}`)
      assert.strictEqual((await jobOf(url, job.job_id)).status_reason, `bye ${HOSTILE}`, "the stored text is not rewritten")
    })

    it("R2 R12 README CLI: a filter list with no item (--state \"\", --kind \",\", --type \" \") is bad input: exit 2, one line, nothing read", async () => {
      const job = await queuedJob(url)
      const before = await eventsOf(url, job.job_id)
      const [state, kind, type] = await Promise.all([
        cli(["jobs", "list", "--state", ""]),
        cli(["jobs", "list", "--kind", ","]),
        cli(["events", "--type", " "])
      ])
      assertOneLineError(state, 2, /^error: unknown --state ""; expected one of queued, running, .*poisoned$/)
      assertOneLineError(kind, 2, /^error: unknown --kind ","; expected one of doc_edit, .* \(or the legacy alias term_exec\)$/)
      assertOneLineError(type, 2, /^error: unknown --type ""; expected one of workflow_recovery, .*security_violation$/)
      assert.deepStrictEqual(await eventsOf(url, job.job_id), before)
      assert.deepStrictEqual(lines(state.stdout), [])
    })

    it("R17 README CLI: an empty item in a filter list (--state queued, --kind ,doc_edit --type system,,diagnostic, a repeated empty value) is bad input as the HTTP API's ?state=queued, is: exit 2, one line naming the option, nothing read", async () => {
      const job = await queuedJob(url)
      const before = await eventsOf(url, job.job_id)
      const refused: ReadonlyArray<readonly [ReadonlyArray<string>, string, string]> = [
        [["jobs", "list", "--state", "queued,"], "--state", "queued,"],
        [["jobs", "list", "--state=queued,"], "--state", "queued,"],
        [["jobs", "list", "--state", "queued, "], "--state", "queued, "],
        [["jobs", "list", "--state", ",queued"], "--state", ",queued"],
        [["jobs", "list", "--state", "queued,,failed"], "--state", "queued,,failed"],
        [["jobs", "list", "--state", "failed", "--state", ""], "--state", "failed,"],
        [["jobs", "list", "--kind", "doc_edit,"], "--kind", "doc_edit,"],
        [["jobs", "list", "--kind", ",term_exec"], "--kind", ",term_exec"],
        [["events", "--type", "system,"], "--type", "system,"],
        [["events", "--type", "system,,diagnostic"], "--type", "system,,diagnostic"]
      ]
      const results = await Promise.all(refused.map(([args]) => cli(args)))
      results.forEach((result, i) => {
        const [args, flag, value] = refused[i]!
        const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        assertOneLineError(result, 2, new RegExp(`^error: bad ${escape(flag)} ${escape(JSON.stringify(value))}: item \\d+ of \\d+ is empty \\(a stray comma\\?\\)`))
        assert.include(result.stderr, flag, args.join(" "))
      })
      // Without the stray comma the same filters are read.
      const listed = await cli(["jobs", "list", "--state", "queued", "--kind", "doc_summarize,term_exec", "--json", "--limit", "1000"])
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.isTrue((JSON.parse(listed.stdout) as Array<{ state: string }>).every((item) => item.state === "queued"))
      assert.deepStrictEqual(await eventsOf(url, job.job_id), before)
    })
  })
}
