/**
 * One lifecycle step's client CPU, profiled alone (issue 16):
 * `npx tsx bench/profileStep.ts <submit|claim|heartbeat|complete> [jobs] [pg|sqlite]`
 * runs `jobs` of that step back to back on a throwaway cluster (or a SQLite
 * file at `"normal"`) — the steps
 * before it done first, unprofiled (claims need queued jobs, completes
 * running ones) — and prints the process's CPU µs per call
 * (`process.cpuUsage`) and a V8 CPU profile of those calls alone, by module,
 * file and function. A whole lifecycle's profile (profileLifecycle.ts) mixes
 * the steps; this one says which step pays for what.
 * Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import type { Jobs } from "../src/Jobs.js"
import type { JobStore } from "../src/store/JobStore.js"
import { freshTarget, withServices, type BenchContext } from "./app.js"
import { summarise, type CpuProfile } from "./cpuProfile.js"
import { makeLog, QUICK } from "./harness.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, loadTree, stepAlone } from "./trees.js"
import { STEPS, type Step } from "./timedSteps.js"

/** The step `step` run `jobs` times through this tree, with what it needs done before (unmeasured): trees.ts `stepAlone`. */
const prepared = (step: Step, jobs: number) =>
  Effect.flatMap(Effect.promise(() => loadTree("here", path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."))), (tree) =>
    stepAlone(tree, step, jobs) as Effect.Effect<Effect.Effect<void, unknown>, unknown, Jobs | JobStore>)

const main = async () => {
  const step = process.argv[2] as Step
  if (!STEPS.includes(step)) throw new Error(`usage: profileStep.ts <${STEPS.join("|")}> [jobs]`)
  const jobs = Number(process.argv[3] ?? 1000)
  const dialect = process.argv[4] === "sqlite" ? "sqlite" : "pg"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-profile-step-"))
  const cluster = await startBenchCluster()
  const ctx: BenchContext = { mode: QUICK, log: makeLog(), cluster, tmp }
  try {
    const fresh = await freshTarget(ctx, dialect, "profile_step")
    const target = fresh.dialect === "sqlite" ? { ...fresh, durability: "normal" as const } : fresh
    await withServices(target, Effect.gen(function*() {
      // Warm-up: JIT, pool connections, plans, the claim memo's subject.
      yield* Effect.flatten(prepared(step, 100))
      const measured = yield* prepared(step, jobs)
      const startCpu = cpuMicros()
      yield* measured
      const cpu = (cpuMicros() - startCpu) / jobs
      console.log(`\n## ${step} on ${dialect === "pg" ? "PostgreSQL" : "a SQLite file (\"normal\")"}, ${jobs} calls one at a time: ${cpu.toFixed(0)} CPU µs a call (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)

      const profiled = yield* prepared(step, jobs)
      const session = new Session()
      session.connect()
      yield* Effect.promise(() => session.post("Profiler.enable"))
      yield* Effect.promise(() => session.post("Profiler.setSamplingInterval", { interval: 100 }))
      yield* Effect.promise(() => session.post("Profiler.start"))
      yield* profiled
      const { profile } = yield* Effect.promise(() => session.post("Profiler.stop"))
      session.disconnect()
      const file = path.join(os.tmpdir(), `step-${step}-${Date.now()}.cpuprofile`)
      fs.writeFileSync(file, JSON.stringify(profile))
      console.log(`CPU profile of ${jobs} more: ${file}`)
      summarise(profile as unknown as CpuProfile, jobs)
    }))
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
