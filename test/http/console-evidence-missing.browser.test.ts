/**
 * FR-EVT-004 (spec §11.5) in the web console, in a real browser (headless
 * Chromium driven by playwright-core, as console.browser.test.ts): a job
 * whose events the retention purge removed showed an empty Flight Recorder
 * table and nothing else, as a job to which nothing happened. Its page now
 * says its evidence may be missing and why; a newer job's page says nothing.
 * The database is seeded and purged by the library (SQLite file); what the
 * page shows comes from `GET /jobs/:id`, alike on both stores.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Page } from "playwright-core"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import { FlightRecorder } from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { EvidenceMissing } from "../../src/domain/RetentionHorizon.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { consoleJob as job } from "./consoleBrowser.js"
import type { Served } from "./serveProcess.js"
import { serveConsole, type ServedConsole } from "./servedConsole.js"

const TOKEN = "console-evidence-token-0123456789"

interface Seeded {
  /** Submitted 30 days ago, still queued: the 7-day purge took its whole trail. */
  readonly old: AiJob
  /** Submitted after the purge. */
  readonly fresh: AiJob
  /** What the views say of the old job, as the library computes it. */
  readonly reason: string
}

const seed = (filename: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    // Queued, not started: `serve`'s startup recovery would stall a run this old, with a new event.
    const old = yield* jobs.submit(job({ status_reason: "waiting for a worker" })).pipe(Effect.withClock(pastClock("30 days")))
    yield* (yield* FlightRecorder).enforceRetention()
    const fresh = yield* jobs.submit(job({ status_reason: "after the purge" }))
    const missing: EvidenceMissing | null = (yield* jobs.history(old.job_id)).evidence_missing
    assert.isNotNull(yield* (yield* JobStore).retentionHorizon)
    return { old, fresh, reason: missing!.message } satisfies Seeded
  }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))

let tab: ServedConsole<Seeded> | undefined
let served: Served | undefined
let page: Page
let seeded: Seeded
let pageErrors: Array<string> = []

beforeAll(async () => {
  tab = await serveConsole("console-evidence", TOKEN, (filename) => Effect.runPromise(seed(filename)))
  served = tab.served
  page = tab.page
  pageErrors = tab.pageErrors
  seeded = tab.seeded
  await page.goto(`${served.url}console/#token=${TOKEN}`)
  await page.waitForURL(/#\/jobs$/)
}, 180_000)

afterAll(async () => {
  await tab?.close()
})

/** Opens a job's page and waits until it is drawn. */
const openJob = async (jobId: string) => {
  await page.goto(`${served!.url}console/#/jobs/${jobId}`)
  await page.locator(`section.job[data-job-id="${jobId}"] table.events`).waitFor()
}

describe("FR-EVT-004 the web console's job page: evidence missing due to retention", { timeout: 120_000 }, () => {
  it("FR-EVT-004 a live job whose events retention purged shows a notice naming the cutoff and the policy above its empty Flight Recorder table", async () => {
    await openJob(seeded.old.job_id)
    const notice = page.locator("section.job .evidence-missing")
    assert.strictEqual(await notice.textContent(), `Evidence may be missing: ${seeded.reason}.`)
    assert.match(seeded.reason, /^events before \S+Z were removed by the retention policy \(7d\)$/)
    assert.strictEqual(await page.locator("section.job table.events tbody tr").count(), 0)
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })

  it("FR-EVT-004 a job submitted after the purge shows no notice", async () => {
    await openJob(seeded.fresh.job_id)
    assert.strictEqual(await page.locator("section.job .evidence-missing").count(), 0)
    assert.isAbove(await page.locator("section.job table.events tbody tr").count(), 0)
  })
})
