/**
 * Crash campaign on a SQLite file (issue 8, part 1): the worker process is
 * SIGKILLed at seeded random points; after each kill and each restart the
 * file passes `PRAGMA integrity_check` and `foreign_key_check` and every
 * invariant of invariants.ts.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { budgetMs, counts, seed, seedFor } from "./config.js"
import { runCrashCampaign } from "./crash-campaign.js"
import { report } from "./report.js"
import { readSqlite } from "./snapshot.js"

describe("reliability: crashes on SQLite", () => {
  it("R9 R8 R6 SIGKILLed SQLite workers lose no job, leave no illegal state, and every crashed run is stalled exactly once with one event", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-crash-sqlite-"))
    const filename = path.join(dir, "jobs.db")
    console.log(`[reliability] crash campaign on SQLite: seed ${seed} (HSK_RELIABILITY_SEED=${seed} replays it), ${counts.crashesPerDialect} kills`)
    try {
      const result = await runCrashCampaign({
        database: filename,
        read: async () => readSqlite(filename),
        crashes: counts.crashesPerDialect,
        seed: seedFor("crash-sqlite"),
        log: (line) => console.log(`[reliability] ${line}`)
      })
      report("crash-sqlite", { seed, ...result })
      assert.strictEqual(result.kills, counts.crashesPerDialect)
      assert.isAbove(result.jobsStored, 0, "the workers stored jobs")
      assert.isAbove(result.runsRecovered, 0, "some kills caught runs running")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, budgetMs(6_000, counts.crashesPerDialect))
})
