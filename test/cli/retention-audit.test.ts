/**
 * HSK-GC-004 "every purge is in some summary", for an operator's purge:
 * `ai-jobs retention` records what it purged in a `gc_summary` event, actor
 * human, as the Janitor records its own — on both stores, and (PostgreSQL,
 * the interleaving forced) when Ctrl-C stops it between batches.
 */
import * as path from "node:path"
import * as DateTime from "effect/DateTime"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { lines, runCli, tempDir } from "./cli.js"
import { allEvents, migratedByCli, oldEvents, queuedJob } from "./fixtures.js"
import { interruptedUnderLock } from "./interrupt.js"
import { refuseDeleting } from "./refuseDeleting.js"

const backends = [
  { name: "SQLite", create: async () => path.join(tempDir("retention-audit"), "jobs.db"), drop: async (_: string) => {} },
  { name: "PostgreSQL", create: () => freshDatabaseUrl("cli-retention-audit"), drop: dropDatabase }
]

const summaries = (events: ReadonlyArray<{ readonly body: Record<string, unknown> }>) =>
  events.map((event) => event.body).filter((body) => body["event_name"] === "gc_summary")

for (const backend of backends) {
  describe(`ai-jobs retention records its purge (${backend.name})`, { timeout: 120_000 }, () => {
    let url = ""
    beforeAll(async () => {
      url = await backend.create()
      await migratedByCli(url)
    }, 120_000)
    afterAll(() => backend.drop(url))

    it("HSK-GC-004 retention --older-than purges the old events and records the purge in a gc_summary, actor human, with events_purged; purging nothing records nothing", async () => {
      await queuedJob(url, {}, "3 days")
      await queuedJob(url, {}, "3 days")
      await queuedJob(url)
      const before = await allEvents(url)
      const old = before.filter((event) => Date.now() - DateTime.toEpochMillis(event.timestamp) > 2 * 86_400_000)
      assert.isAbove(old.length, 0)
      const purged = await runCli(["retention", "--older-than", "2d", "--database", url])
      assert.strictEqual(purged.code, 0, purged.stderr)
      assert.match(purged.stdout, new RegExp(`^Purged ${old.length} Flight Recorder event\\(s\\) older than .*; a gc_summary event records the purge\\.`))
      const after = await allEvents(url)
      const [summary, ...more] = summaries(after)
      assert.deepStrictEqual(more, [])
      assert.strictEqual(after.length, before.length - old.length + 1, "the recent events stay, and the summary is added")
      assert.include(summary, {
        actor: "human",
        type: "system",
        event_type: "meta.gc_summary",
        items_scanned: 0,
        items_pruned: 0,
        dry_run: false,
        events_purged: old.length
      })
      const nothing = await runCli(["retention", "--older-than", "2d", "--database", url])
      assert.strictEqual(nothing.code, 0, nothing.stderr)
      assert.match(nothing.stdout, /^Purged 0 Flight Recorder event\(s\) older than .*\.$/m)
      assert.strictEqual(summaries(await allEvents(url)).length, 1, "no summary of an empty purge")
    })

    it("HSK-GC-004 retention --older-than 0s purges the whole log but leaves the summary saying so", async () => {
      await queuedJob(url)
      const before = (await allEvents(url)).length
      const purged = await runCli(["retention", "--older-than", "0s", "--json", "--database", url])
      assert.strictEqual(purged.code, 0, purged.stderr)
      assert.strictEqual((JSON.parse(purged.stdout) as { readonly purged: number }).purged, before)
      const after = await allEvents(url)
      assert.strictEqual(after.length, 1)
      assert.include(after[0]?.body, { actor: "human", event_name: "gc_summary", events_purged: before })
    })

    it("HSK-GC-004 retention failing part-way (the database refuses to delete an event of its second batch): the first batch stays purged with its gc_summary, the count purged is printed, then one error line, exit 1", async () => {
      const start = summaries(await allEvents(url)).length
      const ids = await oldEvents(url, 1500)
      await refuseDeleting(url, "flight_recorder_events", "event_id", ids[1200]!)
      const result = await runCli(["retention", "--older-than", "1d", "--database", url])
      assert.strictEqual(result.code, 1, result.stderr)
      assert.match(result.stdout, /^Failed after purging 1000 Flight Recorder event\(s\) older than .*; a gc_summary event records the purge\.$/m)
      const errors = lines(result.stderr)
      assert.strictEqual(errors.length, 1, result.stderr)
      assert.match(errors[0]!, /^error: .*/)
      const after = await allEvents(url)
      assert.strictEqual(after.filter((event) => ids.includes(event.event_id)).length, 500, "the second batch rolled back")
      // What is left is read by the commands (found by an outside audit: the fixture wrote bodies `ai-jobs events` called corrupt).
      const listed = await runCli(["events", "--json", "--limit", "1000", "--database", url])
      assert.strictEqual(listed.code, 0, listed.stderr)
      assert.deepStrictEqual((JSON.parse(listed.stdout) as ReadonlyArray<{ readonly event_id: string }>).slice(0, 500).map((event) => event.event_id), ids.slice(1000))
      assert.deepStrictEqual(summaries(after).slice(start).map((summary) => summary["events_purged"]), [1000])
    })
  })
}

