/**
 * Contract: what workers and recovery do concurrently — claiming queued jobs,
 * finding stale runs and moving them to `stalled` (R6a, R9).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { WorkflowRun } from "../../../src/domain/WorkflowRun.js"
import { type Claim, JobStore, type StalledRun } from "../../../src/store/JobStore.js"
import { at, jobEvent, millis, encode, newJob, recoveryEvents, STALE_MS, staleBefore, staleOptions, startedJob } from "../fixtures.js"

/** Two started jobs whose runs last beat at 0 and 5.25 s, the clock now at 40 s: both stale, oldest first. */
const twoStaleRuns = Effect.gen(function*() {
  const first = yield* startedJob()
  yield* TestClock.setTime(5_250)
  const second = yield* startedJob()
  yield* TestClock.setTime(40_000)
  return [first, second] as const
})
import { claimAll, stallAll } from "../../support/drain.js"
import { type Backend, type Store, storeTest, withTwoStores } from "../../support/backend.js"

/** Stalls in batches of `limit` until nothing is stale; returns what this recoverer moved. */
const stallInBatches = (store: Store, limit: number): Effect.Effect<Array<StalledRun>, unknown> =>
  stallAll(() => Effect.flatMap(staleOptions(), (scan) => store.stallStaleRuns({ ...scan, limit, events: recoveryEvents })))

