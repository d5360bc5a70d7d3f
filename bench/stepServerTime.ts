/**
 * The server's time per lifecycle step at one worker (issue 16, h49):
 * `npx tsx bench/stepServerTime.ts <base checkout> [lifecycles] [rounds] [explained]`.
 *
 * Base, this tree and pg-boss, each on its own database of one throwaway
 * cluster (durable settings, pg_stat_statements with `track = all` and
 * planning, `track_wal_io_timing`), `rounds` blocks of `lifecycles` one at a
 * time, the systems taking turns. Per step (ours: submit, claim, heartbeat,
 * complete; pg-boss: send, fetch, complete) it prints:
 *
 * - the client-seen round trip of its statements (send → ReadyForQuery,
 *   medians), and a trivial `SELECT 1` on another connection (the floor:
 *   network and scheduling, no commit);
 * - the server's planning and execution of its top-level statements
 *   (pg_stat_statements, means), and the nested statements they ran
 *   (triggers' SQL: foreign-key checks, the NOTIFY trigger's pg_notify);
 * - what is left: round trip − plan − execution − floor ≈ the commit (WAL
 *   flush, NOTIFY queue) and the protocol;
 *
 * and per lifecycle the WAL written and flushed (pg_stat_wal). Then our two
 * trees again, uninstrumented, with ai_jobs' own triggers off and with every
 * trigger off (the foreign keys' too), the variants taking turns: each
 * trigger's cost as a difference of execution times. Last, each system runs
 * `explained` lifecycles more on a database with auto_explain (`log_analyze`,
 * `log_triggers`, `log_nested_statements`): per step, the time of every
 * trigger its statements fired — instrumented, and a trigger that runs SQL
 * also pays for logging that SQL's plan: read these as which trigger, not
 * how much. Not part of `npm run bench`.
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Pg from "pg"
import { startBoss } from "./baselines/pgBoss.js"
import { connectPg } from "./drivers.js"
import { startBenchCluster } from "./postgres.js"
import { loadTree, median, type Tree } from "./trees.js"

/** Which step of which system is running: statements sent meanwhile are its. */
let current: string | undefined
/** Per system and step: the round trip (µs) of each statement sent; per text, the step that sent it. */
const roundTrips = new Map<string, Array<number>>()
const textsOf = new Map<string, string>()
/**
 * The step that sent a text pg_stat_statements kept: the same text, or one
 * that starts alike (pg_stat_statements writes a statement's constants as
 * $n: pg-boss spells some of its values in the text).
 */
const stepOf = (query: string): string | undefined => {
  const exact = textsOf.get(query)
  if (exact !== undefined) return exact
  const start = (text: string) => text.replace(/\s+/g, " ").slice(0, 60)
  for (const [text, step] of textsOf) if (start(text) === start(query)) return step
  return undefined
}
interface QueryState {
  readonly text?: unknown
  __step?: string
  __sentAt?: number
}
type Handler = (this: QueryState, ...args: Array<unknown>) => unknown
const patch = (pg: unknown) => {
  const proto = (pg as { readonly Query: { readonly prototype: Record<string, Handler> & { __patched?: boolean } } }).Query.prototype
  if (proto.__patched === true) return
  proto.__patched = true
  const submit = proto["submit"]!
  proto["submit"] = function(this: QueryState, ...args: Array<unknown>) {
    if (current !== undefined) {
      this.__step = current
      this.__sentAt = performance.now()
      // pg_stat_statements keeps a text without its leading and trailing whitespace.
      if (typeof this.text === "string") textsOf.set(this.text.trim(), current.slice(current.indexOf("/") + 1))
    }
    return submit.apply(this, args)
  }
  const ready = proto["handleReadyForQuery"]!
  proto["handleReadyForQuery"] = function(this: QueryState, ...args: Array<unknown>) {
    if (this.__step !== undefined && this.__sentAt !== undefined) {
      const key = this.__step
      if (!roundTrips.has(key)) roundTrips.set(key, [])
      roundTrips.get(key)!.push((performance.now() - this.__sentAt) * 1000)
    }
    return ready.apply(this, args)
  }
}
patch(Pg)
// pg-boss may load its own copy of pg.
patch(createRequire(createRequire(import.meta.url).resolve("pg-boss"))("pg"))

