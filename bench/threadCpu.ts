/**
 * Whose CPU a lifecycle's client time is, thread by thread (issue 16):
 * `process.cpuUsage` counts every thread of the process, user and kernel,
 * while a V8 profile sees the main thread's JavaScript only. This runs ours
 * through Jobs, the floor's replay and pg-boss one job at a time on one
 * throwaway cluster, and reads each thread's on-CPU time
 * (`/proc/self/task/<tid>/schedstat`, ns) and its user / kernel split
 * (`stat`, ticks) around each block, grouped by thread name (main, the
 * garbage collector's helpers, libuv's pool), with the collector's pauses on
 * the main thread (minor and major) counted per block. Not part of `npm run bench`.
 *
 *   npx tsx bench/threadCpu.ts [rounds] [jobs]
 */
import * as fs from "node:fs"
import { PerformanceObserver } from "node:perf_hooks"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { migrateTarget, servicesLayer } from "./app.js"
import { bossCycle, startBoss } from "./baselines/pgBoss.js"
import { oneLifecycle } from "./lifecycle.js"
import { captureLifecycle, replayer } from "./pgReplay.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { median } from "./trees.js"

interface ThreadTime {
  readonly name: string
  readonly ns: number
  readonly user: number
  readonly kernel: number
}

const TICK_NS = 1e9 / 100

/** Every thread of this process: its name and CPU so far. */
const threads = (): Map<string, ThreadTime> => {
  const out = new Map<string, ThreadTime>()
  for (const tid of fs.readdirSync("/proc/self/task")) {
    try {
      const dir = `/proc/self/task/${tid}`
      const name = fs.readFileSync(`${dir}/comm`, "utf8").trim()
      const ns = Number(fs.readFileSync(`${dir}/schedstat`, "utf8").split(" ")[0])
      // stat: fields after the parenthesised name; utime and stime are the 14th and 15th.
      const stat = fs.readFileSync(`${dir}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      out.set(tid, { name, ns, user: Number(fields[11]) * TICK_NS, kernel: Number(fields[12]) * TICK_NS })
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return out
}

/** CPU µs per job by thread group between two readings. */
const perGroup = (before: Map<string, ThreadTime>, after: Map<string, ThreadTime>, jobs: number, mainTid: string) => {
  const groups = new Map<string, { cpu: number; user: number; kernel: number }>()
  for (const [tid, end] of after) {
    const start = before.get(tid) ?? { ns: 0, user: 0, kernel: 0 }
    const group = tid === mainTid ? "main" : end.name.replace(/\d+$/, "#")
    const g = groups.get(group) ?? { cpu: 0, user: 0, kernel: 0 }
    g.cpu += (end.ns - start.ns) / 1000 / jobs
    g.user += (end.user - start.user) / 1000 / jobs
    g.kernel += (end.kernel - start.kernel) / 1000 / jobs
    groups.set(group, g)
  }
  return groups
}

/** The collector's pauses on the main thread since the last `take`: count and ms, minor (scavenges) and major. */
const gcPauses = () => {
  let minor = { count: 0, ms: 0 }
  let major = { count: 0, ms: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // NODE_PERFORMANCE_GC_MINOR is 1; everything else (major, incremental, weak callbacks) counts as major.
      const kind = (entry as unknown as { readonly detail?: { readonly kind?: number } }).detail?.kind
      const into = kind === 1 ? minor : major
      into.count++
      into.ms += entry.duration
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  return {
    take: () => {
      const taken = { minor, major }
      minor = { count: 0, ms: 0 }
      major = { count: 0, ms: 0 }
      return taken
    },
    stop: () => observer.disconnect()
  }
}

/** Lets the observer's queued entries be delivered (they come on a later turn). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

const main = async () => {
  const rounds = Number(process.argv[2] ?? 4)
  const jobs = Number(process.argv[3] ?? 1000)
  const mainTid = String(process.pid)
  const cluster = await startBenchCluster()
  try {
    const statements = await captureLifecycle(await cluster.createDatabase("threads_capture"))
    const replayUrl = await cluster.createDatabase("threads_replay")
    await migrateTarget({ dialect: "pg", url: replayUrl })
    const replay = await replayer(replayUrl, statements)
    const ours = ManagedRuntime.make(servicesLayer({ dialect: "pg", url: await cluster.createDatabase("threads_ours") }))
    const { boss, queue } = await startBoss(await cluster.createDatabase("threads_boss"))
    const systems = [
      { name: "ours", one: () => ours.runPromise(oneLifecycle) },
      { name: "floor", one: replay.one },
      { name: "pg-boss", one: () => bossCycle(boss, queue) }
    ]
    for (const system of systems) for (let i = 0; i < 1_000; i++) await system.one()
    const figures = new Map<string, Map<string, Array<{ cpu: number; user: number; kernel: number }>>>()
    const collections = new Map<string, Array<{ minor: number; minorMs: number; major: number; majorMs: number }>>()
    const pauses = gcPauses()
    for (let round = 0; round < rounds; round++) {
      for (const system of round % 2 === 0 ? systems : [...systems].reverse()) {
        await settle()
        pauses.take()
        const before = threads()
        for (let i = 0; i < jobs; i++) await system.one()
        const groups = perGroup(before, threads(), jobs, mainTid)
        await settle()
        const { major, minor } = pauses.take()
        collections.set(system.name, [...(collections.get(system.name) ?? []), {
          minor: minor.count * 1000 / jobs,
          minorMs: minor.ms * 1000 / jobs,
          major: major.count * 1000 / jobs,
          majorMs: major.ms * 1000 / jobs
        }])
        const bySystem = figures.get(system.name) ?? new Map()
        for (const [group, g] of groups) bySystem.set(group, [...(bySystem.get(group) ?? []), g])
        figures.set(system.name, bySystem)
      }
      console.log(`round ${round + 1}/${rounds}`)
    }
    console.log(`\n## client CPU µs per lifecycle by thread, ${rounds} rounds of ${jobs} (medians; user / kernel from 10 ms ticks)`)
    console.log("| system | thread | on-CPU | user | kernel |\n|---|---|---|---|---|")
    for (const [system, groups] of figures) {
      for (const [group, samples] of groups) {
        const cpu = median(samples.map((s) => s.cpu))
        if (cpu < 1) continue
        console.log(`| ${system} | ${group} | ${cpu.toFixed(0)} | ${median(samples.map((s) => s.user)).toFixed(0)} | ${median(samples.map((s) => s.kernel)).toFixed(0)} |`)
      }
    }
    console.log(`\n## the collector's pauses on the main thread (medians): collections per 1,000 lifecycles, pause µs per lifecycle`)
    console.log("| system | minor per 1,000 | minor pause µs | major per 1,000 | major pause µs |\n|---|---|---|---|---|")
    for (const [system, samples] of collections) {
      const m = (pick: (s: (typeof samples)[number]) => number) => median(samples.map(pick)).toFixed(1)
      console.log(`| ${system} | ${m((s) => s.minor)} | ${m((s) => s.minorMs)} | ${m((s) => s.major)} | ${m((s) => s.majorMs)} |`)
    }
    pauses.stop()
    await replay.close()
    await boss.stop({ graceful: false, wait: true })
    await ours.dispose()
  } finally {
    await cluster.stop()
  }
}

runMain(main)
