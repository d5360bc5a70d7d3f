/**
 * Issue 16 eager dispatch, its write's answer lost: the submit's
 * `createClaimed` committed the job `running` under the claim's run, then the
 * connection dropped before its answer was read (found by an outside probe:
 * a TCP proxy cutting the connection after the statement). The submit failed
 * with `StorageError` for a job that exists, and the job stayed `running` with
 * no worker until a restart's recovery stalled it, never run. Now the submit
 * reads back what its write committed, by the ids it chose before the write:
 * - committed and claimed: the submit answers the job as created and the
 *   parked pool runs it, once, with a claim's history;
 * - committed but not claimed (a queued job came first): answered as
 *   created, queued, and the loop waits again;
 * - the look failing too: the write's error, a warning naming the job and its
 *   run (left to Recovery), and the loop given back for the next submit.
 *
 * The lost answer is forced by wrapping the real store (the write commits,
 * then its caller is told `StorageError`), on SQLite and PostgreSQL; and on
 * PostgreSQL by a proxy that drops the statement's real answer and cuts the
 * connection.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type { JobId } from "../../src/domain/Ids.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "../jobs/jobs.suite.js"
import { postgresShared, realSleep, type SharedDatabase, sharedBackends } from "../jobs/shared-database.js"
import { capturingLog } from "../support/capturedLog.js"
import { startCuttingProxy } from "../support/cuttingProxy.js"
import { audit } from "../reliability/invariants.js"
import { countingEager, jobsOver, parkedBehindOlderJob, parkedPool, silenceAnnouncements, type Store, takeWithin } from "./eagerPools.js"

/** `store` whose next eager write, once armed, commits and then answers `StorageError`; and whose event look fails while `lookDown`. */
const losingEagerAnswers = (store: Store) => {
  const state = { armed: false, lost: 0, lookDown: false }
  const wrapped: Store = {
    ...store,
    listEvents: (filter) =>
      state.lookDown
        ? Effect.fail(new StorageError({ operation: "JobStore.listEvents", cause: new Error("simulated: the connection is still down") }))
        : store.listEvents(filter),
    createClaimed: (job, options) =>
      Effect.flatMap(store.createClaimed!(job, options), (created) => {
        if (!state.armed) return Effect.succeed(created)
        state.armed = false
        state.lost++
        return Effect.fail(new StorageError({ operation: "JobStore.createClaimed", cause: new Error("simulated: Connection terminated unexpectedly") }))
      })
  }
  return { state, store: wrapped }
}

/** The job's lifecycle moves, in order. */
const movesOf = (events: ReadonlyArray<{ readonly type: string; readonly body: Record<string, unknown> }>) =>
  events.flatMap((event) =>
    event.type === "system" && "to_state" in event.body ? [`${event.body["from_state"] ?? "∅"}→${event.body["to_state"]}`] : []
  )

/** The one job listed. */
const onlyJob = <A>(listed: ReadonlyArray<A>): A => {
  assert.lengthOf(listed, 1)
  return listed[0]!
}

