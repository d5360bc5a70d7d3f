/**
 * Contract: pruning finished jobs (R18). Terminal or failed (the reference
 * prunes failed jobs too), unpinned, last updated before the cutoff, and not
 * among the newest `keepNewest` unpinned such jobs; with the report of what
 * was scanned, pruned and spared (HSK-GC-003's counts).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../../src/domain/AiJob.js"
import { JobStates } from "../../../src/domain/JobState.js"
import type { JobState } from "../../../src/domain/JobState.js"
import { JobStore } from "../../../src/store/JobStore.js"
import { at, expectTag, failureOf, jobEvent, jobsIn } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

const CUTOFF = 100_000

/** A job brought to a (non-stalled) state with all its writes at `ms`, so `updated_at` is `ms`. */
const jobAt = (ms: number, state: Exclude<JobState, "stalled">, options: { readonly pinned?: boolean } = {}) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    yield* TestClock.setTime(ms)
    const [job] = yield* jobsIn(state, 1)
    if (job === undefined) return assert.fail("setup: one job")
    return options.pinned === true ? yield* store.setPinned(job.job_id, true) : job
  })

/** Which of `jobs` still exist. */
const surviving = (jobs: ReadonlyArray<AiJob>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const left: Array<string> = []
    for (const job of jobs) {
      const found = yield* Effect.either(store.getJob(job.job_id))
      if (found._tag === "Right") left.push(job.job_id)
    }
    return left
  })

/** pruneJobs contract tests. */
export const pruningContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("pruneJobs", () => {
    test("R18 issue 12.6 pruneJobs deletes only terminal and failed, unpinned jobs last updated before the cutoff, and reports the counts", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const oldByState = new Map<JobState, AiJob>()
        for (const state of JobStates) {
          if (state === "stalled") continue
          oldByState.set(state, yield* jobAt(1_000, state))
        }
        const pinned = yield* jobAt(1_000, "completed", { pinned: true })
        yield* TestClock.setTime(2_000)
        const [stalled] = yield* jobsIn("stalled", 1)
        if (stalled === undefined) return assert.fail("setup: a stalled job")
        oldByState.set("stalled", stalled)
        const recent = yield* jobAt(CUTOFF + 50_000, "completed")

        const report = yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 0 })
        // Five old prunable jobs and the old pinned one were scanned.
        assert.deepStrictEqual(report, { scanned: 6, pruned: 5, spared_pinned: 1, spared_window: 0 })
        const prunable = new Set<JobState>(["completed", "completed_with_issues", "cancelled", "poisoned", "failed"])
        for (const [state, job] of oldByState) {
          const exists = (yield* surviving([job])).length === 1
          assert.strictEqual(exists, !prunable.has(state), `an old ${state} job ${prunable.has(state) ? "is pruned" : "is kept"}`)
        }
        assert.deepStrictEqual(yield* surviving([pinned]), [pinned.job_id], "pinned jobs are never pruned")
        assert.deepStrictEqual(yield* surviving([recent]), [recent.job_id], "jobs updated after the cutoff are kept")
      }))

    test("R18 pruneJobs always keeps the newest keepNewest terminal jobs", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobs: Array<AiJob> = []
        for (const ms of [1_000, 2_000, 3_000, 4_000, 5_000]) jobs.push(yield* jobAt(ms, "completed"))
        const report = yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 2 })
        assert.deepStrictEqual(report, { scanned: 5, pruned: 3, spared_pinned: 0, spared_window: 2 })
        assert.deepStrictEqual(yield* surviving(jobs), jobs.slice(3).map((job) => job.job_id))
      }))

    test("R18 issue 12.6 the newest kept are the newest unpinned jobs: a pinned job does not take a place in the window", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobs = [yield* jobAt(1_000, "failed"), yield* jobAt(2_000, "completed"), yield* jobAt(3_000, "cancelled")]
        const pinned = yield* jobAt(4_000, "completed", { pinned: true })
        const report = yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 1 })
        assert.deepStrictEqual(report, { scanned: 4, pruned: 2, spared_pinned: 1, spared_window: 1 })
        assert.deepStrictEqual(yield* surviving([...jobs, pinned]), [jobs[2]!.job_id, pinned.job_id])
      }))

    test("R18 pruneJobs breaks updated_at ties by job_id when keeping the newest", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobs = [yield* jobAt(1_000, "completed"), yield* jobAt(1_000, "completed"), yield* jobAt(1_000, "completed")]
        const newest = jobs.map((job) => job.job_id).sort().slice(-1)
        const result = yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 1 })
        assert.strictEqual(result.pruned, 2)
        assert.deepStrictEqual(yield* surviving(jobs), newest)
      }))

    test("R18 pruneJobs counts terminal jobs newer than the cutoff among the newest kept", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const old = [yield* jobAt(1_000, "completed"), yield* jobAt(2_000, "cancelled"), yield* jobAt(3_000, "poisoned")]
        const recent = [yield* jobAt(CUTOFF + 1_000, "completed"), yield* jobAt(CUTOFF + 2_000, "completed_with_issues")]
        const report = yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 2 })
        assert.deepStrictEqual(report, { scanned: 3, pruned: 3, spared_pinned: 0, spared_window: 0 })
        assert.deepStrictEqual(yield* surviving([...old, ...recent]), recent.map((job) => job.job_id))
      }))

    test("R18 pruneJobs with dryRun counts without deleting", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobs: Array<AiJob> = []
        for (const ms of [1_000, 2_000, 3_000, 4_000, 5_000]) jobs.push(yield* jobAt(ms, "completed"))
        const dry = yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 2, dryRun: true })
        assert.strictEqual((yield* surviving(jobs)).length, 5, "a dry run deletes nothing")
        assert.deepStrictEqual(yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 2 }), dry, "and reports what a real run does")
        assert.strictEqual(dry.pruned, 3)
      }))

    test("R18 pruneJobs removes the runs and nodes of pruned jobs and keeps their events", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job0 = yield* jobAt(1_000, "queued")
        const run = yield* store.createRun(job0.job_id)
        const running = yield* store.transition({ job_id: job0.job_id, to: "running", workflow_run_id: run.id })
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
        yield* store.finishNode(node.id, { status: "completed" })
        yield* store.finishRun(run.id, "completed")
        const events = [jobEvent(running), jobEvent(running, { type: "diagnostic" })]
        yield* store.transition({ job_id: job0.job_id, to: "completed", events: () => events })

        assert.strictEqual((yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 0 })).pruned, 1)
        expectTag(yield* failureOf(store.getJob(job0.job_id)), "NotFound")
        expectTag(yield* failureOf(store.getRun(run.id)), "NotFound")
        assert.deepStrictEqual(yield* store.listRuns(job0.job_id), [])
        assert.deepStrictEqual(yield* store.listNodes(run.id), [])
        const kept = yield* store.listEvents({ job_id: job0.job_id })
        assert.sameMembers(kept.items.map((e) => e.event_id), events.map((e) => e.event_id), "the audit trail outlives the job")
      }))

    test("R18 pruneJobs with nothing to prune deletes 0", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* jobAt(1_000, "running")
        yield* jobAt(CUTOFF + 1, "completed")
        assert.deepStrictEqual(yield* store.pruneJobs({ olderThan: at(CUTOFF), keepNewest: 0 }), { scanned: 0, pruned: 0, spared_pinned: 0, spared_window: 0 })
      }))
  })
}
