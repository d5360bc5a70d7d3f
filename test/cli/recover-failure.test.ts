/**
 * R9 `ai-jobs recover` failing part-way through its scan: the batches that
 * committed stalled runs, each with its workflow_recovery event, so the CLI
 * says how many before its one error line (exit 1), and `--json` reports
 * them as a successful scan would, with `failed: true` — on both stores, the
 * failure forced by a test trigger that refuses to stall one run.
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { lines, runCli, tempDir } from "./cli.js"
import { crashedRuns, migratedByCli } from "./fixtures.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  exec(sql: string): unknown
  prepare(sql: string): { all(...params: ReadonlyArray<unknown>): ReadonlyArray<Record<string, unknown>> }
  close(): void
}

const sqlite = {
  name: "SQLite",
  create: async () => path.join(tempDir("recover-failure"), "jobs.db"),
  drop: async (_: string) => {},
  // One scan at a time, 500 runs a batch: the 700th run in scan order is in the second batch.
  runs: 700,
  trapAt: 600,
  query: async (file: string, sql: string): Promise<ReadonlyArray<Record<string, unknown>>> => {
    const db = new Database(file)
    try {
      return db.prepare(sql).all()
    } finally {
      db.close()
    }
  },
  refuseStalling: async (file: string, runId: string) => {
    const db = new Database(file)
    db.exec(`CREATE TRIGGER test_refuse_stall BEFORE UPDATE ON workflow_runs WHEN OLD.id = '${runId}' AND NEW.status = 'stalled'
      BEGIN SELECT RAISE(ABORT, 'test: this run may not be stalled'); END`)
    db.close()
  }
}

const pg = {
  name: "PostgreSQL",
  create: () => freshDatabaseUrl("cli-recover-failure"),
  drop: dropDatabase,
  // Two scans at once, 1,000 runs a batch: which batches commit before the failure varies.
  runs: 1500,
  trapAt: 1200,
  query: async (url: string, sql: string): Promise<ReadonlyArray<Record<string, unknown>>> => {
    const client = await connectPg(url)
    try {
      return (await client.query(sql)).rows as ReadonlyArray<Record<string, unknown>>
    } finally {
      await client.end()
    }
  },
  refuseStalling: async (url: string, runId: string) => {
    const client = await connectPg(url)
    await client.query(`CREATE FUNCTION test_refuse_stall() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'test: this run may not be stalled'; END $$`)
    await client.query(`CREATE TRIGGER test_refuse_stall BEFORE UPDATE ON workflow_runs
      FOR EACH ROW WHEN (OLD.id = '${runId}' AND NEW.status = 'stalled') EXECUTE FUNCTION test_refuse_stall()`)
    await client.end()
  }
}

for (const backend of [sqlite, pg]) {
  describe(`ai-jobs recover failing part-way (${backend.name})`, { timeout: 180_000 }, () => {
    const urls: Array<string> = []
    afterAll(() => Promise.all(urls.map(backend.drop)))

    /** A new store with `backend.runs` crashed runs, the one at `trapAt` in scan order refused stalling; `recover` run on it with `flags`. */
    const recoverFailingMidScan = async (...flags: ReadonlyArray<string>) => {
      const url = await backend.create()
      urls.push(url)
      await migratedByCli(url)
      await crashedRuns(url, backend.runs)
      const [trapped] = await backend.query(url, `SELECT id FROM workflow_runs ORDER BY last_heartbeat, id LIMIT 1 OFFSET ${backend.trapAt}`)
      await backend.refuseStalling(url, String(trapped?.["id"]))
      const result = await runCli(["recover", "--threshold", "60", ...flags, "--database", url])
      assert.strictEqual(result.code, 1, result.stderr)
      const errors = lines(result.stderr)
      assert.strictEqual(errors.length, 1, result.stderr)
      assert.match(errors[0]!, /^error: /)
      const [stalled] = await backend.query(url, "SELECT count(*) AS n FROM workflow_runs WHERE status = 'stalled'")
      const [recorded] = await backend.query(url, "SELECT count(*) AS n FROM flight_recorder_events WHERE type = 'workflow_recovery'")
      const n = Number(stalled?.["n"])
      assert.strictEqual(Number(recorded?.["n"]), n, "each stalled run has its event")
      if (backend === sqlite) assert.strictEqual(n, 500, "the first batch committed, the second failed")
      return { url, result, n }
    }

    it("R9 recover failing mid-scan prints how many runs it stalled before the failure (as many as the database holds stalled, each with its workflow_recovery event), then one error line; exit 1", async () => {
      const { n, result } = await recoverFailingMidScan()
      const phrase = n === 0 ? "; nothing changed\\." : ", each with its workflow_recovery event\\."
      assert.match(result.stdout, new RegExp(`^Failed after stalling ${n} run\\(s\\) \\(threshold 60s\\)${phrase}$`, "m"))
    })

    // Found by a review of the R9 JOB STALLED entry: the failed report had no stalled_jobs.
    it("R9 recover --json failing mid-scan reports the successful report's fields for what did change — the runs stalled and, in stalled_jobs, the jobs stalled with them — and failed: true", async () => {
      const { n, result, url } = await recoverFailingMidScan("--json")
      const report = JSON.parse(result.stdout) as {
        readonly threshold_secs: number
        readonly recovered: ReadonlyArray<{ readonly id: string; readonly job_id: string }>
        readonly stalled_jobs: ReadonlyArray<string>
        readonly failed: boolean
      }
      assert.deepStrictEqual(Object.keys(report).sort(), ["failed", "recovered", "stalled_jobs", "threshold_secs"])
      assert.deepStrictEqual([report.threshold_secs, report.failed, report.recovered.length], [60, true, n])
      const ids = (rows: ReadonlyArray<Record<string, unknown>>) => rows.map((row) => String(row["id"])).sort()
      const stalledRuns = await backend.query(url, "SELECT id FROM workflow_runs WHERE status = 'stalled'")
      assert.deepStrictEqual(report.recovered.map((run) => run.id).sort(), ids(stalledRuns))
      // Each run's job was running under it, so each was stalled with it.
      const stalledJobs = await backend.query(url, "SELECT id FROM ai_jobs WHERE status = 'stalled'")
      assert.deepStrictEqual([...report.stalled_jobs].sort(), ids(stalledJobs))
      assert.deepStrictEqual([...report.stalled_jobs].sort(), report.recovered.map((run) => run.job_id).sort())
    })
  })
}
