/**
 * Issue 16, h62 (PostgreSQL): every statement that finds a row by its key
 * guards its status in the keyed form (src/store/pg/keyedGuard.ts), so the
 * primary key is the way in whatever the statistics say — the statements
 * h61's test (pg-hot-plans.test.ts) did not reach: the general transition
 * (a cancel of a queued job, a retry of a failed one; a move refused on a
 * running one, since it is refused on the job it locked, its lock), the unreadable job's failure, recovery's stalled jobs (found
 * by the moved runs' keys: plain, a sweep that stalled nothing read every
 * running job's index entries), and group commit's heartbeat serving several
 * callers in one statement (keyed since h61 through runs.ts `activeRun`,
 * which it shares with the heartbeat alone: held here too).
 *
 * The database is made adversarial as there: statistics taken before a crowd
 * of 20,000 running runs (dead versions) and 20,000 queued jobs not yet due,
 * autovacuum off. Each statement is the one the store sent, read off the real
 * driver, then explained under custom and generic plans; then again with the
 * statistics up to date.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { JobId, TraceId, WorkflowRunId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { holdTable } from "../support/tableHold.js"
import { jobEvent, newJob } from "./fixtures.js"
import { crowdId, makeCrowd, named, staleStatistics, planModes, planOf, sentStatements, tableScans, theOne } from "./pg-plans.js"

const CROWD = 20_000
/** Heartbeats racing into group commit's line behind the one in flight. */
const RACERS = 6

