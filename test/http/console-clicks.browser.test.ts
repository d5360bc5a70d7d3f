/**
 * The web console's buttons under an impatient operator, in a real browser
 * (headless Chromium driven by playwright-core, as console.browser.test.ts):
 * "Load more" clicked again before its page arrives, and an action the server
 * refuses because the job changed elsewhere first (found by an outside tester).
 *
 * Each page counts, as it happens, the API requests it sends (an init script
 * wraps `fetch`), so "the second click sent nothing" is a fact read in the
 * same task as the clicks, not a wait.
 *
 * The page's clock is Playwright's, paused: the 5 s live refresh runs only when
 * a test moves the clock on. A refresh under way when "Load more" was clicked
 * made the click wait for it (no request yet), and one arriving after a failed
 * page cleared its error before it was seen.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import type { AiJob } from "../../src/domain/AiJob.js"
import { FlightRecorder } from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { answersRead, clickLoadMore, consoleJob as job, countApiRequests } from "./consoleBrowser.js"
import type { Served } from "./serveProcess.js"
import { serveConsole, type ServedConsole } from "./servedConsole.js"

const TOKEN = "console-clicks-token-0123456789"
/** More than the console's page of 50: the list has a second page of 10. */
const JOBS = 60
const START = new Date("2026-12-06T12:00:00Z")

interface Seeded {
  /** A queued job, pinned from its page by the stale-refresh test. */
  readonly first: AiJob
  /** A queued job, cancelled behind the console's back by the action test. */
  readonly target: AiJob
  /** How many Flight Recorder events the database holds. */
  readonly events: number
}

const seed = (filename: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const first = yield* jobs.submit(job({ status_reason: "job 1" }))
    for (let i = 2; i < JOBS; i++) yield* jobs.submit(job({ status_reason: `job ${i}` }))
    const target = yield* jobs.submit(job({ status_reason: "to be cancelled elsewhere" }))
    const recorder = yield* FlightRecorder
    const events = (yield* recorder.list({ limit: 1000 })).items.length
    return { first, target, events } satisfies Seeded
  }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))

let tab: ServedConsole<Seeded> | undefined
let served: Served | undefined
let page: Page
let seeded: Seeded
let pageErrors: Array<string> = []

beforeAll(async () => {
  tab = await serveConsole("console-clicks", TOKEN, (filename) => Effect.runPromise(seed(filename)), { prepare: countApiRequests })
  served = tab.served
  page = tab.page
  pageErrors = tab.pageErrors
  seeded = tab.seeded
  assert.isAbove(seeded.events, 50, "the events list has a second page")
  await page.clock.install({ time: START })
  await page.clock.pauseAt(new Date(START.getTime() + 1000))
}, 180_000)

afterAll(async () => {
  await tab?.close()
})

/** Clicks "Load more" twice in one task; returns how many requests for a next page those clicks sent. */
const clickMoreTwice = () => clickLoadMore(page, 2)

/** The keys of the listed rows (a job's id, an event's id), top to bottom. */
const jobKeys = () => page.$$eval("table.jobs tbody tr", (rows) => rows.map((row) => row.getAttribute("data-job-id") ?? ""))
const eventKeys = () =>
  page.$$eval("table.events tbody tr details[data-key]", (details) => details.map((node) => node.getAttribute("data-key") ?? ""))

