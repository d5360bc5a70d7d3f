/**
 * The SQLite store's own share of each lifecycle step (issue 16, h50), side
 * by side with a base tree in one process: for each step of `oneLifecycle`
 * (submit → claim → heartbeat → complete, every audit event written, one job
 * at a time), the Effect operations and the CPU µs spent inside the
 * outermost JobStore call, the driver's part of it (better-sqlite3's
 * statement `run`/`all`, timed around each call: at "full" the commits'
 * fsyncs are in it), so the store's JavaScript is `store − driver`, and the
 * whole step's CPU (the Jobs layer above is `step − store`).
 *
 *   npx tsx bench/sqliteStoreShare.ts <base checkout> [blocks] [jobs per block] [normal|full]
 *
 * The trees alternate block by block (the first of each pair alternating),
 * each on its own file; figures are medians over blocks of the per-call
 * means. Operations are a count (deterministic); CPU is `process.cpuUsage`.
 * Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { countingScheduler } from "../test/support/effectOperations.js"
import type * as App from "./app.js"
import { runMain } from "./runMain.js"
import { cpuMicros, LIFECYCLE_STEPS, type LifecycleStep, lifecyclesOneAtATime, loadTree, median, type Tree } from "./trees.js"

type Step = LifecycleStep
const FIGURES = ["ops", "storeCpu", "driver", "storeJs", "stepCpu"] as const
type Figure = typeof FIGURES[number]

interface Block {
  readonly sums: Record<Step, Record<Figure, number>>
  readonly calls: Record<Step, number>
}
const emptyBlock = (): Block => ({
  sums: Object.fromEntries(LIFECYCLE_STEPS.map((s) => [s, { ops: 0, storeCpu: 0, driver: 0, storeJs: 0, stepCpu: 0 }])) as Block["sums"],
  calls: { submit: 0, claim: 0, heartbeat: 0, complete: 0 }
})

/** Where driver time goes now (set while a store call runs). */
let driverSink: { us: number } | undefined

/** better-sqlite3's statement `run`/`all` timed into `driverSink` (both trees load the same driver). */
const instrumentDriver = () => {
  const require = createRequire(import.meta.url)
  const Database = createRequire(require.resolve("@effect/sql-sqlite-node/SqliteClient"))("better-sqlite3") as new(
    f: string
  ) => { prepare(s: string): object; close(): void }
  const probe = new Database(":memory:")
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<"run" | "all", (...args: Array<unknown>) => unknown>
  probe.close()
  for (const method of ["run", "all"] as const) {
    const original = proto[method]
    proto[method] = function(this: unknown, ...args: Array<unknown>) {
      const sink = driverSink
      if (sink === undefined) return original.apply(this, args)
      const start = cpuMicros()
      try {
        return original.apply(this, args)
      } finally {
        sink.us += cpuMicros() - start
      }
    }
  }
}

/** The store with its outermost calls counted into `current()`. */
const measuredStore = <S extends object>(store: S, current: () => Record<Figure, number> | undefined): S => {
  let depth = 0
  const wrap = (method: (...args: Array<unknown>) => unknown) => (...args: Array<unknown>) => {
    const effect = method(...args)
    if (!Effect.isEffect(effect)) return effect
    return Effect.suspend(() => {
      const figures = depth === 0 ? current() : undefined
      if (figures === undefined) return effect
      depth++
      const counting = countingScheduler()
      const sink = { us: 0 }
      driverSink = sink
      const cpu = cpuMicros()
      return Effect.ensuring(
        Effect.withScheduler(effect, counting.scheduler),
        Effect.sync(() => {
          const used = cpuMicros() - cpu
          depth--
          driverSink = undefined
          figures.ops += counting.ops()
          figures.storeCpu += used
          figures.driver += sink.us
          figures.storeJs += used - sink.us
        })
      )
    })
  }
  return Object.fromEntries(
    Object.entries(store).map(([name, value]) => [name, typeof value === "function" ? wrap(value as never) : value])
  ) as S
}

