/**
 * FR-EVT-004 (spec §11.5) in `ai-jobs jobs show`: a job whose events the
 * retention purge removed printed "Flight Recorder events (0) (none)" and
 * `events: []`, as a job to which nothing happened. Now the table says its
 * evidence may be missing and why, and `--json` has `evidence_missing`.
 * Jobs are made through the library; the purge and the views are the real
 * CLI's (`ai-jobs retention`, `ai-jobs jobs show`).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import { type CliResult, runCli } from "./cli.js"
import { migratedByCli, queuedJob, retentionHorizonOf } from "./fixtures.js"
import type { CliDatabase } from "./operator.suite.js"

const ok = (result: CliResult): string => {
  assert.strictEqual(result.code, 0, result.stderr)
  return result.stdout
}

/** What a command printed, as one line (it wraps to the terminal's width). */
const said = (result: CliResult): string => ok(result).replace(/\s+/g, " ").trim()

export const runEvidenceMissingSuite = (database: CliDatabase): void => {
  describe(`FR-EVT-004 ai-jobs jobs show on ${database.name}: evidence missing due to retention`, { timeout: 120_000 }, () => {
    let url = ""
    const cli = (args: ReadonlyArray<string>) => runCli([...args, "--database", url])
    const shown = async (jobId: string) => {
      const json = JSON.parse(ok(await cli(["jobs", "show", jobId, "--json"]))) as { evidence_missing: unknown; events: Array<unknown> }
      return { json, table: said(await cli(["jobs", "show", jobId])) }
    }

    beforeAll(async () => {
      url = await database.create()
      await migratedByCli(url)
    }, 120_000)
    afterAll(() => database.drop(url))

    it("FR-EVT-004 after retention purged a live job's events, jobs show (table and --json) says its evidence may be missing, naming the cutoff and the window; a newer job, and every job before the purge, says nothing", async () => {
      const old = await queuedJob(url, {}, "30 days")
      const fresh = await queuedJob(url)

      // Never purged: no marker anywhere.
      for (const job of [old, fresh]) {
        const before = await shown(job.job_id)
        assert.isNull(before.json.evidence_missing)
        assert.notInclude(before.table, "evidence may be missing")
      }

      const started = Date.now()
      const purge = JSON.parse(ok(await cli(["retention", "--older-than", "7d", "--json"]))) as { cutoff: string; purged: number }
      const ended = Date.now()
      assert.isAbove(purge.purged, 0)
      const horizon = await retentionHorizonOf(url)
      assert.strictEqual(horizon === null ? null : DateTime.formatIso(horizon.cutoff), purge.cutoff)
      const purgedAt = horizon!.purged_at
      // The window asked, by the command's clock: 7 days, plus the moment from taking the cutoff to the purge.
      const week = 7 * 24 * 3600 * 1000
      assert.isAtLeast(horizon!.window_ms!, week)
      assert.isAtMost(horizon!.window_ms!, week + (ended - started))
      assert.deepStrictEqual(horizon!.requested_cutoff, horizon!.cutoff, "the database's clock capped nothing")
      const window = Duration.format(Duration.seconds(Math.floor(horizon!.window_ms! / 1000)))
      const reason = `events before ${purge.cutoff} were removed by the retention policy (${window})`

      const after = await shown(old.job_id)
      assert.deepStrictEqual(after.json.evidence_missing, {
        reason: "retention",
        cutoff: purge.cutoff,
        purged_at: DateTime.formatIso(purgedAt),
        window,
        requested_cutoff: null,
        message: reason
      })
      assert.deepStrictEqual(after.json.events, [])
      assert.include(after.table, `Flight Recorder events (0) (evidence may be missing: ${reason}) (none)`)

      const newer = await shown(fresh.job_id)
      assert.isNull(newer.json.evidence_missing)
      assert.notInclude(newer.table, "evidence may be missing")
      assert.isAbove(newer.json.events.length, 0)
    })
  })
}