describe("issue 16 h62 PostgreSQL statements that find a row by key use the keyed status guard", () => {
  it.scopedLive(
    `issue 16 h62 among ${CROWD.toLocaleString("en")} running runs and ${CROWD.toLocaleString("en")} queued jobs with stale statistics, the general transition, the unreadable job's run end and group commit's heartbeat read by primary key; generic and custom plans`,
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("keyed guards")
        const context = yield* Layer.build(services(PgStore.layer({ url })))
        const raw = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
        const jobs = yield* Effect.provide(Jobs, context)
        const store = yield* Effect.provide(JobStore, context)

        // Statistics that know no running run and no queued job, autovacuum off.
        yield* staleStatistics(raw, jobs)
        yield* makeCrowd(raw, { running: CROWD, waiting: CROWD })

        /** Crowd rows not used yet: each round's statements act on rows of their own. */
        let nextRunning = 1
        const running = () => nextRunning++

        /** Group commit's heartbeat: one in flight blocked, RACERS lined up behind it, served by one statement. */
        const groupBeat = Effect.scoped(Effect.gen(function*() {
          const runIds = Array.from({ length: RACERS + 1 }, () => crowdId("run", running()) as WorkflowRunId)
          const held = yield* holdTable(url, "workflow_runs")
          const inFlight = yield* Effect.fork(store.heartbeat(runIds[0]!))
          yield* held.blocked
          const gate = yield* Deferred.make<void>()
          const racers = yield* Effect.forEach(runIds.slice(1), (runId) => Effect.fork(Effect.zipRight(Deferred.await(gate), store.heartbeat(runId))))
          yield* Deferred.succeed(gate, undefined)
          // The racers need only the CPU to join the line; give them the event loop, then let the table go.
          yield* Effect.sleep("100 millis")
          yield* held.release
          const beaten = yield* Fiber.joinAll([inFlight, ...racers])
          assert.deepStrictEqual(beaten.map((run) => run.id), runIds, "each caller's own run beaten")
          return runIds
        }))

        /** The statements, as the store sends them. */
        const keyedStatements = Effect.gen(function*() {
          // The general transition: a queued job cancelled, a failed job retried, a running job's refused move.
          const queued = yield* jobs.submit(newJob())
          const cancel = yield* sentStatements(jobs.cancel(queued.job_id))
          assert.strictEqual(cancel.value.state, "cancelled")
          yield* jobs.submit(newJob())
          const claimed = (yield* jobs.claimNext())!
          yield* jobs.fail(claimed.job.job_id, "failed for the retry")
          const retry = yield* sentStatements(jobs.retry(claimed.job.job_id))
          assert.strictEqual(retry.value.state, "queued")
          const refused = yield* sentStatements(Effect.flip(jobs.awaitUser(crowdId("running", running()) as JobId)))
          assert.strictEqual(refused.value._tag, "IllegalTransition")
          // A job whose row does not decode, failed from its raw columns with its run.
          const unreadableId = crowdId("running", running()) as JobId
          const unreadable = yield* sentStatements(store.failUnreadableJob({
            job_id: unreadableId,
            reason: "column x: unreadable",
            event: jobEvent({ job_id: unreadableId, trace_id: unreadableId as string as TraceId, workflow_run_id: null })
          }))
          assert.isNotNull(unreadable.value)
          // Recovery's sweep where no run is stale (every crowd heartbeat is later), as on a healthy system.
          const sweep = yield* sentStatements(store.stallStaleRuns({
            heartbeatBefore: DateTime.unsafeMake("2026-05-01T00:00:00Z"),
            threshold: Duration.seconds(30),
            limit: 1000
          }))
          assert.deepStrictEqual(sweep.value, [], "no run stale")
          const group = yield* sentStatements(groupBeat)
          const beat = theOne(group.sent, /WITH beaten AS/, "group heartbeat")
          assert.include(beat.values, `{${group.value.slice(1).join(",")}}`, "every racer's run in the one statement")
          const transition = /"status" IN/
          // A move is refused on the job it locked, before any write (move.ts: the refusal names its
          // operation): its one statement is that lock, by key, and no guarded UPDATE is sent.
          assert.deepStrictEqual(named(refused.sent, transition), [], "refused move: no guarded UPDATE")
          return {
            cancel: theOne(cancel.sent, transition, "cancel"),
            retry: theOne(retry.sent, transition, "retry"),
            refused: theOne(refused.sent, /FROM ai_jobs WHERE id = \$\d+ FOR NO KEY UPDATE/, "refused move's lock"),
            unreadable: theOne(unreadable.sent, /UPDATE workflow_runs SET status = 'failed'/, "unreadable"),
            sweep: theOne(sweep.sent, /stalled_jobs AS/, "sweep"),
            groupBeat: beat
          }
        })

        /**
         * The table scans each statement may make, one pattern per scan: by primary key only (the group
         * heartbeat's job by the run it points to, as good). Before h62, with stale statistics, the
         * cancel read the whole queue's index (ai_jobs_claim_idx), the retry, the refused move and the
         * sweep's stalled jobs ai_jobs_status_created_idx, and the unreadable job's run end every
         * running run's entry.
         */
        const byJobKey = [/^Index Scan using ai_jobs_pkey on ai_jobs$/]
        const expected: Record<string, ReadonlyArray<RegExp>> = {
          cancel: byJobKey,
          retry: byJobKey,
          refused: byJobKey,
          unreadable: [/^Index Scan using workflow_runs_pkey on workflow_runs$/],
          // Recovery's parts in order: the scan and the runs' re-check read running runs by heartbeat (their
          // plain form kept, stale-scan-plan.test.ts), the stale runs' jobs and the runs stalled by key; then
          // the jobs stalled, by key (their job or their run's). A stall lifted to its job's or run's last
          // change reads, by key, that job's latest record and the job's and run's versions as the
          // statement's snapshot holds them (moveInstant.ts `instantAfter`): only when lifted.
          sweep: [
            /^Index Scan using workflow_runs_running_heartbeat_idx on workflow_runs$/,
            /^Index Scan using ai_jobs_pkey on ai_jobs$/,
            /^Index Scan using (workflow_runs_running_heartbeat_idx|workflow_runs_pkey) on workflow_runs$/,
            /^Index Scan( Backward)? using flight_recorder_events_job_idx on flight_recorder_events$/,
            /^Index Scan using ai_jobs_pkey on ai_jobs$/,
            /^Index Scan using workflow_runs_pkey on workflow_runs$/,
            /^Index Scan using workflow_runs_pkey on workflow_runs$/,
            /^Index Scan using (ai_jobs_pkey|ai_jobs_run_idx) on ai_jobs$/
          ],
          groupBeat: [
            /^Index Scan using workflow_runs_pkey on workflow_runs$/,
            /^Index Scan using (ai_jobs_pkey|ai_jobs_run_idx) on ai_jobs$/,
            /^Index Scan using workflow_runs_pkey on workflow_runs$/
          ]
        }

        const check = (when: string) =>
          Effect.gen(function*() {
            const keyed = yield* keyedStatements
            // Every statement's plan is checked before failing, so a failure names all that missed the key.
            const missed: Array<string> = []
            for (const mode of planModes) {
              for (const [step, statement] of Object.entries(keyed)) {
                const plan = yield* planOf(raw, statement, mode)
                const made = tableScans(plan)
                const want = expected[step]!
                if (made.length !== want.length || made.some((scan, i) => !want[i]!.test(scan))) {
                  missed.push(`${step}, ${when}, ${mode}: ${made.join("; ")}\n${plan}`)
                }
              }
            }
            assert.deepStrictEqual(missed, [], missed.join("\n\n"))
          })

        yield* check("statistics from before the crowd")
        yield* Effect.promise(() => raw.query("ANALYZE"))
        yield* check("statistics up to date")
      }),
    180_000
  )
})
