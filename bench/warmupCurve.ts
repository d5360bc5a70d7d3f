/**
 * How long each system takes to warm up (issue 16): each system's lifecycle,
 * from a cold process, in consecutive rounds — the client CPU and wall time
 * per job round by round, so the benchmark knows how many lifecycles to
 * discard before it samples. V8 compiles a function with its optimizing
 * compiler only after it has run often enough, and recompiles it after a
 * deopt: a process's first thousands of lifecycles run partly unoptimized,
 * and a short sample taken then measures the JIT, not the steady state a
 * long-running worker is in.
 *
 * One throwaway cluster; each system in its own child process (cold: nothing
 * compiled yet) on its own database, the systems one after another, `rounds`
 * rounds of `jobs` lifecycles by `workers` workers:
 *
 * - ours: submit → claim → heartbeat → complete, every audit event (bench/lifecycle.ts);
 * - pg-boss: send → fetch → complete;
 * - SqlPersistedQueue: offer → take → complete (on PostgreSQL);
 * - with `sqlite` as the last argument, ours and SqlPersistedQueue on SQLite files instead.
 *
 * Not part of `npm run bench`; compiled as it runs (`npm run bench:build`, then
 * `node .bench-build/bench/warmupCurve.js [jobs] [rounds] [workers] [pg|sqlite]`),
 * or through tsx (`npx tsx bench/warmupCurve.ts …`, which adds tsx's own cost).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { promisify } from "node:util"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { servicesLayer, type Target } from "./app.js"
import { bossRepeatedly, startBoss } from "./baselines/pgBoss.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { oneLifecycle } from "./lifecycle.js"
import { repeatedlyEffect } from "./harness.js"
import { childScript, RUNTIME } from "./paths.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const execFileAsync = promisify(execFile)

/** One round's figures: client CPU (every thread of the process, µs) and wall time (ms) per job. */
interface Round {
  readonly cpu: number
  readonly wall: number
}

const SYSTEMS = {
  pg: ["ours", "pg-boss", "SqlPersistedQueue"],
  sqlite: ["ours", "SqlPersistedQueue"]
} as const

type Dialect = keyof typeof SYSTEMS

/** `rounds` rounds of `jobs` lifecycles (`runRound` runs one round), each round's figures. */
const curve = async (rounds: number, jobs: number, runRound: () => Promise<void>): Promise<Array<Round>> => {
  const out: Array<Round> = []
  for (let round = 0; round < rounds; round++) {
    const cpuBefore = process.cpuUsage()
    const start = performance.now()
    await runRound()
    const cpu = process.cpuUsage(cpuBefore)
    out.push({ cpu: (cpu.user + cpu.system) / jobs, wall: (performance.now() - start) / jobs })
  }
  return out
}

/** Rounds of an Effect system's warm-up loop (`round`: one round's lifecycles) through a runtime built on `layer`. */
const effectCurve = async <R>(
  layer: Layer.Layer<R, unknown>,
  round: Effect.Effect<void, unknown, R>,
  rounds: number,
  jobs: number
): Promise<Array<Round>> => {
  const runtime = ManagedRuntime.make(layer)
  try {
    return await curve(rounds, jobs, () => runtime.runPromise(round))
  } finally {
    await runtime.dispose()
  }
}

/** The child: one system's curve from this (cold) process, printed as JSON — each round the lifecycle section's warm-up loop. */
const child = async (system: string, dialect: Dialect, where: string, rounds: number, jobs: number, workers: number) => {
  let rows: Array<Round>
  if (system === "ours") {
    const target: Target = dialect === "pg" ? { dialect, url: where } : { dialect, filename: where }
    rows = await effectCurve(servicesLayer(target), repeatedlyEffect(workers, jobs, () => oneLifecycle), rounds, jobs)
  } else if (system === "pg-boss") {
    const { boss, queue } = await startBoss(where)
    try {
      rows = await curve(rounds, jobs, () => bossRepeatedly(boss, queue, workers, jobs))
    } finally {
      await boss.stop({ graceful: false, wait: true })
    }
  } else {
    const client = dialect === "pg"
      ? PgClient.layer({ url: Redacted.make(where) })
      : PersistedQueueBench.sqliteClient(where, "full")
    rows = await effectCurve(
      PersistedQueueBench.layer.pipe(Layer.provide(client)),
      PersistedQueueBench.queueRepeatedly(workers, jobs),
      rounds,
      jobs
    )
  }
  process.stdout.write(JSON.stringify(rows))
}

const main = async () => {
  const [first, ...rest] = process.argv.slice(2)
  if (first === "--child") {
    const [system, dialect, where, rounds, jobs, workers] = rest
    await child(system!, dialect as Dialect, where!, Number(rounds), Number(jobs), Number(workers))
    return
  }
  const jobs = Number(first ?? 500)
  const rounds = Number(rest[0] ?? 10)
  const workers = Number(rest[1] ?? 1)
  const dialect: Dialect = rest[2] === "sqlite" ? "sqlite" : "pg"
  const cluster = dialect === "pg" ? await startBenchCluster() : undefined
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-warmup-"))
  const script = childScript("warmupCurve")
  const curves = new Map<string, Array<Round>>()
  try {
    for (const system of SYSTEMS[dialect]) {
      const name = system.replace(/[^a-z]/gi, "_").toLowerCase()
      const where = cluster !== undefined ? await cluster.createDatabase(`warmup_${name}`) : path.join(tmp, `${name}.db`)
      const { stdout } = await execFileAsync(
        process.execPath,
        [...script.execArgv, script.file, "--child", system, dialect, where, String(rounds), String(jobs), String(workers)],
        { maxBuffer: 16 * 1024 * 1024 }
      )
      curves.set(system, JSON.parse(stdout.trim().split("\n").pop()!) as Array<Round>)
    }
  } finally {
    await cluster?.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`\n## Warm-up from a cold process, ${dialect === "pg" ? "PostgreSQL" : "SQLite"}: ${rounds} rounds of ${jobs} lifecycles, ${workers} worker(s) (${RUNTIME}; load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)
  const systems = [...curves.keys()]
  console.log(`| lifecycles before the round | ${systems.map((s) => `${s} CPU µs/job | ${s} ms/job`).join(" | ")} |`)
  console.log(`|---|${systems.map(() => "---|---").join("|")}|`)
  for (let round = 0; round < rounds; round++) {
    const cells = systems.map((s) => {
      const r = curves.get(s)![round]!
      return `${r.cpu.toFixed(0)} | ${r.wall.toFixed(2)}`
    })
    console.log(`| ${(round * jobs).toLocaleString("en")} | ${cells.join(" | ")} |`)
  }
}

runMain(main)
