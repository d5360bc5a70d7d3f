/**
 * The console's filters re-applied, in a real browser (headless Chromium
 * driven by playwright-core, as console.browser.test.ts) whose time zone is
 * America/New_York, where 2026-11-01 01:00–02:00 happens twice (found by an
 * outside probe: a shared link's time filter shifted when the form was
 * applied again).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import { Jobs } from "../../src/Jobs.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { consoleJob as job } from "./consoleBrowser.js"
import type { Served } from "./serveProcess.js"
import { serveConsole, type ServedConsole } from "./servedConsole.js"

const TOKEN = "console-filters-token-0123456789"
/** 01:30 EST, the second 01:30 of New York's fall-back night (05:30Z is the first, EDT). */
const REPEATED_HOUR = "2026-11-01T06:30:00.000Z"
/** An instant with seconds and milliseconds, as a shared link may hold. */
const PRECISE = "2026-12-06T06:29:59.500Z"

const seed = (filename: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    yield* jobs.submit(job({ status_reason: "listed" }))
  }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))

let tab: ServedConsole<void> | undefined
let served: Served | undefined
let page: Page
let pageErrors: Array<string> = []

beforeAll(async () => {
  tab = await serveConsole("console-filters", TOKEN, (filename) => Effect.runPromise(seed(filename)), { timezoneId: "America/New_York" })
  served = tab.served
  page = tab.page
  pageErrors = tab.pageErrors
}, 180_000)

afterAll(async () => {
  await tab?.close()
})

/** The page's hash parameters, as the console's router reads them. */
const hashParams = async () => {
  const hash = await page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash)
  return Object.fromEntries(new URLSearchParams(hash.split("?")[1] ?? ""))
}

describe("the console's time filters applied again", { timeout: 120_000 }, () => {
  it("17.3 Jobs: Apply after changing another filter sends an untouched time filter exactly as the link had it (milliseconds, a repeated DST hour)", async () => {
    await page.goto(`${served!.url}console/#token=${TOKEN}`)
    await page.locator("table.jobs tbody tr").first().waitFor()
    await page.goto(`${served!.url}console/#/jobs?created_after=${REPEATED_HOUR}&created_before=${PRECISE}`)
    // The list shown before has the same form: wait for the fields only the linked view fills, or
    // the old form is changed and applied before the link's view is drawn.
    await page.locator(`input[name=created_before][value="2026-12-06T01:29:59"]`).waitFor()
    await page.selectOption("select[name=job_kind]", "doc_edit")
    await page.click("form.filters button[type=submit]")
    await page.waitForURL(/job_kind=doc_edit/)
    assert.deepStrictEqual(await hashParams(), { job_kind: "doc_edit", created_after: REPEATED_HOUR, created_before: PRECISE })
    // The applied view draws its kind as chosen by the link (an attribute), the form it replaces only as the user's choice.
    await page.locator("select[name=job_kind] option[value=doc_edit][selected]").waitFor({ state: "attached" })
    // Shown in New York time, to the second.
    assert.strictEqual(await page.inputValue("input[name=created_after]"), "2026-11-01T01:30")
    assert.strictEqual(await page.inputValue("input[name=created_before]"), "2026-12-06T01:29:59")
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 Events: Apply after ticking a type sends an untouched since exactly as the link had it", async () => {
    await page.goto(`${served!.url}console/#/events?since=${REPEATED_HOUR}`)
    await page.locator(`input[name=since][value="2026-11-01T01:30:00"]`).waitFor()
    await page.check("input[name=type][value=system]")
    await page.click("form.filters button[type=submit]")
    await page.waitForURL(/type=system/)
    assert.deepStrictEqual(await hashParams(), { type: "system", since: REPEATED_HOUR })
    await page.goto(`${served!.url}console/#/events?since=${PRECISE}`)
    // The events view shown before has a since field too: wait for the one this link fills.
    await page.locator(`input[name=since][value="2026-12-06T01:29:59"]`).waitFor()
    await page.check("input[name=type][value=diagnostic]")
    await page.click("form.filters button[type=submit]")
    await page.waitForURL(/type=diagnostic/)
    assert.deepStrictEqual(await hashParams(), { type: "diagnostic", since: PRECISE })
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("17.3 a time the user enters is read to the second in their time zone", async () => {
    await page.goto(`${served!.url}console/#/jobs?created_after=${PRECISE}`)
    await page.locator(`input[name=created_after][value="2026-12-06T01:29:59"]`).waitFor()
    await page.fill("input[name=created_after]", "2026-12-06T01:29:58")
    assert.isTrue(await page.$eval("input[name=created_after]", (field) => (field as unknown as { validity: { valid: boolean } }).validity.valid), "a time with seconds is a valid entry")
    await page.click("form.filters button[type=submit]")
    await page.waitForURL(/06%3A29%3A58|06:29:58/)
    assert.deepStrictEqual(await hashParams(), { created_after: "2026-12-06T06:29:58.000Z" })
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })
})
