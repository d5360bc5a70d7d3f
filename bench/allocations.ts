/**
 * Bytes allocated per PostgreSQL lifecycle (issue 16): what our client's
 * JavaScript allocates, ours (a base tree and this one) against the floor's
 * replay (our statements sent raw, `pgReplay.ts`) and pg-boss, one job at a
 * time, in one process on one throwaway cluster:
 *
 *   nice -n 19 node --expose-gc --import tsx bench/allocations.ts <base checkout> [jobs] [rounds] [top]
 *
 * Two lenses:
 * - **Bytes allocated on the JavaScript heap**, per lifecycle and, for ours,
 *   per step (a window of `jobs` submits, then claims, heartbeats, completes):
 *   the heap's growth over the window plus what every collection inside it
 *   freed (`v8.GCProfiler`'s before/after heap statistics), with a forced
 *   collection at each edge when `--expose-gc` is given. Nearly exact and
 *   stable from run to run (Buffers outside the heap are not counted).
 *   Rounds interleaved, the order rotating; medians.
 * - **Who allocates**: the inspector's sampling heap profiler
 *   (`HeapProfiler.startSampling`, every ~`SAMPLING_INTERVAL` bytes, objects
 *   already collected kept), one window per system and step after the
 *   rounds: self bytes per lifecycle by module, file and function.
 * Not part of `npm run bench`.
 */
import { Session } from "node:inspector/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { bossCycle, startBoss } from "./baselines/pgBoss.js"
import { fileOf, moduleOf as frameModule } from "./cpuProfile.js"
import { heapDuring } from "./heapWindow.js"
import { MODULE_EXTENSION } from "./paths.js"
import { captureLifecycle, FRESH, replayer } from "./pgReplay.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { LIFECYCLE_STEPS, loadTree, median, stepAlone, treeLifecycle, type LifecycleStep, type Tree } from "./trees.js"

/** The sampling heap profiler's mean interval, bytes (V8's default is 32 KiB: too coarse for a ~100 KB lifecycle). */
const SAMPLING_INTERVAL = 256

const collect = (): void => (globalThis as { gc?: () => void }).gc?.()

/** Bytes allocated on the JavaScript heap while `run` runs (heapWindow.ts), from a collected heap when `--expose-gc` is given. */
const allocatedDuring = (run: () => Promise<unknown>) => {
  collect()
  return heapDuring(run)
}

/** The parts of the sampling heap profile read here. */
interface HeapNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children: ReadonlyArray<HeapNode>
}

/** As a CPU profile's frames (cpuProfile.ts), and a heap sample with neither url nor name is V8's own. */
const moduleOf = (url: string, functionName: string): string =>
  url === "" && functionName === "" ? "(V8/native)" : frameModule(url, functionName)

/** Self bytes by module, file and function (a function named with its file and line). */
const tally = (head: HeapNode) => {
  const byModule = new Map<string, number>()
  const byFile = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let total = 0
  const add = (map: Map<string, number>, key: string, bytes: number) => map.set(key, (map.get(key) ?? 0) + bytes)
  const byCaller = new Map<string, number>()
  /** `caller`: the nearest JavaScript frame above, which a native allocation (an iterator step, a `Map`) is charged to. */
  const visit = (node: HeapNode, caller: string) => {
    const { functionName, lineNumber, url } = node.callFrame
    const name = `${functionName || "(anonymous)"} ${url === "" ? moduleOf(url, functionName) : fileOf(url)}:${lineNumber + 1}`
    if (node.selfSize > 0 && url !== "node:inspector") {
      total += node.selfSize
      add(byModule, moduleOf(url, functionName), node.selfSize)
      add(byFile, url === "" ? moduleOf(url, functionName) : fileOf(url), node.selfSize)
      add(byFunction, name, node.selfSize)
      add(byCaller, url === "" ? `${functionName || "(native)"} ← ${caller}` : name, node.selfSize)
    }
    for (const child of node.children) visit(child, url === "" ? caller : name)
  }
  visit(head, "(root)")
  return { total, byModule, byFile, byFunction, byCaller }
}

