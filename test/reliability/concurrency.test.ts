/**
 * Concurrency on PostgreSQL (issue 8, part 2): four worker processes on one
 * database submit, claim, run, operate (resume, retry, rework, complete,
 * cancel — also each other's jobs) and scan for stale runs at once; one of
 * them is SIGKILLed mid-way and replaced, so the others' recovery scans have
 * real work. While they run, the test samples consistent snapshots: no job
 * has two running runs, no terminal state ever changes. At the end: every
 * job's runs match its claims one to one, every event is accounted for, no
 * submitted job is lost.
 */
import { assert, describe, it } from "@effect/vitest"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { type Child, is, sleep, startChild } from "./children.js"
import { counts, seed, seedFor } from "./config.js"
import { audit } from "./invariants.js"
import type { WorkerMessage } from "./protocol.js"
import { random } from "./random.js"
import { report } from "./report.js"
import { readPg, rowCount } from "./snapshot.js"

const PROCESSES = 4
const TERMINAL = new Set(["completed", "completed_with_issues", "cancelled", "poisoned"])

describe("reliability: four PostgreSQL processes at once", () => {
  it("R6 R9 concurrent submitters, claimers, runners and recoverers never claim a job twice, never overwrite a terminal state, and account for every event", async () => {
    const url = await freshDatabaseUrl("reliability concurrency")
    const rng = random(seedFor("concurrency"))
    console.log(`[reliability] concurrency: seed ${seed}, ${PROCESSES} processes for ${counts.concurrencyMs} ms`)
    const children: Array<Child> = []
    const start = async (durationMs: number) => {
      const child = await startChild("worker-process.ts", {
        HSK_MODE: "concurrent",
        HSK_DATABASE: url,
        HSK_SEED: String(rng.int(1, 2 ** 31 - 1)),
        HSK_DURATION_MS: String(durationMs)
      })
      children.push(child)
      return child
    }
    try {
      // The first process migrates the fresh database; the rest start together once it is ready.
      const first = await start(counts.concurrencyMs)
      await first.waitFor(is("ready"), 60_000)
      for (let i = 1; i < PROCESSES; i++) await start(counts.concurrencyMs)
      await Promise.all(children.map((child) => child.waitFor(is("ready"), 60_000)))
      const began = Date.now()

      // Sample while they work; kill one process at a random point and replace it.
      const killAt = began + rng.int(Math.floor(counts.concurrencyMs * 0.2), Math.floor(counts.concurrencyMs * 0.6))
      let killed: Child | undefined
      let lastKillAt = 0
      const terminalSeen = new Map<string, string>()
      let samples = 0
      let rowsChecked = 0
      while (Date.now() - began < counts.concurrencyMs) {
        if (killed === undefined && Date.now() >= killAt) {
          killed = children[rng.int(0, PROCESSES - 1)]!
          await killed.kill()
          lastKillAt = Date.now()
          await start(Math.max(1_000, counts.concurrencyMs - (Date.now() - began)))
        }
        const snapshot = await readPg(url)
        samples += 1
        rowsChecked += rowCount(snapshot)
        const problems = audit(snapshot, { quiescent: false })
        for (const job of snapshot.jobs) {
          const before = terminalSeen.get(job.id)
          if (before !== undefined && before !== job.status) problems.push(`job ${job.id} left terminal state ${before} for ${job.status}`)
          if (TERMINAL.has(job.status)) terminalSeen.set(job.id, job.status)
        }
        assert.deepStrictEqual(problems, [], `sample ${samples} (seed ${seed})`)
        await sleep(150)
      }
      await Promise.all(children.filter((child) => child !== killed).map((child) => child.waitFor(is("done"), 60_000)))
      await Promise.all(children.map((child) => child.exited))

      // One restart recovers what the killed process left running; then the database must be quiescent and whole.
      const final = await startChild("worker-process.ts", {
        HSK_MODE: "crash",
        HSK_DATABASE: url,
        HSK_SEED: "1",
        HSK_RECOVER_AT: String(Math.max(lastKillAt, Date.now()) + 1_150)
      })
      await final.waitFor(is("recovered"), 60_000)
      final.send("stop")
      await final.exited

      const messages = [...children, final].flatMap((child) => child.messages)
      const errors = messages.filter((m): m is Extract<WorkerMessage, { t: "error" | "fatal" }> => m.t === "error" || m.t === "fatal")
      assert.deepStrictEqual(errors.map((e) => e.t === "error" ? `${e.where}: ${e.tag} ${e.code ?? ""} ${e.detail.split("\n")[0]}` : `fatal: ${e.detail}`), [], "no storage error or defect in any process")

      const submitted = new Set(messages.flatMap((m) => m.t === "submitted" ? [m.job] : []))
      const intended = new Set(messages.flatMap((m) => m.t === "intent" ? [m.job] : []))
      const snapshot = await readPg(url)
      rowsChecked += rowCount(snapshot)
      const problems = audit(snapshot, { quiescent: true, submitted, intended })
      for (const [id, status] of terminalSeen) {
        const now = snapshot.jobs.find((job) => job.id === id)?.status
        if (now !== status) problems.push(`job ${id} left terminal state ${status} for ${now}`)
      }
      assert.deepStrictEqual(problems, [], `final audit (seed ${seed})`)

      // Each handled run was handled by exactly one process.
      const handled = messages.flatMap((m) => m.t === "handling" ? [m.run] : [])
      assert.strictEqual(new Set(handled).size, handled.length, "no run handled twice")
      const claimers = new Map<string, number>()
      children.forEach((child, index) => {
        for (const m of child.messages) if (m.t === "handling") claimers.set(m.job, (claimers.get(m.job) ?? 0) | (1 << index))
      })
      const scans = messages.flatMap((m) => m.t === "scan" ? m.runs : [])
      const figures = {
        seed,
        processes: PROCESSES,
        durationMs: counts.concurrencyMs,
        samples,
        rowsChecked,
        jobs: snapshot.jobs.length,
        runs: snapshot.runs.length,
        events: snapshot.events.length,
        runsHandled: handled.length,
        jobsHandledByMoreThanOneProcess: [...claimers.values()].filter((mask) => (mask & (mask - 1)) !== 0).length,
        runsRecoveredByScans: scans.length,
        byState: Object.fromEntries([...new Set(snapshot.jobs.map((j) => j.status))].map((s) => [s, snapshot.jobs.filter((j) => j.status === s).length]))
      }
      report("concurrency-pg", figures)
      assert.isAbove(snapshot.jobs.length, 20)
      assert.isAbove(handled.length, 10)
    } finally {
      await Promise.all(children.map((child) => child.kill()))
      await dropDatabase(url)
    }
  }, counts.concurrencyMs + 120_000)
})
