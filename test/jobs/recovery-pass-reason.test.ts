/**
 * R9 audit: a `workflow_recovery` event's `reason` (free text in the
 * reference shape, FR-EVT-WF-RECOVERY) says truthfully which pass found its
 * run — the startup gate's scan ("startup recovery", the reference's words),
 * a scan an application or an operator runs on demand
 * (`Recovery.recoverStalledRuns`, `ai-jobs recover`: "on-demand recovery"),
 * or a periodic sweep ("recovery sweep", recovery-sweep.test.ts) — and the
 * stalled job's and run's `error_message` say the same. The event keeps its
 * shape. On a SQLite file and on PostgreSQL, under the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

/**
 * The run's one `workflow_recovery` event: its body's fields (no others), and
 * its reason, the job's and the run's `error_message`, which must be one text
 * naming `pass`.
 */
const expectStalledBy = (run: WorkflowRunId, job: JobId, pass: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const events = (yield* store.listEvents({ types: ["workflow_recovery"], workflow_run_id: run })).items
    assert.strictEqual(events.length, 1, "one workflow_recovery event")
    const body = events[0]!.body as Record<string, unknown>
    assert.sameMembers(Object.keys(body), [
      "event_id", "timestamp", "actor", "trace_id", "job_id", "workflow_run_id", "type",
      "from_state", "to_state", "reason", "last_heartbeat_ts", "threshold_secs"
    ], "the reference shape, no field added")
    const stalledRun = yield* store.getRun(run)
    const why = `stalled (${pass}: heartbeat timeout): last heartbeat ${DateTime.formatIso(stalledRun.last_heartbeat)}, threshold 30s`
    assert.strictEqual(body.reason, why, "the event names the pass that found the run")
    assert.deepStrictEqual([stalledRun.error_message, (yield* store.getJob(job)).error_message], [why, why], "the run and job say the same")
  })

for (const backend of sharedBackends) {
  describe(`R9 recovery reasons name their pass on ${backend.name}`, () => {
    it.effect("R9 a run the startup gate stalls says startup recovery; one an on-demand scan (Recovery.recoverStalledRuns, as ai-jobs recover runs it) stalls says on-demand recovery", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery pass reason")
        // A worker claims a job at 0 s and dies; the application starts 31 s later.
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const early = yield* dead.submit(summarize())
        const earlyClaim = (yield* dead.claimNext())!
        yield* TestClock.adjust("31 seconds")
        const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup()))
        const gate = Context.get(context, Recovery.RecoveryGate)
        assert.deepStrictEqual((yield* gate.result).recovered.map((run) => run.id), [earlyClaim.run.id])
        // Another worker dies after startup; 31 s later an operator runs a scan on demand.
        const late = yield* dead.submit(summarize())
        const lateClaim = (yield* dead.claimNext())!
        yield* TestClock.adjust("31 seconds")
        const store = Context.get(context, JobStore)
        const onDemand = yield* Effect.provideService(Recovery.recoverStalledRuns(), JobStore, store)
        assert.deepStrictEqual(onDemand.recovered.map((run) => run.id), [lateClaim.run.id])
        yield* Effect.provideService(expectStalledBy(earlyClaim.run.id, early.job_id, "startup recovery"), JobStore, store)
        yield* Effect.provideService(expectStalledBy(lateClaim.run.id, late.job_id, "on-demand recovery"), JobStore, store)
      }).pipe(Effect.scoped), 60_000)
  })
}
