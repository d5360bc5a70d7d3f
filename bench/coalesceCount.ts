/**
 * Group commit on PostgreSQL, counted (issue 16): `jobs` lifecycles (submit →
 * claim → heartbeat → complete, every audit event) by `workers` concurrent
 * workers, with the store's `coalesce` on and off, alternating; every query
 * the `pg` driver sends is counted (its `Client.prototype.query` wrapped), by
 * what it is. Prints statements per job per step and lifecycles per second.
 * Not part of `npm run bench`.
 *
 *   npx tsx bench/coalesceCount.ts [jobs] [workers] [reps]
 */
import * as os from "node:os"
import { createRequire } from "node:module"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Capabilities from "../src/Capabilities.js"
import * as FlightRecorder from "../src/FlightRecorder.js"
import * as Jobs from "../src/Jobs.js"
import * as Recovery from "../src/Recovery.js"
import { JobStore } from "../src/store/JobStore.js"
import * as PgStore from "../src/store/PgJobStore.js"
import * as WakeUp from "../src/WakeUp.js"
import { NEW_JOB } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }

const KINDS = [
  ["submit", /INSERT INTO ai_jobs/],
  ["claim", /INSERT INTO workflow_runs/],
  ["heartbeat", /SET last_heartbeat/],
  ["complete", /UPDATE workflow_runs r SET status/]
] as const

const counts = new Map<string, number>()
const proto = pg.Client.prototype
const original = proto.query
proto.query = function(this: object, ...args: Array<unknown>) {
  const [config] = args
  const text = typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? "")
  const kind = KINDS.find(([, pattern]) => pattern.test(text))?.[0] ?? "other"
  counts.set(kind, (counts.get(kind) ?? 0) + 1)
  return original.apply(this, args)
}

const services = (url: string, coalesce: boolean) =>
  Jobs.layer().pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(PgStore.layer({ url, coalesce }))
  )

const lifecycles = (count: number, workers: number) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const store = yield* JobStore
    const claimOne = Effect.gen(function*() {
      for (;;) {
        const claim = yield* jobs.claimNext()
        if (claim !== null) return claim
      }
    })
    const worker = (n: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          yield* jobs.submit(NEW_JOB)
          const claim = yield* claimOne
          yield* store.heartbeat(claim.run.id)
          yield* jobs.complete(claim.job.job_id)
        }
      })
    const start = performance.now()
    const cpu = process.cpuUsage()
    yield* Effect.all(Array.from({ length: workers }, () => worker(Math.ceil(count / workers))), { concurrency: "unbounded" })
    const used = process.cpuUsage(cpu)
    return { ms: performance.now() - start, cpuMicros: used.user + used.system }
  })

const main = async () => {
  const [jobsArg, workersArg, repsArg] = process.argv.slice(2)
  const jobs = Number(jobsArg ?? 600)
  const workers = Number(workersArg ?? 16)
  const reps = Number(repsArg ?? 3)
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const results = new Map<boolean, { perSecond: Array<number>; cpu: Array<number>; perJob: Map<string, number> }>()
  try {
    const runtimes = await Promise.all([true, false].map(async (coalesce) => ({
      coalesce,
      runtime: ManagedRuntime.make(services(await cluster.createDatabase(`coalesce_${coalesce}`), coalesce))
    })))
    for (const { runtime } of runtimes) await runtime.runPromise(lifecycles(50, workers))
    for (let rep = 0; rep < reps; rep++) {
      for (const { coalesce, runtime } of rep % 2 === 0 ? runtimes : [...runtimes].reverse()) {
        counts.clear()
        const { cpuMicros, ms } = await runtime.runPromise(lifecycles(jobs, workers))
        const result = results.get(coalesce) ?? { perSecond: [] as Array<number>, cpu: [] as Array<number>, perJob: new Map<string, number>() }
        result.perSecond.push(jobs / ms * 1000)
        result.cpu.push(cpuMicros / jobs)
        for (const [kind, n] of counts) result.perJob.set(kind, (result.perJob.get(kind) ?? 0) + n / jobs / reps)
        results.set(coalesce, result)
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    await Promise.all(runtimes.map(({ runtime }) => runtime.dispose()))
  } finally {
    await cluster.stop()
  }
  console.log(`\n## ${reps} × ${jobs} lifecycles, ${workers} worker(s), coalesce on and off alternating`)
  console.log(`load average: ${loads.join(" | ")}`)
  console.log("| coalesce | jobs/s (each rep) | client CPU µs per job (each rep) | statements per job: " + [...KINDS.map(([kind]) => kind), "other", "total"].join(" / ") + " |")
  for (const [coalesce, { cpu, perJob, perSecond }] of results) {
    const per = [...KINDS.map(([kind]) => kind), "other"].map((kind) => perJob.get(kind) ?? 0)
    const total = per.reduce((a, b) => a + b, 0)
    console.log(`| ${coalesce ? "on" : "off"} | ${perSecond.map((n) => n.toFixed(0)).join(", ")} | ${cpu.map((n) => n.toFixed(0)).join(", ")} | ${[...per, total].map((n) => n.toFixed(2)).join(" / ")} |`)
  }
}

void main()
