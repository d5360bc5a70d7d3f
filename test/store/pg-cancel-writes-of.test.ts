/**
 * R8, a worker pool's drain cut on PostgreSQL (`JobStore.cancelWritesOf`):
 * the cut names a write by its event record's id, and cancels only the
 * statements that write that record. It cancelled every statement in flight
 * whose parameters held the id anywhere — as a part of a text or of a JSON
 * value — so another caller's submit whose inputs named it, or an end whose
 * error message began with it, waiting on the same lock, failed with the
 * drain's cancel (found by a regression probe: a `POST /jobs` naming the cut
 * job). A group-commit statement that writes the record is cancelled whole:
 * its members each run again alone, so the others' writes are made by
 * statements of their own, and the named one is cancelled in its turn.
 *
 * Every statement here waits on a table lock another session holds until
 * the assertions are made (pg_stat_activity says when they wait); the cancel
 * only exists on PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AiJob } from "../../src/domain/AiJob.js"
import { EventId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { cutAgain } from "../../src/internal/jobs/cutAgain.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { holdTable } from "../support/tableHold.js"
import { claimedOn, jobEvent, newJob } from "./fixtures.js"

const freshId = () => EventId.make(uuidv7())

/** The store on its own pool (the cancel needs it), with group commit or without. */
const storeOn = (url: string, coalesce: boolean) => Effect.map(Layer.build(PgStore.layer({ url, coalesce })), (context) => Context.get(context, JobStore))

/** `job`'s run's own end (`settleRun`), its record `event_id`. */
const settleOf = (store: JobStore["Type"], job: AiJob, event_id: EventId) =>
  store.settleRun!({
    job_id: job.job_id,
    workflow_run_id: job.workflow_run_id!,
    to: "completed",
    status_reason: "",
    duration_ms: 1,
    event: jobEvent(job, { event_id })
  })

/** Waits until `fiber` has stopped in an asynchronous wait (in group commit's line, or its statement sent). */
const untilSuspended = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.gen(function*() {
    while ((yield* Fiber.status(fiber))._tag !== "Suspended") yield* Effect.yieldNow()
  })

/**
 * Cancels the statements writing record `event_id` until `write` has ended, as a worker pool's drain does
 * (internal/jobs/cutAgain.ts): a cancel not delivered in time, or a statement sent again, is cut on the next.
 */
const cancelUntilEnded = <A, E>(store: JobStore["Type"], event_id: EventId, write: Fiber.Fiber<A, E>) =>
  Effect.raceFirst(cutAgain(store.cancelWritesOf!(event_id)), Fiber.await(write))

/** Asserts `job` is still `running` under its run, and that record `event_id` was not written. */
const stillRunning = (store: JobStore["Type"], job: AiJob, event_id: EventId) =>
  Effect.gen(function*() {
    const after = yield* store.getJob(job.job_id)
    assert.strictEqual(after.state, "running", `job ${job.job_id}: nothing of its cut end was written`)
    assert.strictEqual(after.workflow_run_id, job.workflow_run_id)
    assert.deepStrictEqual((yield* store.listEvents({ event_id, limit: 1 })).items, [], "its end's record was not written")
  })

describe("R8 cancelling a write by its event id on PostgreSQL", () => {
  it.live("R8 only the statement writing the record is cancelled: a submit whose inputs name the id, and an end whose error begins with it, wait on the same lock and commit once it goes", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("cancel writes of an event")
      // Each call its own statement: all three wait on the lock together.
      const store = yield* storeOn(url, false)
      const cut = (yield* claimedOn(store)).job
      const other = (yield* claimedOn(store)).job
      const endId = freshId()
      const hold = yield* holdTable(url, "ai_jobs")
      const settling = yield* Effect.fork(settleOf(store, cut, endId))
      const submitting = yield* Effect.fork(store.createJob(newJob({ job_inputs: { follow_up_of: endId, job: cut.job_id } })))
      const ending = yield* Effect.fork(store.finishRunningJob!({
        job_id: other.job_id,
        to: "failed",
        error_message: `${endId}: its follow-up failed`,
        event: jobEvent(other, { event_id: freshId() })
      }))
      yield* hold.blockedBy(3)
      const settled = yield* cancelUntilEnded(store, endId, settling)
      assert.isTrue(Exit.isFailure(settled), "the end writing the record was cancelled")
      assert.include(Exit.isFailure(settled) ? Cause.pretty(settled.cause) : "", "canceling statement due to user request")
      yield* hold.release
      const submitted = yield* Fiber.join(submitting)
      assert.deepStrictEqual((yield* store.getJob(submitted.job_id)).job_inputs, { follow_up_of: endId, job: cut.job_id }, "the submit naming the id committed")
      const ended = yield* Fiber.join(ending)
      assert.strictEqual(ended?.state, "failed", "the end whose error begins with the id committed")
      assert.strictEqual((yield* store.getJob(other.job_id)).error_message, `${endId}: its follow-up failed`)
      yield* stillRunning(store, cut, endId)
    }).pipe(Effect.scoped), 60_000)

  it.live("R8 a group-commit statement writing the record is cancelled whole: its other member's end is written by a statement of its own, the named one's is cancelled in its turn", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("cancel a shared statement")
      const store = yield* storeOn(url, true)
      const first = (yield* claimedOn(store)).job
      const cut = (yield* claimedOn(store)).job
      const mate = (yield* claimedOn(store)).job
      const [firstId, endId, mateId] = [freshId(), freshId(), freshId()]
      const hold = yield* holdTable(url, "ai_jobs")
      // The first settle takes group commit's one slot and waits on the lock; the next two line up behind it.
      const settlingFirst = yield* Effect.fork(settleOf(store, first, firstId))
      yield* hold.blocked
      const settlingCut = yield* Effect.fork(settleOf(store, cut, endId))
      const settlingMate = yield* Effect.fork(settleOf(store, mate, mateId))
      yield* untilSuspended(settlingCut)
      yield* untilSuspended(settlingMate)
      // Once the first is cancelled, the two share the next statement, which waits on the lock in its turn.
      assert.isTrue(Exit.isFailure(yield* cancelUntilEnded(store, firstId, settlingFirst)), "setup: the first settle was cancelled")
      yield* hold.blocked
      // Cancelled whole, each member runs again alone; the named end's own statement is cut in its turn.
      assert.isTrue(Exit.isFailure(yield* cancelUntilEnded(store, endId, settlingCut)), "the named end was cancelled")
      // Its former statement-mate was not failed with it: its own statement still waits on the lock.
      yield* hold.blocked
      assert.isTrue(Option.isNone(yield* Fiber.poll(settlingMate)), "the statement-mate's end still waits, not failed with the shared statement")
      yield* hold.release
      assert.strictEqual((yield* Fiber.join(settlingMate)).state, "completed", "the statement-mate's end was written")
      yield* stillRunning(store, cut, endId)
      yield* stillRunning(store, first, firstId)
    }).pipe(Effect.scoped), 60_000)
})
