/**
 * Does an idle pause make a pickup slower, and why (issue 16, h48)? `npx tsx
 * bench/pickupIdle.ts [rounds]`. Our in-process one-loop pool (this
 * checkout, woken by LISTEN/NOTIFY and the in-process wake) and
 * graphile-worker, each on a database of its own on one server, in this
 * process. Each round takes one sample of each system after each kind of
 * pause, interleaved:
 *
 * - `warm`: 5–15 ms after the previous pickup (its run has settled; the code
 *   has just run);
 * - `idle`: 20–1020 ms, as bench/pickup.ts pauses (the benchmark's figure).
 *
 * Per system and pause: latency (ms from the call to submit to the program's
 * start) and this process's CPU per pickup, p50 and p90; and the garbage
 * collections (a `gc` PerformanceObserver) that fell inside the pauses and
 * inside the samples, by kind. Run it under node flags to test a cause, e.g.
 * `node --no-flush-bytecode --no-memory-reducer --import tsx
 * bench/pickupIdle.ts` (diagnosis only: bench/pickup.ts keeps the defaults).
 * Not part of `npm run bench`.
 */
import * as os from "node:os"
import { performance, PerformanceObserver } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as WakeUp from "../src/WakeUp.js"
import { percentile } from "./harness.js"
import { graphileSampler, oursSampler, type Sampler } from "./pickup.js"
import { startBenchCluster } from "./postgres.js"

const PAUSES = { warm: [5, 15], idle: [20, 1020] } as const
type Pause = keyof typeof PAUSES

const GC_KINDS: Record<number, string> = { 1: "minor", 2: "major", 4: "incremental", 8: "weakcb" }
/** Garbage collections seen, as [start ms, kind]. */
const gcs: Array<[number, string]> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { readonly detail?: { readonly kind?: number } }).detail?.kind ?? 0
    gcs.push([entry.startTime, GC_KINDS[kind] ?? String(kind)])
  }
}).observe({ entryTypes: ["gc"] })
const gcsBetween = (from: number, to: number) => gcs.filter(([at]) => at >= from && at < to).map(([, kind]) => kind)

/** A system under test (bench/pickup.ts's samplers), by name. */
interface System extends Sampler {
  readonly name: string
}

interface Row {
  readonly ms: number
  readonly cpu: number
  readonly pauseGcs: ReadonlyArray<string>
  readonly sampleGcs: ReadonlyArray<string>
}

const main = async () => {
  const rounds = Number(process.argv[2] ?? 40)
  const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ")
  console.log(`node ${process.version} ${process.execArgv.filter((a) => a.startsWith("--") && !a.includes("import")).join(" ") || "(default flags)"}`)
  console.log(`load average at start ${load()}`)
  const cluster = await startBenchCluster()
  const systems: Array<System> = []
  try {
    const oursUrl = await cluster.createDatabase("idle_ours")
    systems.push({ name: "ours", ...await oursSampler({ dialect: "pg", url: oursUrl }, WakeUp.layerPg({ listenUrl: oursUrl })) })
    systems.push({ name: "graphile-worker", ...await graphileSampler(await cluster.createDatabase("idle_graphile")) })
    const rows = new Map<string, Array<Row>>()
    for (let round = 0; round < rounds + 5; round++) {
      for (const pause of Object.keys(PAUSES) as Array<Pause>) {
        for (const system of systems) {
          const [min, max] = PAUSES[pause]
          const pauseStart = performance.now()
          await new Promise((resolve) => setTimeout(resolve, min + Math.random() * (max - min)))
          const begin = performance.now()
          const cpu0 = process.cpuUsage()
          await system.sample()
          const end = performance.now()
          const used = process.cpuUsage(cpu0)
          // Let a GC entry of the sample's last moments reach the observer.
          await new Promise((resolve) => setImmediate(resolve))
          // The first five rounds warm caches and memos up.
          if (round < 5) continue
          const key = `${system.name}, ${pause}`
          if (!rows.has(key)) rows.set(key, [])
          rows.get(key)!.push({
            ms: end - begin,
            cpu: (used.user + used.system) / 1000,
            pauseGcs: gcsBetween(pauseStart, begin),
            sampleGcs: gcsBetween(begin, end)
          })
        }
      }
    }
    const tally = (lists: ReadonlyArray<ReadonlyArray<string>>) => {
      const counts = new Map<string, number>()
      for (const kind of lists.flat()) counts.set(kind, (counts.get(kind) ?? 0) + 1)
      return [...counts].map(([kind, n]) => `${kind} ${n}`).join(", ") || "none"
    }
    console.log(`\npickup by pause before it (${rounds} samples each, interleaved; ms from submit to the program's start, CPU ms here)`)
    for (const [key, r] of rows) {
      const ms = r.map((x) => x.ms)
      const cpu = r.map((x) => x.cpu)
      console.log(
        `  ${key.padEnd(24)} p50 ${percentile(ms, 50).toFixed(2).padStart(6)}  p90 ${percentile(ms, 90).toFixed(2).padStart(6)}` +
          `  CPU p50 ${percentile(cpu, 50).toFixed(2).padStart(5)}  p90 ${percentile(cpu, 90).toFixed(2).padStart(5)}` +
          `   GCs in pauses: ${tally(r.map((x) => x.pauseGcs))}; in samples: ${tally(r.map((x) => x.sampleGcs))}`
      )
    }
    const heap = v8.getHeapStatistics()
    console.log(`heap used ${(heap.used_heap_size / 2 ** 20).toFixed(1)} MiB of ${(heap.total_heap_size / 2 ** 20).toFixed(1)} MiB`)
  } finally {
    for (const system of systems) await system.stop()
    await cluster.stop()
    console.log(`load average at end ${load()}`)
  }
}

void main()
