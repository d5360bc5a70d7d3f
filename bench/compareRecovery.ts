/**
 * Recovery on PostgreSQL, two checkouts side by side (issue 16): each tree's
 * `Recovery.recoverStalledRuns()` on a database of its own, migrated by that
 * tree, at the benchmark's full size (10k stale runs among 100k), with the
 * reference per-row loop on each database (so each ratio is against the loop
 * on the same schema, triggers included), sample by sample interleaved so
 * drift in a loaded machine hits all alike, the trees' order alternating
 * rep by rep (whichever goes second pays more). Prints medians, each tree's
 * ratio and mine ÷ base, and the load average; and, less sensitive to the
 * load, each recovery's CPU: the client's (`process.cpuUsage`) and the
 * server's (`log_statement_stats` on the store's connections, summed from
 * the server log over the recovery's statements). `--profile` adds a CPU profile
 * of one more recovery of this tree (self time by module and function);
 * `--ours-only` leaves out the per-row loop (for quick looks: no ratio);
 * `--checkpoint` runs a CHECKPOINT before each recovery and each loop, so each starts as a
 * recovery at server start does (after the end-of-recovery checkpoint): every page it changes
 * first is written whole to the WAL (a full-page image; the WAL bytes each wrote are printed either way);
 * `--batch=N` gives this tree's recovery that batch size.
 * Not part of `npm run bench`.
 *
 *   git worktree add --detach /tmp/base main && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   npx tsx bench/compareRecovery.ts /tmp/base [reps] [--profile] [--ours-only] [--batch=N]
 */
import * as fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { referenceRecoveryPg } from "./baselines/referenceRecovery.js"
import { summarise, type CpuProfile } from "./cpuProfile.js"
import { connectPg } from "./drivers.js"
import { seedJobsPg, seedRunsPg } from "./fixtures.js"
import { FULL, median } from "./harness.js"
import { loadRecoveryTree, type RecoveryTree } from "./trees.js"
import type * as App from "./app.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const HOUR = 3_600_000

const RESET = [
  `UPDATE workflow_runs SET status = 'running' WHERE status = 'stalled'`,
  `UPDATE ai_jobs SET status = 'running' WHERE status = 'stalled'`
]

