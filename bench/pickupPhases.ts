/**
 * One pickup broken down by phase, in time and in Effect operations, for two
 * checkouts interleaved in one process (issue 16, h37): `npx tsx
 * bench/pickupPhases.ts <base checkout> [pickups]`. Each checkout runs an
 * idle one-loop pool on a PostgreSQL database of its own, woken by
 * LISTEN/NOTIFY (and the in-process wake where it has it); each round submits
 * one job to each, after a random pause. The phases, as `pg` sees them:
 *
 *   submit called → submit sent → submit's reply (its commit) → claim sent
 *   → claim's reply → the program's start
 *
 * (the wake — the local one or the NOTIFY — lies inside "reply → claim sent";
 * on a quiet machine the NOTIFY often reaches the listener before the
 * submitter reads its own reply, so that phase can be negative). For each
 * phase: the median time and the median Effect operations (the runtime's one
 * `shouldYield` question per operation, through a counting scheduler under
 * which the pool and the submit run; the listener's fiber is not counted).
 * Each phase also gets this process's CPU time (a phase whose CPU is close
 * to its time is JavaScript; the rest is waiting). `PAUSE=1-2` shortens the
 * idle pause before each submit (default 20–220 ms) to compare a warm pickup
 * with one after an idle pause. Both checkouts import the same `pg` module (their node_modules are the same
 * install), so one patch of its prototypes marks both. Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as os from "node:os"
import * as path from "node:path"
import { performance, PerformanceObserver } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import type * as App from "./app.js"
import type * as JobsModule from "../src/Jobs.js"
import type * as WakeUpModule from "../src/WakeUp.js"
import { countingScheduler } from "../test/support/effectOperations.js"
import { NEW_JOB } from "./fixtures.js"
import { hookStatements } from "./pgStatementHooks.js"
import { percentile } from "./harness.js"
import { startBenchCluster } from "./postgres.js"

const PHASES = ["submit sent", "submit's reply", "claim sent", "claim's reply", "program"] as const
type Phase = typeof PHASES[number]

const counting = countingScheduler()
const scheduler = counting.scheduler

/** The marks of the sample in progress: the first time and operation count of each phase. */
/** A mark: wall time (ms), Effect operations so far, this process's CPU time (ms). */
type Mark = [number, number, number]
const cpuNow = () => {
  const used = process.cpuUsage()
  return (used.user + used.system) / 1000
}
let marks: Map<Phase, Mark> | undefined
const mark = (phase: Phase) => {
  if (marks !== undefined && !marks.has(phase)) marks.set(phase, [performance.now(), counting.ops(), cpuNow()])
}
// To count inside the library, call `(globalThis as any).__hskMark?.("name")` there for the run (never
// committed): each such mark prints the median operations and ms from the last phase mark before it (named with it).
const extra = new Map<string, Array<number>>()
;(globalThis as { __hskMark?: (name: string) => void }).__hskMark = (name: string) => {
  if (marks === undefined) return
  const last = [...marks.entries()].at(-1)
  const key = `${name} (after ${last?.[0] ?? "submit called"})`
  if (!extra.has(key)) extra.set(key, [])
  extra.get(key)!.push(counting.ops() - (last?.[1][1] ?? sampleStart))
  if (!extraMs.has(key)) extraMs.set(key, [])
  extraMs.get(key)!.push(performance.now() - (last?.[1][0] ?? sampleStartMs))
}
const extraMs = new Map<string, Array<number>>()
let sampleStart = 0
let sampleStartMs = 0

// Eager dispatch's one statement (create and claim, stop 46) counts as the submit; its pickup has no claim of its own.
const isSubmit = (text: unknown) => typeof text === "string" && /^\s*WITH (?:"created"|head) AS/.test(text)
const isClaim = (text: unknown) => typeof text === "string" && /^\s*WITH locked AS/.test(text)

hookStatements({
  sent: (text) => {
    if (isSubmit(text)) mark("submit sent")
    else if (isClaim(text)) mark("claim sent")
  },
  ready: (text) => {
    if (isSubmit(text)) mark("submit's reply")
    else if (isClaim(text)) mark("claim's reply")
  }
})

/** Every garbage collection of this process (start and duration, ms), to tell a collection inside a slow pickup. */
const collections: Array<readonly [start: number, duration: number]> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push([entry.startTime, entry.duration])
}).observe({ entryTypes: ["gc"] })
/** A sample's phases → its start and end (ms, performance.now()). */
const spans = new WeakMap<ReadonlyArray<Mark>, readonly [number, number]>()
/** The time garbage collection took inside `span`. */
const collectedIn = ([from, to]: readonly [number, number]) =>
  collections.filter(([start]) => start >= from && start < to).reduce((sum, [, duration]) => sum + duration, 0)

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const loadTree = async (root: string) => ({
  app: await import(path.join(root, "bench/app.ts")) as typeof App,
  Jobs: (await import(path.join(root, "src/Jobs.ts")) as typeof JobsModule).Jobs,
  WakeUp: await import(path.join(root, "src/WakeUp.ts")) as typeof WakeUpModule
})

