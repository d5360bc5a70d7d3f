import * as fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { storeLayer } from "./app.js"
import { newJob } from "./create.js"
import { summarise, type CpuProfile } from "./cpuProfile.js"
import { startBenchCluster } from "./postgres.js"
import { JobStore } from "../src/store/JobStore.js"
import { rawPgInsert } from "./baselines/rawInsert.js"
import pg from "pg"
const cluster = await startBenchCluster()
const url = await cluster.createDatabase("prof_create")
const rt = ManagedRuntime.make(storeLayer({ dialect: "pg", url }))
const run = (n: number) => rt.runPromise(Effect.gen(function*() { const s = yield* JobStore; for (let i = 0; i < n; i++) yield* s.createJob(newJob) }))
await run(500)
const client = new pg.Client({ connectionString: url }); await client.connect()
const raw = rawPgInsert(client)
for (let i = 0; i < 500; i++) await raw.insertOne()
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system }
const N = 3000
for (let rep = 0; rep < 3; rep++) {
  let t = cpu(); await run(N); const ours = (cpu() - t) / N
  t = cpu(); for (let i = 0; i < N; i++) await raw.insertOne(); const r = (cpu() - t) / N
  console.log(`ours ${ours.toFixed(0)} µs CPU/call, raw ${r.toFixed(0)} µs`)
}
const session = new Session(); session.connect()
await session.post("Profiler.enable"); await session.post("Profiler.setSamplingInterval", { interval: 50 }); await session.post("Profiler.start")
await run(N)
const { profile } = await session.post("Profiler.stop")
fs.writeFileSync("/tmp/h29-create.cpuprofile", JSON.stringify(profile))
summarise(profile as CpuProfile)
await client.end(); await rt.dispose(); await cluster.stop()
