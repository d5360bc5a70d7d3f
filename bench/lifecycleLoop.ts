/**
 * A PostgreSQL lifecycle loop to profile from outside (issue 16): `jobs`
 * lifecycles (submit → claim → heartbeat → complete, every audit event) by
 * `workers` concurrent workers through one tree's Jobs and store, as
 * bench/concurrentCost.ts runs them, after a warm-up; prints the client CPU
 * per job. Under `perf record` (with node's `--perf-basic-prof`) it gives an
 * on-CPU profile, which the V8 sampler's wall-clock samples (a preempted
 * `writev` counted as busy) do not. Not part of `npm run bench`.
 *
 *   npx tsx bench/lifecycleLoop.ts [tree root] [workers] [jobs] [rounds]
 */
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, loadTree, median, treeLifecycle } from "./trees.js"
import { countOperations } from "../test/support/effectOperations.js"

const main = async () => {
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const [rootArg, workersArg, jobsArg, roundsArg] = process.argv.slice(2)
  const tree = await loadTree("tree", path.resolve(rootArg ?? here))
  const workers = Number(workersArg ?? 4)
  const jobs = Number(jobsArg ?? 2000)
  const rounds = Number(roundsArg ?? 3)
  const cluster = await startBenchCluster()
  try {
    const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url: await cluster.createDatabase("loop") }))
    const one = treeLifecycle(tree)
    const lifecycles = (count: number) =>
      Effect.all(Array.from({ length: workers }, () => Effect.repeatN(one, Math.ceil(count / workers) - 1)), { concurrency: "unbounded", discard: true })
    await runtime.runPromise(lifecycles(400))
    // For a profiler attached from outside (`perf record -p`): the measured rounds start a second after this line.
    console.log(`warm: pid ${process.pid}`)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const perJob: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const start = cpuMicros()
      await runtime.runPromise(lifecycles(jobs))
      perJob.push((cpuMicros() - start) / jobs)
    }
    // Effect operations per job at this concurrency: the fibers the workers run on and any they fork, counted.
    const [, ops] = await runtime.runPromise(countOperations(lifecycles(jobs)))
    console.log(`Effect operations per job, ${workers} workers: ${(ops / jobs).toFixed(1)}`)
    console.log(`${path.resolve(rootArg ?? here)}: ${workers} workers, client CPU µs/job median ${median(perJob).toFixed(0)} (${perJob.map((v) => v.toFixed(0)).join(", ")}), load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
    await runtime.dispose()
  } finally {
    await cluster.stop()
  }
}

runMain(main)