/** A checkout's idle one-loop pool; `sample` submits one job and gives the marks of its pickup. */
const system = async (root: string, url: string) => {
  const tree = await loadTree(root)
  const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }, tree.WakeUp.layerPg({ listenUrl: url })))
  const scope = await runtime.runPromise(Scope.make())
  let started: () => void = () => {}
  const handler = () =>
    Effect.sync(() => {
      mark("program")
      started()
    })
  const jobs = await runtime.runPromise(Effect.gen(function*() {
    const jobs = yield* tree.Jobs
    yield* Scope.extend(Effect.withScheduler(jobs.worker({ concurrency: 1, handler }), scheduler), scope)
    yield* Effect.flatMap(tree.WakeUp.WakeUp, (wake) => wake.ready)
    return jobs
  }))
  return {
    sample: async () => {
      const program = new Promise<void>((resolve) => (started = resolve))
      marks = new Map()
      const begin: Mark = [performance.now(), counting.ops(), cpuNow()]
      sampleStart = begin[1]
      sampleStartMs = begin[0]
      await runtime.runPromise(Effect.withScheduler(jobs.submit(NEW_JOB), scheduler))
      await program
      const seen = marks
      marks = undefined
      // Each phase from the previous mark (time, operations).
      let last = begin
      const phases = PHASES.map((phase) => {
        const at = seen.get(phase) ?? last
        const step: Mark = [at[0] - last[0], at[1] - last[1], at[2] - last[2]]
        last = at
        return step
      })
      spans.set(phases, [begin[0], performance.now()])
      return phases
    },
    stop: async () => {
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    }
  }
}

const main = async () => {
  const [baseRoot, countArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: pickupPhases.ts <base checkout> [pickups]")
  const count = Number(countArg ?? 40)
  // The idle pause before each submit, ms (PAUSE=min-max; default 20-220): a short one shows what an idle pause costs.
  const [min, max] = (process.env["PAUSE"] ?? "20-220").split("-").map(Number)
  const pause = { min: min ?? 20, max: max ?? min ?? 220 }
  console.log(`idle pause before each submit ${pause.min}–${pause.max} ms`)
  const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ")
  console.log(`load average at start ${load()}`)
  const cluster = await startBenchCluster()
  const systems: Array<{ name: string; run: Awaited<ReturnType<typeof system>> }> = []
  try {
    systems.push({ name: "base", run: await system(path.resolve(baseRoot), await cluster.createDatabase("phases_base")) })
    systems.push({ name: "mine", run: await system(here, await cluster.createDatabase("phases_mine")) })
    const rows = systems.map(() => [] as Array<Array<Mark>>)
    for (let round = 0; round < count + 5; round++) {
      for (const [i, s] of systems.entries()) {
        await new Promise((resolve) => setTimeout(resolve, pause.min + Math.random() * (pause.max - pause.min)))
        const phases = await s.run.sample()
        // The first five warm caches and memos up.
        if (round >= 5) rows[i]!.push(phases)
      }
    }
    console.log(`\none pickup by phase, from the previous mark (${count} pickups each, interleaved; medians)`)
    console.log(`  ${"phase".padEnd(34)} ${systems.map((s) => `${s.name} ms`.padStart(9) + `${s.name} ops`.padStart(10) + "CPU ms".padStart(10)).join("")}`)
    const labels: Record<Phase, string> = {
      "submit sent": "submit called → submit sent",
      "submit's reply": "→ submit's reply (commit)",
      "claim sent": "→ claim sent (wake, idle race)",
      "claim's reply": "→ claim's reply",
      "program": "→ program's start"
    }
    for (const [k, phase] of PHASES.entries()) {
      console.log(`  ${labels[phase].padEnd(34)} ${
        rows.map((r) =>
          percentile(r.map((p) => p[k]![0]), 50).toFixed(2).padStart(9) + String(percentile(r.map((p) => p[k]![1]), 50)).padStart(10) +
          percentile(r.map((p) => p[k]![2]), 50).toFixed(2).padStart(10)
        ).join("")
      }`)
    }
    const total = (r: Array<Array<Mark>>, j: 0 | 1 | 2) => percentile(r.map((p) => p.reduce((s, x) => s + x[j], 0)), 50)
    console.log(`  ${"total (submit called → program)".padEnd(34)} ${rows.map((r) => total(r, 0).toFixed(2).padStart(9) + String(total(r, 1)).padStart(10) + total(r, 2).toFixed(2).padStart(10)).join("")}`)
    // The tail: each system's slowest pickups, phase by phase (ms), to tell a slow statement from a slow client.
    for (const [i, r] of rows.entries()) {
      const slowest = [...r].sort((a, b) => b.reduce((t, x) => t + x[0], 0) - a.reduce((t, x) => t + x[0], 0)).slice(0, 5)
      console.log(`  ${systems[i]!.name}, slowest ${slowest.length} (ms by phase; CPU; GC): ${
        slowest.map((p) => `[${p.map((x) => x[0].toFixed(1)).join(" ")}; ${p.reduce((t, x) => t + x[2], 0).toFixed(1)}; ${collectedIn(spans.get(p) ?? [0, 0]).toFixed(1)}]`).join(" ")
      }`)
      const gcAll = r.map((p) => collectedIn(spans.get(p) ?? [0, 0]))
      console.log(`  ${systems[i]!.name}: pickups with a collection inside ${gcAll.filter((g) => g > 0).length} of ${r.length}, GC ms p50 ${percentile(gcAll, 50).toFixed(2)}, max ${Math.max(...gcAll).toFixed(1)}`)
    }
    for (const [name, v] of extra) console.log(`  extra ${name.padEnd(50)} n ${String(v.length).padStart(3)} ops p50 ${percentile(v, 50)} ms p50 ${percentile(extraMs.get(name)!, 50).toFixed(3)}`)
  } finally {
    for (const s of systems) await s.run.stop()
    await cluster.stop()
    console.log(`load average at end ${load()}`)
  }
}

void main()
