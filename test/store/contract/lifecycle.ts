/**
 * Contract: guarded state changes (R6, R6a). Every (from, to) pair of the
 * lifecycle table is driven through the store; the ten pairs into `stalled`
 * are checked at the type level, since the API cannot name them.
 */
import { assert, describe } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../../src/domain/AiJob.js"
import { type JobState, JobStates } from "../../../src/domain/JobState.js"
import * as Lifecycle from "../../../src/domain/Lifecycle.js"
import { JobStore, type TransitionRequest } from "../../../src/store/JobStore.js"
import { encode, expectTag, failureOf, ids, jobEvent, jobsIn, millis, newJob, pointedAtOther, startedJob } from "../fixtures.js"
import { type Backend, storeTest, withTwoStores } from "../../support/backend.js"

const targets = JobStates.filter((state): state is Lifecycle.TransitionTarget => state !== "stalled")

const onlyJob = (jobs: ReadonlyArray<AiJob>): AiJob => {
  const [job] = jobs
  if (job === undefined) return assert.fail("setup: expected one job")
  return job
}

/** Lifecycle contract tests. */
export const lifecycleContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("transition: every (from, to) pair", () => {
    for (const from of JobStates) {
      for (const to of targets) {
        if (Lifecycle.canTransition(from, to)) {
          test(`R6 transition ${from} -> ${to} is legal: it succeeds, persists, and writes its event`, () =>
            Effect.gen(function*() {
              const store = yield* JobStore
              const before = onlyJob(yield* jobsIn(from, 1))
              yield* TestClock.adjust(5_000)
              const now = yield* Clock.currentTimeMillis
              const event = jobEvent(before)
              const after = yield* store.transition({ job_id: before.job_id, to, events: () => [event] })
              assert.strictEqual(after.state, to)
              assert.strictEqual(after.job_id, before.job_id)
              assert.strictEqual(millis(after.updated_at), now, "updated_at moves to the Clock's now")
              const read = yield* store.getJob(before.job_id)
              assert.deepStrictEqual(encode.job(read), encode.job(after))
              assert.deepStrictEqual(encode.job({ ...read, state: before.state, updated_at: before.updated_at }), encode.job(before))
              const events = yield* store.listEvents({ event_id: event.event_id })
              assert.strictEqual(events.items.length, 1)
            }))
        } else {
          test(`R6 transition ${from} -> ${to} is illegal: IllegalTransition, row unchanged, no event`, () =>
            Effect.gen(function*() {
              const store = yield* JobStore
              const before = onlyJob(yield* jobsIn(from, 1))
              yield* TestClock.adjust(5_000)
              const event = jobEvent(before)
              const error = expectTag(
                yield* failureOf(store.transition({ job_id: before.job_id, to, events: () => [event] })),
                "IllegalTransition"
              )
              assert.deepStrictEqual({ job_id: error.job_id, from: error.from, to: error.to }, { job_id: before.job_id, from, to })
              assert.deepStrictEqual(encode.job(yield* store.getJob(before.job_id)), encode.job(before))
              assert.deepStrictEqual((yield* store.listEvents({ event_id: event.event_id })).items, [])
            }))
        }
      }
    }

    test("R6a transition cannot even name stalled as a target, from any state", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (const from of JobStates) {
          const job = onlyJob(yield* jobsIn(from, 1))
          // @ts-expect-error `stalled` is not a TransitionTarget: only recovery (stallStaleRuns) writes it.
          const request: TransitionRequest = { job_id: job.job_id, to: "stalled" }
          // Forced past the type checker, the store must still never write it.
          const exit = yield* Effect.exit(store.transition(request))
          assert.isTrue(Exit.isFailure(exit), `${from} -> stalled must not succeed`)
          assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job), `${from} -> stalled changed the row`)
        }
      }))
  })

  describe("transition: guards and fields", () => {
    test("R6 transition with a compare-and-set from that does not match fails with IllegalTransition naming the actual state", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = onlyJob(yield* jobsIn("running", 1))
        const error = expectTag(
          yield* failureOf(store.transition({ job_id: job.job_id, from: "queued", to: "completed" })),
          "IllegalTransition"
        )
        assert.deepStrictEqual({ job_id: error.job_id, from: error.from, to: error.to }, { job_id: job.job_id, from: "running", to: "completed" })
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job))
      }))

    test("R6 transition with a compare-and-set from that matches succeeds", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = onlyJob(yield* jobsIn("running", 1))
        const done = yield* store.transition({ job_id: job.job_id, from: "running", to: "completed" })
        assert.strictEqual(done.state, "completed")
      }))

    test("R6 transition of an unknown job fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const error = expectTag(yield* failureOf(store.transition({ job_id: jobId, to: "running" })), "NotFound")
        assert.strictEqual(error.entity, "job")
        assert.strictEqual(error.id, jobId)
      }))

    test("R6 transition writes status_reason, error_message and workflow_run_id, and keeps them when left out", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        assert.strictEqual(job.workflow_run_id, run.id)

        const reviewed = yield* store.transition({
          job_id: job.job_id,
          to: "awaiting_validation",
          status_reason: "needs review",
          error_message: "validator warned"
        })
        assert.strictEqual(reviewed.status_reason, "needs review")
        assert.strictEqual(reviewed.error_message, "validator warned")
        assert.strictEqual(reviewed.workflow_run_id, run.id, "left out: the run is kept")

        const waiting = yield* store.transition({ job_id: job.job_id, to: "awaiting_user" })
        assert.strictEqual(waiting.status_reason, "needs review", "left out: the reason is kept")
        assert.strictEqual(waiting.error_message, "validator warned", "left out: the error is kept")

        const rework = yield* store.createRun(job.job_id)
        const running = yield* store.transition({
          job_id: job.job_id,
          to: "running",
          workflow_run_id: rework.id,
          error_message: null,
          status_reason: ""
        })
        assert.strictEqual(running.workflow_run_id, rework.id)
        assert.isNull(running.error_message)
        assert.strictEqual(running.status_reason, "")

        const failed = yield* store.transition({ job_id: job.job_id, to: "failed", workflow_run_id: null, error_message: "boom" })
        assert.isNull(failed.workflow_run_id)
        assert.strictEqual(failed.error_message, "boom")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(failed))
      }))

    test("R6 R9 transition pointing a job at another job's run is refused by the database (migration 0030): StorageError, nothing changed; its own run is taken", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const finishRunningJob = store.finishRunningJob
        if (finishRunningJob === undefined) return assert.fail("the store has the one-statement end")
        const { job: other, run: otherRun } = yield* startedJob()
        const job = yield* store.createJob(newJob())
        const pointed = jobEvent(job)
        const refused = yield* Effect.either(store.transition({ job_id: job.job_id, to: "running", workflow_run_id: otherRun.id, events: () => [pointed] }))
        // What such a pointer did before 0030: the job's end settled the other job's run (its
        // worker's next heartbeat RunNotActive), and the end's record named that run.
        const ended = yield* finishRunningJob({ job_id: job.job_id, to: "cancelled", event: jobEvent(job) })
        assert.isNull(ended, "the job never ran: its end changes nothing")
        assert.strictEqual((yield* store.heartbeat(otherRun.id)).status, "running", "the other job's run is still its own, running")
        assert.deepStrictEqual((yield* store.listEvents({ workflow_run_id: otherRun.id })).items.map((event) => event.job_id), [])
        // The refusal itself: a StorageError naming the rule, the job and the trail as they were.
        if (refused._tag === "Right") return assert.fail(`the pointer at another job's run was taken: ${refused.right.workflow_run_id}`)
        const error = expectTag(refused.left, "StorageError")
        assert.strictEqual(error.message, `HSK-500-DB: Storage failed during JobStore.transition: ${pointedAtOther(job.job_id, otherRun.id, other.job_id)}`)
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job))
        assert.deepStrictEqual((yield* store.listEvents({ event_id: pointed.event_id })).items, [])
        assert.strictEqual((yield* store.getJob(other.job_id)).workflow_run_id, otherRun.id)
        // Its own run is taken as before, and its end settles that run alone.
        const own = yield* store.createRun(job.job_id)
        assert.strictEqual((yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: own.id })).workflow_run_id, own.id)
        assert.strictEqual((yield* finishRunningJob({ job_id: job.job_id, to: "cancelled", event: jobEvent(job) }))?.state, "cancelled")
        assert.strictEqual((yield* store.getRun(own.id)).status, "cancelled")
        assert.strictEqual((yield* store.getRun(otherRun.id)).status, "running")
      }))

    test("R6 transition writes several events atomically with the change", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const events = [jobEvent(job), jobEvent(job, { type: "diagnostic" })]
        yield* store.transition({ job_id: job.job_id, to: "running", events: () => events })
        const stored = yield* store.listEvents({ job_id: job.job_id })
        assert.sameMembers(stored.items.map((e) => e.event_id), events.map((e) => e.event_id))
      }))

    test("R6 two concurrent guarded transitions of the same job: exactly one wins, the other sees the winner's state", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const jobs = yield* Effect.provideService(jobsIn("running", 10), JobStore, a)
          const outcomes = yield* Effect.forEach(jobs, (job) =>
            Effect.all([
              Effect.exit(a.transition({ job_id: job.job_id, from: "running", to: "completed" })),
              Effect.exit(b.transition({ job_id: job.job_id, from: "running", to: "failed" }))
            ], { concurrency: 2 }), { concurrency: "unbounded" })
          for (const [index, [toCompleted, toFailed]] of outcomes.entries()) {
            const job = jobs[index] as AiJob
            const wins = [toCompleted, toFailed].filter(Exit.isSuccess)
            assert.strictEqual(wins.length, 1, `job ${job.job_id}: exactly one transition wins`)
            const winner: JobState = Exit.isSuccess(toCompleted) ? "completed" : "failed"
            const loser = Exit.isSuccess(toCompleted) ? toFailed : toCompleted
            const error = expectTag(yield* failureOf(loser), "IllegalTransition")
            assert.strictEqual(error.from, winner, "the loser names the state it actually found")
            assert.strictEqual((yield* a.getJob(job.job_id)).state, winner)
          }
        })))
  })
}
