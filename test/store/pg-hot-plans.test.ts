/**
 * Issue 16, h61 (PostgreSQL): every hot statement of a lifecycle — submit,
 * claim, heartbeat, complete (one job's and group commit's batch) — finds its
 * rows by key, whatever the statistics say. Before, the complete's run end
 * joined the moved job to `workflow_runs` and the planner scanned the index of
 * every running run (dead heartbeat versions too) to end one: its cost grew
 * with the number of running runs.
 *
 * The database is made adversarial: statistics taken when no run was running
 * (ANALYZE after a few finished lifecycles), then 20,000 running runs, each
 * beaten three times (dead versions in the run indexes), autovacuum off so
 * nothing refreshes them. Each statement is the one the store sent (read off
 * the real `pg` driver, nothing mocked), prepared again on a plain connection
 * and explained both ways the server plans the store's named statements: a
 * custom plan (its first five executions) and the generic one (after). Then
 * the statistics are brought up to date and it is checked again.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { makeContext } from "../../src/store/pg/context.js"
import { beatRuns } from "../../src/store/pg/beatBatch.js"
import { finishRunningJobs } from "../../src/store/pg/finishBatch.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase, type PgClient, rawPgClient } from "../support/pg-database.js"
import { jobEvent, newJob } from "./fixtures.js"
import { crowdId, makeCrowd, staleStatistics, planModes, planOf, sentStatements, tableScans, theOne } from "./pg-plans.js"

const RUNNING = 20_000
/** The crowd of the database never analyzed: enough for a scan to be the planner's wrong guess. */
const NEVER_ANALYZED = 1_000

/**
 * `scans` with each bitmap heap scan read through one bitmap index scan
 * written as the index scan it amounts to (the planner's pick among lookups
 * through the same index: for an `= ANY` list, or a table it counts few pages of).
 */
const byIndex = (scans: ReadonlyArray<string>): ReadonlyArray<string> =>
  scans.flatMap((scan, i) => {
    const heap = /^Bitmap Heap Scan on (\S+)$/.exec(scan)
    const index = /^Bitmap Index Scan on (\S+)$/.exec(scans[i + 1] ?? "")
    if (heap !== null && index !== null) return [`Index Scan using ${index[1]} on ${heap[1]}`]
    return /^Bitmap Index Scan on /.test(scan) && /^Bitmap Heap Scan on /.test(scans[i - 1] ?? "") ? [] : [scan]
  })

