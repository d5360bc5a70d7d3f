/**
 * What the node thread does inside each stretch of a pickup (issue 16, h57):
 * `npx tsx bench/pickupWindows.ts [jobs] [top]`. One idle one-loop pool on
 * PostgreSQL (LISTEN/NOTIFY), jobs submitted one at a time after a random
 * pause, as bench/pickupSteps.ts — with a CPU profile (50 µs sampling) of
 * the whole run. Every mark (each `pg` send and ReadyForQuery, `submitted`,
 * the program's start, and any `(globalThis as any).__hskMark?.("name")`
 * put in the library for a run — never committed) is stamped on the same
 * monotonic clock as the profile's samples, so each stretch between two
 * consecutive marks gets the samples that fell in it: how much of it the
 * thread was idle (waiting: the scheduler's hop, the socket, another
 * process on the core) and which functions ran (self time), per pickup.
 * Only stretches seen in at least half the pickups are printed. The
 * profiler's sampling slows the JavaScript (~1.5–2×): read the shares, not
 * the absolute times. `SAVE=file.cpuprofile` keeps the profile (for
 * bench/cpuProfileSummary.ts). Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { Session } from "node:inspector/promises"
import { Jobs } from "../src/Jobs.js"
import * as WakeUp from "../src/WakeUp.js"
import { servicesLayer } from "./app.js"
import type { CpuProfile } from "./cpuProfile.js"
import { NEW_JOB } from "./fixtures.js"
import { hookStatements, statementLabels } from "./pgStatementHooks.js"
import { percentile } from "./harness.js"
import { startBenchCluster } from "./postgres.js"

/** Microseconds on the monotonic clock V8's profiler stamps samples with. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n)

let marks: Array<[string, number]> | undefined
const mark = (name: string) => {
  if (marks !== undefined) marks.push([name, nowUs()])
}
;(globalThis as { __hskMark?: (name: string) => void }).__hskMark = mark

/** A mark named from a statement's text: the time taken first, the label after (pgStatementHooks.ts). */
const labelOf = statementLabels(16)
const markStatement = (prefix: string) => (text: unknown) => {
  if (marks === undefined) return
  const at = nowUs()
  marks.push([`${prefix} ${labelOf(text)}`, at])
}
hookStatements({ sent: markStatement("pg>"), ready: markStatement("pg<") })

type Profile = CpuProfile & { readonly startTime: number }

/** Each sample's time (µs, monotonic) and node id. */
const samplesOf = (profile: Profile) => {
  const times: Array<number> = []
  let t = profile.startTime
  for (const dt of profile.timeDeltas) times.push(t += dt)
  return { times, ids: profile.samples }
}

const main = async () => {
  const count = Number(process.argv[2] ?? 100)
  const top = Number(process.argv[3] ?? 8)
  const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ")
  console.log(`load average at start ${load()}`)
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("pickup_windows")
    const session = new Session()
    session.connect()
    const rows: Array<Array<[string, number]>> = []
    const profile = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const jobs = yield* Jobs
      let started: () => void = () => {}
      yield* jobs.worker({ concurrency: 1, handler: () => Effect.sync(() => { mark("program"); started() }) })
      yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
      for (let i = 0; i < count + 5; i++) {
        if (i === 5) {
          yield* Effect.promise(() => session.post("Profiler.enable"))
          yield* Effect.promise(() => session.post("Profiler.setSamplingInterval", { interval: 50 }))
          yield* Effect.promise(() => session.post("Profiler.start"))
        }
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200)))
        const program = new Promise<void>((resolve) => (started = resolve))
        marks = [["begin", nowUs()]]
        yield* jobs.submit(NEW_JOB)
        mark("submitted")
        yield* Effect.promise(() => program)
        if (i >= 5) rows.push(marks)
        marks = undefined
      }
      const { profile } = yield* Effect.promise(() => session.post("Profiler.stop"))
      return profile as unknown as Profile
    })).pipe(Effect.provide(servicesLayer({ dialect: "pg", url }, WakeUp.layerPg({ listenUrl: url })))))
    session.disconnect()
    if (process.env["SAVE"] !== undefined) fs.writeFileSync(process.env["SAVE"], JSON.stringify(profile))

    const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
    const nameOf = (id: number) => {
      const frame = frames.get(id)!
      const file = frame.url.replace(/^.*\/node_modules\//, "~/").replace(/^.*\/(src|bench)\//, "$1/").replace(/^node:.*/, "node")
      return `${frame.functionName || "(anonymous)"} ${file}${file === "" ? "" : `:${frame.lineNumber + 1}`}`
    }
    const { ids, times } = samplesOf(profile)
    // Stretch "a → b" (by the k-th occurrence of each name in its pickup): per pickup, its length and the samples in it.
    const stretches = new Map<string, { lengths: Array<number>; idle: number; busy: number; self: Map<string, number>; order: number }>()
    let first = 0
    for (const row of rows) {
      const seen = new Map<string, number>()
      const names = row.map(([name]) => {
        const k = (seen.get(name) ?? 0) + 1
        seen.set(name, k)
        return k === 1 ? name : `${name} #${k}`
      })
      for (let m = 1; m < row.length; m++) {
        const key = `${names[m - 1]} → ${names[m]}`
        const from = row[m - 1]![1]
        const to = row[m]![1]
        let stretch = stretches.get(key)
        if (stretch === undefined) stretches.set(key, stretch = { lengths: [], idle: 0, busy: 0, self: new Map(), order: m })
        stretch.lengths.push(to - from)
        while (first < times.length && times[first]! < from) first++
        for (let s = first; s < times.length && times[s]! < to; s++) {
          const frame = frames.get(ids[s]!)!
          const dt = Math.min(times[s]!, to) - Math.max(s > 0 ? times[s - 1]! : from, from)
          if (frame.functionName === "(idle)") stretch.idle += dt
          else {
            stretch.busy += dt
            const name = nameOf(ids[s]!)
            stretch.self.set(name, (stretch.self.get(name) ?? 0) + dt)
          }
        }
      }
    }
    console.log(`\n${rows.length} pickups; per stretch between consecutive marks: p50 length, and per pickup (µs) the thread idle vs busy, with the busiest functions (self)`)
    const n = rows.length
    for (const [key, s] of [...stretches].filter(([, s]) => s.lengths.length >= n / 2).sort((a, b) => a[1].order - b[1].order)) {
      const k = s.lengths.length
      console.log(
        `\n${key}  (n ${k}) p50 ${(percentile(s.lengths, 50) / 1000).toFixed(2)} ms; idle ${(s.idle / k).toFixed(0)} µs, busy ${(s.busy / k).toFixed(0)} µs`
      )
      for (const [name, us] of [...s.self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
        console.log(`    ${(us / k).toFixed(0).padStart(6)} µs  ${name}`)
      }
    }
  } finally {
    await cluster.stop()
    console.log(`\nload average at end ${load()}`)
  }
}

void main()
