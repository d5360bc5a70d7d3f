/**
 * Issue 16: a worker's settle as one guarded write (`JobStore.settleRun`),
 * on both stores. The run's end — the job's move out of `running`, the run
 * ended with the same status, the job's outputs and the run's duration, and
 * the move's record — is written together, and only while the run is still
 * the job's current run; a settle for a run recovery stalled, an operator
 * cancelled or a release handed back fails with `RunNotActive` and writes
 * nothing; bad input is a typed error and writes nothing. Both stores answer
 * alike.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { AiJob } from "../../src/domain/AiJob.js"
import { EventId, WorkflowRunId } from "../../src/domain/Ids.js"
import { metricBounds } from "../../src/domain/JobMetrics.js"
import type { TransitionTarget } from "../../src/domain/Lifecycle.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import type { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { DEFAULT_MAX_EVENT_BYTES } from "../../src/internal/flight/Privacy.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { lifecycleEvent } from "../../src/internal/jobs/auditEvents.js"
import type { JobStore, RunSettle } from "../../src/store/JobStore.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { claimedOn } from "./fixtures.js"

const build = makeBuild({ redactor: Redactor.make(), maxEventBytes: DEFAULT_MAX_EVENT_BYTES })

/** The record a settle of `run` to `to` writes, as the engine prepares it. */
const recordFor = (job: AiJob, run: WorkflowRun, to: Exclude<TransitionTarget, "queued" | "running">) =>
  Effect.map(
    build(lifecycleEvent({ job, from: "running", to, workflow_run_id: run.id, attempt: job.attempt })),
    (record) => {
      // A fresh id, in the row and its body alike (a row whose body names another id is CorruptRow).
      const event_id = EventId.make(uuidv7())
      return { ...record, event_id, body: { ...record.body, event_id } }
    }
  )

/** A settle of `run` to `completed` with outputs and a duration. */
const settleOf = (job: AiJob, run: WorkflowRun, overrides: Partial<RunSettle> = {}) =>
  Effect.map(recordFor(job, run, overrides.to ?? "completed"), (event): RunSettle => ({
    job_id: job.job_id,
    workflow_run_id: run.id,
    to: "completed",
    error_message: null,
    job_outputs: { answer: 42 },
    duration_ms: 1_234,
    event,
    ...overrides
  }))

/** What a settle could have changed about a job: its row, its runs and its records. */
const footprint = (store: JobStore["Type"], job: AiJob) =>
  Effect.all([
    store.getJob(job.job_id),
    store.listRuns(job.job_id),
    Effect.map(store.listEvents({ job_id: job.job_id, limit: 1000 }), (page) => page.items.map((event) => event.event_id))
  ])