/** claimNext, findStaleRuns and stallStaleRuns contract tests. */
export const workerContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("claimNext", () => {
    test("R6 claimNext on an empty store returns null", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        assert.isNull(yield* store.claimNext())
      }))

    test("R6 claimNext takes queued jobs oldest first and skips jobs that are not queued", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(500)
        const cancelled = yield* store.createJob(newJob())
        yield* store.transition({ job_id: cancelled.job_id, to: "cancelled" })
        const byTime = new Map<number, string>()
        for (const ms of [3_000, 1_000, 2_000]) {
          yield* TestClock.setTime(ms)
          byTime.set(ms, (yield* store.createJob(newJob())).job_id)
        }
        // Claimed once all three exist: a job is never eligible before it was created (issue 15.2).
        yield* TestClock.setTime(3_000)
        const claimed: Array<string> = []
        for (let i = 0; i < 3; i++) claimed.push((yield* store.claimNext())?.job.job_id ?? "(null)")
        assert.deepStrictEqual(claimed, [byTime.get(1_000), byTime.get(2_000), byTime.get(3_000)])
        assert.isNull(yield* store.claimNext())
        assert.strictEqual((yield* store.getJob(cancelled.job_id)).state, "cancelled")
      }))

    // Found by an outside mutation audit: the order's run_after and created_at keys could be swapped unseen.
    test("R6 claimNext takes the highest priority first, then the job eligible longest (run_after), then the oldest (created_at), then the lowest id", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const create = (ms: number, overrides: Parameters<typeof newJob>[0]) =>
          Effect.zipRight(TestClock.setTime(ms), Effect.map(store.createJob(newJob(overrides)), (job) => job.job_id))
        // Created first, eligible late; created later, eligible sooner: created_at and run_after disagree.
        const createdFirst = yield* create(1_000, { run_after: at(8_000) })
        const eligibleFirst = yield* create(2_000, { run_after: at(3_000) })
        const createdThird = yield* create(3_000, { run_after: at(8_000) })
        const urgent = yield* create(4_000, { run_after: at(9_000), priority: 1 })
        // The same instants twice: the id decides.
        const lowId = yield* create(5_000, { job_id: "00000000-0000-4000-8000-000000000001" })
        const highId = yield* create(5_000, { job_id: "ffffffff-0000-4000-8000-000000000001" })
        yield* TestClock.setTime(10_000)
        const claimed: Array<string> = []
        for (let i = 0; i < 6; i++) claimed.push((yield* store.claimNext())?.job.job_id ?? "(null)")
        assert.deepStrictEqual(claimed, [urgent, eligibleFirst, lowId, highId, createdFirst, createdThird])
        assert.isNull(yield* store.claimNext())
      }))

    test("R6 claimNext with kinds takes only jobs of those kinds", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const edit = yield* store.createJob(newJob({ job_kind: "doc_edit" }))
        yield* TestClock.setTime(2_000)
        const term = yield* store.createJob(newJob({ job_kind: "terminal_exec" }))
        assert.isNull(yield* store.claimNext({ kinds: ["spec_router"] }))
        const claim = yield* store.claimNext({ kinds: ["terminal_exec", "asr_transcribe"] })
        assert.strictEqual(claim?.job.job_id, term.job_id)
        assert.isNull(yield* store.claimNext({ kinds: ["terminal_exec"] }))
        assert.strictEqual((yield* store.getJob(edit.job_id)).state, "queued", "the other kind stays queued")
      }))

    // Stop 78: a claim for some kinds reads each kind's own queue (migration 0027) and merges them.
    test("R6 claimNext for several kinds (one named twice) takes their jobs in the one claim order across kinds: priority, run_after, created_at, id; another kind's job ahead of them all stays queued", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const create = (ms: number, overrides: Parameters<typeof newJob>[0]) =>
          Effect.zipRight(TestClock.setTime(ms), Effect.map(store.createJob(newJob(overrides)), (job) => job.job_id))
        const other = yield* create(500, { job_kind: "doc_summarize", priority: 5 })
        const createdFirst = yield* create(1_000, { job_kind: "terminal_exec", run_after: at(8_000) })
        const eligibleFirst = yield* create(2_000, { job_kind: "doc_edit", run_after: at(3_000) })
        const createdThird = yield* create(3_000, { job_kind: "terminal_exec", run_after: at(8_000) })
        const urgent = yield* create(4_000, { job_kind: "doc_edit", run_after: at(9_000), priority: 1 })
        const lowId = yield* create(5_000, { job_kind: "terminal_exec", job_id: "00000000-0000-4000-8000-000000000001" })
        const highId = yield* create(5_000, { job_kind: "doc_edit", job_id: "ffffffff-0000-4000-8000-000000000001" })
        yield* TestClock.setTime(10_000)
        const kinds = ["terminal_exec", "doc_edit", "terminal_exec"] as const
        const claimed: Array<string> = []
        for (let i = 0; i < 6; i++) claimed.push((yield* store.claimNext({ kinds }))?.job.job_id ?? "(null)")
        assert.deepStrictEqual(claimed, [urgent, eligibleFirst, lowId, highId, createdFirst, createdThird])
        assert.isNull(yield* store.claimNext({ kinds }))
        assert.strictEqual((yield* store.getJob(other)).state, "queued", "the other kind stays queued")
      }))

    test("R6c claimNext moves the job to running with a new running run, and stores the events it builds", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        yield* TestClock.setTime(9_000)
        const seen: Array<Claim> = []
        const claim = yield* store.claimNext({
          events: (c) => {
            seen.push(c)
            return [jobEvent(c.job, { type: "system" }), jobEvent(c.job, { type: "capability_action", actor: "agent" })]
          }
        })
        if (claim === null) return assert.fail("a queued job must be claimed")
        assert.strictEqual(claim.job.job_id, job.job_id)
        assert.strictEqual(claim.job.state, "running")
        assert.strictEqual(claim.job.workflow_run_id, claim.run.id)
        assert.strictEqual(claim.run.job_id, job.job_id)
        assert.strictEqual(claim.run.status, "running")
        assert.strictEqual(millis(claim.run.last_heartbeat), 9_000)
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(claim.job))
        assert.deepStrictEqual(encode.run(yield* store.getRun(claim.run.id)), encode.run(claim.run))
        assert.strictEqual(seen.length, 1, "the events builder is called once per claim")
        assert.strictEqual(seen[0]?.run.id, claim.run.id, "the builder sees the claim")
        const events = yield* store.listEvents({ job_id: job.job_id })
        assert.strictEqual(events.items.length, 2)
        assert.isTrue(events.items.every((e) => e.workflow_run_id === claim.run.id))
      }))

    test("R6 concurrent claimers never claim a job twice: 30 jobs, 3 claimers, 30 distinct claims", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          for (let i = 0; i < 30; i++) {
            yield* TestClock.setTime(i)
            yield* a.createJob(newJob())
          }
          const perClaimer = yield* Effect.all([claimAll(() => a.claimNext()), claimAll(() => b.claimNext()), claimAll(() => a.claimNext())], { concurrency: "unbounded" })
          const claims = perClaimer.flat()
          const jobIds = claims.map((c) => c.job.job_id)
          assert.strictEqual(jobIds.length, 30, "every job claimed")
          assert.strictEqual(new Set(jobIds).size, 30, "no job claimed twice")
          assert.strictEqual(new Set(claims.map((c) => c.run.id)).size, 30, "one run per claim")
          const all = yield* a.listJobs({ limit: 1000 })
          assert.isTrue(all.items.every((job) => job.state === "running"))
          for (const claim of claims) assert.strictEqual((yield* a.listRuns(claim.job.job_id)).length, 1)
        })))
  })

  describe("findStaleRuns", () => {
    test("R9 findStaleRuns: a heartbeat 29 s old is not stale, 31 s old is (threshold 30 s)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(100_000)
        const { run } = yield* startedJob()
        yield* TestClock.setTime(100_000 + 29_000)
        assert.deepStrictEqual(yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() }), [])
        yield* TestClock.setTime(100_000 + 31_000)
        assert.deepStrictEqual((yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() })).map(encode.run), [encode.run(run)])
      }))

    // Found by an outside mutation audit: `<=` for `<` went unseen. R9 says "more than 30 seconds".
    test("R9 a heartbeat exactly 30.000 s old is not stale (findStaleRuns, stallStaleRuns); 30.001 s old is", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(100_000)
        const { job, run } = yield* startedJob()
        yield* TestClock.setTime(100_000 + 30_000)
        assert.deepStrictEqual(yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() }), [])
        assert.deepStrictEqual(yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents }), [])
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
        yield* TestClock.setTime(100_000 + 30_001)
        assert.deepStrictEqual((yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() })).map((r) => r.id), [run.id])
        assert.deepStrictEqual((yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents })).map((s) => s.run.id), [run.id])
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
      }))

    test("R9 findStaleRuns never returns runs that are not running", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run: finished } = yield* startedJob()
        yield* store.finishRun(finished.id, "completed")
        const { run: failed } = yield* startedJob()
        yield* store.finishRun(failed.id, "failed")
        const { run: live } = yield* startedJob()
        yield* TestClock.adjust(STALE_MS * 10)
        assert.deepStrictEqual((yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() })).map((r) => r.id), [live.id])
      }))

    test("R9 findStaleRuns lists the oldest heartbeat first and honours limit", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run: r0 } = yield* startedJob()
        const { run: r5 } = yield* startedJob()
        const { run: r2 } = yield* startedJob()
        yield* TestClock.setTime(2_000)
        yield* store.heartbeat(r2.id)
        yield* TestClock.setTime(5_000)
        yield* store.heartbeat(r5.id)
        yield* TestClock.setTime(60_000)
        assert.deepStrictEqual((yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() })).map((r) => r.id), [r0.id, r2.id, r5.id])
        assert.deepStrictEqual((yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore(), limit: 2 })).map((r) => r.id), [r0.id, r2.id])
      }))

    test("R9 a long-running run that keeps beating is never found stale or stalled", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        for (let i = 0; i < 30; i++) {
          yield* TestClock.adjust(10_000)
          yield* store.heartbeat(run.id)
          yield* TestClock.adjust(10_000)
          assert.deepStrictEqual(yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() }), [])
          assert.deepStrictEqual(yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents }), [])
        }
        assert.strictEqual((yield* store.getRun(run.id)).status, "running")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
      }))
  })

  describe("stallStaleRuns", () => {
    test("R9 stallStaleRuns moves stale runs and their jobs to stalled, writes their events, returns the runs as moved", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const stale = yield* Effect.forEach([1, 2, 3], () => startedJob())
        yield* TestClock.setTime(20_000)
        const fresh = yield* startedJob()
        yield* TestClock.setTime(40_000)
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 100, events: recoveryEvents })
        const sortById = (runs: ReadonlyArray<WorkflowRun>) => runs.map(encode.run).sort((x, y) => (x.id < y.id ? -1 : 1))
        assert.deepStrictEqual(sortById(moved.map((s) => s.run)), sortById(yield* Effect.forEach(stale, (s) => store.getRun(s.run.id))), "the moved runs, as stored after the move")
        for (const { job, run } of stale) {
          assert.strictEqual(moved.find((s) => s.run.id === run.id)?.trace_id, job.trace_id, "each moved run comes with its job's trace id")
          assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
          const events = yield* store.listEvents({ workflow_run_id: run.id, types: ["workflow_recovery"] })
          assert.strictEqual(events.items.length, 1, "one recovery event per moved run")
          assert.strictEqual(events.items[0]?.job_id, job.job_id)
          assert.strictEqual(events.items[0]?.trace_id, job.trace_id)
        }
        assert.strictEqual((yield* store.getRun(fresh.run.id)).status, "running")
        assert.strictEqual((yield* store.getJob(fresh.job.job_id)).state, "running")
        assert.strictEqual((yield* store.listEvents({ workflow_run_id: fresh.run.id })).items.length, 0)
      }))

    test("R9 issue 12.5 a stalled job says why, as the reference does: status_reason stalled, error_message naming its run's heartbeat and the threshold", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const [first, second] = yield* twoStaleRuns
        yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10 })
        for (const [{ job, run }, heartbeat] of [[first, "1970-01-01T00:00:00.000Z"], [second, "1970-01-01T00:00:05.250Z"]] as const) {
          const why = `stalled (startup recovery: heartbeat timeout): last heartbeat ${heartbeat}, threshold 30s`
          const stalled = yield* store.getJob(job.job_id)
          assert.deepStrictEqual([stalled.state, stalled.status_reason, stalled.error_message], ["stalled", "stalled", why])
          assert.strictEqual((yield* store.getRun(run.id)).error_message, why)
        }
      }))

    test("R9 audit: stallStaleRuns returns each run as stored after the move (status stalled, its stall message, the move's updated_at), equal to getRun and listRuns, oldest heartbeat first", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const [first, second] = yield* twoStaleRuns
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents })
        assert.deepStrictEqual(moved.map((s) => s.run.id), [first.run.id, second.run.id], "oldest heartbeat first")
        for (const [{ run }, heartbeat] of [[first, "1970-01-01T00:00:00.000Z"], [second, "1970-01-01T00:00:05.250Z"]] as const) {
          const reported = moved.find((s) => s.run.id === run.id)!.run
          assert.strictEqual(reported.status, "stalled")
          assert.strictEqual(reported.error_message, `stalled (startup recovery: heartbeat timeout): last heartbeat ${heartbeat}, threshold 30s`)
          assert.strictEqual(millis(reported.updated_at), 40_000, "the move's instant")
          assert.strictEqual(millis(reported.last_heartbeat), millis(run.last_heartbeat), "the heartbeat is kept")
          assert.deepStrictEqual(encode.run(reported), encode.run(yield* store.getRun(run.id)), "what getRun reads back")
          assert.deepStrictEqual([encode.run(reported)], (yield* store.listRuns(run.job_id)).map(encode.run), "what listRuns reads back")
        }
      }))

    test("R9 stallStaleRuns a second time moves nothing and writes no event", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* Effect.forEach([1, 2], () => startedJob())
        yield* TestClock.adjust(STALE_MS + 1_000)
        assert.strictEqual((yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 100, events: recoveryEvents })).length, 2)
        assert.deepStrictEqual(yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 100, events: recoveryEvents }), [])
        assert.strictEqual((yield* store.listEvents({ types: ["workflow_recovery"] })).items.length, 2)
      }))

    test("R9 stallStaleRuns without an events builder moves the runs and writes no event", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        yield* TestClock.adjust(STALE_MS + 1_000)
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10 })
        assert.deepStrictEqual(moved.map((s) => s.run.id), [run.id])
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))

    test("R9 stallStaleRuns moves at most limit runs per call", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* Effect.forEach([1, 2, 3, 4, 5], () => startedJob())
        yield* TestClock.adjust(STALE_MS + 1_000)
        assert.strictEqual((yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 2, events: recoveryEvents })).length, 2)
        assert.strictEqual((yield* store.findStaleRuns({ heartbeatBefore: yield* staleBefore() })).length, 3)
        assert.strictEqual((yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents })).length, 3)
      }))

    test("R6a stallStaleRuns stalls a stale run but leaves its job alone when the job is no longer running", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const waiting = yield* store.transition({ job_id: job.job_id, to: "awaiting_validation" })
        yield* TestClock.adjust(STALE_MS + 1_000)
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents })
        assert.deepStrictEqual(moved.map((s) => s.run.id), [run.id])
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(waiting))
      }))

    // Found by an outside mutation audit: PostgreSQL's stall matched the job by its id alone, unseen.
    test("R6a a stale old run of a job now running under a newer run: the old run is stalled, the job keeps running under the newer one", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(100_000)
        const { job, run: old } = yield* startedJob()
        yield* store.transition({ job_id: job.job_id, to: "awaiting_validation" })
        yield* store.transition({ job_id: job.job_id, to: "awaiting_user" })
        yield* TestClock.setTime(120_000)
        const newer = yield* store.createRun(job.job_id)
        const running = yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: newer.id })
        // The old run last beat at 100 s, the newer at 120 s: at 140 s only the old one is stale.
        yield* TestClock.setTime(140_000)
        assert.strictEqual((yield* store.getRun(old.id)).status, "running", "the old run was left running")
        const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents })
        assert.deepStrictEqual(moved.map((s) => s.run.id), [old.id])
        assert.strictEqual((yield* store.getRun(old.id)).status, "stalled")
        assert.strictEqual((yield* store.getRun(newer.id)).status, "running")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(running))
      }))

    test("R9 concurrent stallStaleRuns calls never move a run twice: moved = N, events = N", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const started = yield* Effect.provideService(Effect.forEach(Array.from({ length: 12 }), () => startedJob()), JobStore, a)
          yield* TestClock.adjust(STALE_MS + 1_000)
          const [byA, byB] = yield* Effect.all([stallInBatches(a, 3), stallInBatches(b, 3)], { concurrency: "unbounded" })
          const moved = [...byA, ...byB].map((s) => s.run.id)
          assert.strictEqual(moved.length, 12, "every stale run moved once")
          assert.sameMembers(moved, started.map((s) => s.run.id))
          const events = yield* a.listEvents({ types: ["workflow_recovery"], limit: 1000 })
          assert.strictEqual(events.items.length, 12, "one event per moved run")
          assert.strictEqual(new Set(events.items.map((e) => e.workflow_run_id)).size, 12)
          const jobs = yield* a.listJobs({ states: ["stalled"], limit: 1000 })
          assert.strictEqual(jobs.items.length, 12)
        })))
  })
}
