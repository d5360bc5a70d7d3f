/**
 * Contract: runs offered to worker pools (migration 0016) — a resumed job's
 * new run that no worker holds, until one pool takes it (`offerRun`,
 * `adoptOfferedRun`): once, across processes; never a run that is no longer
 * its job's running run.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import type { NewAiJobInput } from "../../../src/domain/AiJob.js"
import type { WorkflowRunId } from "../../../src/domain/Ids.js"
import type { JobKind } from "../../../src/domain/JobKind.js"
import { type Claim, JobStore } from "../../../src/store/JobStore.js"
import { claimAll } from "../../support/drain.js"
import { expectTag, failureOf, ids, newJob, STALE_MS, staleOptions } from "../fixtures.js"
import { sleepRealTime } from "../../../src/util/sleepRealTime.js"
import { type Backend, type Store, storeTest, withTwoStores } from "../../support/backend.js"

const offerOf = (store: Store) => {
  const offerRun = store.offerRun
  if (offerRun === undefined) return assert.fail("the store has offerRun")
  return offerRun
}

const adoptOf = (store: Store) => {
  const adopt = store.adoptOfferedRun
  if (adopt === undefined) return assert.fail("the store has adoptOfferedRun")
  return (kinds?: ReadonlyArray<JobKind>) => adopt(kinds === undefined ? {} : { kinds })
}

/** A job running under a new run that no worker holds (as a resume leaves it), offered to pools. */
const offeredOn = (store: Store, overrides: Partial<NewAiJobInput> = {}) =>
  Effect.gen(function*() {
    const created = yield* store.createJob(newJob(overrides))
    const run = yield* store.createRun(created.job_id)
    const job = yield* store.transition({ job_id: created.job_id, to: "running", workflow_run_id: run.id })
    yield* offerOf(store)(run.id)
    return { job, run }
  })

