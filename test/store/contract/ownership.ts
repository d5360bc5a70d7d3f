/**
 * Contract: whose run it is (issue 11). A worker's writes for its run —
 * heartbeat, node start and finish — go through only while the run is its
 * job's active run; a run ends with a final status, never `stalled` (R6a);
 * `releaseRun` is the reserved running → queued edge; `lockJob` holds a job
 * until the transaction that locked it ends (the lock order in JobStore.ts).
 */
import { assert, describe } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { JobStore } from "../../../src/store/JobStore.js"
import { failureOf, ids, jobEvent, encode, newJob, recoveryEvents, STALE_MS, staleOptions, startedJob, expectTag } from "../fixtures.js"
import { type Backend, storeTest, withTwoStores } from "../../support/backend.js"

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Run ownership, release and job locking contract tests. */
export const ownershipContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("run ownership", () => {
    test("R6a finishRun refuses stalled, queued and running alike on every store: IllegalTransition, nothing changed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        for (const status of ["stalled", "queued", "running"] as const) {
          const event = jobEvent(job, { workflow_run_id: run.id })
          const error = expectTag(
            yield* failureOf(store.finishRun(run.id, status as "failed", { error_message: "forced", events: () => [event] })),
            "IllegalTransition"
          )
          assert.deepStrictEqual([error.job_id, error.from, error.to], [job.job_id, "running", status])
          assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run), `${status}: the run is unchanged`)
          assert.deepStrictEqual((yield* store.listEvents({ event_id: event.event_id })).items, [], `${status}: no event`)
        }
        const unknown = expectTag(yield* failureOf(store.finishRun(run.id, "zombie" as "failed")), "DecodeFailure")
        assert.include(unknown.message, "completed")
        expectTag(yield* failureOf(store.finishRun(ids.run(), "stalled" as "failed")), "NotFound")
      }))

    test("R9 heartbeat, startNode and finishNode of a run whose job moved on write nothing: RunNotActive naming the job's state", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
        // The job leaves running without its run ending (a raw store transition, not Jobs).
        yield* store.transition({ job_id: job.job_id, to: "awaiting_validation" })
        yield* TestClock.adjust(5_000)
        const refusals = [
          expectTag(yield* failureOf(store.heartbeat(run.id)), "RunNotActive"),
          expectTag(yield* failureOf(store.startNode({ workflow_run_id: run.id, node_id: "late", node_type: "step" })), "RunNotActive"),
          expectTag(yield* failureOf(store.finishNode(node.id, { status: "completed", output_payload: { late: true } })), "RunNotActive")
        ]
        for (const error of refusals) assert.deepStrictEqual([error.workflow_run_id, error.status], [run.id, "awaiting_validation"])
        assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run), "no heartbeat written")
        assert.deepStrictEqual((yield* store.listNodes(run.id)).map(encode.node), [encode.node(node)], "no node started or finished")
      }))

    test("R9 startNode and finishNode of a stalled run write nothing: RunNotActive", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
        yield* TestClock.adjust(STALE_MS + 1_000)
        assert.strictEqual((yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10, events: recoveryEvents })).length, 1)
        const started = expectTag(
          yield* failureOf(store.startNode({ workflow_run_id: run.id, node_id: "late", node_type: "step" })),
          "RunNotActive"
        )
        assert.strictEqual(started.status, "stalled")
        expectTag(yield* failureOf(store.finishNode(node.id, { status: "completed" })), "RunNotActive")
        assert.deepStrictEqual((yield* store.listNodes(run.id)).map(encode.node), [encode.node(node)])
      }))
  })

  describe("releaseRun", () => {
    test("R6 releaseRun hands a running job back to queued, ends its run failed with the reason, writes its events", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        yield* TestClock.adjust(2_000)
        const event = jobEvent(job, { workflow_run_id: run.id })
        const released = yield* store.releaseRun(run.id, { reason: "released: worker shutting down", events: () => [event] })
        assert.strictEqual(released.state, "queued")
        assert.strictEqual(released.status_reason, "released: worker shutting down")
        assert.strictEqual(released.workflow_run_id, run.id, "the job still names its last run until the next claim")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(released))
        const ended = yield* store.getRun(run.id)
        assert.deepStrictEqual([ended.status, ended.error_message], ["failed", "released: worker shutting down"])
        assert.strictEqual((yield* store.listEvents({ event_id: event.event_id })).items.length, 1)
        // R6c: the next claim runs it again under a new run.
        const claim = yield* store.claimNext()
        assert.strictEqual(claim?.job.job_id, job.job_id)
        assert.notStrictEqual(claim?.run.id, run.id)
      }))

    test("R6 releaseRun of a run that is not its job's active run changes nothing: RunNotActive or NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const cancelled = yield* store.transition({ job_id: job.job_id, to: "cancelled" })
        const event = jobEvent(job)
        const error = expectTag(yield* failureOf(store.releaseRun(run.id, { reason: "late", events: () => [event] })), "RunNotActive")
        assert.strictEqual(error.status, "cancelled")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(cancelled))
        assert.strictEqual((yield* store.getRun(run.id)).status, "running")
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
        expectTag(yield* failureOf(store.releaseRun(ids.run(), { reason: "none" })), "NotFound")
      }))
  })

  describe("lockJob", () => {
    test("R6 lockJob reads the job, and a missing one is NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        assert.deepStrictEqual(encode.job(yield* store.transaction(store.lockJob(job.job_id))), encode.job(job))
        expectTag(yield* failureOf(store.lockJob(ids.job())), "NotFound")
      }))

    test("R6 a job locked in a transaction is not changed by another store until that transaction ends", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const job = yield* a.createJob(newJob())
          const locked = yield* Deferred.make<void>()
          const holder = yield* Effect.fork(a.transaction(Effect.gen(function*() {
            const read = yield* a.lockJob(job.job_id)
            yield* Deferred.succeed(locked, undefined)
            yield* realSleep(300)
            // What was read is still what is there: nobody changed it in between.
            return yield* a.transition({ job_id: job.job_id, from: read.state, to: "cancelled" })
          })))
          yield* Deferred.await(locked)
          const claim = yield* b.claimNext()
          assert.strictEqual((yield* Fiber.join(holder)).state, "cancelled")
          assert.isNull(claim, "the locked job was not claimed behind the lock holder's back")
          assert.strictEqual((yield* b.getJob(job.job_id)).state, "cancelled")
        })))
  })
}
