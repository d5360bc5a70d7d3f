/**
 * Graceful shutdown (issue 11.3), SQLite file and PostgreSQL: a worker
 * process (shutdown-worker.ts, a `Jobs.worker` pool of 3) gets SIGTERM at a
 * seeded random point while it runs jobs — some short enough to finish
 * within its 600 ms drain time, some far longer. It must stop claiming,
 * finish what it can, release the rest to `queued` (a `running → queued`
 * event whose reason names the shutdown, the run ended `failed` with it),
 * and exit 0 within the drain time and a margin. A second worker process
 * then picks up every released job and completes it. Nothing is ever
 * `cancelled`, and the whole database passes the audit after every stop.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Jobs } from "../../src/Jobs.js"
import * as Storage from "../../src/store/DatabaseUrl.js"
import { services } from "../jobs/services.js"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { type Child, is, sleep, startChild } from "./children.js"
import { budgetMs, counts, seed, seedFor } from "./config.js"
import { audit } from "./invariants.js"
import { random } from "./random.js"
import { report } from "./report.js"
import { readPg, readSqlite, rowCount, type Snapshot } from "./snapshot.js"

const DRAIN_MS = 600
const JOBS_PER_STOP = 6
/** Exit after SIGTERM within the drain time plus this much (releasing, closing the store, exiting). */
const STOP_MARGIN_MS = 5_000

const stopped = async (child: Child): Promise<number> => {
  const message = await child.waitFor(is("stopped"), DRAIN_MS + STOP_MARGIN_MS)
  const exit = await child.exited
  assert.strictEqual(exit.code, 0, `the worker exited ${exit.code ?? exit.signal}: ${child.output()}`)
  return message.ms
}

