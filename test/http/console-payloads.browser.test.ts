/**
 * R14 in the web console, in a real browser (headless Chromium driven by
 * playwright-core, as console.browser.test.ts): a job's page gets a node's
 * payload inline only up to 4096 bytes of JSON text (`GET /jobs/:id`); a
 * longer one is shown as its size and a button that loads it from its
 * `href` (`GET /runs/:id/nodes/:sequence`). The database is seeded by the
 * library (SQLite file); the detail's shape is alike on both stores
 * (test/http/api.suite.ts).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Jobs } from "../../src/Jobs.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { answersRead, consoleJob as job, countApiRequests } from "./consoleBrowser.js"
import { serveConsole, type ServedConsole } from "./servedConsole.js"

const TOKEN = "console-payloads-token-0123456789"
/** A JSON string of 5002 bytes of text: over the 4096 inlined. */
const LONG = "x".repeat(5000)

/** A completed job of two nodes: `load` gave a large output, the rest is small. */
interface Seeded {
  readonly job: { readonly job_id: string }
  readonly runId: string
}

const seed = (filename: string): Effect.Effect<Seeded, unknown> =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const submitted = yield* jobs.submit(job({ status_reason: "summarise a long document" }))
    const { run } = yield* jobs.start(submitted.job_id)
    yield* jobs.run(submitted.job_id, (context) =>
      Effect.gen(function*() {
        yield* context.node({ node_id: "load", node_type: "fetch", input: { doc: "long.md" } }, Effect.succeed(LONG))
        yield* context.node({ node_id: "summarize", node_type: "llm", input: { chars: 5000 } }, Effect.succeed({ summary: "ok" }))
      }))
    return { job: submitted, runId: run.id }
  }).pipe(Effect.provide(services(SqliteStore.layer({ filename }))))

let tab: ServedConsole<Seeded> | undefined

beforeAll(async () => {
  tab = await serveConsole("console-payloads", TOKEN, (filename) => Effect.runPromise(seed(filename)), { prepare: countApiRequests })
  await tab.page.goto(`${tab.served.url}console/#token=${TOKEN}`)
  await tab.page.waitForURL(/#\/jobs$/)
}, 180_000)

afterAll(async () => {
  await tab?.close()
})

/** A node's payload columns on the job's page, its details opened: [input, output] as shown. */
const payloadsOf = async (nodeId: string) => {
  const { page } = tab!
  const node = page.locator(`.timeline .node[data-node-id=${nodeId}]`)
  await node.locator("details.payloads > summary").click()
  return node.locator("details.payloads .cols > div")
}

describe("R14 the web console's job page: payloads over 4096 bytes on demand", { timeout: 120_000 }, () => {
  it("R14 a node's payload over 4096 bytes shows its size and a button that loads it; a small one is inline", async () => {
    const { page, served, seeded, pageErrors } = tab!
    await page.goto(`${served.url}console/#/jobs/${seeded.job.job_id}`)
    await page.locator(".timeline .node[data-node-id=summarize]").waitFor()

    const load = await payloadsOf("load")
    assert.strictEqual(await load.nth(0).locator("pre.json").textContent(), JSON.stringify({ doc: "long.md" }, null, 2), "the small input is inline")
    const button = load.nth(1).locator("button.load-payload")
    assert.strictEqual(await button.count(), 1, "the large output is a button")
    assert.strictEqual(await button.textContent(), "load output (5002 bytes)")
    assert.strictEqual(await load.nth(1).locator("pre.json").count(), 0, "the large output is not on the page before the click")

    const href = `/runs/${seeded.runId}/nodes/0`
    await button.click()
    await answersRead(page, href, 1)
    assert.strictEqual(await load.nth(1).locator("pre.json").textContent(), JSON.stringify(LONG, null, 2), "the output in full after the click")
    assert.strictEqual(await load.nth(1).locator("button.load-payload").count(), 0, "the button gives way to the payload")

    const summarize = await payloadsOf("summarize")
    assert.deepStrictEqual(
      await summarize.locator("pre.json").allTextContents(),
      [JSON.stringify({ chars: 5000 }, null, 2), JSON.stringify({ summary: "ok" }, null, 2)],
      "both small payloads inline"
    )
    assert.strictEqual(await summarize.locator("button.load-payload").count(), 0)
    assert.deepStrictEqual(pageErrors, [], "the page raised no error")
  })
})
