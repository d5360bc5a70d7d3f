/**
 * What a PostgreSQL lifecycle costs per job under concurrency (issue 16), for
 * a base tree, this tree and pg-boss side by side in one process:
 *
 *   npx tsx bench/concurrentCost.ts <base checkout> [workers] [jobs] [reps] [other checkout …]
 *
 * On one throwaway cluster with pg_stat_statements (each system in its own
 * database), `reps` rounds of `jobs` lifecycles by `workers` concurrent
 * workers — ours: submit → claim → heartbeat → complete, every audit event;
 * pg-boss: send → fetch → complete — the order rotating round by round. Per
 * job: the client's CPU (`process.cpuUsage`; its system part too: the kernel's
 * socket work), the server's CPU (every
 * postgres process's utime + stime from /proc, the walwriter's included),
 * the server's statement time (pg_stat_statements, execution + planning,
 * planning tracked: pg-boss's unnamed statements are planned on every call),
 * statements and commits (pg_stat_database's xact_commit), and lifecycles
 * per second. Counts do not depend on the load; the times do (quote the load
 * average printed), and the last round's statements one by one. Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { bossCycle, startBoss } from "./baselines/pgBoss.js"
import { connectPg } from "./drivers.js"
import { COUNTING_SETTINGS, startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { serverCpuMicros } from "./serverCpu.js"
import { printStatementStats, statementStats } from "./statementStats.js"
import { cpuMicros, loadTree, median, treeLifecycle, type Tree } from "./trees.js"

interface Figures {
  perSecond: Array<number>
  clientCpu: Array<number>
  clientSystem: Array<number>
  serverCpu: Array<number>
  serverTime: Array<number>
  statements: Array<number>
  commits: Array<number>
}

const main = async () => {
  const [baseRoot, workersArg, jobsArg, repsArg, ...otherRoots] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: concurrentCost.ts <base checkout> [workers] [jobs] [reps]")
  const workers = Number(workersArg ?? 4)
  const jobs = Number(jobsArg ?? 1000)
  const reps = Number(repsArg ?? 3)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  // Other checkouts (variants of a change) run beside base and this tree, named by their folder.
  const trees = [
    await loadTree("base", path.resolve(baseRoot)),
    await loadTree("mine", here),
    ...await Promise.all(otherRoots.map((root) => loadTree(path.basename(root).replace(/[^a-z0-9]/gi, "_").toLowerCase(), path.resolve(root))))
  ]
  // Planning tracked too: pg-boss sends unnamed statements, planned on every call; ours are named, planned once.
  const cluster = await startBenchCluster([...COUNTING_SETTINGS, ["pg_stat_statements.track_planning", "on"]])
  const admin = await connectPg(cluster.url)
  const postmaster = Number((await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid)
  // The backend's parent is the postmaster.
  const parent = Number(fs.readFileSync(`/proc/${postmaster}/stat`, "utf8").split(") ")[1]!.split(" ")[1])
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const figures = new Map<string, Figures>()
  try {
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    const ours = await Promise.all(trees.map(async (tree) => ({
      name: tree.name,
      database: `cost_${tree.name}`,
      tree,
      runtime: ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url: await cluster.createDatabase(`cost_${tree.name}`) }))
    })))
    const bossUrl = await cluster.createDatabase("cost_boss")
    const { boss, queue } = await startBoss(bossUrl)

    const lifecycles = (tree: Tree) => {
      const one = treeLifecycle(tree)
      const worker = (n: number) => Effect.repeatN(one, n - 1)
      return Effect.all(Array.from({ length: workers }, () => worker(Math.ceil(jobs / workers))), { concurrency: "unbounded", discard: true })
    }
    const bossLifecycles = () =>
      Promise.all(Array.from({ length: workers }, async () => {
        for (let i = 0; i < Math.ceil(jobs / workers); i++) await bossCycle(boss, queue)
      }))

    const systems: Array<{ readonly name: string; readonly database: string; readonly run: () => Promise<unknown> }> = [
      ...ours.map(({ database, name, runtime, tree }) => ({ name, database, run: () => runtime.runPromise(lifecycles(tree)) })),
      { name: "pg-boss", database: "cost_boss", run: bossLifecycles }
    ]
    // Warm-up: JIT, pools, generic plans, the claim memo.
    for (const system of systems) await system.run()

    const commitsOf = async (database: string) =>
      Number((await admin.query<{ n: string }>("SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1", [database])).rows[0]!.n)
    const statementsOf = async (database: string) =>
      (await admin.query<{ calls: number; time: number }>(
        `SELECT coalesce(sum(s.calls), 0)::float8 AS calls, coalesce(sum(s.total_exec_time + s.total_plan_time), 0)::float8 AS time
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND s.toplevel`,
        [database]
      )).rows[0]!
    // Backends report their counters within a second of going idle (PostgreSQL 15).
    const settle = () => new Promise((resolve) => setTimeout(resolve, 1_200))

    for (let rep = 0; rep < reps; rep++) {
      console.error(`rep ${rep + 1}/${reps}`)
      const order = systems.map((_, i) => systems[(i + rep) % systems.length]!)
      for (const system of order) {
        await settle()
        await admin.query("SELECT pg_stat_statements_reset()")
        const commits = await commitsOf(system.database)
        const [client, server, start, usage] = [cpuMicros(), serverCpuMicros(parent), performance.now(), process.cpuUsage()]
        await system.run()
        const [clientUsed, serverUsed, ms, systemUsed] = [
          cpuMicros() - client,
          serverCpuMicros(parent) - server,
          performance.now() - start,
          process.cpuUsage(usage).system
        ]
        await settle()
        const stats = await statementsOf(system.database)
        // The last round's statements, one by one.
        if (rep === reps - 1) printStatementStats(`${system.name}, ${workers} worker(s)`, await statementStats(admin, system.database), jobs)
        const f = figures.get(system.name) ?? { perSecond: [], clientCpu: [], clientSystem: [], serverCpu: [], serverTime: [], statements: [], commits: [] }
        f.perSecond.push(jobs / ms * 1000)
        f.clientCpu.push(clientUsed / jobs)
        f.clientSystem.push(systemUsed / jobs)
        f.serverCpu.push(serverUsed / jobs)
        f.serverTime.push(stats.time * 1000 / jobs)
        f.statements.push(stats.calls / jobs)
        // Less the admin's own reads (not in this database) — none are counted here.
        f.commits.push(((await commitsOf(system.database)) - commits) / jobs)
        figures.set(system.name, f)
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    await boss.stop({ graceful: false, wait: true })
    await Promise.all(ours.map(({ runtime }) => runtime.dispose()))
  } finally {
    await admin.end()
    await cluster.stop()
  }
  console.log(`\n## ${reps} × ${jobs} lifecycles, ${workers} worker(s), interleaved (medians; each rep in brackets)`)
  console.log(`load average (1/5/15 min) at start and after each rep: ${loads.join(" | ")}`)
  console.log("| system | jobs/s | client CPU µs/job | of it in the kernel | server CPU µs/job | server statement µs/job | statements/job | commits/job |")
  console.log("|---|---|---|---|---|---|---|---|")
  const cell = (values: ReadonlyArray<number>, digits = 0) =>
    `${median(values).toFixed(digits)} (${values.map((v) => v.toFixed(digits)).join(", ")})`
  for (const [name, f] of figures) {
    console.log(`| ${name} | ${cell(f.perSecond)} | ${cell(f.clientCpu)} | ${cell(f.clientSystem)} | ${cell(f.serverCpu)} | ${cell(f.serverTime)} | ${cell(f.statements, 2)} | ${cell(f.commits, 2)} |`)
  }
}

runMain(main)