/** A crowd's statements, as the store sends them, and the table scans each may make. */
const hotPlans = (url: string, raw: PgClient, crowd: number, statistics: "stale" | "never taken") =>
  Effect.gen(function*() {
    const context = yield* Layer.build(services(PgStore.layer({ url })))
    const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
    const jobs = yield* Effect.provide(Jobs, context)
    const store = yield* Effect.provide(JobStore, context)

    if (statistics === "stale") {
      // Statistics that know no running run and no queued job, autovacuum off.
      yield* staleStatistics(raw, jobs)
    } else {
      // No statistics at all: autovacuum off, a few lifecycles, never ANALYZE — a new database before
      // autovacuum's first visit (or one that runs without it). The planner then guesses a status's
      // or an open-node count's share of the rows (0.5%), and a few rows look cheap to start from.
      for (const table of ["ai_jobs", "workflow_runs", "flight_recorder_events"]) {
        yield* Effect.promise(() => raw.query(`ALTER TABLE ${table} SET (autovacuum_enabled = off)`))
      }
      for (let i = 0; i < 5; i++) {
        yield* jobs.submit(newJob())
        const claim = yield* jobs.claimNext()
        yield* jobs.complete(claim!.job.job_id)
      }
    }
    // The crowd: running jobs under running runs, each run beaten three times since.
    yield* makeCrowd(raw, { running: crowd, waiting: 0 })

    /** One lifecycle's statements and a batch of two ends, as the store sends them. */
    const hotStatements = Effect.gen(function*() {
      const submit = yield* sentStatements(jobs.submit(newJob()))
      const claim = yield* sentStatements(jobs.claimNext())
      const claimed = claim.value!
      const beat = yield* sentStatements(store.heartbeat(claimed.run.id))
      const complete = yield* sentStatements(jobs.complete(claimed.job.job_id))
      // Group commit's batch, for two running jobs of the crowd.
      const ends = [1, 2].map((i) => {
        const job_id = crowdId("running", i) as never
        return { job_id, to: "completed" as const, event: jobEvent({ job_id, trace_id: claimed.job.trace_id, workflow_run_id: null }) }
      })
      const batch = yield* sentStatements(finishRunningJobs(makeContext(sql))(ends))
      // Group commit's heartbeat, for two running runs of the crowd.
      const beats = yield* sentStatements(beatRuns(makeContext(sql))([3, 4].map((i) => crowdId("run", i) as never)))
      return {
        submit: theOne(submit.sent, /INSERT INTO ai_jobs/, "submit"),
        claim: theOne(claim.sent, /FOR UPDATE SKIP LOCKED/, "claim"),
        heartbeat: theOne(beat.sent, /SET last_heartbeat/, "heartbeat"),
        complete: theOne(complete.sent, /WITH moved AS/, "complete"),
        batch: theOne(batch.sent, /jsonb_to_recordset/, "batch"),
        beats: theOne(beats.sent, /WITH beaten AS/, "beats")
      }
    })

    /**
     * The table scans each statement may make, one pattern per scan: by key only (the claim
     * by its queue index and a job's latest record by the log's job index, the heartbeat's
     * job by the run it points to, which is as good).
     */
    const expected: Record<string, ReadonlyArray<RegExp>> = {
      submit: [],
      // The log's lookup and the job's version as the statement's snapshot holds it (claim, complete, batch; each by
      // key) run only for a job changed at or after the mover's reading (moveInstant.ts).
      claim: [
        /^Index Scan using ai_jobs_claim_idx on ai_jobs$/,
        /^Index Scan Backward using flight_recorder_events_job_idx on flight_recorder_events$/,
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan using ai_jobs_pkey on ai_jobs$/
      ],
      heartbeat: [
        /^Index Scan using workflow_runs_pkey on workflow_runs$/,
        /^Index Scan using (ai_jobs_pkey|ai_jobs_run_idx) on ai_jobs$/
      ],
      // A move's guard (runs.ts `freeToEnd`) looks up the job and its run; the run's open nodes are counted
      // on its own row (migration 0017): no node row is read, although the crowd's runs have node histories.
      complete: [
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan using workflow_runs_pkey on workflow_runs$/,
        /^Index Scan Backward using flight_recorder_events_job_idx on flight_recorder_events$/,
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan using workflow_runs_pkey on workflow_runs$/
      ],
      batch: [
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan using workflow_runs_pkey on workflow_runs$/,
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan Backward using flight_recorder_events_job_idx on flight_recorder_events$/,
        /^Index Scan using ai_jobs_pkey on ai_jobs$/,
        /^Index Scan using workflow_runs_pkey on workflow_runs$/
      ],
      // Each run by key, its job by the run it points to (or by key), each beaten run by key.
      beats: [
        /^Index Scan using workflow_runs_pkey on workflow_runs$/,
        /^Index Scan using (ai_jobs_pkey|ai_jobs_run_idx) on ai_jobs$/,
        /^Index Scan using workflow_runs_pkey on workflow_runs$/
      ]
    }

    const check = (when: string) =>
      Effect.gen(function*() {
        const hot = yield* hotStatements
        for (const mode of planModes) {
          for (const [step, statement] of Object.entries(hot)) {
            const plan = yield* planOf(raw, statement, mode)
            const made = byIndex(tableScans(plan))
            const label = `${step}, ${when}, ${mode}: ${made.join("; ")}\n${plan}`
            assert.strictEqual(made.length, expected[step]!.length, label)
            made.forEach((scan, i) => assert.match(scan, expected[step]![i]!, label))
          }
        }
      })

    return check
  })


describe("issue 16 h61 PostgreSQL hot statements find their rows by key", () => {
  it.scoped(
    `issue 16 h61 among ${RUNNING.toLocaleString("en")} running runs with stale statistics and dead versions, the complete (one job and a batch) ends its run by primary key; submit, claim and heartbeat read by key too; generic and custom plans`,
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("hot plans")
        const raw = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
        const check = yield* hotPlans(url, raw, RUNNING, "stale")
        yield* check("statistics from before the crowd")
        yield* Effect.promise(() => raw.query("ANALYZE"))
        yield* check("statistics up to date")
      }),
    180_000
  )

  it.scoped(
    `issue 16 among ${NEVER_ANALYZED.toLocaleString("en")} running runs of a database no statistics were ever taken of, the hot statements still read by key (group commit's complete started from a scan of every run); generic and custom plans`,
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("hot plans never analyzed")
        const raw = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
        const check = yield* hotPlans(url, raw, NEVER_ANALYZED, "never taken")
        yield* check("no statistics ever taken")
      }),
    180_000
  )
})
