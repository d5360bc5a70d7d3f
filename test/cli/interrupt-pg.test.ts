/**
 * Ctrl-C while a command's change waits on a row lock another transaction
 * holds (PostgreSQL): the store's write is not interrupted once begun, so it
 * commits when the lock goes. The CLI's answer must match what the database
 * then holds: the report printed and exit 0, not exit 130 with nothing said.
 * The interleaving is forced: the test holds the lock, waits until the CLI's
 * statement waits on it, sends SIGINT, waits until the kernel has delivered
 * it, then releases the lock.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { lines, runCli } from "./cli.js"
import { interruptedUnderLock } from "./interrupt.js"
import { completedJob, crashedRun, eventsOf, jobOf, migratedByCli, queuedJob, runsOf } from "./fixtures.js"

/** A transaction's statement holding `jobId`'s row lock. */
const lockOf = (jobId: string) => `SELECT 1 FROM ai_jobs WHERE id = '${jobId}' FOR UPDATE`

describe("ai-jobs interrupted while its change waits on a lock (PostgreSQL)", { timeout: 120_000 }, () => {
  let url = ""
  beforeAll(async () => {
    url = await freshDatabaseUrl("cli-interrupt")
    await migratedByCli(url)
  }, 120_000)
  afterAll(() => dropDatabase(url))

  /** A job old enough to prune, and `prune` signalled (`signals`) while it waits on that job's row lock. */
  const pruneUnderLock = async (signals?: ReadonlyArray<"SIGINT" | "SIGTERM">, options?: { readonly then?: "cancelled" }) => {
    const job = await completedJob(url)
    const admin = await connectPg(url)
    await admin.query("UPDATE ai_jobs SET updated_at = now() - interval '40 days' WHERE id = $1", [job.job_id])
    await admin.end()
    const result = await interruptedUnderLock(url, lockOf(job.job_id), ["prune", "--older-than", "1d", "--keep", "0", "--json"], signals, options)
    return { job, result }
  }

  /** A crashed run, and `recover` signalled (`signals`) while its scan waits on the job's row lock. */
  const recoverUnderLock = async (signals?: ReadonlyArray<"SIGINT" | "SIGTERM">, options?: { readonly then?: "cancelled" }) => {
    const { job, run } = await crashedRun(url)
    const result = await interruptedUnderLock(url, lockOf(job.job_id), ["recover", "--threshold", "1", "--json"], signals, options)
    return { job, run, result }
  }

  it("prune: SIGINT while the pruning waits on a locked job; the pruning commits, so its report is printed and the exit is 0", async () => {
    const { job, result } = await pruneUnderLock()
    const summaries = (await runCli(["events", "--type", "system", "--json", "--database", url])).stdout
    const held = await jobOf(url, job.job_id).then(() => true, () => false)
    assert.isFalse(held, "the job was pruned")
    assert.match(summaries, /gc_summary/, "the pruning's summary committed")
    assert.strictEqual(result.code, 0, result.stderr)
    const report = JSON.parse(result.stdout) as { readonly pruned: number; readonly dry_run: boolean }
    assert.strictEqual(report.pruned, 1)
    assert.isFalse(report.dry_run)
    assert.deepStrictEqual(lines(result.stderr), [
      "note: the signal came after the change had begun: it ran to its end, reported above"
    ])
  })

  it("recover: SIGINT while the scan waits on a locked job; the run is stalled and recorded, so the report lists it and the exit is 0", async () => {
    const { job, run, result } = await recoverUnderLock()
    const runs = await runsOf(url, job.job_id)
    assert.strictEqual(runs[0]?.status, "stalled")
    assert.isTrue((await eventsOf(url, job.job_id)).some((event) => event.type === "workflow_recovery"))
    assert.strictEqual(result.code, 0, result.stderr)
    const report = JSON.parse(result.stdout) as { readonly recovered: ReadonlyArray<{ readonly id: string }> }
    assert.deepStrictEqual(report.recovered.map((recovered) => recovered.id), [run.id])
  })

  it("recover: a second Ctrl-C while the scan waits on a locked job does not kill it: the run is stalled and recorded, the report lists it, stderr says once it is finishing, exit 0", async () => {
    const { job, run, result } = await recoverUnderLock(["SIGINT", "SIGINT", "SIGINT"])
    assert.strictEqual(result.code, 0, result.stderr)
    const runs = await runsOf(url, job.job_id)
    assert.strictEqual(runs[0]?.status, "stalled")
    assert.isTrue((await eventsOf(url, job.job_id)).some((event) => event.type === "workflow_recovery"))
    const report = JSON.parse(result.stdout) as { readonly recovered: ReadonlyArray<{ readonly id: string }> }
    assert.deepStrictEqual(report.recovered.map((recovered) => recovered.id), [run.id])
    assert.deepStrictEqual(lines(result.stderr), [
      "note: finishing the change already begun, then reporting it; the signal does not stop it",
      "note: the signal came after the change had begun: it ran to its end, reported above"
    ])
  })

  it("prune: SIGINT, SIGTERM, then SIGINT again while the pruning waits on a locked job does not kill it: the pruning commits and is reported, exit 0", async () => {
    const { job, result } = await pruneUnderLock(["SIGINT", "SIGTERM", "SIGINT"])
    assert.strictEqual(result.code, 0, result.stderr)
    const held = await jobOf(url, job.job_id).then(() => true, () => false)
    assert.isFalse(held, "the job was pruned")
    assert.strictEqual((JSON.parse(result.stdout) as { readonly pruned: number }).pruned, 1)
    assert.deepStrictEqual(lines(result.stderr), [
      "note: finishing the change already begun, then reporting it; the signal does not stop it",
      "note: the signal came after the change had begun: it ran to its end, reported above"
    ])
  })

  it("recover: SIGTERM while the scan waits on a locked job, then the scan fails (its statement cancelled): the signal stopped nothing, so the failed report, its one error line and exit 1, as without the signal", async () => {
    const { job, result } = await recoverUnderLock(["SIGTERM"], { then: "cancelled" })
    assert.strictEqual(result.code, 1, result.stderr)
    assert.strictEqual((await runsOf(url, job.job_id))[0]?.status, "running", "nothing was stalled")
    assert.deepInclude(JSON.parse(result.stdout), { recovered: [], failed: true })
    const errors = lines(result.stderr)
    assert.strictEqual(errors.length, 1, result.stderr)
    assert.match(errors[0]!, /^error: HSK-500-DB: .*cancel/)
  })

  it("prune: SIGTERM while the pruning waits on a locked job, then the pruning fails (its statement cancelled): the failed report, its one error line, exit 1", async () => {
    const { job, result } = await pruneUnderLock(["SIGTERM"], { then: "cancelled" })
    assert.strictEqual(result.code, 1, result.stderr)
    assert.strictEqual((await jobOf(url, job.job_id)).job_id, job.job_id, "the job is still there")
    assert.deepInclude(JSON.parse(result.stdout), { pruned: 0, failed: true })
    const errors = lines(result.stderr)
    assert.strictEqual(errors.length, 1, result.stderr)
    assert.match(errors[0]!, /^error: HSK-500-DB: Storage failed during JobStore\.pruneJobs/)
  })

  it("HSK-GC-004 retention: SIGTERM while its batch waits on the locked event log, then the batch fails (its statement cancelled): the signal stopped nothing, so the failed report, its one error line, exit 1, as without the signal", async () => {
    const job = await queuedJob(url, {}, "40 days")
    const before = (await eventsOf(url, job.job_id)).length
    const result = await interruptedUnderLock(url, "LOCK TABLE flight_recorder_events IN EXCLUSIVE MODE", ["retention", "--older-than", "7d", "--json"], ["SIGTERM"], {
      then: "cancelled"
    })
    assert.strictEqual(result.code, 1, result.stderr)
    assert.strictEqual((await eventsOf(url, job.job_id)).length, before, "nothing was purged")
    assert.deepInclude(JSON.parse(result.stdout), { purged: 0, gc_summaries: 0, failed: true })
    const errors = lines(result.stderr)
    assert.strictEqual(errors.length, 1, result.stderr)
    assert.match(errors[0]!, /^error: HSK-500-DB: .*cancel/)
  })

  it("jobs cancel: SIGINT while the move waits on the job's lock rolls it back; nothing changed, so exit 130 and nothing printed", async () => {
    const job = await queuedJob(url)
    const result = await interruptedUnderLock(url, lockOf(job.job_id), [
      "jobs",
      "cancel",
      job.job_id,
      "--reason",
      "operator stop"
    ])
    assert.strictEqual((await jobOf(url, job.job_id)).state, "queued")
    assert.strictEqual(result.code, 130, result.stderr)
    assert.strictEqual(result.stdout, "")
  })
})
