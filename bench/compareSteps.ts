/**
 * A PostgreSQL lifecycle's steps side by side with a base tree, in one
 * process (issue 16): `npx tsx bench/compareSteps.ts <base checkout> [reps] [jobs]`
 * runs, on one throwaway cluster, `reps` rounds of `jobs` lifecycles
 * (submit → claim → heartbeat → complete, every audit event written) by
 * `workers` concurrent workers (default 1: one job at a time) through each
 * tree's own Jobs and store, the tree that goes first
 * alternating round by round so drift on a loaded machine hits both alike.
 * Prints per step the median wall time and the median CPU time of this
 * process per call (`process.cpuUsage` around the step: JavaScript, the
 * driver and the kernel's socket work — not the server's), lifecycles per
 * second, mine ÷ base, and the load average. Not part of `npm run bench`.
 *
 *   git worktree add --detach /tmp/base main && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   npx tsx bench/compareSteps.ts /tmp/base 4 300 [workers] [pg|sqlite]
 *
 * With `sqlite` last, the same on a SQLite file per tree at `"normal"` durability
 * (the fsync would otherwise drown the JavaScript being compared).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { startBenchCluster } from "./postgres.js"
import { type Tree, cpuMicros, loadTree, median } from "./trees.js"

const STEPS = ["submit", "claim", "heartbeat", "complete"] as const
type Step = typeof STEPS[number]

/**
 * `count` lifecycles through `tree` by `workers` concurrent workers: per step, wall and
 * CPU µs per call (with several workers the CPU of a step includes the others' work
 * meanwhile: compare the sums), and the block's wall ms.
 */
const lifecycles = (tree: Tree, count: number, workers: number) =>
  Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    const store = yield* tree.store.JobStore
    const wall: Record<Step, Array<number>> = { submit: [], claim: [], heartbeat: [], complete: [] }
    const cpu: Record<Step, Array<number>> = { submit: [], claim: [], heartbeat: [], complete: [] }
    const timed = <A, E, R>(step: Step, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const [startWall, startCpu] = [performance.now(), cpuMicros()]
        const value = yield* effect
        cpu[step].push(cpuMicros() - startCpu)
        wall[step].push((performance.now() - startWall) * 1000)
        return value
      })
    // With several workers another may take the job just queued; there is always another, so the claim is retried.
    const claimOne = Effect.gen(function*() {
      for (;;) {
        const claim = yield* service.claimNext()
        if (claim !== null) return claim
      }
    })
    const worker = (lifecycles: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < lifecycles; i++) {
          yield* timed("submit", service.submit(tree.fixtures.NEW_JOB))
          const claim = yield* timed("claim", claimOne)
          yield* timed("heartbeat", store.heartbeat(claim.run.id))
          yield* timed("complete", service.complete(claim.job.job_id))
        }
      })
    const start = performance.now()
    yield* Effect.all(Array.from({ length: workers }, () => worker(Math.ceil(count / workers))), { concurrency: "unbounded" })
    return { wall, cpu, ms: performance.now() - start }
  })