for (const backend of sharedBackends) {
  describe(`issue 16 eager dispatch on ${backend.name}, its write's answer lost`, () => {
    it.live(`issue 16 eager dispatch ${backend.name}: an eager write that committed the claim but lost its answer — submit returns the job, the parked pool runs it once, with a claim's history`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager answer lost")
        const losing = losingEagerAnswers(yield* database.store())
        const { counts, store, untilLooks } = countingEager(losing.store)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        losing.state.armed = true
        const submitted = yield* Effect.exit(jobs.submit(summarize()))
        assert.strictEqual(losing.state.lost, 1, "the eager write committed and its answer was lost")
        assert.isTrue(Exit.isSuccess(submitted), `the job exists: the submit succeeds (got ${String(submitted)})`)
        const job = (submitted as Exit.Success<{ readonly job_id: JobId; readonly state: string }, unknown>).value
        assert.strictEqual(job.state, "queued", "the job as it was created, as an answered eager write returns it")
        assert.strictEqual(yield* takeWithin(starts, "the job's start on the parked pool"), job.job_id)
        const done = yield* jobs.await(job.job_id, { timeout: "10 seconds" })
        assert.strictEqual(done.state, "completed")
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.runs.length, 1, "one run: the eager write's")
        assert.deepStrictEqual(movesOf(history.events), ["∅→queued", "queued→running", "running→completed"])
        assert.strictEqual(counts.writes, 0, "the store's write answered no one but the look")
        assert.strictEqual(yield* Queue.size(starts), 0, "its program ran once")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: an eager write that committed the job queued (an older job came first) but lost its answer — submit returns the job, both run`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager answer lost queued")
        const base = yield* database.store()
        yield* silenceAnnouncements(database)
        const losing = losingEagerAnswers(base)
        const { store, untilLooks } = countingEager(losing.store)
        const jobs = yield* jobsOver(database, store)
        // Queued through the port, which announces nothing in this process: the eager write sees it first.
        const { older, starts } = yield* parkedBehindOlderJob(jobs, base, untilLooks)
        losing.state.armed = true
        const newer = yield* jobs.submit(summarize())
        assert.strictEqual(losing.state.lost, 1)
        assert.strictEqual(newer.state, "queued")
        const ran = [yield* takeWithin(starts, "the first start"), yield* takeWithin(starts, "the second start")]
        assert.sameMembers(ran, [older.job_id, newer.job_id], "each ran")
        for (const id of ran) assert.strictEqual((yield* jobs.await(id, { timeout: "10 seconds" })).state, "completed")
        assert.strictEqual((yield* jobs.history(newer.job_id)).runs.length, 1)
      }).pipe(Effect.scoped), 60_000)

    it.live(`issue 16 eager dispatch ${backend.name}: when looking up the lost write fails too, submit fails with the write's error, a warning names the job and its run, and the loop is given back`, () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("eager answer lost look down")
        const losing = losingEagerAnswers(yield* database.store())
        const { store, untilLooks } = countingEager(losing.store)
        const jobs = yield* jobsOver(database, store)
        const starts = yield* Queue.unbounded<JobId>()
        yield* parkedPool(jobs, starts, untilLooks)
        losing.state.armed = true
        losing.state.lookDown = true
        const log = capturingLog(["WARN"])
        const refused = yield* Effect.flip(log.provide(jobs.submit(summarize())))
        losing.state.lookDown = false
        assert.strictEqual(refused._tag, "StorageError")
        assert.include(refused.message, "Connection terminated unexpectedly", "the write's own error")
        const orphan = onlyJob((yield* jobs.list()).items)
        assert.strictEqual(orphan.state, "running", "it committed: running under the eager write's run")
        assert.lengthOf(log.lines.filter((line) => line.includes(orphan.job_id) && line.includes(orphan.workflow_run_id!) && line.includes("Recovery")), 1)
        // The pool's one loop is free again: had the seat been kept, it would sleep to its 30 s poll.
        yield* realSleep(100)
        const next = yield* jobs.submit(summarize())
        assert.strictEqual(yield* takeWithin(starts, "the next job's start"), next.job_id)
      }).pipe(Effect.scoped), 60_000)
  })
}

describe("issue 16 eager dispatch on PostgreSQL, its answer lost on a real connection", () => {
  it.live("issue 16 eager dispatch PostgreSQL: the connection cut after the server answered the eager write — submit returns the job and the parked pool runs it once", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("eager answer cut")
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startCuttingProxy(database.url, "), decided AS (")), (proxy) => Effect.promise(proxy.close))
      const proxied = yield* Effect.map(Layer.build(PgStore.layer({ url: proxy.url })), (context) => Context.get(context, JobStore))
      const { store, untilLooks } = countingEager(proxied)
      // The wake-up listens on its own, direct connection; the store's statements go through the proxy.
      const jobs = yield* jobsOver(database satisfies SharedDatabase, store)
      const starts = yield* Queue.unbounded<JobId>()
      yield* parkedPool(jobs, starts, untilLooks)
      proxy.state.armed = true
      const submitted = yield* Effect.exit(jobs.submit(summarize()))
      assert.strictEqual(proxy.state.cut, 1, "the eager write's answer was cut")
      assert.isTrue(Exit.isSuccess(submitted), `the job exists: the submit succeeds (got ${String(submitted)})`)
      const job = (submitted as Exit.Success<{ readonly job_id: JobId }, unknown>).value
      assert.strictEqual(yield* takeWithin(starts, "the job's start on the parked pool"), job.job_id)
      assert.strictEqual((yield* jobs.await(job.job_id, { timeout: "10 seconds" })).state, "completed")
      assert.strictEqual((yield* jobs.history(job.job_id)).runs.length, 1)
      assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
    }).pipe(Effect.scoped), 60_000)
})
