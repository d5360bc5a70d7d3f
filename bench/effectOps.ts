/**
 * Effect operations per lifecycle step on PostgreSQL, side by side with a
 * base tree (issue 16): `npx tsx bench/effectOps.ts <base checkout> [jobs]`
 * runs `jobs` lifecycles (submit → claim → heartbeat → complete, one at a
 * time) through each tree's own Jobs and store, and counts the operations
 * the Effect fiber runtime evaluates for each step — every `flatMap`,
 * `sync`, span, service lookup, the store's and @effect/sql's included —
 * through a scheduler that counts the runtime's one `shouldYield` question
 * per operation. A deterministic figure, unlike CPU time on a shared machine:
 * what the runtime costs a step is roughly proportional to it.
 * Not part of `npm run bench`.
 *
 *   npx tsx bench/effectOps.ts /tmp/base 200 [pg|sqlite]
 *
 * With `sqlite` last, the same on a SQLite file per tree at `"normal"` durability.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { countingScheduler } from "./countingScheduler.js"
import { startBenchCluster } from "./postgres.js"
import { LIFECYCLE_STEPS, type LifecycleStep, lifecyclesOneAtATime, type Tree, loadTree } from "./trees.js"
import { runMain } from "./runMain.js"

const STEPS = LIFECYCLE_STEPS
type Step = LifecycleStep


/** Operations per step, summed over `count` lifecycles through `tree`. */
const countOps = (tree: Tree, count: number) =>
  Effect.gen(function*() {
    const totals: Record<Step, number> = { submit: 0, claim: 0, heartbeat: 0, complete: 0 }
    yield* lifecyclesOneAtATime(tree, count, (step, effect) =>
      Effect.gen(function*() {
        const counting = countingScheduler()
        const value = yield* Effect.withScheduler(effect, counting.scheduler)
        totals[step] += counting.ops()
        return value
      }))
    return totals
  })

const main = async () => {
  const [baseRoot, jobsArg, dialectArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: effectOps.ts <base checkout> [jobs] [pg|sqlite]")
  const dialect = dialectArg === "sqlite" ? "sqlite" : "pg"
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ops-"))
  const jobs = Number(jobsArg ?? 200)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const cluster = await startBenchCluster()
  const results = new Map<string, Record<Step, number>>()
  try {
    for (const tree of trees) {
      const runtime = ManagedRuntime.make(tree.app.servicesLayer(
        dialect === "pg"
          ? { dialect, url: await cluster.createDatabase(`ops_${tree.name}`) }
          : { dialect, filename: path.join(dir, `${tree.name}.db`), durability: "normal" }
      ))
      // A warm-up block (the claim memo's first subject, the recorder's first records), not counted.
      await runtime.runPromise(countOps(tree, 20))
      results.set(tree.name, await runtime.runPromise(countOps(tree, jobs)))
      await runtime.dispose()
    }
  } finally {
    await cluster.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const [base, mine] = [results.get("base")!, results.get("mine")!]
  console.log(`\n## Effect operations per step, ${jobs} lifecycles on ${dialect === "pg" ? "PostgreSQL" : "SQLite"}, one at a time`)
  console.log("| step | base | mine | mine ÷ base |")
  console.log("|---|---|---|---|")
  const row = (name: string, b: number, m: number) =>
    console.log(`| ${name} | ${(b / jobs).toFixed(0)} | ${(m / jobs).toFixed(0)} | ${(m / b).toFixed(2)}× |`)
  for (const step of STEPS) row(step, base[step], mine[step])
  const sum = (totals: Record<Step, number>) => STEPS.reduce((total, step) => total + totals[step], 0)
  row("lifecycle", sum(base), sum(mine))
}

runMain(main)