const main = async () => {
  const [baseRoot, repsArg, jobsArg, workersArg, dialectArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: compareSteps.ts <base checkout> [reps] [jobs] [workers] [pg|sqlite]")
  const dialect = dialectArg === "sqlite" ? "sqlite" : "pg"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-compare-steps-"))
  const reps = Number(repsArg ?? 4)
  const jobs = Number(jobsArg ?? 300)
  const workers = Number(workersArg ?? 1)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const perSecond = new Map<string, Array<number>>(trees.map((tree) => [tree.name, []]))
  const steps = new Map<string, Record<"wall" | "cpu", Record<Step, Array<number>>>>()
  // Each rep's lifecycle CPU (sum of its steps' medians) per tree: paired by rep, so a load swing between reps cancels.
  const repCpu = new Map<string, Array<number>>(trees.map((tree) => [tree.name, []]))
  try {
    const runtimes = await Promise.all(trees.map(async (tree) => ({
      tree,
      runtime: ManagedRuntime.make(tree.app.servicesLayer(
        dialect === "pg"
          ? { dialect, url: await cluster.createDatabase(`steps_${tree.name}`) }
          : { dialect, filename: path.join(tmp, `steps_${tree.name}.db`), durability: "normal" }
      ))
    })))
    // A warm-up block each (JIT, pools, the claim memo's first subject), not counted.
    for (const { runtime, tree } of runtimes) await runtime.runPromise(lifecycles(tree, 50, workers))
    for (let rep = 0; rep < reps; rep++) {
      console.error(`rep ${rep + 1}/${reps}`)
      for (const { runtime, tree } of rep % 2 === 0 ? runtimes : [...runtimes].reverse()) {
        const block = await runtime.runPromise(lifecycles(tree, jobs, workers))
        const mine = steps.get(tree.name) ?? {
          wall: { submit: [], claim: [], heartbeat: [], complete: [] },
          cpu: { submit: [], claim: [], heartbeat: [], complete: [] }
        }
        for (const step of STEPS) {
          mine.wall[step].push(...block.wall[step])
          mine.cpu[step].push(...block.cpu[step])
        }
        steps.set(tree.name, mine)
        perSecond.get(tree.name)!.push(jobs / block.ms * 1000)
        repCpu.get(tree.name)!.push(STEPS.reduce((sum, step) => sum + median(block.cpu[step]), 0))
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    await Promise.all(runtimes.map(({ runtime }) => runtime.dispose()))
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  const where = dialect === "pg" ? "PostgreSQL" : "a SQLite file (\"normal\")"
  console.log(`\n## ${reps} × ${jobs} lifecycles per tree on ${where}, ${workers} worker(s), interleaved`)
  console.log(`load average (1/5/15 min) at start and after each rep: ${loads.join(" | ")}`)
  console.log("| step | base wall µs | mine wall µs | mine ÷ base | base CPU µs | mine CPU µs | mine ÷ base |")
  console.log("|---|---|---|---|---|---|---|")
  const [base, mine] = [steps.get("base")!, steps.get("mine")!]
  const ratio = (m: number, b: number) => `${(m / b).toFixed(2)}×`
  const row = (name: string, pick: (s: Record<"wall" | "cpu", Record<Step, Array<number>>>, kind: "wall" | "cpu") => number) => {
    const [bw, mw, bc, mc] = [pick(base, "wall"), pick(mine, "wall"), pick(base, "cpu"), pick(mine, "cpu")]
    console.log(`| ${name} | ${bw.toFixed(0)} | ${mw.toFixed(0)} | ${ratio(mw, bw)} | ${bc.toFixed(0)} | ${mc.toFixed(0)} | ${ratio(mc, bc)} |`)
  }
  for (const step of STEPS) row(step, (s, kind) => median(s[kind][step]))
  row("lifecycle (sum of medians)", (s, kind) => STEPS.reduce((sum, step) => sum + median(s[kind][step]), 0))
  const paired = repCpu.get("mine")!.map((m, i) => m / repCpu.get("base")![i]!)
  console.log(`\nlifecycle CPU mine ÷ base, rep by rep (each rep's sum of step medians): ${paired.map((r) => `${r.toFixed(2)}×`).join(" ")}; median ${median(paired).toFixed(3)}×`)
  const [bs, ms] = [median(perSecond.get("base")!), median(perSecond.get("mine")!)]
  console.log(`\nlifecycles per second (median of ${reps} blocks): base ${bs.toFixed(0)}, mine ${ms.toFixed(0)}, mine ÷ base ${ratio(ms, bs)}`)
  console.error(`blocks: base ${perSecond.get("base")!.map((v) => v.toFixed(0)).join(" ")}; mine ${perSecond.get("mine")!.map((v) => v.toFixed(0)).join(" ")}`)
}

void main()
