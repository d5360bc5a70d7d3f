/**
 * The server's share of a pickup (issue 16, h42): `npx tsx
 * bench/pickupServerTime.ts [pickups]`. Ours (an idle one-loop pool woken by
 * LISTEN/NOTIFY, as bench/pickup.ts) and graphile-worker (its `addJob` and
 * its worker's `get_job`), each on its own database of one cluster started
 * with pg_stat_statements (planning tracked), one pickup at a time after a
 * short random pause; then per statement its calls per pickup and its mean
 * planning and execution time on the server. What the client waits for
 * beyond that — the commit's WAL flush, the network, the scheduling of two
 * processes on shared cores — is the difference with the round trip the
 * client sees, printed beside it (each statement's send to the server's
 * ReadyForQuery, as `pg` sees them: medians per statement).
 * `EXPLAIN=1` also logs each of our statements' plan with its actual times
 * (auto_explain, triggers and nested statements included: slower, for the
 * breakdown only) and prints the last claim that claimed a job.
 * Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as Pg from "pg"
import { Jobs } from "../src/Jobs.js"
import * as WakeUp from "../src/WakeUp.js"
import { servicesLayer } from "./app.js"
import { startGraphile } from "./baselines/graphileWorker.js"
import { connectPg } from "./drivers.js"
import { NEW_JOB } from "./fixtures.js"
import { COUNTING_SETTINGS, startBenchCluster } from "./postgres.js"
import { printStatementStats, statementStats } from "./statementStats.js"

/** Client-seen round trips (ms) per statement (its first words), while `timing` is on. */
const roundTrips = new Map<string, Array<number>>()
let timing = false
const labelOf = (text: unknown) => String(text ?? "").replace(/\s+/g, " ").trim().slice(0, 32)
interface QueryState {
  readonly text?: unknown
  __sentAt?: number
  readonly _result?: { readonly rowCount?: number | null }
}
type Handler = (this: QueryState, ...args: Array<unknown>) => unknown
const queryPrototype = (Pg as unknown as { readonly Query: { readonly prototype: Record<string, Handler> } }).Query.prototype
const submit = queryPrototype["submit"]!
queryPrototype["submit"] = function(this: QueryState, ...args: Array<unknown>) {
  if (timing) this.__sentAt = performance.now()
  return submit.apply(this, args)
}
const ready = queryPrototype["handleReadyForQuery"]!
queryPrototype["handleReadyForQuery"] = function(this: QueryState, ...args: Array<unknown>) {
  if (timing && this.__sentAt !== undefined) {
    // A claim that found a job and one that found none apart.
    const label = `${labelOf(this.text)} (${this._result?.rowCount ?? 0} rows)`
    if (!roundTrips.has(label)) roundTrips.set(label, [])
    roundTrips.get(label)!.push(performance.now() - this.__sentAt)
  }
  return ready.apply(this, args)
}
const printRoundTrips = (title: string) => {
  console.log(`\n${title}: client-seen round trips (send → ReadyForQuery), per statement`)
  for (const [label, v] of roundTrips) {
    const sorted = [...v].sort((a, b) => a - b)
    console.log(`  ${label.padEnd(44)} n ${String(v.length).padStart(4)}  p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)} ms`)
  }
  roundTrips.clear()
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 100))
const WARM = 20

const main = async () => {
  const count = Number(process.argv[2] ?? 100)
  console.log(`load average at start ${os.loadavg().map((n) => n.toFixed(2)).join(" ")}`)
  const explain = process.env["EXPLAIN"] === "1"
  const cluster = await startBenchCluster([
    ["shared_preload_libraries", explain ? "pg_stat_statements,auto_explain" : COUNTING_SETTINGS[0]![1]],
    ["pg_stat_statements.track_planning", "on"]
  ])
  const admin = await connectPg(cluster.url)
  try {
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    const oursUrl = await cluster.createDatabase("pickup_time_ours")
    if (explain) {
      for (const [name, value] of [["log_min_duration", "0"], ["log_analyze", "on"], ["log_buffers", "on"], ["log_triggers", "on"], ["log_nested_statements", "on"]]) {
        await admin.query(`ALTER DATABASE pickup_time_ours SET auto_explain.${name} = ${value}`)
      }
    }
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const jobs = yield* Jobs
      let started: () => void = () => {}
      yield* jobs.worker({ concurrency: 1, handler: () => Effect.sync(() => started()) })
      yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
      for (let i = 0; i < WARM + count; i++) {
        if (i === WARM) {
          yield* Effect.promise(() => admin.query("SELECT pg_stat_statements_reset()"))
          timing = true
        }
        yield* Effect.promise(pause)
        const program = new Promise<void>((resolve) => (started = resolve))
        yield* jobs.submit(NEW_JOB)
        yield* Effect.promise(() => program)
      }
      // Let the pool's look after the last job end before reading the stats.
      yield* Effect.promise(pause)
      timing = false
      printRoundTrips("ours")
      const stats = yield* Effect.promise(() => statementStats(admin, "pickup_time_ours"))
      printStatementStats("ours: per pickup", stats, count)
      if (explain) {
        const plans = fs.readFileSync(cluster.logFile, "utf8").split(/\n(?=\S.*LOG:)/)
        console.log(plans.filter((plan) => plan.includes("Insert on workflow_runs") && !plan.includes("actual time=0.000")).at(-1))
      }
    })).pipe(Effect.provide(servicesLayer({ dialect: "pg", url: oursUrl }, WakeUp.layerPg({ listenUrl: oursUrl })))))

    const graphileUrl = await cluster.createDatabase("pickup_time_graphile")
    let started: () => void = () => {}
    const graphile = await startGraphile(graphileUrl, () => started())
    try {
      for (let i = 0; i < WARM + count; i++) {
        if (i === WARM) {
          await admin.query("SELECT pg_stat_statements_reset()")
          timing = true
        }
        await pause()
        const program = new Promise<void>((resolve) => (started = resolve))
        await graphile.add({ doc: "bench" })
        await program
      }
      await pause()
      timing = false
      printRoundTrips("graphile-worker")
      printStatementStats("graphile-worker: per pickup", await statementStats(admin, "pickup_time_graphile"), count)
    } finally {
      await graphile.stop()
    }
  } finally {
    await admin.end()
    await cluster.stop()
    console.log(`load average at end ${os.loadavg().map((n) => n.toFixed(2)).join(" ")}`)
  }
}

void main()