const main = async () => {
  const args = process.argv.slice(2)
  const profile = args.includes("--profile")
  const oursOnly = args.includes("--ours-only")
  const checkpoint = args.includes("--checkpoint")
  const batchArg = args.find((a) => a.startsWith("--batch="))?.slice("--batch=".length)
  const concurrencyArg = args.find((a) => a.startsWith("--concurrency="))?.slice("--concurrency=".length)
  const mineOptions = {
    ...(batchArg === undefined ? {} : { batchSize: Number(batchArg) }),
    ...(concurrencyArg === undefined ? {} : { concurrency: Number(concurrencyArg) })
  }
  const [baseRoot, repsArg] = args.filter((a) => !a.startsWith("--"))
  if (baseRoot === undefined) throw new Error("usage: compareRecovery.ts <base checkout> [reps] [--profile]")
  const reps = Number(repsArg ?? 3)
  const { recoveryTotal: count, recoveryStale: stale } = FULL
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadRecoveryTree("base", path.resolve(baseRoot)), await loadRecoveryTree("mine", here)]
  const cluster = await startBenchCluster()
  const samples = new Map<string, Array<number>>()
  const push = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value])
  const loads: Array<string> = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  try {
    const targets: Array<{
      readonly tree: RecoveryTree
      readonly target: App.Target
      readonly client: Awaited<ReturnType<typeof connectPg>>
      readonly runtime: ManagedRuntime.ManagedRuntime<App.Services, unknown>
    }> = []
    for (const tree of trees) {
      const target = { dialect: "pg" as const, url: await cluster.createDatabase(`recovery_${tree.name}`) }
      await tree.app.migrateTarget(target)
      const client = await connectPg(target.url)
      const now = Date.now()
      await seedJobsPg(client, { count, state: "running", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
      await seedRunsPg(client, { count, staleEvery: Math.round(count / stale), staleMs: now - HOUR, freshMs: now + 24 * HOUR })
      await client.query("VACUUM ANALYZE")
      // For the store's own connections, opened after this: each statement's CPU in the server log.
      await client.query(`ALTER DATABASE recovery_${tree.name} SET log_statement_stats = on`)
      // Opened once, as bench/recovery.ts does: only the recovery is timed.
      const runtime = ManagedRuntime.make(tree.app.servicesLayer(target))
      await runtime.runPromise(tree.recovery.recoverStalledRuns({ threshold: "1 day" })) // warm-up: pool, plans; moves nothing
      targets.push({ tree, target, client, runtime })
    }
    const reset = async (client: Awaited<ReturnType<typeof connectPg>>) => {
      for (const statement of RESET) await client.query(statement)
    }
    /** Server CPU (ms) of the statements logged since `from` (a byte offset of the log). */
    const serverCpu = (from: number) => {
      const text = fs.readFileSync(cluster.logFile).subarray(from).toString("utf8")
      let ms = 0
      for (const match of text.matchAll(/^\s*!\s+([\d.]+) s user, ([\d.]+) s system, [\d.]+ s elapsed$/gm)) {
        ms += (Number(match[1]) + Number(match[2])) * 1000
      }
      return ms
    }
    /**
     * WAL bytes written so far, from the insert position (exact). Not pg_stat_wal's full-page
     * images: a backend adds its counts there only when idle, the pool's up to 10 s later.
     */
    const walBytes = async (client: Awaited<ReturnType<typeof connectPg>>) => {
      const { rows } = await client.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn() - '0/0' AS lsn")
      return Number(rows[0]!.lsn)
    }
    /** `run` after a CHECKPOINT when asked; the WAL bytes written meanwhile recorded under `key`. */
    const walOf = async <A>(entry: typeof targets[number], key: string, run: () => Promise<A>): Promise<A> => {
      if (checkpoint) await entry.client.query("CHECKPOINT")
      const before = await walBytes(entry.client)
      const out = await run()
      push(`${entry.tree.name} ${key} wal MB`, (await walBytes(entry.client) - before) / 1e6)
      return out
    }
    const recoverOnce = async (entry: typeof targets[number]) => walOf(entry, "ours", async () => {
      const logFrom = fs.statSync(cluster.logFile).size
      const cpu = process.cpuUsage()
      const start = performance.now()
      const report = await entry.runtime.runPromise(entry.tree.recovery.recoverStalledRuns(entry.tree.name === "mine" ? mineOptions : {}))
      const ms = performance.now() - start
      const client = process.cpuUsage(cpu)
      push(`${entry.tree.name} client cpu`, (client.user + client.system) / 1000)
      await new Promise((resolve) => setTimeout(resolve, 200)) // the log is written asynchronously
      push(`${entry.tree.name} server cpu`, serverCpu(logFrom))
      if (report.recovered.length !== stale) throw new Error(`${entry.tree.name} recovered ${report.recovered.length}, expected ${stale}`)
      return ms
    }).finally(() => reset(entry.client))
    for (let rep = 0; rep < reps; rep++) {
      // The order alternates rep by rep: the tree sampled second in a rep ran ~7% slower with the same code in both
      // (h65: this tree against itself, 12 samples, 1.07; its server CPU +7%), so a fixed order favoured base.
      for (const entry of rep % 2 === 0 ? targets : [...targets].reverse()) {
        push(`${entry.tree.name} ours`, await recoverOnce(entry))
        if (oursOnly) continue
        const moved = await walOf(entry, "reference", async () => {
          const start = performance.now()
          const moved = await referenceRecoveryPg(entry.client)
          push(`${entry.tree.name} reference`, performance.now() - start)
          return moved
        })
        if (moved !== stale) throw new Error(`reference recovered ${moved}, expected ${stale}`)
        await reset(entry.client)
      }
      console.log(`rep ${rep + 1}/${reps}: ${[...samples].map(([k, v]) => `${k} ${v.at(-1)!.toFixed(0)} ms`).join(", ")} (load ${os.loadavg()[0]!.toFixed(1)})`)
    }
    loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    console.log(`\n## recovery of ${stale} stale among ${count} runs, PostgreSQL, ${reps} interleaved samples (load ${loads.join(" → ")})`)
    console.log("| tree | ours median ms | per-row loop median ms | ratio |")
    console.log("|---|---|---|---|")
    for (const { name } of trees) {
      const ours = median(samples.get(`${name} ours`)!)
      const reference = oursOnly ? Number.NaN : median(samples.get(`${name} reference`)!)
      console.log(`| ${name} | ${ours.toFixed(0)} | ${reference.toFixed(0)} | ${(reference / ours).toFixed(1)}× |`)
    }
    console.log("\n| tree | client CPU median ms | server CPU median ms | CPU µs per run |")
    console.log("|---|---|---|---|")
    for (const { name } of trees) {
      const client = median(samples.get(`${name} client cpu`)!)
      const server = median(samples.get(`${name} server cpu`)!)
      console.log(`| ${name} | ${client.toFixed(0)} | ${server.toFixed(0)} | ${((client + server) * 1000 / stale).toFixed(0)} |`)
    }
    console.log("\n| tree | ours: WAL MB | loop: WAL MB |")
    console.log("|---|---|---|")
    for (const { name } of trees) {
      const of = (key: string) => samples.has(`${name} ${key} wal MB`) ? median(samples.get(`${name} ${key} wal MB`)!).toFixed(1) : "-"
      console.log(`| ${name} | ${of("ours")} | ${of("reference")} |`)
    }
    console.log(`mine ÷ base (ours, time): ${(median(samples.get("mine ours")!) / median(samples.get("base ours")!)).toFixed(2)}`)
    if (profile) {
      const entry = targets[1]!
      const session = new Session()
      session.connect()
      await session.post("Profiler.enable")
      await session.post("Profiler.setSamplingInterval", { interval: 100 })
      await session.post("Profiler.start")
      const start = performance.now()
      await entry.runtime.runPromise(entry.tree.recovery.recoverStalledRuns(mineOptions))
      const ms = performance.now() - start
      const { profile: cpu } = await session.post("Profiler.stop")
      session.disconnect()
      const file = path.join(os.tmpdir(), `recovery-${Date.now()}.cpuprofile`)
      fs.writeFileSync(file, JSON.stringify(cpu))
      console.log(`\nCPU profile of one more recovery of this tree (${ms.toFixed(0)} ms): ${file}`)
      summarise(cpu as unknown as CpuProfile, stale)
      await reset(entry.client)
    }
    for (const entry of targets) {
      await entry.runtime.dispose()
      await entry.client.end()
    }
  } finally {
    await cluster.stop()
  }
}

runMain(main)
