/**
 * The web console (issue 17.3, 17.4) in a real browser: headless Chromium
 * (Debian's `chromium`) driven by playwright-core, against `ai-jobs serve`
 * on a loopback port over a SQLite file seeded by the library itself.
 *
 * A missing browser fails every test here with the fix, never a skip.
 * The job page's screenshot is written to test-output/ (not committed).
 *
 * The page's clock is Playwright's, paused: the 5 s live refresh runs only
 * when a test moves the clock on, never between a wait and what follows it.
 * A view reached by a hash change is drawn after the navigation returns: each
 * test waits for something only the new view has before it acts or reads.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { repoRoot } from "../cli/cli.js"
import { services } from "../jobs/services.js"
import { consoleJob as job, countApiRequests, type RequestLog } from "./consoleBrowser.js"
import type { Served } from "./serveProcess.js"
import { serveConsole, type ServedConsole } from "./servedConsole.js"

const TOKEN = "console-test-token-0123456789"
/** Stored text that would run if the console ever put it in the page as HTML. */
const SCRIPT_REASON = `<script>window.__injected = "script"</script><img src=x onerror="window.__injected='img'">`
export const SCREENSHOT = path.join(repoRoot, "test-output", "console-job-page.png")
const START = new Date("2026-12-06T12:00:00Z")

interface Seeded {
  readonly scripted: AiJob
  readonly stalled: AiJob
  readonly completed: AiJob
  readonly failed: AiJob
  readonly awaitingUser: AiJob
}

/** The database an operator would find after a crash: jobs in several states, one stalled by recovery. */
const seed = (filename: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    // A worker claimed this one ten minutes ago and died: its heartbeat is that old.
    const stalled = yield* Effect.gen(function*() {
      const submitted = yield* jobs.submit(job({ job_kind: "doc_ingest", status_reason: "ingest inbox" }))
      yield* jobs.start(submitted.job_id)
      return submitted
    }).pipe(Effect.withClock(pastClock("10 minutes")))
    yield* Recovery.recoverStalledRuns()
    const completed = yield* jobs.submit(job({ status_reason: "summarise q3" }))
    yield* jobs.start(completed.job_id)
    yield* jobs.run(completed.job_id, (context) =>
      Effect.gen(function*() {
        yield* context.node({ node_id: "load", node_type: "fetch", input: { doc: "q3.md" } }, Effect.as(Effect.sleep("30 millis"), { chars: 1200 }))
        yield* context.node({ node_id: "summarize", node_type: "llm", input: { chars: 1200 } }, Effect.as(Effect.sleep("60 millis"), { summary: "ok" }))
      }))
    const failed = yield* jobs.submit(job({ job_kind: "sheet_transform" }))
    yield* jobs.start(failed.job_id)
    yield* jobs.fail(failed.job_id, "TransformFailed: column B is empty")
    // Its program asked the user: it waits for an operator's rework once the user has answered.
    const awaitingUser = yield* jobs.submit(job({ status_reason: "draft reply" }))
    yield* jobs.start(awaitingUser.job_id)
    yield* jobs.awaitValidation(awaitingUser.job_id)
    yield* jobs.awaitUser(awaitingUser.job_id, { reason: "which tone?" })
    const scripted = yield* jobs.submit(job({ status_reason: SCRIPT_REASON }))
    return {
      scripted: yield* jobs.get(scripted.job_id),
      stalled: yield* jobs.get(stalled.job_id),
      completed: yield* jobs.get(completed.job_id),
      failed: yield* jobs.get(failed.job_id),
      awaitingUser: yield* jobs.get(awaitingUser.job_id)
    } satisfies Seeded
  }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))

let tab: ServedConsole<Seeded> | undefined
let served: Served | undefined
let page: Page
let seeded: Seeded
let pageErrors: Array<string> = []

beforeAll(async () => {
  tab = await serveConsole("console", TOKEN, (filename) => Effect.runPromise(seed(filename)), { prepare: countApiRequests })
  served = tab.served
  page = tab.page
  pageErrors = tab.pageErrors
  seeded = tab.seeded
  await page.clock.install({ time: START })
  await page.clock.pauseAt(new Date(START.getTime() + 1000))
}, 180_000)

afterAll(async () => {
  await tab?.close()
})

/** The job list's rows as [short id, state] pairs, top to bottom. */
const listedRows = () =>
  page.$$eval("table.jobs tbody tr", (rows) =>
    rows.map((row) => [row.getAttribute("data-job-id") ?? "", row.querySelector(".badge")?.textContent ?? ""]))

const rowOf = (jobId: string) => page.locator(`table.jobs tr[data-job-id="${jobId}"]`)

