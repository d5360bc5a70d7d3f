/**
 * R18 HSK-GC-004 `ai-jobs prune` failing part-way (found by a regression
 * probe: 3,500 old cancelled jobs, another session locking an old job after
 * the first batch had committed). The batches before the failure stay pruned,
 * each with its `gc_summary`, but the command printed nothing of them: exit 1,
 * stdout empty, one `error:` line. Now it says what its committed batches
 * pruned (text and `--json`), then the error, exit 1, as `retention` does.
 *
 * The failure is forced, not timed: a trigger of the test's refuses to delete
 * one job of the second batch (1,000 jobs a batch, oldest first), so the first
 * batch commits and the second rolls back — on both stores.
 */
import * as path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { lines, runCli, tempDir } from "./cli.js"
import { allJobs, gcSummaries, migratedByCli, oldCancelledJobs } from "./fixtures.js"
import { refuseDeleting } from "./refuseDeleting.js"

const backends = [
  { name: "SQLite", create: async () => path.join(tempDir("prune-failure"), "jobs.db"), drop: async (_: string) => {} },
  { name: "PostgreSQL", create: () => freshDatabaseUrl("cli-prune-failure"), drop: dropDatabase }
]

/** 1,500 old cancelled jobs, the database refusing to delete the 1,201st in the prune's order (oldest first, then by id). */
const oldJobsSecondBatchRefused = async (url: string) => {
  const jobs = [...await oldCancelledJobs(url, 1500)].sort((a, b) =>
    a.updated_at.epochMillis - b.updated_at.epochMillis || (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0))
  await refuseDeleting(url, "ai_jobs", "id", jobs[1200]!.job_id)
}

/** The failure's one stderr line, and what was left: the first batch pruned with its summary, the second rolled back. */
const firstBatchOnly = async (url: string, result: { readonly code: number; readonly stderr: string }) => {
  assert.strictEqual(result.code, 1, result.stderr)
  const errors = lines(result.stderr)
  assert.strictEqual(errors.length, 1, result.stderr)
  assert.match(errors[0]!, /^error: HSK-500-DB: Storage failed during JobStore\.pruneJobs/)
  assert.strictEqual((await allJobs(url)).length, 500, "the second batch rolled back")
  assert.deepStrictEqual((await gcSummaries(url)).map((summary) => summary["items_pruned"]), [1000])
}

for (const backend of backends) {
  describe(`ai-jobs prune failing part-way (${backend.name})`, { timeout: 180_000 }, () => {
    let url = ""
    beforeEach(async () => {
      url = await backend.create()
      await migratedByCli(url)
      await oldJobsSecondBatchRefused(url)
    }, 120_000)
    afterEach(() => backend.drop(url))

    it("R18 HSK-GC-004 prune whose second batch is refused prints what its first batch pruned (recorded in its gc_summary), then one error line; exit 1", async () => {
      const result = await runCli(["prune", "--older-than", "30d", "--keep", "0", "--database", url])
      assert.match(
        result.stdout,
        /^Failed after pruning 1000 terminal or failed job\(s\) last updated before .* \(30d ago\)\. Events are kept; a gc_summary event records this pass\.$/m
      )
      await firstBatchOnly(url, result)
    })

    it("R18 HSK-GC-004 prune --json failing part-way prints the committed batches' count with \"failed\": true, then one error line; exit 1", async () => {
      const result = await runCli(["prune", "--older-than", "30d", "--keep", "0", "--json", "--database", url])
      assert.deepInclude(JSON.parse(result.stdout), { dry_run: false, keep_newest: 0, pruned: 1000, gc_summaries: 1, failed: true })
      await firstBatchOnly(url, result)
    })
  })
}