const OURS = ["submit", "claim", "heartbeat", "complete"] as const
const BOSS = ["send", "fetch", "complete"] as const

/** A system under measurement: its steps, and a block of lifecycles through them. */
interface System {
  readonly name: string
  readonly database: string
  readonly steps: ReadonlyArray<string>
  readonly block: (count: number, floor: () => Promise<void>) => Promise<void>
  readonly close: () => Promise<void>
}

const stepped = async <A>(key: string, run: () => Promise<A>): Promise<A> => {
  current = key
  try {
    return await run()
  } finally {
    current = undefined
  }
}

const ourSystem = async (tree: Tree, url: string, database: string): Promise<System> => {
  const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url }))
  const key = (step: string) => `${tree.name}/${step}`
  return {
    name: tree.name,
    database,
    steps: OURS,
    block: async (count, floor) => {
      for (let i = 0; i < count; i++) {
        await runtime.runPromise(Effect.gen(function*() {
          const jobs = yield* tree.jobs.Jobs
          const store = yield* tree.store.JobStore
          const step = <A, E>(name: string, effect: Effect.Effect<A, E, never>) =>
            Effect.promise(() => stepped(key(name), () => Effect.runPromise(effect as Effect.Effect<A, never>)))
          yield* step("submit", jobs.submit(tree.fixtures.NEW_JOB))
          let claim = null
          while (claim === null) claim = yield* step("claim", jobs.claimNext())
          yield* step("heartbeat", store.heartbeat(claim.run.id))
          yield* step("complete", jobs.complete(claim.job.job_id))
        }))
        await floor()
      }
    },
    close: () => runtime.dispose()
  }
}

const bossSystem = async (url: string, database: string): Promise<System> => {
  const { boss, queue } = await startBoss(url)
  return {
    name: "pg-boss",
    database,
    steps: BOSS,
    block: async (count, floor) => {
      for (let i = 0; i < count; i++) {
        await stepped("pg-boss/send", () => boss.send(queue, { doc: "bench" }))
        for (;;) {
          const [job] = await stepped("pg-boss/fetch", () => boss.fetch<{ doc: string }>(queue))
          if (job !== undefined) {
            await stepped("pg-boss/complete", () => boss.complete(queue, job.id))
            break
          }
        }
        await floor()
      }
    },
    close: () => boss.stop({ graceful: false, wait: true })
  }
}

interface Wal {
  readonly wal_records: number
  readonly wal_bytes: number
  readonly wal_write: number
  readonly wal_sync: number
  readonly wal_write_time: number
  readonly wal_sync_time: number
}
const readWal = async (admin: Pg.Client): Promise<Wal> =>
  (await admin.query<Wal>(
    "SELECT wal_records::float8 AS wal_records, wal_bytes::float8 AS wal_bytes, wal_write::float8 AS wal_write, wal_sync::float8 AS wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal"
  )).rows[0]!
