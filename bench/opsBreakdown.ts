/**
 * Effect operations per part of a lifecycle step (issue 16): the Jobs
 * operations next to the store calls, the recorder's builds, the policy's
 * check and the span they are made of, so the Jobs layer's own share of a
 * step is a subtraction. Every figure includes the count's own cost, given
 * as `(counting itself)`. Counted as bench/effectOps.ts counts (the runtime's
 * one `shouldYield` per operation). Not part of `npm run bench`.
 *
 *   npx tsx bench/opsBreakdown.ts [pg|sqlite] [jobs]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { FlightRecorder } from "../src/FlightRecorder.js"
import { Jobs } from "../src/Jobs.js"
import { withJobSpan } from "../src/internal/flight/jobSpan.js"
import { ownBuild } from "../src/internal/flight/ownBuild.js"
import { lifecycleEvent } from "../src/internal/jobs/auditEvents.js"
import type { JobId, TraceId } from "../src/domain/Ids.js"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { auditWith, JobStore } from "../src/store/JobStore.js"
import { servicesLayer } from "./app.js"
import { newJob } from "./create.js"
import { NEW_JOB } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { countOperations } from "../test/support/effectOperations.js"

const parts = (jobs: number) =>
  Effect.gen(function*() {
    const service = yield* Jobs
    const store = yield* JobStore
    // The library's own builder, which its hot paths use (ownBuild.ts).
    const recorder = { build: ownBuild(yield* FlightRecorder) }
    const totals = new Map<string, number>()
    const add = (name: string, ops: number) => totals.set(name, (totals.get(name) ?? 0) + ops)
    const counted = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
      Effect.map(countOperations(effect), ([value, ops]) => {
        add(name, ops)
        return value
      })
    // A warm-up block (the claim memo's first subject, the recorder's first records), not counted.
    for (let i = 0; i < jobs + 20; i++) {
      if (i === 20) totals.clear()
      yield* counted("Jobs.submit", service.submit(NEW_JOB))
      const claim = yield* counted("Jobs.claimNext", service.claimNext())
      if (claim === null) throw new Error("the job just queued was not claimed")
      yield* counted("store.heartbeat", store.heartbeat(claim.run.id))
      yield* counted("Jobs.complete", service.complete(claim.job.job_id))
      // The parts, outside a lifecycle: the empty span and the bare count's own cost first.
      const ids = { job_id: uuidv7() as JobId, trace_id: uuidv7() as TraceId }
      yield* counted("(counting itself: Effect.void)", Effect.void)
      yield* counted("withJobSpan(Effect.void)", withJobSpan("Jobs.x", () => Effect.void))
      yield* counted("recorder.build(lifecycle)", recorder.build(lifecycleEvent({ job: ids, from: null, to: "queued", attempt: 1 })))
      const record = yield* recorder.build(lifecycleEvent({ job: ids, from: null, to: "queued", attempt: 1 }))
      yield* counted("store.createJob (with its record)", store.createJob({ ...newJob, ...ids }, { events: auditWith([record]) }))
      const claimed = yield* service.claimNext()
      if (claimed === null || store.finishRunningJob === undefined) continue
      const end = yield* recorder.build(lifecycleEvent({
        job: claimed.job,
        from: "running",
        to: "completed",
        workflow_run_id: claimed.run.id,
        attempt: claimed.job.attempt
      }))
      yield* counted("store.finishRunningJob", store.finishRunningJob({ job_id: claimed.job.job_id, to: "completed", event: end }))
    }
    return totals
  })

const main = async () => {
  const [dialectArg, jobsArg] = process.argv.slice(2)
  const dialect = dialectArg === "sqlite" ? "sqlite" : "pg"
  const jobs = Number(jobsArg ?? 200)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-breakdown-"))
  const cluster = dialect === "pg" ? await startBenchCluster() : undefined
  try {
    const runtime = ManagedRuntime.make(servicesLayer(
      cluster !== undefined
        ? { dialect: "pg", url: await cluster.createDatabase("ops_breakdown") }
        : { dialect: "sqlite", filename: path.join(dir, "ops.db"), durability: "normal" }
    ))
    const totals = await runtime.runPromise(parts(jobs))
    await runtime.dispose()
    console.log(`\n## Effect operations per call, ${dialect}, ${jobs} lifecycles`)
    for (const [name, ops] of totals) console.log(`| ${name} | ${(ops / jobs).toFixed(1)} |`)
  } finally {
    await cluster?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

runMain(main)
