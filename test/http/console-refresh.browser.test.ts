/**
 * The console's live refresh of a long Jobs list, in a real browser
 * (headless Chromium driven by playwright-core, as console.browser.test.ts):
 * rows loaded past the API's largest page (1000) with "Load more" vanished at
 * the next refresh (found by an outside probe).
 *
 * The page's clock is Playwright's, paused: the 5 s refresh runs when the
 * test moves the clock on, not after a wait.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import { Jobs } from "../../src/Jobs.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { clickLoadMore, consoleJob as job, countApiRequests } from "./consoleBrowser.js"
import type { Served } from "./serveProcess.js"
import { serveConsole, type ServedConsole } from "./servedConsole.js"

const TOKEN = "console-refresh-token-0123456789"
/** Past the API's largest page of 1000: 22 pages of the console's 50, the last one of 10. */
const JOBS = 1060
const START = new Date("2026-12-06T12:00:00Z")

const seed = (filename: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    for (let i = 0; i < JOBS; i++) yield* jobs.submit(job({ status_reason: `job ${i}` }))
  }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))

let tab: ServedConsole<void> | undefined
let served: Served | undefined
let page: Page
let pageErrors: Array<string> = []

beforeAll(async () => {
  tab = await serveConsole("console-refresh", TOKEN, (filename) => Effect.runPromise(seed(filename)), { prepare: countApiRequests })
  served = tab.served
  page = tab.page
  pageErrors = tab.pageErrors
  await page.clock.install({ time: START })
  await page.clock.pauseAt(new Date(START.getTime() + 1000))
}, 180_000)

afterAll(async () => {
  await tab?.close()
})

const jobKeys = () => page.$$eval("table.jobs tbody tr", (rows) => rows.map((row) => row.getAttribute("data-job-id") ?? ""))

describe("the console's live refresh of a long list", { timeout: 120_000 }, () => {
  it("17.3 Jobs: a live refresh keeps every row loaded with Load more, past the API's page of 1000", async () => {
    await page.goto(`${served!.url}console/#token=${TOKEN}`)
    for (let shown = 50; shown < JOBS; shown += 50) {
      await page.locator("table.jobs tbody tr").nth(shown - 1).waitFor()
      await page.locator("button.more:not([disabled])").click()
    }
    await page.locator("table.jobs tbody tr").nth(JOBS - 1).waitFor()
    await page.locator("button.more").waitFor({ state: "hidden" })
    const loaded = await jobKeys()
    assert.lengthOf(new Set(loaded), JOBS, "each job once")

    const stamp = page.locator(".toolbar .muted")
    const before = await stamp.textContent()
    await page.clock.runFor(5000)
    await stamp.filter({ hasNotText: before ?? "" }).waitFor()
    assert.deepStrictEqual(await jobKeys(), loaded, "the same rows, in the same order")
    assert.isTrue(await page.locator("button.more").isHidden(), "nothing more to load")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 Jobs: a page loaded with Load more while a refresh is on its way is kept when the refresh arrives", async () => {
    // A fresh Jobs view: the list of the test before (1,060 rows, the same table) is gone once
    // the attention view is drawn, so the rows waited for are the new view's.
    await page.goto(`${served!.url}console/#/attention`)
    await page.getByRole("heading", { name: "Stalled & failed", exact: true }).waitFor()
    await page.goto(`${served!.url}console/#/jobs`)
    await page.getByRole("heading", { name: "Jobs", exact: true }).waitFor()
    await page.locator("table.jobs tbody tr").nth(49).waitFor()
    await page.locator("button.more:not([disabled])").click()
    await page.locator("table.jobs tbody tr").nth(99).waitFor()
    await page.locator("button.more:not([disabled])").waitFor()

    // The refresh of the 100 rows shown is held on its way until the test lets it through.
    let release = () => {}
    const released = new Promise<void>((resolve) => (release = resolve))
    let sent = () => {}
    const refreshSent = new Promise<void>((resolve) => (sent = resolve))
    const refreshOfShown = (url: URL) => url.pathname.endsWith("/jobs") && url.searchParams.get("limit") === "100"
    await page.route(refreshOfShown, async (route) => {
      sent()
      await released
      await route.continue()
    })
    await page.clock.runFor(5000)
    await refreshSent
    if (await clickLoadMore(page, 1) > 0) {
      // A console that sends the page at once: it arrives before the refresh does.
      await page.locator("table.jobs tbody tr").nth(149).waitFor()
    }
    await page.clock.runFor(1000)
    const refreshedAt = await page.evaluate(() => new Date().toLocaleTimeString())
    release()
    await page.locator(".toolbar .muted", { hasText: `Updated ${refreshedAt}` }).waitFor()
    await page.locator("button.more:not([disabled])").waitFor()
    await page.unroute(refreshOfShown)
    const keys = await jobKeys()
    assert.lengthOf(keys, 150, "the refreshed 100 and the page after them")
    assert.lengthOf(new Set(keys), 150, "each job once")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })
})
