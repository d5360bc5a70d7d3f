/**
 * Effect operations of the store's own calls in a PostgreSQL lifecycle, side
 * by side with a base tree (issue 16, h52): `bench/effectOps.ts` counts a
 * whole step (Jobs, recorder and store); this counts only what each JobStore
 * method the Jobs layer calls takes, from the port down, by wrapping every
 * method of the tree's store in a count (the runtime's one `shouldYield` per
 * operation; test/support/effectOperations.ts). One job at a time, so every
 * call is served alone, as at one worker. Not part of `npm run bench`.
 *
 *   npx tsx bench/storeOps.ts <base checkout> [jobs]
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type * as CapabilitiesModule from "../src/Capabilities.js"
import type * as FlightRecorderModule from "../src/FlightRecorder.js"
import type * as RecoveryModule from "../src/Recovery.js"
import type * as WakeUpModule from "../src/WakeUp.js"
import { countOperations } from "../test/support/effectOperations.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { lifecyclesOneAtATime, loadTree, type Tree } from "./trees.js"

type Totals = Map<string, { calls: number; ops: number }>

/** `store` with every method's Effect counted into `totals` under the method's name. */
const counted = (store: Record<string, unknown>, totals: Totals) => {
  const wrapped: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(store)) {
    wrapped[name] = typeof method !== "function" ? method : (...args: Array<unknown>) =>
      Effect.map(countOperations((method as (...a: Array<unknown>) => Effect.Effect<unknown>)(...args)), ([value, ops]) => {
        const total = totals.get(name) ?? { calls: 0, ops: 0 }
        total.calls++
        total.ops += ops
        totals.set(name, total)
        return value
      })
  }
  return wrapped
}

/** The tree's services as bench/app.ts composes them, over its store wrapped in counts. */
const countedServices = async (tree: Tree, root: string, url: string, totals: Totals) => {
  const load = <M>(module: string) => import(path.join(root, "src", module)) as Promise<M>
  const [Capabilities, FlightRecorder, Recovery, WakeUp] = await Promise.all([
    load<typeof CapabilitiesModule>("Capabilities.ts"),
    load<typeof FlightRecorderModule>("FlightRecorder.ts"),
    load<typeof RecoveryModule>("Recovery.ts"),
    load<typeof WakeUpModule>("WakeUp.ts")
  ])
  const JobStore = tree.store.JobStore
  const store = Layer.effect(
    JobStore,
    Effect.map(JobStore, (service) => counted(service as unknown as Record<string, unknown>, totals) as unknown as typeof service)
  ).pipe(Layer.provide(tree.app.storeLayer({ dialect: "pg", url })))
  return tree.jobs.layer().pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(store)
  )
}

const main = async () => {
  const [baseRoot, jobsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: storeOps.ts <base checkout> [jobs]")
  const jobs = Number(jobsArg ?? 200)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const roots = [["base", path.resolve(baseRoot)], ["mine", here]] as const
  const cluster = await startBenchCluster()
  const results = new Map<string, Totals>()
  try {
    for (const [name, root] of roots) {
      const tree = await loadTree(name, root)
      const totals: Totals = new Map()
      const runtime = ManagedRuntime.make(await countedServices(tree, root, await cluster.createDatabase(`store_ops_${name}`), totals))
      // A warm-up block (the claim memo's first subject, the recorder's first records), not counted.
      await runtime.runPromise(lifecyclesOneAtATime(tree, 20, (_, effect) => effect))
      totals.clear()
      await runtime.runPromise(lifecyclesOneAtATime(tree, jobs, (_, effect) => effect))
      results.set(name, totals)
      await runtime.dispose()
    }
  } finally {
    await cluster.stop()
  }
  const [base, mine] = [results.get("base")!, results.get("mine")!]
  console.log(`\n## Effect operations per store call, ${jobs} lifecycles on PostgreSQL, one at a time`)
  console.log("| method | calls per lifecycle | base ops per call | mine ops per call | mine ÷ base |")
  console.log("|---|---|---|---|---|")
  let [baseSum, mineSum] = [0, 0]
  for (const method of new Set([...base.keys(), ...mine.keys()])) {
    const [b, m] = [base.get(method), mine.get(method)]
    const perCall = (t: { calls: number; ops: number } | undefined) => t === undefined ? 0 : t.ops / t.calls
    baseSum += (b?.ops ?? 0) / jobs
    mineSum += (m?.ops ?? 0) / jobs
    console.log(
      `| ${method} | ${((m ?? b)!.calls / jobs).toFixed(2)} | ${perCall(b).toFixed(1)} | ${perCall(m).toFixed(1)} | ${
        (perCall(m) / perCall(b)).toFixed(2)
      }× |`
    )
  }
  console.log(`| per lifecycle | | ${baseSum.toFixed(1)} | ${mineSum.toFixed(1)} | ${(mineSum / baseSum).toFixed(2)}× |`)
  const [[, bare]] = await Promise.all([Effect.runPromise(countOperations(Effect.void))])
  console.log(`\nEach count includes the count's own operations: ${bare} for an \`Effect.void\`.`)
}

runMain(main)
