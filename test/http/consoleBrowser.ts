/**
 * Headless Chromium (Debian's `chromium`) driven by playwright-core, for the
 * console's browser tests: one persistent context and its page, collecting
 * the page's uncaught errors. A missing browser fails with the fix, never a skip.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import type { JobRequestInput } from "../../src/domain/AiJob.js"

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"

/** A job request for the console's seeded databases. */
export const consoleJob = (overrides: Partial<JobRequestInput> = {}): JobRequestInput => ({
  job_kind: "doc_summarize",
  protocol_id: "hsk.console.v1",
  profile_id: "ops",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal",
  ...overrides
})

/** A launched browser: its context (to close), its page, and the page's errors so far. */
export interface ConsoleBrowser {
  readonly context: BrowserContext
  readonly page: Page
  readonly pageErrors: Array<string>
}

/**
 * The page's lists of the API requests it sent, in order, and of those whose
 * answer it has read (kept by `countApiRequests`).
 */
export type RequestLog = { __apiRequests: Array<string>; __apiAnswered: Array<string> }

/**
 * Makes each page of `context` list, as it happens, the requests it sends
 * (an init script wraps `fetch`), so "a click sent nothing" is a fact read in
 * the same task as the click, not a wait. It also lists each request whose
 * answer the console has read (`text()`): the console handles that answer in
 * the same task, so once it is listed, the answer is drawn or dropped.
 */
export const countApiRequests = (context: BrowserContext): Promise<unknown> =>
  context.addInitScript(() => {
    type Answer = { text(): Promise<string> }
    const tab = globalThis as unknown as RequestLog & { fetch: (input: unknown, init?: unknown) => Promise<Answer> }
    const original = tab.fetch.bind(globalThis)
    tab.__apiRequests = []
    tab.__apiAnswered = []
    tab.fetch = (input, init) => {
      tab.__apiRequests.push(String(input))
      return original(input, init).then((answer) => {
        const text = answer.text.bind(answer)
        answer.text = () =>
          text().then((body) => {
            tab.__apiAnswered.push(String(input))
            return body
          })
        return answer
      })
    }
  })

/** Waits until the page has read the answers of `count` requests whose URL ends with `path` (needs `countApiRequests`). */
export const answersRead = (page: Page, path: string, count: number): Promise<unknown> =>
  page.waitForFunction(
    ([path, count]) => (globalThis as unknown as RequestLog).__apiAnswered.filter((url) => url.endsWith(path)).length >= count,
    [path, count] as const
  )

/**
 * Clicks "Load more" `times` times in one task (a second click before the
 * page arrives) and returns how many requests for a next page those clicks
 * sent at once. Needs `countApiRequests`.
 */
export const clickLoadMore = (page: Page, times: number): Promise<number> =>
  page.evaluate((times) => {
    type Doc = { querySelector(selector: string): { click(): void } | null }
    const tab = globalThis as unknown as RequestLog & { document: Doc }
    const before = tab.__apiRequests.length
    const more = tab.document.querySelector("button.more")
    for (let i = 0; i < times; i++) more?.click()
    return tab.__apiRequests.slice(before).filter((url) => url.includes("cursor=")).length
  }, times)

/** What a test may set on the browser: its time zone (an IANA name), the machine's unless given. */
export interface ConsoleBrowserOptions {
  readonly timezoneId?: string
}

/** Launches Chromium with a fresh profile and a 1280×900 page; `prepare` runs on the context before the page exists. */
export const launchConsoleBrowser = async (
  prepare?: (context: BrowserContext) => Promise<unknown>,
  options: ConsoleBrowserOptions = {}
): Promise<ConsoleBrowser> => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `The console's browser test needs Chromium at ${CHROMIUM}, and it is missing. ` +
        "Install it with: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH). .ci/run does this."
    )
  }
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), "hsk-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    ...(options.timezoneId === undefined ? {} : { timezoneId: options.timezoneId }),
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"
    ]
  })
  await prepare?.(context)
  const page = context.pages()[0] ?? await context.newPage()
  page.setDefaultTimeout(20_000)
  const pageErrors: Array<string> = []
  page.on("pageerror", (error) => pageErrors.push(error.message))
  return { context, page, pageErrors }
}