export const offerContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("offerRun and adoptOfferedRun", () => {
    test("R6c R8 a run begun after its job's last change by a clock ahead, adopted on a clock behind: its heartbeat the reading, its updated_at never before its created_at", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const created = yield* store.createJob(newJob(), { at: DateTime.unsafeMake(86_400_000) })
        const run = yield* store.createRun(created.job_id)
        yield* store.transition({ job_id: created.job_id, to: "running", workflow_run_id: run.id })
        yield* offerOf(store)(run.id)
        yield* TestClock.setTime(2_000)
        const claim = yield* adoptOf(store)()
        if (claim === null) return assert.fail("the offered run must be adopted")
        const stored = yield* store.getRun(run.id)
        for (const adopted of [claim.run, stored]) {
          assert.deepStrictEqual(
            [adopted.created_at, adopted.updated_at, adopted.last_heartbeat].map(DateTime.toEpochMillis),
            [86_400_000, 86_400_000, 2_000]
          )
        }
      }))

    test("R6c an offered run is adopted once: its job and run, the heartbeat set to now; a second look finds nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const { job, run } = yield* offeredOn(store)
        yield* TestClock.setTime(21_000)
        const claim = yield* adoptOf(store)()
        if (claim === null) return assert.fail("the offered run must be adopted")
        assert.strictEqual(claim.job.job_id, job.job_id)
        assert.strictEqual(claim.job.state, "running")
        assert.strictEqual(claim.job.workflow_run_id, run.id)
        assert.strictEqual(claim.run.id, run.id)
        assert.strictEqual(claim.run.status, "running")
        assert.strictEqual(DateTime.toEpochMillis(claim.run.last_heartbeat), 21_000, "adopted: heard from now")
        assert.deepStrictEqual(yield* store.getRun(run.id), claim.run, "what it returns is what it wrote")
        assert.isNull(yield* adoptOf(store)(), "taken once")
        assert.strictEqual((yield* store.listRuns(job.job_id)).length, 1, "no run of its own")
      }))

    test("R6 an adoption calls adopted once with the claim it returns (its commit done), and a look that takes none calls nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const noted: Array<Claim> = []
        const adopted = (claim: Claim) => noted.push(claim)
        assert.isNull(yield* store.adoptOfferedRun!({ leaveUntaken: true, adopted }), "nothing offered yet")
        assert.deepStrictEqual(noted, [], "none taken, none noted")
        yield* TestClock.setTime(1_000)
        yield* offeredOn(store)
        yield* TestClock.setTime(5_000)
        const claim = yield* store.adoptOfferedRun!({ leaveUntaken: true, adopted })
        assert.isNotNull(claim)
        assert.deepStrictEqual(noted, [claim], "the claim it returns, noted once")
        assert.deepStrictEqual(yield* store.getRun(claim!.run.id), claim!.run, "as committed")
      }))

    test("R6c offers are taken oldest first, and only of the kinds asked for", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(3_000)
        const third = yield* offeredOn(store, { job_kind: "doc_edit" })
        yield* TestClock.setTime(1_000)
        const first = yield* offeredOn(store, { job_kind: "doc_edit" })
        yield* TestClock.setTime(2_000)
        const term = yield* offeredOn(store, { job_kind: "terminal_exec" })
        yield* TestClock.setTime(4_000)
        assert.isNull(yield* adoptOf(store)(["spec_router"]))
        assert.isNull(yield* adoptOf(store)([]), "no kind: nothing")
        assert.strictEqual((yield* adoptOf(store)(["doc_edit"]))?.run.id, first.run.id)
        assert.strictEqual((yield* adoptOf(store)(["doc_edit", "asr_transcribe"]))?.run.id, third.run.id)
        assert.isNull(yield* adoptOf(store)(["doc_edit"]))
        assert.strictEqual((yield* adoptOf(store)())?.run.id, term.run.id)
      }))

    test("R6c a run that is no longer its job's running run is never adopted: the job cancelled, the run ended, the run stalled by recovery", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const cancelled = yield* offeredOn(store)
        yield* store.transition({ job_id: cancelled.job.job_id, from: "running", to: "cancelled" })
        const ended = yield* offeredOn(store)
        yield* store.finishRun(ended.run.id, "failed")
        const stalled = yield* offeredOn(store)
        yield* TestClock.setTime(1_000 + STALE_MS + 1)
        const live = yield* offeredOn(store)
        // Nobody took `stalled`'s offer, and the next recovery stalled its run (R9).
        const moved = yield* Effect.flatMap(staleOptions(), (scan) => store.stallStaleRuns({ ...scan, limit: 10 }))
        assert.includeMembers(moved.map((m) => m.run.id), [stalled.run.id])
        const taken = yield* claimAll(adoptOf(store))
        assert.deepStrictEqual(taken.map((claim) => claim.run.id), [live.run.id], "only the live offer")
        assert.strictEqual((yield* store.getJob(cancelled.job.job_id)).state, "cancelled", "unchanged")
        assert.strictEqual((yield* store.getRun(ended.run.id)).status, "failed", "unchanged")
        assert.strictEqual((yield* store.getJob(stalled.job.job_id)).state, "stalled", "unchanged")
        assert.strictEqual((yield* store.getRun(stalled.run.id)).status, "stalled", "unchanged")
      }))

    test("R6c offering a run that does not exist is NotFound, and nothing is offered; offering a run twice keeps one offer", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const missing = ids.run()
        const failure = yield* failureOf(offerOf(store)(missing))
        expectTag(failure, "NotFound")
        assert.strictEqual((failure as { readonly id?: string }).id, missing)
        assert.isNull(yield* adoptOf(store)())
        yield* TestClock.setTime(1_000)
        const { run } = yield* offeredOn(store)
        yield* offerOf(store)(run.id)
        assert.strictEqual((yield* adoptOf(store)())?.run.id, run.id)
        assert.isNull(yield* adoptOf(store)(), "one offer, taken once")
      }))

    test("R6c an offer made in a transaction that rolls back is not there", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const created = yield* store.createJob(newJob())
        yield* store.transaction(Effect.gen(function*() {
          const run = yield* store.createRun(created.job_id)
          yield* store.transition({ job_id: created.job_id, to: "running", workflow_run_id: run.id })
          yield* offerOf(store)(run.id)
          return yield* Effect.fail("roll back" as const)
        })).pipe(Effect.flip)
        assert.isNull(yield* adoptOf(store)())
        assert.strictEqual((yield* store.getJob(created.job_id)).state, "queued")
      }))

    test("R6c racing adopters on two stores (16 looks at once, 12 offers) take each offer exactly once", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_000)
          const offered: Array<WorkflowRunId> = []
          for (let i = 0; i < 12; i++) offered.push((yield* offeredOn(i % 2 === 0 ? a : b)).run.id)
          const lookers = Array.from({ length: 16 }, (_, i) => claimAll(adoptOf(i % 2 === 0 ? a : b)))
          const taken = (yield* Effect.all(lookers, { concurrency: "unbounded" })).flat()
          const runs = taken.map((claim) => claim.run.id)
          assert.strictEqual(runs.length, 12, "every offer taken")
          assert.sameMembers(runs, offered, "each offer once")
        })))

    test("R6c an offer taken in a transaction not yet committed is not taken again: the other store's look waits or skips it, and finds none", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_000)
          const { run } = yield* offeredOn(a)
          const taken = yield* Deferred.make<Claim | null>()
          const commit = yield* Deferred.make<void>()
          const holder = yield* Effect.fork(a.transaction(Effect.gen(function*() {
            yield* Deferred.succeed(taken, yield* adoptOf(a)())
            yield* Deferred.await(commit)
          })))
          assert.strictEqual((yield* Deferred.await(taken))?.run.id, run.id)
          // The other look starts while the taker's transaction is open; it ends after the commit at the latest.
          const other = yield* Effect.fork(adoptOf(b)())
          yield* sleepRealTime(50)
          yield* Deferred.succeed(commit, undefined)
          yield* Fiber.join(holder)
          assert.isNull(yield* Fiber.join(other), "the offer was taken once")
        })))

    test("R6c an offer goes with its job when the job is deleted (pruning)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(1_000)
        const { job, run } = yield* offeredOn(store)
        yield* store.transition({ job_id: job.job_id, from: "running", to: "failed" })
        yield* store.finishRun(run.id, "failed").pipe(Effect.ignore)
        yield* TestClock.setTime(10 * 24 * 3_600_000)
        const report = yield* store.pruneJobs({ olderThan: DateTime.unsafeMake(5 * 24 * 3_600_000), keepNewest: 0 })
        assert.strictEqual(report.pruned, 1)
        const rows = yield* sql`SELECT run_id FROM run_offers`
        assert.strictEqual(rows.length, 0)
      }).pipe(Effect.provide(backend.makeStoreWithSql())))
  })
}