/** Backends flush their WAL counters when idle, at most once a second. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1_200))

interface Stat {
  readonly query: string
  readonly toplevel: boolean
  readonly calls: number
  readonly plan: number
  readonly exec: number
}

const main = async () => {
  const [baseRoot, lifecyclesArg, roundsArg, explainedArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: stepServerTime.ts <base checkout> [lifecycles] [rounds] [explained]")
  const lifecycles = Number(lifecyclesArg ?? 200)
  const rounds = Number(roundsArg ?? 4)
  const explained = Number(explainedArg ?? 100)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  const loads = [os.loadavg().map((l) => l.toFixed(2)).join(" ")]
  const cluster = await startBenchCluster([
    ["shared_preload_libraries", "pg_stat_statements,auto_explain"],
    ["pg_stat_statements.track", "all"],
    ["pg_stat_statements.track_planning", "on"],
    ["track_wal_io_timing", "on"]
  ])
  const admin = await connectPg(cluster.url)
  const floorClient = await connectPg(cluster.url)
  const floorTimes: Array<number> = []
  const floor = async () => {
    const start = performance.now()
    await floorClient.query("SELECT 1")
    floorTimes.push((performance.now() - start) * 1000)
  }
  const wal = new Map<string, Array<Wal>>()
  const stats = new Map<string, Array<Stat>>()
  const explainLogs = new Map<string, string>()
  const ablations = new Map<string, Map<string, Array<Stat>>>()
  const ablationRounds = 2
  try {
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    const systems: Array<System> = []
    for (const tree of trees) systems.push(await ourSystem(tree, await cluster.createDatabase(`step_${tree.name}`), `step_${tree.name}`))
    systems.push(await bossSystem(await cluster.createDatabase("step_boss"), "step_boss"))
    const noFloor = () => Promise.resolve()
    for (const system of systems) await system.block(50, noFloor)
    await settle()
    await admin.query("SELECT pg_stat_statements_reset()")
    roundTrips.clear()
    for (let round = 0; round < rounds; round++) {
      console.error(`round ${round + 1}/${rounds}`)
      for (const system of round % 2 === 0 ? systems : [...systems].reverse()) {
        await settle()
        const before = await readWal(admin)
        await system.block(lifecycles, floor)
        await settle()
        const after = await readWal(admin)
        const delta = Object.fromEntries(Object.keys(after).map((k) => [k, (after[k as keyof Wal] - before[k as keyof Wal]) / lifecycles])) as unknown as Wal
        wal.set(system.name, [...(wal.get(system.name) ?? []), delta])
      }
      loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))
    }
    const readStats = async (database: string) =>
      (await admin.query<Stat>(
        `SELECT s.query, s.toplevel, sum(s.calls)::float8 AS calls, sum(s.total_plan_time)::float8 AS plan, sum(s.total_exec_time)::float8 AS exec
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 GROUP BY s.query, s.toplevel`,
        [database]
      )).rows
    for (const system of systems) stats.set(system.name, await readStats(system.database))
    // Each trigger's cost without instrumentation: our trees again with the triggers
    // off (a superuser may disable the foreign keys' too), the variants taking turns.
    for (const system of systems.slice(0, trees.length)) {
      const url = cluster.url.replace(/\/postgres$/, `/${system.database}`)
      const owner = await connectPg(url)
      const variants = [
        ["as migrated", "ENABLE TRIGGER ALL", "ENABLE TRIGGER ALL"],
        ["no user trigger of ai_jobs", "DISABLE TRIGGER USER", "ENABLE TRIGGER ALL"],
        ["no trigger, foreign keys' included", "DISABLE TRIGGER ALL", "DISABLE TRIGGER ALL"]
      ] as const
      const byVariant = new Map<string, Array<Stat>>()
      for (let round = 0; round < ablationRounds; round++) {
        for (const [name, jobs, runs] of round % 2 === 0 ? variants : [...variants].reverse()) {
          await owner.query(`ALTER TABLE ai_jobs ${jobs}; ALTER TABLE workflow_runs ${runs}`)
          await system.block(20, noFloor)
          await admin.query("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = $1), 0)", [system.database])
          await system.block(lifecycles, noFloor)
          byVariant.set(name, [...(byVariant.get(name) ?? []), ...await readStats(system.database)])
        }
      }
      await owner.query("ALTER TABLE ai_jobs ENABLE TRIGGER ALL; ALTER TABLE workflow_runs ENABLE TRIGGER ALL")
      await owner.end()
      ablations.set(system.name, byVariant)
    }
    for (const system of systems) await system.close()
    // The instrumented runs: auto_explain on a database of their own each.
    const settings = [["log_min_duration", "0"], ["log_analyze", "on"], ["log_timing", "on"], ["log_triggers", "on"], ["log_nested_statements", "on"]]
    const explainedSystems: Array<System> = []
    for (const [i, tree] of trees.entries()) {
      const database = `explain_${tree.name}`
      const url = await cluster.createDatabase(database)
      for (const [name, value] of settings) await admin.query(`ALTER DATABASE ${database} SET auto_explain.${name} = ${value}`)
      explainedSystems[i] = await ourSystem(tree, url, database)
    }
    const bossUrl = await cluster.createDatabase("explain_boss")
    for (const [name, value] of settings) await admin.query(`ALTER DATABASE explain_boss SET auto_explain.${name} = ${value}`)
    explainedSystems.push(await bossSystem(bossUrl, "explain_boss"))
    for (const system of explainedSystems) {
      await system.block(30, noFloor)
      const start = fs.statSync(cluster.logFile).size
      await system.block(explained, noFloor)
      const end = fs.statSync(cluster.logFile).size
      const fd = fs.openSync(cluster.logFile, "r")
      const buffer = Buffer.alloc(end - start)
      fs.readSync(fd, buffer, 0, buffer.length, start)
      fs.closeSync(fd)
      explainLogs.set(system.name, buffer.toString("utf8"))
      await system.close()
    }
  } finally {
    await floorClient.end()
    await admin.end()
    await cluster.stop()
  }
  loads.push(os.loadavg().map((l) => l.toFixed(2)).join(" "))

  const perLifecycle = lifecycles * rounds
  const floorP50 = median(floorTimes)
  console.log(`\n# Server time per step, one worker: ${rounds} × ${lifecycles} lifecycles per system, interleaved; ${explained} instrumented`)
  console.log(`load average (1/5/15 min) at start and after each round: ${loads.join(" | ")}`)
  console.log(`floor (SELECT 1 on its own connection, client-seen, p50): ${floorP50.toFixed(0)} µs`)
  const systemNames = [...trees.map((t) => t.name), "pg-boss"]
  for (const name of systemNames) {
    const steps = name === "pg-boss" ? BOSS : OURS
    const rows = stats.get(name) ?? []
    console.log(`\n## ${name}`)
    console.log("| step | statements/lifecycle | round trip p50 µs | plan µs | exec µs | nested exec µs | round trip − plan − exec − floor µs |")
    console.log("|---|---|---|---|---|---|---|")
    let sums = [0, 0, 0, 0, 0]
    for (const step of steps) {
      const key = `${name}/${step}`
      const tops = rows.filter((r) => r.toplevel && stepOf(r.query) === step)
      const calls = tops.reduce((s, r) => s + r.calls, 0) / perLifecycle
      const plan = tops.reduce((s, r) => s + r.plan, 0) * 1000 / perLifecycle
      const exec = tops.reduce((s, r) => s + r.exec, 0) * 1000 / perLifecycle
      // Round trips per lifecycle: the p50 of one statement times the statements a lifecycle sends.
      const rt = median(roundTrips.get(key) ?? [0]) * calls
      const rest = rt - plan - exec - floorP50 * calls
      sums = [sums[0]! + calls, sums[1]! + rt, sums[2]! + plan, sums[3]! + exec, sums[4]! + rest]
      console.log(`| ${step} | ${calls.toFixed(2)} | ${rt.toFixed(0)} | ${plan.toFixed(0)} | ${exec.toFixed(0)} | | ${rest.toFixed(0)} |`)
    }
    console.log(`| lifecycle | ${sums[0]!.toFixed(2)} | ${sums[1]!.toFixed(0)} | ${sums[2]!.toFixed(0)} | ${sums[3]!.toFixed(0)} | | ${sums[4]!.toFixed(0)} |`)
    for (const r of rows.filter((r) => r.toplevel && stepOf(r.query) === undefined && r.calls / perLifecycle >= 0.05)) {
      console.log(`  not matched to a step: ${(r.calls / perLifecycle).toFixed(2)} × ${(r.exec / r.calls * 1000).toFixed(1)} µs  ${r.query.replace(/\s+/g, " ").slice(0, 110)}`)
    }
    console.log("\nnested statements (triggers' SQL), per lifecycle:")
    for (const r of rows.filter((r) => !r.toplevel).sort((a, b) => b.exec - a.exec)) {
      if (r.calls / perLifecycle < 0.05) continue
      console.log(`  ${(r.calls / perLifecycle).toFixed(2)} × ${(r.exec / r.calls * 1000).toFixed(1)} µs  ${r.query.replace(/\s+/g, " ").slice(0, 110)}`)
    }
    const w = wal.get(name) ?? []
    const m = (k: keyof Wal) => median(w.map((x) => x[k]))
    console.log(`WAL per lifecycle (median of rounds): ${m("wal_records").toFixed(1)} records, ${m("wal_bytes").toFixed(0)} bytes, ${m("wal_write").toFixed(2)} writes (${(m("wal_write_time") * 1000).toFixed(0)} µs), ${m("wal_sync").toFixed(2)} flushes (${(m("wal_sync_time") * 1000).toFixed(0)} µs)`)
    printExplained(steps, explainLogs.get(name) ?? "")
    const variants = ablations.get(name)
    if (variants !== undefined) {
      console.log(`without instrumentation, triggers switched off (${ablationRounds} × ${lifecycles} lifecycles per variant, taking turns): exec µs per step`)
      console.log(`| variant | ${steps.join(" | ")} | lifecycle |`)
      console.log(`|---|${steps.map(() => "---|").join("")}---|`)
      for (const [variant, rows] of variants) {
        const perStep = steps.map((step) => {
          const tops = rows.filter((r) => r.toplevel && stepOf(r.query) === step)
          return tops.reduce((sum, r) => sum + r.exec, 0) * 1000 / (lifecycles * ablationRounds)
        })
        console.log(`| ${variant} | ${perStep.map((v) => v.toFixed(0)).join(" | ")} | ${perStep.reduce((a, b) => a + b, 0).toFixed(0)} |`)
      }
    }
  }
}

/** Per step: each trigger's total time and calls per lifecycle, from auto_explain's entries of top-level statements. */
const printExplained = (steps: ReadonlyArray<string>, log: string) => {
  const entries = log.split(/\n(?=\d{4}-\d{2}-\d{2} )/).filter((e) => e.includes("plan:"))
  const triggers = new Map<string, Map<string, { time: number; calls: number }>>()
  const durations = new Map<string, Array<number>>()
  let lifecyclesSeen = 0
  for (const entry of entries) {
    // The log writes a message's newlines as newline + tab.
    const at = entry.indexOf("Query Text: ") + "Query Text: ".length
    const text = [...textsOf.keys()].find((t) => entry.slice(at).trimStart().startsWith(`${t.replace(/\n/g, "\n\t")}\n`))
    if (text === undefined) continue
    const step = textsOf.get(text)
    if (step === undefined) continue
    const duration = Number(/duration: ([\d.]+) ms/.exec(entry)?.[1] ?? 0)
    if (!durations.has(step)) durations.set(step, [])
    durations.get(step)!.push(duration * 1000)
    if (step === "complete") lifecyclesSeen++
    const mine = triggers.get(step) ?? new Map<string, { time: number; calls: number }>()
    for (const match of entry.matchAll(/Trigger ([^:]+): time=([\d.]+) calls=(\d+)/g)) {
      const t = mine.get(match[1]!) ?? { time: 0, calls: 0 }
      t.time += Number(match[2]) * 1000
      t.calls += Number(match[3])
      mine.set(match[1]!, t)
    }
    triggers.set(step, mine)
  }
  if (lifecyclesSeen === 0) return
  console.log(`instrumented (auto_explain, ${lifecyclesSeen} lifecycles): per step, execution p50 and each trigger's µs per lifecycle`)
  for (const step of steps) {
    const key = step
    const list = [...(triggers.get(key) ?? new Map()).entries()]
      .map(([t, v]) => `${t} ${(v.time / lifecyclesSeen).toFixed(0)} µs × ${(v.calls / lifecyclesSeen).toFixed(2)}`)
    console.log(`  ${step}: exec p50 ${median(durations.get(key) ?? [0]).toFixed(0)} µs; ${list.join("; ") || "no triggers"}`)
  }
}

void main()
