/**
 * `pg` pool checkouts per PostgreSQL call, side by side with a base tree
 * (issue 16, store/pg/heldConnections.ts): `npx tsx bench/poolCheckouts.ts
 * <base checkout> [jobs]` runs `jobs` creates and `jobs` lifecycles (submit →
 * claim → heartbeat → complete, one at a time) through each tree's own store
 * and Jobs, and counts the calls of `pg`'s `Pool.prototype.connect` — each one
 * a checkout: timers set and cleared, a `process.nextTick` hop before the
 * statement is written, listeners added and removed, a release. A
 * deterministic figure (both trees load the same `pg`), unlike CPU time on a
 * shared machine. Not part of `npm run bench`.
 *
 *   npx tsx bench/poolCheckouts.ts /tmp/base 200
 */
import * as path from "node:path"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { startBenchCluster } from "./postgres.js"
import { lifecyclesOneAtATime, type Tree, loadTree } from "./trees.js"
import { runMain } from "./runMain.js"

const STEPS = ["create", "submit", "claim", "heartbeat", "complete"] as const
type Step = typeof STEPS[number]

interface PoolPrototype {
  connect: (...args: Array<unknown>) => unknown
}

/** Counts every `Pool.prototype.connect` call of the `pg` the trees load. */
const countCheckouts = (root: string) => {
  const pg = createRequire(path.join(root, "package.json"))("pg") as { readonly Pool: { readonly prototype: PoolPrototype } }
  const connect = pg.Pool.prototype.connect
  let count = 0
  pg.Pool.prototype.connect = function(this: unknown, ...args: Array<unknown>) {
    count++
    return connect.apply(this, args)
  }
  return () => count
}

/** Checkouts per step, summed over `count` creates and `count` lifecycles through `tree`. */
const countSteps = (tree: Tree, count: number, checkouts: () => number) =>
  Effect.gen(function*() {
    const store = yield* tree.store.JobStore
    const totals: Record<Step, number> = { create: 0, submit: 0, claim: 0, heartbeat: 0, complete: 0 }
    const counted = <A, E, R>(step: Step, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const before = checkouts()
        const value = yield* effect
        totals[step] += checkouts() - before
        return value
      })
    for (let i = 0; i < count; i++) yield* counted("create", store.createJob(tree.create.newJob))
    yield* lifecyclesOneAtATime(tree, count, counted)
    return totals
  })

const main = async () => {
  const [baseRoot, jobsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: poolCheckouts.ts <base checkout> [jobs]")
  const jobs = Number(jobsArg ?? 200)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const checkouts = countCheckouts(here)
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const cluster = await startBenchCluster()
  const results = new Map<string, Record<Step, number>>()
  try {
    for (const tree of trees) {
      const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url: await cluster.createDatabase(`checkouts_${tree.name}`) }))
      // A warm-up block (the store's first connections), not counted.
      await runtime.runPromise(countSteps(tree, 20, checkouts))
      results.set(tree.name, await runtime.runPromise(countSteps(tree, jobs, checkouts)))
      await runtime.dispose()
    }
  } finally {
    await cluster.stop()
  }
  const [base, mine] = [results.get("base")!, results.get("mine")!]
  console.log(`\n## pg pool checkouts per call, ${jobs} creates and ${jobs} lifecycles on PostgreSQL, one at a time`)
  console.log("| call | base | mine |")
  console.log("|---|---|---|")
  const row = (name: string, b: number, m: number) => console.log(`| ${name} | ${(b / jobs).toFixed(2)} | ${(m / jobs).toFixed(2)} |`)
  for (const step of STEPS) row(step, base[step], mine[step])
  const lifecycle = (totals: Record<Step, number>) => STEPS.slice(1).reduce((total, step) => total + totals[step], 0)
  row("lifecycle (submit..complete)", lifecycle(base), lifecycle(mine))
}

runMain(main)