/** Samples who allocates while `run` runs `jobs` lifecycles (or steps). */
const sampled = async (session: Session, run: () => Promise<unknown>) => {
  collect()
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  })
  await run()
  const { profile } = await session.post("HeapProfiler.stopSampling")
  return tally(profile.head as unknown as HeapNode)
}

const printTop = (title: string, map: Map<string, number>, jobs: number, total: number, top: number) => {
  console.log(`\n#### ${title}`)
  console.log("| | bytes per call | share |")
  console.log("|---|---|---|")
  for (const [name, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${name.replace(/\|/g, "\\|")} | ${(bytes / jobs).toFixed(0)} | ${(100 * bytes / total).toFixed(1)}% |`)
  }
}

type Window = "lifecycle" | LifecycleStep

/** `jobs` of window `window` through `tree` on `runtime`: a whole lifecycle each, or one step alone (trees.ts `stepAlone`). */
const oursWindow = async (tree: Tree, runtime: ManagedRuntime.ManagedRuntime<unknown, unknown>, window: Window, jobs: number) => {
  if (window === "lifecycle") {
    const one = treeLifecycle(tree)
    return () => runtime.runPromise(Effect.repeatN(one, jobs - 1) as Effect.Effect<unknown, unknown, never>)
  }
  const step = await runtime.runPromise(stepAlone(tree, window, jobs) as Effect.Effect<Effect.Effect<void, unknown, never>, unknown, never>)
  return () => runtime.runPromise(step)
}

const main = async () => {
  const [baseRoot, jobsArg, roundsArg, topArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: allocations.ts <base checkout> [jobs] [rounds] [top]")
  const jobs = Number(jobsArg ?? 500)
  const rounds = Number(roundsArg ?? 3)
  const top = Number(topArg ?? 25)
  if ((globalThis as { gc?: unknown }).gc === undefined) console.error("(no --expose-gc: the windows' edges are not collected; the figures still hold)")
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(2)).join(" ")]
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.enable")
  try {
    const statements = await captureLifecycle(await cluster.createDatabase("alloc_capture"))
    // The same texts sent? Base's own capture (its modules, its store) against this tree's.
    const baseReplay = await import(path.join(path.resolve(baseRoot), `bench/pgReplay${MODULE_EXTENSION}`)) as { readonly captureLifecycle: typeof captureLifecycle }
    const baseStatements = await baseReplay.captureLifecycle(await cluster.createDatabase("alloc_capture_base"))
    // Parameters compared with every id and instant masked (each lifecycle has its own).
    const masked = (value: unknown) => typeof value === "string" ? value.replace(FRESH, "#") : value
    const sameTexts = baseStatements.length === statements.length &&
      baseStatements.every((s, i) => s.text === statements[i]!.text)
    const sameParams = sameTexts && baseStatements.every((s, i) =>
      JSON.stringify(s.values.map(masked)) === JSON.stringify(statements[i]!.values.map(masked)))
    console.log(`statements a lifecycle: base ${baseStatements.length}, mine ${statements.length}; texts identical: ${sameTexts ? "yes" : "NO"}; ` +
      `parameters identical but for ids and instants: ${sameParams ? "yes" : "NO"}`)
    const replayUrl = await cluster.createDatabase("alloc_replay")
    await trees[1]!.app.migrateTarget({ dialect: "pg", url: replayUrl })
    const replay = await replayer(replayUrl, statements)
    const { boss, queue } = await startBoss(await cluster.createDatabase("alloc_boss"))
    const ours = await Promise.all(trees.map(async (tree) => ({
      tree,
      runtime: ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url: await cluster.createDatabase(`alloc_${tree.name}`) })) as ManagedRuntime.ManagedRuntime<unknown, unknown>
    })))
    const loop = (one: () => Promise<unknown>) => async () => {
      for (let i = 0; i < jobs; i++) await one()
    }
    /** Every system's windows: a name, and a function preparing one window (its run). */
    const systems: Array<{ readonly name: string; readonly window: Window; readonly prepare: () => Promise<() => Promise<unknown>> }> = [
      { name: "floor replay", window: "lifecycle", prepare: async () => loop(replay.one) },
      { name: "pg-boss", window: "lifecycle", prepare: async () => loop(() => bossCycle(boss, queue)) },
      ...ours.flatMap(({ runtime, tree }) =>
        (["lifecycle", ...LIFECYCLE_STEPS] as const).map((window) => ({ name: tree.name, window, prepare: () => oursWindow(tree, runtime, window, jobs) }))
      )
    ]
    // Warm-up (bench/warmupCurve.ts: every client's first ~1,000 lifecycles cost 2–3× its steady CPU), not counted.
    console.error("warm-up")
    for (const system of systems) {
      if (system.window === "lifecycle") for (let i = 0; i < Math.ceil(1_000 / jobs); i++) await (await system.prepare())()
      else await (await system.prepare())()
    }

    const bytes = new Map<string, Array<number>>()
    const gcs = new Map<string, Array<string>>()
    for (let round = 0; round < rounds; round++) {
      console.error(`round ${round + 1}/${rounds}`)
      for (let k = 0; k < systems.length; k++) {
        const system = systems[(k + round) % systems.length]!
        const run = await system.prepare()
        const measured = await allocatedDuring(run)
        const key = `${system.name}\t${system.window}`
        bytes.set(key, [...(bytes.get(key) ?? []), measured.allocated / jobs])
        gcs.set(key, [...(gcs.get(key) ?? []), `${measured.scavenges}/${measured.collections}`])
      }
      loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))
    }

    console.log(`\n## Bytes allocated on the JavaScript heap, PostgreSQL, one at a time: ${rounds} rounds × ${jobs} per window, interleaved (median; each round in brackets)`)
    console.log(`load average (1/5/15 min) at start and after each round: ${loads.join(" | ")}`)
    console.log("| system | window | bytes per call | scavenges/collections per window |")
    console.log("|---|---|---|---|")
    for (const [key, values] of bytes) {
      const [name, window] = key.split("\t")
      console.log(`| ${name} | ${window} | ${median(values).toFixed(0)} (${values.map((v) => v.toFixed(0)).join(", ")}) | ${gcs.get(key)!.join(", ")} |`)
    }
    const lifecycleOf = (name: string) => median(bytes.get(`${name}\tlifecycle`)!)
    console.log(`\nmine ÷ base, a lifecycle: ${(lifecycleOf("mine") / lifecycleOf("base")).toFixed(3)}×; base ÷ floor replay ${(lifecycleOf("base") / lifecycleOf("floor replay")).toFixed(1)}×, mine ÷ floor replay ${(lifecycleOf("mine") / lifecycleOf("floor replay")).toFixed(1)}×`)

    console.log(`\n## Who allocates (sampling heap profiler, every ~${SAMPLING_INTERVAL} bytes; self bytes per call)`)
    for (const system of systems) {
      const found = await sampled(session, await system.prepare())
      console.log(`\n### ${system.name}, ${system.window}: ${(found.total / jobs).toFixed(0)} sampled bytes per call`)
      printTop("by module", found.byModule, jobs, found.total, 12)
      printTop("by file", found.byFile, jobs, found.total, top)
      printTop("by function", found.byFunction, jobs, found.total, top)
      printTop("by function, a native allocation charged to its JavaScript caller", found.byCaller, jobs, found.total, top)
    }
    await boss.stop({ graceful: false, wait: true })
    await replay.close()
    await Promise.all(ours.map(({ runtime }) => runtime.dispose()))
  } finally {
    session.disconnect()
    await cluster.stop()
  }
}

runMain(main)
