/**
 * pg's per-execution Describe, measured (issue 16): `npx tsx
 * bench/describeOnce.ts [reps] [calls]` runs, on a throwaway cluster with the
 * store's schema, the store's job-row read (`SELECT * FROM ai_jobs WHERE id = $1`,
 * 25 columns) and a statement without rows through two pools of the store's
 * client class (`preparingClient`) — each named statement described once per
 * connection (the default) and described on every execution (as pg does) —
 * interleaved block by block, and prints the median CPU µs of this process per
 * call (`process.cpuUsage`: JavaScript, the driver and the kernel's socket
 * work, not the server's) with the load average. With a base checkout as
 * third argument, its own `preparingClient` runs as a third pool, `base`.
 * Not part of `npm run bench`.
 */
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Pg from "pg"
import { JobStore } from "../src/store/JobStore.js"
import { preparingClient } from "../src/store/pg/preparedStatements.js"
import * as PgStore from "../src/store/PgJobStore.js"
import { newJob } from "./create.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { cpuMicros, median } from "./trees.js"

const main = async () => {
  const reps = Number(process.argv[2] ?? 8)
  const calls = Number(process.argv[3] ?? 1000)
  const baseRoot = process.argv[4]
  const base = baseRoot === undefined
    ? undefined
    : (await import(path.resolve(baseRoot, "src/store/pg/preparedStatements.ts")) as { preparingClient: (n: number) => unknown }).preparingClient
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("describe_once")
    // The store's schema and one job, through the store itself.
    const runtime = ManagedRuntime.make(PgStore.layer({ url, maxConnections: 1 }))
    const job = await runtime.runPromise(Effect.flatMap(JobStore, (store) => store.createJob(newJob)))
    await runtime.dispose()
    const pools: Record<string, Pg.Pool> = {
      once: new Pg.Pool({ connectionString: url, max: 1, Client: preparingClient(100) as never }),
      every: new Pg.Pool({ connectionString: url, max: 1, Client: preparingClient(100, { describeOnce: false }) as never }),
      ...(base === undefined ? {} : { base: new Pg.Pool({ connectionString: url, max: 1, Client: base(100) as never }) })
    }
    const names = Object.keys(pools)
    const shapes = {
      "job row (25 columns)": ["SELECT * FROM ai_jobs WHERE id = $1", [job.job_id]],
      "no rows (UPDATE … WHERE false)": ["UPDATE ai_jobs SET status_reason = status_reason WHERE id = $1 AND false", [job.job_id]],
      "one column (SELECT id)": ["SELECT id FROM ai_jobs WHERE id = $1", [job.job_id]]
    } as const
    for (const [label, [text, values]] of Object.entries(shapes)) {
      const perCall: Record<string, Array<number>> = Object.fromEntries(names.map((name) => [name, []]))
      const block = async (pool: Pg.Pool) => {
        const start = cpuMicros()
        for (let i = 0; i < calls; i++) await pool.query(text, [...values])
        return (cpuMicros() - start) / calls
      }
      for (const name of names) await block(pools[name]!)
      for (let rep = 0; rep < reps; rep++) {
        for (const name of rep % 2 === 0 ? names : [...names].reverse()) perCall[name]!.push(await block(pools[name]!))
      }
      const [once, every] = [median(perCall["once"]!), median(perCall["every"]!)]
      const baseFigure = base === undefined ? "" : `; base tree ${median(perCall["base"]!).toFixed(1)}`
      console.log(`${label}: CPU µs a call, median of ${reps} blocks of ${calls}: described every execution ${every.toFixed(1)}, once per connection ${once.toFixed(1)} (${(every - once).toFixed(1)} µs less, ${(once / every).toFixed(2)}×)${baseFigure}`)
    }
    await Promise.all(Object.values(pools).map((pool) => pool.end()))
  } finally {
    await cluster.stop()
  }
  loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
  console.log(`load average (1/5/15 min) at start and end: ${loads.join(" | ")}`)
}

runMain(main)
