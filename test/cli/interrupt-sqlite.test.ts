/**
 * A signal that comes while `recover`, `prune` or a `retention` batch waits on SQLite's write lock
 * another connection holds, and the wait then runs out (database is locked):
 * the change had begun, so the signal stopped nothing, and the command fails
 * as it would have without it — its failed report, its one `error:` line,
 * exit 1 (it printed the report but no error line and exited 143). Forced:
 * the test holds the write lock, waits until the CLI says (a preloaded hook,
 * announceLockWait.ts) that a statement of its met the lock, sends SIGTERM,
 * waits until the kernel has delivered it, and lets go of the lock only once
 * the CLI has exited. The PostgreSQL twin is in interrupt-pg.test.ts.
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { assert, beforeEach, describe, it } from "@effect/vitest"
import { exitOf, lines, repoRoot, spawnCli, tempDir } from "./cli.js"
import { allJobs, crashedRun, eventsOf, migratedByCli, oldCancelledJobs, queuedJob, runsOf } from "./fixtures.js"
import { output, signalled } from "./interrupt.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  exec(sql: string): unknown
  close(): void
}

/** Node's options for the CLI: the hook that says when a statement meets the write lock. */
const ANNOUNCE_LOCK_WAIT = `--import tsx --import ${pathToFileURL(path.join(repoRoot, "test", "cli", "announceLockWait.ts")).href}`

/** Runs `ai-jobs <args>` while the test holds the file's write lock; SIGTERM once it waits on it; the lock let go once it has exited. */
const signalledWhileLocked = async (file: string, args: ReadonlyArray<string>) => {
  const holder = new Database(file)
  try {
    holder.exec("BEGIN IMMEDIATE")
    const child = await spawnCli([...args, "--database", file], { env: { NODE_OPTIONS: ANNOUNCE_LOCK_WAIT } })
    const printed = output(child)
    const exited = exitOf(child)
    while (!printed().stderr.includes("test: write lock met\n")) {
      if (child.exitCode !== null) throw new Error(`setup: the CLI never met the write lock: ${printed().stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await signalled(child, ["SIGTERM"])
    const code = await exited
    const { stdout, stderr } = printed()
    return { code, stdout, errors: lines(stderr).filter((line) => !line.startsWith("test: ")) }
  } finally {
    holder.exec("ROLLBACK")
    holder.close()
  }
}

describe("ai-jobs signalled while its change waits on the write lock, the wait then failing (SQLite)", { timeout: 120_000 }, () => {
  let file = ""
  beforeEach(async () => {
    file = path.join(tempDir("interrupt-sqlite"), "jobs.db")
    await migratedByCli(file)
  }, 120_000)

  it("recover: SIGTERM while the scan waits on the write lock, then the wait runs out: the failed report, its one error line, exit 1, as without the signal", async () => {
    const { job } = await crashedRun(file)
    const result = await signalledWhileLocked(file, ["recover", "--threshold", "1", "--json"])
    assert.strictEqual(result.code, 1, result.errors.join("\n"))
    assert.strictEqual((await runsOf(file, job.job_id))[0]?.status, "running", "nothing was stalled")
    assert.deepInclude(JSON.parse(result.stdout), { recovered: [], failed: true })
    assert.strictEqual(result.errors.length, 1, result.errors.join("\n"))
    assert.match(result.errors[0]!, /^error: HSK-500-DB: .*database is locked/)
  })

  it("prune: SIGTERM while the pruning waits on the write lock, then the wait runs out: the failed report, its one error line, exit 1", async () => {
    await oldCancelledJobs(file, 1)
    const result = await signalledWhileLocked(file, ["prune", "--older-than", "30d", "--keep", "0", "--json"])
    assert.strictEqual(result.code, 1, result.errors.join("\n"))
    assert.strictEqual((await allJobs(file)).length, 1, "nothing was pruned")
    assert.deepInclude(JSON.parse(result.stdout), { pruned: 0, failed: true })
    assert.strictEqual(result.errors.length, 1, result.errors.join("\n"))
    assert.match(result.errors[0]!, /^error: HSK-500-DB: Storage failed during JobStore\.pruneJobs.*database is locked/)
  })

  it("HSK-GC-004 retention: SIGTERM while its batch waits on the write lock, then the wait runs out: the failed report, its one error line, exit 1", async () => {
    const job = await queuedJob(file, {}, "40 days")
    const before = (await eventsOf(file, job.job_id)).length
    const result = await signalledWhileLocked(file, ["retention", "--older-than", "7d", "--json"])
    assert.strictEqual(result.code, 1, result.errors.join("\n"))
    assert.strictEqual((await eventsOf(file, job.job_id)).length, before, "nothing was purged")
    assert.deepInclude(JSON.parse(result.stdout), { purged: 0, gc_summaries: 0, failed: true })
    assert.strictEqual(result.errors.length, 1, result.errors.join("\n"))
    assert.match(result.errors[0]!, /^error: HSK-500-DB: .*database is locked/)
  })
})