describe("ai-jobs retention stopped between batches (PostgreSQL)", { timeout: 120_000 }, () => {
  let url = ""
  beforeAll(async () => {
    url = await freshDatabaseUrl("cli-retention-stop")
    await migratedByCli(url)
  }, 120_000)
  afterAll(() => dropDatabase(url))

  /**
   * 1,500 copies of one of `jobId`'s events from three days ago: two batches of the recorder's 1,000.
   * Each body carries its copy's own event_id and timestamp, as the library writes a row.
   */
  const copiesThreeDaysOld = (admin: Awaited<ReturnType<typeof connectPg>>, jobId: string) =>
    admin.query(
      `INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
       SELECT c.id, c.at, e.actor, e.type, e.trace_id, e.job_id, e.workflow_run_id,
              e.body || jsonb_build_object('event_id', c.id, 'timestamp', to_char(c.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
       FROM flight_recorder_events e, generate_series(1, 1500) g,
            LATERAL (SELECT gen_random_uuid() AS id, e."timestamp" - interval '3 days' - g * interval '1 ms' AS at) c
       WHERE e.event_id = (SELECT event_id FROM flight_recorder_events WHERE job_id = $1 LIMIT 1)`,
      [jobId]
    )

  it("HSK-GC-004 SIGINT while the first batch waits: that batch commits, the purge stops before the next, and a gc_summary records the batch; exit 130 and the count printed", async () => {
    const job = await queuedJob(url)
    const admin = await connectPg(url)
    await copiesThreeDaysOld(admin, job.job_id)
    await admin.end()
    // A batch's first statement records its grant: held, the first batch waits there.
    const result = await interruptedUnderLock(url, "LOCK TABLE flight_recorder_retention_grants IN EXCLUSIVE MODE", [
      "retention",
      "--older-than",
      "1d"
    ])
    const left = await connectPg(url)
    const { rows } = await left.query<{ readonly n: string }>(`SELECT count(*) AS n FROM flight_recorder_events WHERE "timestamp" < now() - interval '1 day'`)
    await left.end()
    assert.strictEqual(Number(rows[0]?.n), 500, "one batch purged, the second never began")
    const [summary, ...more] = summaries(await allEvents(url))
    assert.deepStrictEqual(more, [])
    assert.include(summary, { actor: "human", events_purged: 1000, items_pruned: 0 })
    assert.strictEqual(result.code, 130, result.stderr)
    assert.match(result.stdout, /^Stopped by a signal after purging 1000 Flight Recorder event\(s\) older than .*; a gc_summary event records the purge\.$/m)
  })

  it("HSK-GC-004 a second Ctrl-C while the first batch waits does not kill the purge: that batch commits with its gc_summary, the purge stops before the next; exit 130 and the count printed", async () => {
    const job = await queuedJob(url)
    const admin = await connectPg(url)
    await copiesThreeDaysOld(admin, job.job_id)
    const old = async () =>
      Number((await admin.query<{ readonly n: string }>(`SELECT count(*) AS n FROM flight_recorder_events WHERE "timestamp" < now() - interval '1 day'`)).rows[0]?.n)
    const before = await old()
    const purges = async () =>
      (await admin.query<{ readonly n: number }>(
        `SELECT (body->>'events_purged')::int AS n FROM flight_recorder_events WHERE body->>'event_name' = 'gc_summary' ORDER BY "timestamp", event_id`
      )).rows.map((row) => row.n)
    const purgesBefore = (await purges()).length
    const result = await interruptedUnderLock(url, "LOCK TABLE flight_recorder_retention_grants IN EXCLUSIVE MODE", [
      "retention",
      "--older-than",
      "1d"
    ], ["SIGINT", "SIGINT", "SIGINT"])
    const after = await old()
    const added = (await purges()).slice(purgesBefore)
    await admin.end()
    assert.strictEqual(result.code, 130, result.stderr)
    assert.strictEqual(before - after, 1000, "one batch purged, the second never began")
    assert.deepStrictEqual(added, [1000])
    assert.match(result.stdout, /^Stopped by a signal after purging 1000 Flight Recorder event\(s\) older than .*; a gc_summary event records the purge\.$/m)
    assert.include(result.stderr, "note: finishing the change already begun, then reporting it; the signal does not stop it")
  })
})
