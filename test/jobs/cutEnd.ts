/**
 * What a worker pool's drain cut of a run's end must leave (R8,
 * internal/jobs/settleCut.ts): the job `running` under its run, for recovery,
 * and one WARN naming the library's write — not the program — as cut.
 */
import { assert } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { currentDrainCut } from "../../src/internal/jobs/drainCut.js"
import type { Jobs, RunContext } from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import type { capturingLog } from "../support/capturedLog.js"

type Log = ReturnType<typeof capturingLog>

/** The WARNs naming a run's end the drain cut (or tried to). */
export const cutWarnings = (log: Log): ReadonlyArray<string> =>
  log.leveled.filter(([level, line]) => level === "WARN" && line.includes("the library's write of its run's end")).map(([, line]) => line)

/** Asserts the cut left `job_id` running under `workflow_run_id`, and that one WARN names it as cut. */
export const assertCutLeftRunning = (store: JobStore["Type"], job_id: JobId, workflow_run_id: WorkflowRunId, log: Log) =>
  Effect.gen(function*() {
    const after = yield* store.getJob(job_id)
    assert.strictEqual(after.state, "running", "nothing of the run's end was written")
    assert.strictEqual(after.workflow_run_id, workflow_run_id)
    assert.strictEqual((yield* store.getRun(workflow_run_id)).status, "running", "the run is recovery's")
    const warnings = log.leveled.filter(([level]) => level === "WARN").map(([, line]) => line)
    const cut = cutWarnings(log)
    assert.strictEqual(cut.length, 1, `one WARN names the cut write: ${warnings.join(" | ")}`)
    assert.include(cut[0], job_id)
    assert.include(cut[0], "nothing of it written")
    assert.include(cut[0], "the job stays running until recovery stalls its run")
    assert.isFalse(warnings.some((line) => line.includes("does not respond to interruption")), "the program is not blamed")
  })

/**
 * A one-loop pool on `jobs` (its scope `pool`, closed by the test) whose
 * program returns only when `letReturn` is told — not interrupted, so its
 * run's end is written during the drain — and whose drain ends when `cut` is
 * (a repeated signal's deferred). `started` gives the job it runs.
 */
export const poolReturningOnCue = (jobs: Jobs["Type"]) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<AiJob>()
    const letReturn = yield* Deferred.make<void>()
    const handler = (ctx: RunContext) => Effect.zipRight(Deferred.succeed(started, ctx.job), Effect.as(Deferred.await(letReturn), { done: "returned" }))
    const cut = yield* Deferred.make<void>()
    const pool = yield* Scope.make()
    yield* Scope.extend(jobs.worker({ concurrency: 1, pollInterval: "1 hour", drainTimeout: "1 hour", handler }), pool).pipe(
      Effect.locally(currentDrainCut, cut)
    )
    return { started, letReturn, cut, pool }
  })