const campaign = async (database: string, read: () => Promise<Snapshot>, part: string) => {
  const rng = random(seedFor(part))
  const runtime = ManagedRuntime.make(services(Storage.layerFromUrl(database)))
  const figures = { stops: 0, jobs: 0, handledAtStop: 0, finishedInDrain: 0, released: 0, completedByAnother: 0, maxStopMs: 0, audits: 0, rowsChecked: 0 }
  const check = async (context: string) => {
    const snapshot = await read()
    figures.audits += 1
    figures.rowsChecked += rowCount(snapshot)
    assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [], context)
    assert.deepStrictEqual(snapshot.jobs.filter((job) => job.status === "cancelled").map((job) => job.id), [], `${context}: no job cancelled`)
    assert.deepStrictEqual(snapshot.runs.filter((run) => run.status === "cancelled").map((run) => run.id), [], `${context}: no run cancelled`)
    return snapshot
  }
  try {
    for (let stop = 0; stop < counts.shutdownsPerDialect; stop++) {
      const context = `${part}, stop ${stop} (seed ${seed})`
      // Some jobs finish within the drain time, some never could.
      const ids = await runtime.runPromise(Effect.flatMap(Jobs, (jobs) =>
        Effect.forEach(Array.from({ length: JOBS_PER_STOP }), (_, index) =>
          Effect.map(jobs.submit({
            job_kind: "doc_summarize",
            protocol_id: "hsk.reliability.shutdown.v1",
            profile_id: "reliability",
            capability_profile_id: "Analyst",
            access_mode: "analysis_only",
            safety_mode: "normal",
            // The first job (claimed first) always outlasts the drain, so every stop exercises a release.
            job_inputs: { work_ms: index > 0 && rng.chance(0.5) ? rng.int(50, 300) : rng.int(3_000, 6_000) }
          }), (job) => job.job_id as string))))
      figures.jobs += ids.length

      const worker = await startChild("shutdown-worker.ts", { HSK_DATABASE: database, HSK_DRAIN_MS: String(DRAIN_MS) })
      try {
        await worker.waitFor(is("ready"), 60_000)
        // SIGTERM once the pool is busy, at a random moment of its work.
        const busyBy = Date.now() + 60_000
        while (worker.messages.filter(is("handling")).length < 3) {
          assert.isBelow(Date.now(), busyBy, `${context}: the worker never got busy: ${worker.output()}`)
          await sleep(10)
        }
        await sleep(rng.int(0, 250))
        worker.terminate()
        const ms = await stopped(worker)
        figures.stops += 1
        figures.maxStopMs = Math.max(figures.maxStopMs, ms)
        assert.isAtMost(ms, DRAIN_MS + STOP_MARGIN_MS, `${context}: the worker took ${ms} ms to stop`)
      } finally {
        await worker.kill()
      }

      const handled = worker.messages.filter(is("handling")).map((m) => m.job)
      const finished = new Set(worker.messages.filter(is("finished")).map((m) => m.job))
      const stopMs = worker.messages.find(is("stopped"))?.ms ?? 0
      if (handled.some((job) => !finished.has(job))) {
        assert.isAtLeast(stopMs, DRAIN_MS - 20, `${context}: unfinished work was released before the drain time passed`)
      }
      figures.handledAtStop += handled.length
      const afterStop = await check(`${context}, after SIGTERM`)
      const state = new Map(afterStop.jobs.map((job) => [job.id, job.status]))
      for (const job of handled) {
        // A program that finished was settled; any other was released, not cancelled.
        assert.strictEqual(state.get(job), finished.has(job) ? "completed" : "queued", `${context}: job ${job}`)
        if (finished.has(job)) figures.finishedInDrain += 1
        else figures.released += 1
      }
      const released = handled.filter((job) => !finished.has(job))
      for (const job of released) {
        const runs = afterStop.runs.filter((run) => run.job_id === job)
        assert.deepStrictEqual(runs.map((run) => run.status), ["failed"], `${context}: the released job's run ended failed`)
        const last = afterStop.events.filter((event) => event.job_id === job && event.type === "system").at(-1)
        assert.deepStrictEqual([last?.from_state, last?.to_state], ["running", "queued"], `${context}: the release has its event`)
      }
      for (const job of ids) if (!handled.includes(job)) assert.strictEqual(state.get(job), "queued", `${context}: a stopping pool claimed ${job}`)

      // Another worker picks up everything left and completes it.
      const other = await startChild("shutdown-worker.ts", { HSK_DATABASE: database, HSK_DRAIN_MS: "2000", HSK_FAST: "1" })
      try {
        await other.waitFor(is("ready"), 60_000)
        const deadline = Date.now() + 60_000
        for (;;) {
          const snapshot = await read()
          if (ids.every((id) => snapshot.jobs.find((job) => job.id === id)?.status === "completed")) break
          assert.isBelow(Date.now(), deadline, `${context}: the other worker did not complete the released jobs`)
          await sleep(100)
        }
        other.terminate()
        await stopped(other)
      } finally {
        await other.kill()
      }
      const final = await check(`${context}, after the other worker`)
      for (const job of released) {
        const runs = final.runs.filter((run) => run.job_id === job)
        assert.deepStrictEqual(runs.map((run) => run.status).sort(), ["completed", "failed"], `${context}: job ${job} ran again under a new run`)
      }
      figures.completedByAnother += released.length
    }
  } finally {
    await runtime.dispose()
  }
  report(part, { seed, drainMs: DRAIN_MS, ...figures })
  assert.isAbove(figures.released, 0, "some jobs outlasted the drain time and were released")
}

describe("reliability: graceful shutdown", () => {
  it("R6 a SQLite worker stopped with SIGTERM drains, releases its unfinished jobs, and another worker completes them; nothing is cancelled", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-shutdown-sqlite-"))
    try {
      const filename = path.join(dir, "jobs.db")
      await campaign(filename, async () => readSqlite(filename), "shutdown-sqlite")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, budgetMs(15_000, counts.shutdownsPerDialect))

  it("R6 a PostgreSQL worker stopped with SIGTERM drains, releases its unfinished jobs, and another worker completes them; nothing is cancelled", async () => {
    const url = await freshDatabaseUrl("reliability shutdown")
    try {
      await campaign(url, () => readPg(url), "shutdown-pg")
    } finally {
      await dropDatabase(url)
    }
  }, budgetMs(15_000, counts.shutdownsPerDialect))
})
