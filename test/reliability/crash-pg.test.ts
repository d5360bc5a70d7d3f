/**
 * Crash campaign on PostgreSQL (issue 8, part 1): the worker process is
 * SIGKILLed at seeded random points — its connections die with it, mid
 * transaction or not — and after each kill and each restart every invariant
 * of invariants.ts holds.
 */
import { assert, describe, it } from "@effect/vitest"
import { awaitOtherSessionsGone, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { budgetMs, counts, seed, seedFor } from "./config.js"
import { runCrashCampaign } from "./crash-campaign.js"
import { report } from "./report.js"
import { readPg } from "./snapshot.js"

describe("reliability: crashes on PostgreSQL", () => {
  it("R9 R8 R6 SIGKILLed PostgreSQL workers lose no job, leave no illegal state, and every crashed run is stalled exactly once with one event", async () => {
    const url = await freshDatabaseUrl("reliability crash")
    console.log(`[reliability] crash campaign on PostgreSQL: seed ${seed} (HSK_RELIABILITY_SEED=${seed} replays it), ${counts.crashesPerDialect} kills`)
    try {
      const result = await runCrashCampaign({
        database: url,
        read: () => readPg(url),
        settle: () => awaitOtherSessionsGone(url),
        crashes: counts.crashesPerDialect,
        seed: seedFor("crash-pg"),
        log: (line) => console.log(`[reliability] ${line}`)
      })
      report("crash-pg", { seed, ...result })
      assert.strictEqual(result.kills, counts.crashesPerDialect)
      assert.isAbove(result.jobsStored, 0, "the workers stored jobs")
      assert.isAbove(result.runsRecovered, 0, "some kills caught runs running")
    } finally {
      await dropDatabase(url)
    }
  }, budgetMs(6_000, counts.crashesPerDialect))
})
