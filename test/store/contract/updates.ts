/**
 * Contract: changes to a job outside the lifecycle — metrics, outputs, reason,
 * error (R4, R5) — and pinning (R18).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { DecodeFailure } from "../../../src/domain/Errors.js"
import { JobMetrics } from "../../../src/domain/JobMetrics.js"
import { JobStore } from "../../../src/store/JobStore.js"
import { at, encode, expectTag, failureOf, ids, jobEvent, millis, newJob, tagOf } from "../fixtures.js"
import { type Backend, storeTest, withTwoStores } from "../../support/backend.js"

/** updateJob / setPinned contract tests. */
export const updateContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("updateJob", () => {
    test("R4 updateJob stores metrics exactly, including the u32 and safe-integer limits", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const metrics = new JobMetrics({
          duration_ms: Number.MAX_SAFE_INTEGER,
          total_tokens: 4_294_967_295,
          input_tokens: 1_200,
          output_tokens: 34,
          tokens_planner: 5,
          tokens_executor: 6,
          entities_read: 7,
          entities_written: 8,
          validators_run_count: 9
        })
        const updated = yield* store.updateJob(job.job_id, { metrics })
        assert.deepStrictEqual(encode.job(updated).metrics, encode.job({ ...job, metrics }).metrics)
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)).metrics, encode.job({ ...job, metrics }).metrics)
        assert.strictEqual(updated.state, "queued", "updateJob never changes the state")
      }))

    test("R5 updateJob stores outputs, status_reason and error_message and leaves other fields alone", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob({ job_inputs: { q: "in" }, status_reason: "initial" }))
        const outputs = { summary: "done ✓", scores: [0.5, 1, 2.25], nested: { ok: true, none: null } }
        const withOutputs = yield* store.updateJob(job.job_id, { job_outputs: outputs })
        assert.deepStrictEqual(withOutputs.job_outputs, outputs)
        assert.strictEqual(withOutputs.status_reason, "initial", "left out: kept")
        assert.isNull(withOutputs.error_message)

        const withReason = yield* store.updateJob(job.job_id, { status_reason: "halfway", error_message: "a warning" })
        assert.strictEqual(withReason.status_reason, "halfway")
        assert.strictEqual(withReason.error_message, "a warning")
        assert.deepStrictEqual(withReason.job_outputs, outputs, "left out: kept")

        const cleared = yield* store.updateJob(job.job_id, { job_outputs: null, error_message: null })
        assert.isNull(cleared.job_outputs)
        assert.isNull(cleared.error_message)
        assert.strictEqual(cleared.status_reason, "halfway")

        const read = encode.job(yield* store.getJob(job.job_id))
        assert.deepStrictEqual(read, encode.job(cleared))
        assert.deepStrictEqual(
          { ...read, status_reason: job.status_reason, updated_at: encode.job(job).updated_at },
          encode.job(job),
          "only the patched fields changed"
        )
      }))

    test("R5 updateJob refuses a key its patch does not name (a misspelt error_mesage, a state) with DecodeFailure naming it; nothing changed, no event written", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob({ status_reason: "initial" }))
        const before = encode.job(yield* store.getJob(job.job_id))
        const patches: ReadonlyArray<readonly [Record<string, unknown>, ReadonlyArray<string>]> = [
          // Dropped, each call succeeded and changed nothing: the caller believed the job failed, or its error stored.
          [{ error_mesage: "disk full" }, ["error_mesage"]],
          [{ state: "completed" }, ["state"]],
          [{ status_reason: "halfway", is_pinned: true, events: () => [jobEvent(job)] }, ["is_pinned"]]
        ]
        for (const [patch, keys] of patches) {
          const error = expectTag(yield* failureOf(store.updateJob(job.job_id, patch as never)), "DecodeFailure")
          assert.deepStrictEqual(error.issues.map((issue) => issue.path), keys, JSON.stringify(patch))
        }
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), before)
        assert.deepStrictEqual((yield* store.listEvents({ job_id: job.job_id })).items, [])
      }))

    test("R5 transition, finishRun and releaseRun refuse a key their request does not name with DecodeFailure naming it; nothing moved, no event written", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const run = yield* store.createRun(job.job_id)
        const before = encode.job(yield* store.getJob(job.job_id))
        // Dropped, each went ahead without it: a misspelt reason lost, a run_after that was meant as a delay ignored.
        const moves: ReadonlyArray<readonly [Effect.Effect<unknown, unknown>, string]> = [
          [store.transition({ job_id: job.job_id, to: "cancelled", reasn: "operator", events: () => [jobEvent(job)] } as never), "reasn"],
          [store.transition({ job_id: job.job_id, to: "failed", error_mesage: "x" } as never), "error_mesage"],
          [store.finishRun(run.id, "failed", { error_mesage: "x" } as never), "error_mesage"],
          [store.releaseRun(run.id, { reason: "shutdown", reasn: "x" } as never), "reasn"]
        ]
        for (const [move, key] of moves) {
          const error = yield* failureOf(move)
          assert.strictEqual(tagOf(error), "DecodeFailure", String(error))
          assert.deepStrictEqual((error as DecodeFailure).issues.map((issue) => issue.path), [key])
        }
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), before)
        assert.strictEqual((yield* store.getRun(run.id)).status, "running")
        assert.deepStrictEqual((yield* store.listEvents({ job_id: job.job_id })).items, [])
      }))

    test("R10 updateJob writes its events", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const event = jobEvent(job, { type: "llm_inference", actor: "agent" })
        yield* store.updateJob(job.job_id, { metrics: new JobMetrics({ total_tokens: 10 }), events: () => [event] })
        assert.deepStrictEqual((yield* store.listEvents({ job_id: job.job_id })).items.map(encode.event), [encode.event(event)])
      }))

    test("R5 updateJob of an unknown job fails with NotFound and writes no event", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const event = jobEvent({ job_id: jobId, trace_id: ids.trace(), workflow_run_id: null })
        const error = expectTag(yield* failureOf(store.updateJob(jobId, { status_reason: "x", events: () => [event] })), "NotFound")
        assert.strictEqual(error.entity, "job")
        assert.strictEqual(error.id, jobId)
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))
  })

  describe("a change's instant (`at`)", () => {
    test("R6 transition, setPinned and releaseRun given `at` write the job's updated_at at it, not at the clock's reading", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const job = yield* store.createJob(newJob())
        yield* TestClock.setTime(2_000)
        const pinned = yield* store.setPinned(job.job_id, true, { events: () => [jobEvent(job)], at: at(5_000) })
        assert.strictEqual(millis(pinned.updated_at), 5_000)
        const run = yield* store.createRun(job.job_id, { at: at(6_000) })
        const running = yield* store.transition({ job_id: job.job_id, from: "queued", to: "running", workflow_run_id: run.id, at: at(6_000) })
        assert.strictEqual(millis(running.updated_at), 6_000)
        const released = yield* store.releaseRun(run.id, { reason: "handed back", at: at(7_000) })
        assert.strictEqual(millis(released.updated_at), 7_000)
        assert.strictEqual(millis((yield* store.getJob(job.job_id)).updated_at), 7_000)
      }))

    test("R6 updateJob given `at` (a patch made with a move, in its transaction) writes the job's updated_at at it, not at the clock's later reading, and never before the job's last change", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const job = yield* store.createJob(newJob())
        yield* TestClock.setTime(9_000)
        const patched = yield* store.updateJob(job.job_id, { metrics: new JobMetrics({ duration_ms: 5 }), at: at(4_000) })
        assert.strictEqual(millis(patched.updated_at), 4_000, "at the move's instant, not the clock's 9 s")
        assert.strictEqual(millis((yield* store.getJob(job.job_id)).updated_at), 4_000)
        const before = yield* store.updateJob(job.job_id, { status_reason: "later", at: at(2_000) })
        assert.strictEqual(millis(before.updated_at), 4_000, "not before its last change")
        // Without `at`, the clock's reading, as before.
        assert.strictEqual(millis((yield* store.updateJob(job.job_id, { status_reason: "now" })).updated_at), 9_000)
      }))

    test("R6 transition, setPinned and releaseRun given an `at` before the job's last change leave its updated_at at that change", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(10_000)
        const job = yield* store.createJob(newJob())
        const pinned = yield* store.setPinned(job.job_id, true, { at: at(5_000) })
        assert.strictEqual(millis(pinned.updated_at), 10_000)
        const run = yield* store.createRun(job.job_id)
        const running = yield* store.transition({ job_id: job.job_id, from: "queued", to: "running", workflow_run_id: run.id, at: at(5_000) })
        assert.strictEqual(millis(running.updated_at), 10_000)
        const released = yield* store.releaseRun(run.id, { reason: "handed back", at: at(5_000) })
        assert.strictEqual(millis(released.updated_at), 10_000)
        // The run too: it ends where the job moved, never before it began (found by a regression probe).
        const ended = yield* store.getRun(run.id)
        assert.strictEqual(millis(ended.updated_at), 10_000, "the run's end: not before it began")
        assert.isAtLeast(millis(ended.updated_at), millis(ended.created_at))
      }))
  })

  describe("setPinned", () => {
    test("R18 setPinned pins and unpins a job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        assert.isTrue((yield* store.setPinned(job.job_id, true)).is_pinned)
        assert.isTrue((yield* store.getJob(job.job_id)).is_pinned)
        assert.isFalse((yield* store.setPinned(job.job_id, false)).is_pinned)
        assert.isFalse((yield* store.getJob(job.job_id)).is_pinned)
      }))

    test("R10 setPinned writes its events with a change, and changes nothing (no event, same updated_at) for a job already so", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const job = yield* store.createJob(newJob())
        yield* TestClock.setTime(2_000)
        const pinEvent = jobEvent(job)
        const pinned = yield* store.setPinned(job.job_id, true, { events: () => [pinEvent] })
        assert.isTrue(pinned.is_pinned)
        assert.strictEqual(millis(pinned.updated_at), 2_000)
        yield* TestClock.setTime(3_000)
        const again = yield* store.setPinned(job.job_id, true, { events: () => [jobEvent(job)] })
        assert.deepStrictEqual(encode.job(again), encode.job(pinned), "already pinned: returned as it is")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(pinned))
        const unpinEvent = jobEvent(job)
        const unpinned = yield* store.setPinned(job.job_id, false, { events: () => [unpinEvent] })
        assert.isFalse(unpinned.is_pinned)
        assert.strictEqual(millis(unpinned.updated_at), 3_000)
        yield* store.setPinned(job.job_id, false, { events: () => [jobEvent(job)] })
        // The fixture's events share one timestamp, so they list in event-id order: compare as a set.
        assert.sameMembers(
          (yield* store.listEvents({ job_id: job.job_id })).items.map((event) => event.event_id),
          [pinEvent.event_id, unpinEvent.event_id],
          "one event per change, none for the no-ops"
        )
      }))

    test("R18 concurrent setPinned of one job from two stores: every call succeeds, exactly one writes its event", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const jobs = yield* Effect.forEach([1, 2, 3, 4, 5], () => a.createJob(newJob()))
          for (const job of jobs) {
            // Twelve racers per job, half on each store (separate connections where the backend has them).
            const racers = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).setPinned(job.job_id, true, { events: () => [jobEvent(job)] }))
            const results = yield* Effect.all(racers, { concurrency: "unbounded" })
            assert.isTrue(results.every((result) => result.is_pinned))
            assert.strictEqual((yield* a.listEvents({ job_id: job.job_id })).items.length, 1, `job ${job.job_id}: one change, one event`)
          }
        })))

    test("R18 setPinned of an unknown job fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const error = expectTag(yield* failureOf(store.setPinned(jobId, true)), "NotFound")
        assert.strictEqual(error.entity, "job")
        assert.strictEqual(error.id, jobId)
      }))
  })
}