/**
 * Presses `action` on the open job page with `reason`, an action that runs the job
 * under a new run; waits for the page to show it running, its second run, and the
 * action's event (the last row of the events table) saying `change`. Returns that
 * row's type, actor and summary, and the job's state and run count as the server holds them.
 */
const runAgainFromPage = async (jobId: string, action: string, reason: string, change: string) => {
  await page.fill("input[name=reason]", reason)
  await page.click(`button[data-action=${action}]`)
  await page.locator("section.job h1 .badge", { hasText: "running" }).waitFor()
  await page.locator(".timeline .run").nth(1).waitFor()
  const last = page.locator("section.job table.events tbody tr").last()
  await last.filter({ hasText: change }).waitFor()
  const cells = await last.locator("td").evaluateAll((cells) => cells.slice(1, 4).map((cell) => cell.textContent))
  const detail = await (await fetch(`${served!.url}jobs/${jobId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as {
    job: { state: string }
    runs: Array<unknown>
  }
  return { cells, held: [detail.job.state, detail.runs.length] }
}

/** How many requests for a list of jobs the page has sent so far. */
const listRequests = () =>
  page.evaluate(() => (globalThis as unknown as RequestLog).__apiRequests.filter((url) => /\/jobs\?/.test(url)).length)

describe("the web console in Chromium", { timeout: 120_000 }, () => {
  it("17.3 without a token it asks for one, refuses a wrong one, and lists the jobs newest first with the right one", async () => {
    await page.goto(`${served!.url}console/`)
    await page.locator("form.login").waitFor()
    await page.fill("input[name=token]", "not-the-token-at-all")
    await page.click("form.login button[type=submit]")
    await page.getByText("That token was refused.").waitFor()
    await page.fill("input[name=token]", TOKEN)
    await page.click("form.login button[type=submit]")
    await page.locator("table.jobs tbody tr").nth(4).waitFor()
    assert.deepStrictEqual(await listedRows(), [
      [seeded.scripted.job_id, "queued"],
      [seeded.awaitingUser.job_id, "awaiting user"],
      [seeded.failed.job_id, "failed"],
      [seeded.completed.job_id, "completed"],
      [seeded.stalled.job_id, "stalled"]
    ])
    // The health check is a load of its own, answered before or after the list.
    await page.locator("#health", { hasText: /healthy · schema \d+/ }).waitFor()
  })

  it("17.3 a <script> in a job's reason is shown as text and never runs, in the list and on the job's page", async () => {
    await page.goto(`${served!.url}console/#token=${TOKEN}`)
    // Taken from the link and replaced by #/jobs, in the task that draws the list: the list shown before is gone.
    await page.waitForURL(/#\/jobs$/)
    const reason = rowOf(seeded.scripted.job_id).locator("td.reason")
    await reason.waitFor()
    assert.strictEqual(await reason.textContent(), SCRIPT_REASON)
    assert.strictEqual(await reason.locator("script, img").count(), 0)
    await rowOf(seeded.scripted.job_id).locator("a").click()
    const text = page.locator(".reason-text")
    await text.waitFor()
    assert.strictEqual(await text.textContent(), SCRIPT_REASON)
    assert.strictEqual(await page.locator("main script, main img").count(), 0)
    assert.isUndefined(await page.evaluate(() => (globalThis as { __injected?: string }).__injected))
  })

  it("17.4 a stalled job's page shows its run and recovery event; resume moves it to running with a new run and a human event (screenshot written)", async () => {
    await page.goto(`${served!.url}console/#/attention`)
    await rowOf(seeded.stalled.job_id).waitFor()
    assert.sameMembers((await listedRows()).map(([id]) => id), [seeded.stalled.job_id, seeded.failed.job_id])
    await rowOf(seeded.stalled.job_id).locator("a").click()

    await page.locator("section.job h1 .badge", { hasText: "stalled" }).waitFor()
    assert.strictEqual(await page.locator(".timeline .run").count(), 1)
    assert.include(await page.locator("table.events").innerText(), "workflow_recovery")

    const resumed = await runAgainFromPage(seeded.stalled.job_id, "resume", "worker replaced", "stalled → running — worker replaced")
    assert.deepStrictEqual(resumed.cells, ["system", "human", "stalled → running — worker replaced"])
    // What the page says is what the server holds.
    assert.deepStrictEqual(resumed.held, ["running", 2])
    // For people to look at: the job page right after the resume (not committed).
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    assert.isAbove(fs.statSync(SCREENSHOT).size, 10_000)
  })

  it("R6 17.4 a job awaiting the user offers Rework (and no Resume); rework moves it to running under a new run with a human event", async () => {
    await page.goto(`${served!.url}console/#/jobs/${seeded.awaitingUser.job_id}`)
    await page.locator("section.job h1 .badge", { hasText: "awaiting user" }).waitFor()
    assert.strictEqual(await page.locator("button[data-action=resume]").count(), 0, "resume is a stalled job's")
    const reworked = await runAgainFromPage(seeded.awaitingUser.job_id, "rework", "user chose the formal tone", "awaiting_user → running — user chose the formal tone")
    assert.deepStrictEqual(reworked.cells, ["system", "human", "awaiting_user → running — user chose the formal tone"])
    assert.deepStrictEqual(reworked.held, ["running", 2])
    assert.strictEqual(await page.locator("button[data-action=rework]").count(), 0, "a running job is not reworked")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 the completed job's page draws its run and nodes as a timeline, each bar in proportion", async () => {
    await page.goto(`${served!.url}console/#/jobs/${seeded.completed.job_id}`)
    await page.locator(".timeline .node[data-node-id=summarize]").waitFor()
    assert.deepStrictEqual(
      await page.locator(".timeline .node[data-node-id] .label").allTextContents(),
      ["0. load fetch", "1. summarize llm"]
    )
    const widths = await page.locator(".timeline .node[data-node-id] .bar").evaluateAll((bars) =>
      bars.map((bar) => (bar as unknown as { readonly style: { readonly width: string } }).style.width))
    assert.lengthOf(widths, 2)
    assert.isTrue(widths.every((width) => /^[\d.]+%$/.test(width)), widths.join(","))
  })

  it("17.3 the trace link lists the job's events by trace id", async () => {
    await page.goto(`${served!.url}console/#/jobs/${seeded.failed.job_id}`)
    await page.locator(`a[href="#/events?trace_id=${seeded.failed.trace_id}"]`).click()
    // The job page has its own events table (without a Job column): wait for the
    // events view's rows, or the old page's table is read before the new one is drawn.
    await page.waitForURL(/#\/events\?trace_id=/)
    await page.locator("section:not(.job) table.events tbody tr td:nth-child(4) a").first().waitFor()
    const jobs = await page.$$eval("section:not(.job) table.events tbody tr td:nth-child(4) a", (links) => links.map((link) => link.getAttribute("title")))
    assert.isAbove(jobs.length, 2)
    assert.isTrue(jobs.every((id) => id === seeded.failed.job_id))
    assert.include(await page.locator("section:not(.job) table.events").innerText(), "running → failed")
  })

  it("17.3 live refresh: a change made elsewhere appears in the open list without a reload", async () => {
    await page.goto(`${served!.url}console/#/jobs`)
    await rowOf(seeded.scripted.job_id).locator(".badge", { hasText: "queued" }).waitFor()
    const cancelled = await fetch(`${served!.url}jobs/${seeded.scripted.job_id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "cancelled elsewhere" })
    })
    assert.strictEqual(cancelled.status, 200)
    await page.clock.runFor(5000)
    await rowOf(seeded.scripted.job_id).locator(".badge", { hasText: "cancelled" }).waitFor()
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 live refresh leaves an armed action alone: a button armed for its confirming click stays armed when a refresh is due", async () => {
    await page.goto(`${served!.url}console/#/attention`)
    const retry = rowOf(seeded.failed.job_id).locator("button", { hasText: "Retry" })
    await retry.waitFor()
    // The view's refresh is due 5 s after it began: armed 3 s in, it falls inside the button's 4 s window.
    await page.clock.runFor(3000)
    await retry.click()
    const armed = rowOf(seeded.failed.job_id).locator("button.armed", { hasText: "Confirm retry" })
    await armed.waitFor()
    const sent = await listRequests()
    await page.clock.runFor(2500)
    // The refresh rebuilt the rows and undid it: the operator's second click only armed it again (found by an outside probe).
    assert.strictEqual(await listRequests(), sent, "no refresh of the list while armed")
    assert.strictEqual(await armed.count(), 1, "still armed when the refresh was due")
    await armed.click()
    await rowOf(seeded.failed.job_id).waitFor({ state: "detached" })
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 a console link whose token fragment is not valid percent-encoding asks for the token, drops the fragment, and raises no error", async () => {
    // Run in the page, where these are the browser's own (the test's TypeScript has no DOM types).
    type Tab = { readonly location: { readonly hash: string }; readonly sessionStorage: Storage }
    type Storage = { clear(): void; getItem(key: string): string | null }
    await page.evaluate(() => (globalThis as unknown as Tab).sessionStorage.clear())
    await page.goto(`${served!.url}console/#token=%E0%A4%A`)
    await page.locator("form.login").waitFor()
    assert.notInclude(await page.evaluate(() => (globalThis as unknown as Tab).location.hash), "token")
    assert.isNull(await page.evaluate(() => (globalThis as unknown as Tab).sessionStorage.getItem("ai-jobs-token")))
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })
})
