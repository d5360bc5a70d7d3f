/**
 * R6, the Flight Recorder's order, on PostgreSQL's group-commit batch of
 * running jobs' ends (finishBatch.ts): each end whose record was built — its
 * clock read, its id minted — before the claim it follows committed is
 * written after that claim, as the one-job statement writes it (the store
 * contract's claimOrder.ts proves that one on every store). The batch is
 * called directly, so the test does not depend on concurrent callers
 * happening to share a statement.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { EventId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { JobStore, type RunningJobEnd } from "../../src/store/JobStore.js"
import { makeContext } from "../../src/store/pg/context.js"
import { finishRunningJobs } from "../../src/store/pg/finishBatch.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { at, jobEvent, millis, newJob } from "./fixtures.js"

const freshId = () => EventId.make(uuidv7())

describe("R6 PostgreSQL's batch of running jobs' ends never comes before the claims they follow", () => {
  it.scoped("R6 ends built before their claims committed: each written after its claim (1 ms after when its id sorts first, else at the claim's instant); one built later keeps its reading", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("move instant batch")
      const store = yield* Effect.provide(JobStore, yield* Layer.build(PgStore.layer({ url })))
      const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))

      yield* TestClock.setTime(1_000)
      const jobs = [yield* store.createJob(newJob()), yield* store.createJob(newJob()), yield* store.createJob(newJob())]
      // Each end's record: job 0's id minted before its claim's, job 1's after; both read 3,000. Job 2's read 6,000.
      const endIds = [freshId()]
      const claimIds = [freshId(), freshId(), freshId()]
      endIds.push(freshId(), freshId())
      yield* TestClock.setTime(5_000)
      for (const [i, job] of jobs.entries()) {
        const claim = yield* store.claimNext({ events: (claimed) => [jobEvent(claimed.job, { event_id: claimIds[i]!, timestamp: at(5_000) })] })
        assert.strictEqual(claim?.job.job_id, job.job_id)
      }
      const readings = [3_000, 3_000, 6_000]
      const ends: Array<RunningJobEnd> = jobs.map((job, i) => ({
        job_id: job.job_id,
        to: "cancelled",
        status_reason: "stopped",
        event: jobEvent(job, { event_id: endIds[i]!, timestamp: at(readings[i]!) })
      }))
      const ended = yield* finishRunningJobs(makeContext(sql))(ends)

      const expected = [5_001, 5_000, 6_000]
      for (const [i, job] of jobs.entries()) {
        const moved = ended[i]
        if (moved === undefined) return assert.fail(`job ${i} ended`)
        assert.strictEqual(moved.state, "cancelled")
        assert.strictEqual(millis(moved.updated_at), expected[i], `job ${i}'s updated_at`)
        const [run] = yield* store.listRuns(job.job_id)
        assert.strictEqual(millis(run!.updated_at), expected[i], `job ${i}'s run's end`)
        const history = (yield* store.listEvents({ job_id: job.job_id, order: "asc", limit: 10 })).items
        assert.deepStrictEqual(history.map((event) => event.event_id), [claimIds[i], endIds[i]], `job ${i}'s history`)
        assert.strictEqual(millis(history[1]!.timestamp), expected[i])
        assert.strictEqual(history[1]!.body["timestamp"], DateTime.formatIso(at(expected[i]!)))
      }
    }), 60_000)
})
