/**
 * Where pickup latency goes, step by step (issue 16; h26): `npx tsx
 * bench/pickupSteps.ts [jobs] [pg|sqlite|both]`. One idle one-loop pool, jobs
 * submitted one at a time after a random pause (as bench/pickupTrace.ts); for
 * each, every mark in order, in ms since submit was called: each `pg` query's
 * send (`pg>`) and its answer (`pg< rows`, `pg< ready`), each pool connect,
 * `submitted`, the program's start and the end of the sample — and the client
 * CPU per pickup. Medians of each mark's k-th occurrence. To time a step
 * inside the library, call `(globalThis as any).__hskMark?.("name")` there
 * for the run (never committed). `PROFILE=/tmp/x` also writes a CPU profile
 * of the samples after the fifth (`x-pg.cpuprofile`; summarise it with
 * bench/cpuProfileSummary.ts); `SHOW=1` prints the last three samples whole.
 * Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Pg from "pg"
import { Session } from "node:inspector/promises"
import { Jobs } from "../src/Jobs.js"
import * as WakeUp from "../src/WakeUp.js"
import { servicesLayer, type Target } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { hookStatements, statementLabels } from "./pgStatementHooks.js"
import { percentile } from "./harness.js"
import { startBenchCluster } from "./postgres.js"

let marks: Array<[string, number]> | undefined
const mark = (name: string) => {
  if (marks !== undefined) marks.push([name, performance.now()])
}
;(globalThis as { __hskMark?: (name: string) => void }).__hskMark = mark

/** A mark named from a statement's text: the time taken first, the label after (pgStatementHooks.ts). */
const labelOf = statementLabels(24)
const markStatement = (prefix: string) => (text: unknown) => {
  if (marks === undefined) return
  const at = performance.now()
  marks.push([`${prefix} ${labelOf(text)}`, at])
}
hookStatements({ sent: markStatement("pg>"), rows: markStatement("pg< rows"), ready: markStatement("pg< ready") })

const connect = Pg.Pool.prototype.connect
Pg.Pool.prototype.connect = function(this: Pg.Pool, ...args: Array<unknown>) {
  mark("pool.connect")
  return (connect as (...a: Array<unknown>) => unknown).apply(this, args)
} as typeof connect

const trace = (target: Target, wakeUp: Layer.Layer<WakeUp.WakeUp>, count: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const jobs = yield* Jobs
    let started: () => void = () => {}
    yield* jobs.worker({ concurrency: 1, handler: () => Effect.sync(() => { mark("program"); started() }) })
    yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
    const rows: Array<{ seq: Array<[string, number]>; cpu: number }> = []
    const profiling = process.env["PROFILE"]
    const session = new Session()
    for (let i = 0; i < count; i++) {
      if (profiling !== undefined && i === 5) {
        session.connect()
        yield* Effect.promise(() => session.post("Profiler.enable"))
        yield* Effect.promise(() => session.post("Profiler.setSamplingInterval", { interval: 50 }))
        yield* Effect.promise(() => session.post("Profiler.start"))
      }
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 500)))
      marks = []
      const cpu0 = process.cpuUsage()
      const begin = performance.now()
      mark("begin")
      const program = new Promise<void>((resolve) => (started = resolve))
      yield* jobs.submit(NEW_JOB)
      mark("submitted")
      yield* Effect.promise(() => program)
      mark("end")
      const cpu = process.cpuUsage(cpu0)
      rows.push({ seq: marks.map(([n, t]) => [n, t - begin]), cpu: (cpu.user + cpu.system) / 1000 })
      marks = undefined
    }
    if (profiling !== undefined) {
      const { profile } = yield* Effect.promise(() => session.post("Profiler.stop"))
      fs.writeFileSync(`${profiling}-${target.dialect}.cpuprofile`, JSON.stringify(profile))
      session.disconnect()
    }
    return rows
  })).pipe(Effect.provide(servicesLayer(target, wakeUp))))

const report = (label: string, rows: ReadonlyArray<{ seq: Array<[string, number]>; cpu: number }>) => {
  console.log(`\n${label} (${rows.length} jobs; ms since submit was called; medians of each mark's k-th occurrence)`)
  // Key each mark by name and occurrence number, keep the order of the first sample where it is seen.
  const order: Array<string> = []
  const values = new Map<string, Array<number>>()
  for (const row of rows) {
    const seen = new Map<string, number>()
    for (const [name, t] of row.seq) {
      const k = (seen.get(name) ?? 0) + 1
      seen.set(name, k)
      const key = k === 1 ? name : `${name} #${k}`
      if (!values.has(key)) {
        values.set(key, [])
        order.push(key)
      }
      values.get(key)!.push(t)
    }
  }
  const med = (key: string) => percentile(values.get(key)!, 50)
  for (const key of [...order].sort((a, b) => med(a) - med(b))) {
    const v = values.get(key)!
    console.log(`  ${key.padEnd(44)} n ${String(v.length).padStart(3)} p50 ${percentile(v, 50).toFixed(2).padStart(7)}  p90 ${percentile(v, 90).toFixed(2).padStart(7)}`)
  }
  console.log(`  CPU ms per pickup p50 ${percentile(rows.map((r) => r.cpu), 50).toFixed(2)}`)
  if (process.env["SHOW"]) for (const row of rows.slice(-3)) console.log(row.seq.map(([n, t]) => `${t.toFixed(2)} ${n}`).join("\n"), "\n")
}

const main = async () => {
  const count = Number(process.argv[2] ?? 40)
  const which = process.argv[3] ?? "both"
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(" ")}`)
  const cluster = await startBenchCluster()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-pickup-steps-"))
  try {
    if (which !== "sqlite") {
      const url = await cluster.createDatabase("pickup_steps")
      report("PostgreSQL, LISTEN/NOTIFY", await trace({ dialect: "pg", url }, WakeUp.layerPg({ listenUrl: url }), count))
    }
    if (which !== "pg") report("SQLite, in process", await trace({ dialect: "sqlite", filename: path.join(tmp, "trace.db") }, WakeUp.layerInProcess, count))
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(" ")}`)
}

void main()