const main = async () => {
  const [baseRoot, blocksArg, jobsArg, durabilityArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: sqliteStoreShare.ts <base checkout> [blocks] [jobs] [normal|full]")
  const blocks = Number(blocksArg ?? 10)
  const jobs = Number(jobsArg ?? 200)
  const durability = durabilityArg === "full" ? "full" : "normal"
  instrumentDriver()
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees: Array<Tree> = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlite-store-share-"))
  let block: Block | undefined
  let step: Step | undefined
  const current = () => (block !== undefined && step !== undefined ? block.sums[step] : undefined)
  const runtimes = await Promise.all(trees.map(async (tree, i) => {
    const root = i === 0 ? path.resolve(baseRoot) : here
    const module = (name: string) => import(path.join(root, "src", name))
    const [Recovery, WakeUp, FlightRecorder, Capabilities] = await Promise.all(
      ["Recovery.ts", "WakeUp.ts", "FlightRecorder.ts", "Capabilities.ts"].map(module)
    )
    const filename = path.join(dir, `${tree.name}.db`)
    const store = Layer.map(
      tree.app.storeLayer({ dialect: "sqlite", filename, durability }),
      (context) => Context.add(context, tree.store.JobStore, measuredStore(Context.get(context, tree.store.JobStore), current))
    )
    // As bench/app.ts's servicesLayer, over the measured store.
    const services = tree.jobs.layer().pipe(
      Layer.provideMerge(Recovery.layerNoStartupRecovery),
      Layer.provideMerge(WakeUp.layerPollOnly),
      Layer.provideMerge(FlightRecorder.layer()),
      Layer.provideMerge(Capabilities.layerDefault),
      Layer.provideMerge(store)
    ) as unknown as Layer.Layer<App.Services, unknown>
    return ManagedRuntime.make(services)
  }))
  const results = trees.map(() => [] as Array<Block>)
  const load0 = os.loadavg()
  try {
    for (let b = -1; b < blocks; b++) {
      const order = b % 2 === 0 ? [0, 1] : [1, 0]
      for (const i of order) {
        const tree = trees[i]!
        const measuring = b >= 0 ? emptyBlock() : undefined
        await runtimes[i]!.runPromise(lifecyclesOneAtATime(tree, jobs, (name, effect) =>
          Effect.suspend(() => {
            block = measuring
            step = name
            const cpu = cpuMicros()
            return Effect.ensuring(effect, Effect.sync(() => {
              if (measuring !== undefined) {
                measuring.sums[name].stepCpu += cpuMicros() - cpu
                measuring.calls[name]++
              }
              block = undefined
              step = undefined
            }))
          })))
        if (measuring !== undefined) results[i]!.push(measuring)
      }
    }
  } finally {
    for (const runtime of runtimes) await runtime.dispose()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const load1 = os.loadavg()
  const per = (i: number, s: Step, f: Figure) => median(results[i]!.map((r) => r.sums[s][f] / r.calls[s]))
  console.log(`\n## The SQLite store's share per step: ${blocks} blocks × ${jobs} lifecycles per tree, durability ${durability}`)
  console.log(`load average ${load0.map((l) => l.toFixed(2)).join(" ")} → ${load1.map((l) => l.toFixed(2)).join(" ")}`)
  console.log("| step | figure | base | mine | mine ÷ base |")
  console.log("|---|---|---|---|---|")
  const names: Record<Figure, string> = {
    ops: "store Effect ops",
    storeCpu: "store CPU µs",
    driver: "of it driver µs",
    storeJs: "of it store JS µs",
    stepCpu: "step CPU µs"
  }
  for (const s of [...LIFECYCLE_STEPS, "lifecycle"] as const) {
    for (const f of FIGURES) {
      const [b, m] = [0, 1].map((i) =>
        s === "lifecycle" ? LIFECYCLE_STEPS.reduce((total, x) => total + per(i, x, f), 0) : per(i, s, f)
      ) as [number, number]
      console.log(`| ${s} | ${names[f]} | ${b.toFixed(f === "ops" ? 1 : 0)} | ${m.toFixed(f === "ops" ? 1 : 0)} | ${(m / b).toFixed(2)}× |`)
    }
  }
}

runMain(main)