describe("the console's buttons clicked again, or refused", { timeout: 120_000 }, () => {
  it("17.3 Load more clicked twice before its page arrives asks for the next page once: the Jobs list shows each job once", async () => {
    await page.goto(`${served!.url}console/#token=${TOKEN}`)
    await page.locator("table.jobs tbody tr").nth(49).waitFor()
    await page.locator("button.more").waitFor()
    assert.strictEqual(await clickMoreTwice(), 1, "one request for the second page")
    await page.locator("button.more").waitFor({ state: "hidden" })
    const keys = await jobKeys()
    assert.lengthOf(keys, JOBS)
    assert.lengthOf(new Set(keys), JOBS, "each job once")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 Load more clicked twice before its page arrives asks for the next page once: the Flight Recorder list shows each event once", async () => {
    await page.goto(`${served!.url}console/#/events`)
    await page.locator("table.events tbody tr").nth(49).waitFor()
    await page.locator("button.more").waitFor()
    assert.strictEqual(await clickMoreTwice(), 1, "one request for the second page")
    // Disabled by the click until its page is in (each job has several events: there may be a third page).
    const shown = Math.min(100, seeded.events)
    await page.locator("table.events tbody tr").nth(shown - 1).waitFor()
    await page.locator("button.more:not([disabled])").waitFor({ state: shown === seeded.events ? "hidden" : "visible" })
    const keys = await eventKeys()
    assert.lengthOf(keys, shown)
    assert.lengthOf(new Set(keys), shown, "each event once")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 a Load more that fails says why and can be clicked again; the retry, clicked twice, adds the page once", async () => {
    await page.goto(`${served!.url}console/#/jobs`)
    await page.locator("table.jobs tbody tr").nth(49).waitFor()
    const more = page.locator("button.more")
    await more.waitFor()
    await page.route(/\/jobs\?.*cursor=/, (route) => route.abort("connectionrefused"))
    assert.strictEqual(await clickMoreTwice(), 1, "one request for the second page")
    await page.locator(".table-status .error").waitFor()
    await page.locator("button.more:not([disabled])").waitFor()
    await page.unroute(/\/jobs\?.*cursor=/)
    assert.strictEqual(await clickMoreTwice(), 1, "one request for the second page, again")
    await more.waitFor({ state: "hidden" })
    const keys = await jobKeys()
    assert.lengthOf(keys, JOBS)
    assert.lengthOf(new Set(keys), JOBS, "each job once")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 an action the server refuses (the job was cancelled elsewhere first) says why and leaves its button usable, with no page error", async () => {
    await page.goto(`${served!.url}console/#/jobs/${seeded.target.job_id}`)
    const cancel = page.locator("button[data-action=cancel]")
    await cancel.waitFor()
    // No live refresh: the page keeps showing the job as it was when the operator looked.
    await page.uncheck(".job-top .toolbar input[type=checkbox]")
    const elsewhere = await fetch(`${served!.url}jobs/${seeded.target.job_id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "cancelled elsewhere" })
    })
    assert.strictEqual(elsewhere.status, 200)
    await cancel.click()
    await page.locator("#notice.error", { hasText: "Cancel failed" }).waitFor()
    assert.isTrue(await cancel.isEnabled(), "the button can be pressed again")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 a job page's refresh sent before an action and answered after the action's reload is not drawn: the page keeps the action's result", async () => {
    const id = seeded.first.job_id
    const jobPage = page.locator(`section.job[data-job-id="${id}"]`)
    await page.goto(`${served!.url}console/#/jobs/${id}`)
    await jobPage.locator("button[data-action=pin]").waitFor()
    // The refresh's request gets the job as it is now (unpinned); its answer is held until the test lets it through.
    let release = () => {}
    const released = new Promise<void>((resolve) => (release = resolve))
    let sent = () => {}
    const refreshSent = new Promise<void>((resolve) => (sent = resolve))
    let holding = true
    const detailOfJob = (url: URL) => url.pathname.endsWith(`/jobs/${id}`)
    await page.route(detailOfJob, async (route) => {
      if (!holding) return route.continue()
      holding = false
      const before = await route.fetch()
      sent()
      await released
      await route.fulfill({ response: before })
    })
    await page.clock.runFor(5000)
    await refreshSent
    await jobPage.locator("button[data-action=pin]").click()
    await jobPage.locator("button[data-action=unpin]").waitFor()
    release()
    // Read by the page: the first load, the action's reload, then the held refresh.
    await answersRead(page, `/jobs/${id}`, 3)
    await page.unroute(detailOfJob)
    assert.strictEqual(await jobPage.locator("button[data-action=unpin]").count(), 1, "still drawn as pinned")
    assert.strictEqual(await jobPage.locator("button[data-action=pin]").count(), 0, "not drawn as before the pin")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })
})
