/**
 * The process bench/deopts.ts runs under V8's code log: a tree's PostgreSQL
 * lifecycles by `workers` concurrent workers (as bench/lifecycleLoop.ts runs
 * them), a 400-job warm-up, then `rounds` rounds of `jobs`, each round
 * opened by a marker function whose first compilation the code log records,
 * so the parent can split optimizations and deoptimizations by round. Per
 * round it also takes the garbage collections (count, kind, pause) and the
 * bytes allocated (V8's heap before and after each collection); then one more
 * round under the sampling heap profiler, keeping collected objects too, for
 * who allocates. Writes its figures as JSON to `out`. Not part of `npm run bench`.
 *
 *   node --log-code --log-deopt --logfile=F --import tsx bench/deoptsChild.ts <tree root> <url> <workers> <jobs> <rounds> <out>
 */
import * as fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { runMain } from "./runMain.js"
import { cpuMicros, loadTree, treeLifecycle } from "./trees.js"

/** Garbage collections and allocation in one round. */
export interface RoundGc {
  readonly scavenges: number
  readonly markCompacts: number
  readonly other: number
  readonly pauseMs: number
  readonly allocatedBytes: number
  /** Old space grown across the scavenges: objects that outlived two scavenges, promoted (to be found dead only by a mark-compact). */
  readonly promotedBytes: number
  readonly cpuMicros: number
}

/** One sampled allocation site: bytes allocated there (collected objects included) in the sampled round. */
export interface AllocationSite {
  readonly functionName: string
  readonly url: string
  readonly line: number
  readonly column: number
  readonly bytes: number
}

export interface ChildFigures {
  readonly jobs: number
  readonly rounds: ReadonlyArray<RoundGc>
  readonly sampledJobs: number
  readonly sites: ReadonlyArray<AllocationSite>
  /** Sampled bytes still held after a round, by allocation site: objects that outlived their scavenges. */
  readonly survivors: ReadonlyArray<AllocationSite>
  readonly survivorJobs: number
}

const SURVIVOR_JOBS = 400

/** Compiles (on its first call) a function the code log names, so the log says where a round starts. */
const mark = (label: string): void => {
  // A fresh function per label is the point: its first compilation is the marker.
  const marker = new Function(`return function deopts_mark_${label}() { return 0 }`)() as () => number
  marker()
}

// v8.GCProfiler's entries (Node 20): heap statistics before and after each collection.
interface GcHeap {
  readonly heapStatistics: { readonly usedHeapSize: number }
  readonly heapSpaceStatistics: ReadonlyArray<{ readonly spaceName: string; readonly spaceUsedSize: number }>
}
interface GcEntry {
  readonly gcType: string
  readonly cost: number
  readonly beforeGC: GcHeap
  readonly afterGC: GcHeap
}
const oldSpace = (heap: GcHeap): number => heap.heapSpaceStatistics.find((space) => space.spaceName === "old_space")?.spaceUsedSize ?? 0

/** Runs `run` and returns its collections and the bytes allocated meanwhile (used heap grown between collections). */
const measured = async (run: () => Promise<void>): Promise<RoundGc> => {
  const profiler = new v8.GCProfiler()
  const usedAtStart = v8.getHeapStatistics().used_heap_size
  const cpuAtStart = cpuMicros()
  profiler.start()
  await run()
  const usedAtEnd = v8.getHeapStatistics().used_heap_size
  const entries = (profiler.stop() as unknown as { statistics: ReadonlyArray<GcEntry> }).statistics
  const cpu = cpuMicros() - cpuAtStart
  let allocated = 0
  let after = usedAtStart
  let scavenges = 0
  let markCompacts = 0
  let other = 0
  let pause = 0
  let promoted = 0
  for (const entry of entries) {
    allocated += entry.beforeGC.heapStatistics.usedHeapSize - after
    after = entry.afterGC.heapStatistics.usedHeapSize
    pause += entry.cost / 1000
    if (entry.gcType === "Scavenge") {
      scavenges++
      promoted += oldSpace(entry.afterGC) - oldSpace(entry.beforeGC)
    }
    else if (entry.gcType === "MarkSweepCompact") markCompacts++
    else other++
  }
  allocated += usedAtEnd - after
  return { scavenges, markCompacts, other, pauseMs: pause, allocatedBytes: allocated, promotedBytes: promoted, cpuMicros: cpu }
}

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number }
  readonly selfSize: number
  readonly children: ReadonlyArray<ProfileNode>
}

/** Self bytes by allocation site (function and position), over the whole sampled tree. */
const sitesOf = (head: ProfileNode): Array<AllocationSite> => {
  const sites = new Map<string, AllocationSite>()
  const walk = (node: ProfileNode) => {
    const { columnNumber, functionName, lineNumber, url } = node.callFrame
    const key = `${functionName}|${url}|${lineNumber}|${columnNumber}`
    const site = sites.get(key)
    sites.set(key, { functionName, url, line: lineNumber + 1, column: columnNumber + 1, bytes: (site?.bytes ?? 0) + node.selfSize })
    for (const child of node.children) walk(child)
  }
  walk(head)
  return [...sites.values()].filter((site) => site.bytes > 0).sort((a, b) => b.bytes - a.bytes)
}

const main = async () => {
  const [root, url, workersArg, jobsArg, roundsArg, out] = process.argv.slice(2)
  if (root === undefined || url === undefined || out === undefined) throw new Error("usage: deoptsChild.ts <tree root> <url> <workers> <jobs> <rounds> <out>")
  const tree = await loadTree("tree", path.resolve(root))
  const workers = Number(workersArg ?? 4)
  const jobs = Number(jobsArg ?? 1000)
  const rounds = Number(roundsArg ?? 5)
  const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }))
  const one = treeLifecycle(tree)
  const lifecycles = (count: number) => () =>
    runtime.runPromise(
      Effect.all(Array.from({ length: workers }, () => Effect.repeatN(one, Math.ceil(count / workers) - 1)), { concurrency: "unbounded", discard: true })
    )
  await lifecycles(400)()
  const figures: Array<RoundGc> = []
  for (let round = 0; round < rounds; round++) {
    mark(`round_${round}`)
    figures.push(await measured(lifecycles(jobs)))
  }
  mark("sampling")
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.enable")
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  } as never)
  await lifecycles(jobs)()
  const { profile } = await session.post("HeapProfiler.stopSampling") as unknown as { profile: { head: ProfileNode } }
  // Survivors: without those options the profiler forgets a sample when its object is collected, so what is left
  // after a round is what outlived the scavenges (promoted, old space is only swept by a mark-compact) or is live.
  mark("survivors")
  ;(globalThis as unknown as { gc?: () => void }).gc?.()
  await session.post("HeapProfiler.startSampling", { samplingInterval: 4096 })
  // Fewer jobs than a mark-compact's interval (~2,000 here), so promoted garbage is still there to be counted.
  await lifecycles(SURVIVOR_JOBS)()
  const { profile: survivors } = await session.post("HeapProfiler.stopSampling") as unknown as { profile: { head: ProfileNode } }
  session.disconnect()
  mark("end")
  await runtime.dispose()
  const result: ChildFigures = {
    jobs,
    rounds: figures,
    sampledJobs: jobs,
    sites: sitesOf(profile.head).slice(0, 400),
    survivorJobs: SURVIVOR_JOBS,
    survivors: sitesOf(survivors.head).slice(0, 200)
  }
  fs.writeFileSync(out, JSON.stringify(result))
}

runMain(main)
