/**
 * pg's per-execution Describe, measured (issue 16): `npx tsx
 * bench/describeOnce.ts [reps] [calls]` runs, on a throwaway cluster with the
 * store's schema, the store's job-row read (`SELECT * FROM ai_jobs WHERE id = $1`,
 * 25 columns) and a statement without rows through two pools of the store's
 * client class (`preparingClient`) — each named statement described once per
 * connection (the default) and described on every execution (as pg does) —
 * interleaved block by block, and prints the median CPU µs of this process per
 * call (`process.cpuUsage`: JavaScript, the driver and the kernel's socket
 * work, not the server's) with the load average. Not part of `npm run bench`.
 */
import * as os from "node:os"
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
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("describe_once")
    // The store's schema and one job, through the store itself.
    const runtime = ManagedRuntime.make(PgStore.layer({ url, maxConnections: 1 }))
    const job = await runtime.runPromise(Effect.flatMap(JobStore, (store) => store.createJob(newJob)))
    await runtime.dispose()
    const pools = {
      once: new Pg.Pool({ connectionString: url, max: 1, Client: preparingClient(100) as never }),
      every: new Pg.Pool({ connectionString: url, max: 1, Client: preparingClient(100, { describeOnce: false }) as never })
    }
    const shapes = {
      "job row (25 columns)": ["SELECT * FROM ai_jobs WHERE id = $1", [job.job_id]],
      "no rows (UPDATE … WHERE false)": ["UPDATE ai_jobs SET status_reason = status_reason WHERE id = $1 AND false", [job.job_id]]
    } as const
    for (const [label, [text, values]] of Object.entries(shapes)) {
      const perCall = { once: [] as Array<number>, every: [] as Array<number> }
      const block = async (pool: Pg.Pool) => {
        const start = cpuMicros()
        for (let i = 0; i < calls; i++) await pool.query(text, [...values])
        return (cpuMicros() - start) / calls
      }
      await block(pools.once)
      await block(pools.every)
      for (let rep = 0; rep < reps; rep++) {
        for (const name of rep % 2 === 0 ? ["once", "every"] as const : ["every", "once"] as const) {
          perCall[name].push(await block(pools[name]))
        }
      }
      const [once, every] = [median(perCall.once), median(perCall.every)]
      console.log(`${label}: CPU µs a call, median of ${reps} blocks of ${calls}: described every execution ${every.toFixed(1)}, once per connection ${once.toFixed(1)} (${(every - once).toFixed(1)} µs less, ${(once / every).toFixed(2)}×)`)
    }
    await Promise.all(Object.values(pools).map((pool) => pool.end()))
  } finally {
    await cluster.stop()
  }
  loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
  console.log(`load average (1/5/15 min) at start and end: ${loads.join(" | ")}`)
}

runMain(main)