for (const backend of sharedBackends) {
  describe(`issue 16 settleRun on ${backend.name}`, () => {
    it.scoped("issue 16 a settle writes the move, the run's end, the outputs, the duration and the record together", () =>
      Effect.gen(function*() {
        const store = yield* (yield* backend.fresh("settle writes")).store()
        assert.isDefined(store.settleRun, `${backend.name} has settleRun`)
        const { job, run } = yield* claimedOn(store)
        const settle = yield* settleOf(job, run)
        const settled = yield* store.settleRun!(settle)
        assert.strictEqual(settled.state, "completed")
        assert.deepStrictEqual(settled.job_outputs, { answer: 42 })
        assert.strictEqual(settled.metrics.duration_ms, 1_234)
        assert.strictEqual(settled.workflow_run_id, run.id)
        const stored = yield* store.getJob(job.job_id)
        assert.deepStrictEqual(
          [stored.state, stored.job_outputs, stored.metrics.duration_ms, stored.error_message],
          ["completed", { answer: 42 }, 1_234, null]
        )
        assert.strictEqual((yield* store.getRun(run.id)).status, "completed")
        const records = (yield* store.listEvents({ workflow_run_id: run.id, types: ["system"] })).items
        const written = records.find((record) => record.event_id === settle.event.event_id)
        if (written === undefined) return assert.fail("the settle's record is written")
        const body = written.body as Record<string, unknown>
        assert.deepStrictEqual(
          [written.trace_id, written.job_id, written.workflow_run_id, body["to_state"], body["attempt"], body["workflow_run_id"]],
          [job.trace_id, job.job_id, run.id, "completed", job.attempt, run.id]
        )
      }), 120_000)

    it.scoped("issue 16 a failed settle keeps the outputs when none are given, and the duration saturates at its bound", () =>
      Effect.gen(function*() {
        const store = yield* (yield* backend.fresh("settle saturates")).store()
        const { job, run } = yield* claimedOn(store)
        yield* store.updateJob(job.job_id, {
          job_outputs: { partial: true },
          metrics: { ...job.metrics, duration_ms: metricBounds.duration_ms - 10 } as AiJob["metrics"]
        })
        const { job_outputs: _, ...withoutOutputs } = yield* settleOf(job, run, { to: "failed", error_message: "boom" })
        const settled = yield* store.settleRun!({ ...withoutOutputs, duration_ms: 1_000 })
        assert.deepStrictEqual(
          [settled.state, settled.error_message, settled.job_outputs, settled.metrics.duration_ms],
          ["failed", "boom", { partial: true }, metricBounds.duration_ms]
        )
        const ended = yield* store.getRun(run.id)
        assert.deepStrictEqual([ended.status, ended.error_message], ["failed", "boom"])
      }), 120_000)

    it.scoped("issue 16 a settle for a run that is no longer the job's current run is refused with RunNotActive and writes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("settle guard")
        const store = yield* database.store()

        // Recovery stalled the run.
        const stale = yield* claimedOn(store)
        const stalled = yield* store.stallStaleRuns({
          heartbeatBefore: DateTime.add(yield* DateTime.now, { minutes: 1 }),
          threshold: Duration.seconds(30),
          limit: 10
        })
        assert.strictEqual(stalled.length, 1)
        // An operator cancelled the job (the general path: lock, move, end the run).
        const cancelledClaim = yield* claimedOn(store)
        yield* store.transition({ job_id: cancelledClaim.job.job_id, from: "running", to: "cancelled" })
        yield* store.finishRun(cancelledClaim.run.id, "cancelled")
        // The run was released and the job claimed again under a new run: the old run's settle is not the new one's.
        const released = yield* claimedOn(store)
        yield* store.releaseRun(released.run.id, { reason: "released" })
        const again = yield* store.claimNext()
        if (again === null || again.job.job_id !== released.job.job_id) return assert.fail("setup: the released job claimed again")

        for (
          const [claim, status] of [[stale, "stalled"], [cancelledClaim, "cancelled"], [released, "failed"]] as const
        ) {
          const before = yield* footprint(store, claim.job)
          const refused = yield* Effect.flip(store.settleRun!(yield* settleOf(claim.job, claim.run)))
          assert.strictEqual(refused._tag, "RunNotActive", status)
          assert.strictEqual((refused as { readonly status?: string }).status, status)
          assert.deepStrictEqual(yield* footprint(store, claim.job), before, `${status}: nothing written`)
        }
        assert.strictEqual((yield* store.getJob(again.job.job_id)).state, "running", "the new run's job is untouched")

        // A run that does not exist.
        const missing = yield* Effect.flip(store.settleRun!(yield* settleOf(again.job, { ...again.run, id: WorkflowRunId.make(uuidv7()) })))
        assert.strictEqual(missing._tag, "NotFound")
        assert.strictEqual((yield* store.getJob(again.job.job_id)).state, "running")
      }), 120_000)

    it.scoped("issue 16 bad settle input gets a typed error and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* (yield* backend.fresh("settle input")).store()
        const { job, run } = yield* claimedOn(store)
        const good = yield* settleOf(job, run)
        const before = yield* footprint(store, job)
        const bad: ReadonlyArray<readonly [string, unknown, string]> = [
          ["a negative duration", { ...good, duration_ms: -1 }, "DecodeFailure"],
          ["a fractional duration", { ...good, duration_ms: 1.5 }, "DecodeFailure"],
          ["a duration past the metric's bound", { ...good, duration_ms: metricBounds.duration_ms + 1 }, "DecodeFailure"],
          ["no duration", { ...good, duration_ms: undefined }, "DecodeFailure"],
          ["outputs that are no JSON", { ...good, job_outputs: { n: Number.NaN } }, "DecodeFailure"],
          ["outputs holding a Date (it would be stored as {})", { ...good, job_outputs: { at: new Date(0) } }, "DecodeFailure"],
          ["a malformed run id", { ...good, workflow_run_id: "not-a-run" }, "DecodeFailure"],
          ["no run id", { ...good, workflow_run_id: undefined }, "DecodeFailure"],
          ["an end that is no end", { ...good, to: "queued" }, "DecodeFailure"],
          ["recovery's own state", { ...good, to: "stalled" }, "IllegalTransition"],
          ["a malformed record", { ...good, event: { ...good.event, event_id: "nope" } }, "DecodeFailure"]
        ]
        for (const [name, input, tag] of bad) {
          const refused = yield* Effect.flip(store.settleRun!(input as RunSettle))
          assert.strictEqual(refused._tag, tag, name)
          assert.deepStrictEqual(yield* footprint(store, job), before, `${name}: nothing written`)
        }
        // The same settle, well formed, still goes through.
        assert.strictEqual((yield* store.settleRun!(good)).state, "completed")
      }), 120_000)
  })
}
