/**
 * Where a PostgreSQL lifecycle's time goes (issue 16): `npx tsx
 * bench/profileLifecycle.ts [jobs]` runs `oneLifecycle`'s four steps (submit →
 * claim → heartbeat → complete, every audit event written) one job at a
 * time on a throwaway cluster (bench/postgres.ts, durable settings), and
 * prints
 *
 * - each step's wall time per call (median, µs), timed in-process;
 * - a CPU profile of the same loop (the V8 inspector, as `node --cpu-prof`
 *   takes it, but only around the loop): self time by module and by
 *   function, as shares of the busy (non-idle) time. The `.cpuprofile` is
 *   written to the temp directory printed, for a viewer.
 *
 * With `workers` > 1 (`npx tsx bench/profileLifecycle.ts 800 4`), the profile
 * is of `workers` concurrent workers sharing the `jobs` lifecycles (the steps
 * are still timed, each worker's own). A third argument `sqlite` runs the
 * same on a SQLite file (the store's default durability, "full"; with
 * `DURABILITY=normal` in the environment, "normal") instead.
 *
 * Not part of `npm run bench`; used to write bench/analysis.md.
 */
import * as fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { freshTarget, withServices, type BenchContext } from "./app.js"
import { makeLog, QUICK } from "./harness.js"
import { startBenchCluster } from "./postgres.js"
import { summarise, type CpuProfile } from "./cpuProfile.js"
import { runMain } from "./runMain.js"
import { emptyStepTimes, STEPS, timedLifecycles } from "./timedSteps.js"

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = async () => {
  const jobs = Number(process.argv[2] ?? 400)
  const workers = Number(process.argv[3] ?? 1)
  const dialect = process.argv[4] === "sqlite" ? "sqlite" : "pg"
  // `workers` loops sharing the jobs, each step timed into the same lists.
  const lifecycles = (count: number, times = emptyStepTimes()) =>
    Effect.as(
      Effect.all(Array.from({ length: workers }, () => timedLifecycles(Math.ceil(count / workers), times)), { concurrency: "unbounded", discard: true }),
      times
    )
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-profile-lifecycle-"))
  const cluster = await startBenchCluster()
  const ctx: BenchContext = { mode: QUICK, log: makeLog(), cluster, tmp }
  try {
    const fresh = await freshTarget(ctx, dialect, "profile_lifecycle")
    const target = process.env.DURABILITY === "normal" ? { ...fresh, durability: "normal" as const } : fresh
    await withServices(target, Effect.gen(function*() {
      yield* lifecycles(50) // warm-up: JIT, pool connections, plans
      const start = performance.now()
      const times = yield* lifecycles(jobs)
      const wallMs = performance.now() - start
      console.log(`\n## ${jobs} lifecycles on ${dialect === "pg" ? "PostgreSQL" : "SQLite"}, ${workers} worker(s): ${(wallMs / jobs).toFixed(2)} ms per job (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)
      console.log("| step | median µs | p90 µs |")
      console.log("|---|---|---|")
      for (const step of STEPS) {
        const sorted = [...times[step]].sort((a, b) => a - b)
        console.log(`| ${step} | ${median(sorted).toFixed(0)} | ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(0)} |`)
      }

      const session = new Session()
      session.connect()
      yield* Effect.promise(() => session.post("Profiler.enable"))
      yield* Effect.promise(() => session.post("Profiler.setSamplingInterval", { interval: 100 }))
      yield* Effect.promise(() => session.post("Profiler.start"))
      const profiledStart = performance.now()
      yield* lifecycles(jobs)
      const profiledMs = performance.now() - profiledStart
      const { profile } = yield* Effect.promise(() => session.post("Profiler.stop"))
      session.disconnect()
      const file = path.join(os.tmpdir(), `lifecycle-${Date.now()}.cpuprofile`)
      fs.writeFileSync(file, JSON.stringify(profile))
      console.log(`\nCPU profile of ${jobs} more lifecycles (${(profiledMs / jobs).toFixed(2)} ms per job): ${file}`)
      summarise(profile as unknown as CpuProfile, jobs)
    }))
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
