/**
 * Statements and client CPU per job through the worker engine (`Jobs.worker`,
 * one loop), side by side with a base tree (h26, issue 16):
 *
 *   npx tsx bench/engineJob.ts <base checkout> [jobs] [rounds] [concurrency]
 *
 * `jobs` jobs are queued first (not counted); then a one-loop pool claims,
 * runs (a program returning a small output) and settles them; counted from
 * the pool's start until the last program has returned and 300 ms more (so
 * the last settle lands; the pool then waits idle). PostgreSQL: every `pg`
 * query (LISTEN/NOTIFY wake-up); SQLite: every statement better-sqlite3
 * executes (in-process wake-up). Rounds alternate base and mine; medians.
 * `concurrency` (default 1): the pool's loops; jobs/s is from the pool's
 * start to the last program's return. `PROFILE=/tmp/x` also writes a CPU
 * profile of this tree's last round per dialect (`x-pg.cpuprofile`,
 * `x-sqlite.cpuprofile`; summarise with bench/cpuProfileSummary.ts).
 * Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Session } from "node:inspector/promises"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Pg from "pg"
import type * as WakeUpModule from "../src/WakeUp.js"
import { startBenchCluster } from "./postgres.js"
import { METHODS, statementPrototype } from "./statements.js"
import { cpuMicros, loadTree, median, type Tree } from "./trees.js"

let statements = 0
let counting = false
const query = Pg.Client.prototype.query
Pg.Client.prototype.query = function(this: Pg.Client, ...args: Array<unknown>) {
  if (counting) statements++
  return (query as (...a: Array<unknown>) => unknown).apply(this, args)
} as typeof query
const proto = statementPrototype()
for (const method of METHODS) {
  const original = proto[method]
  proto[method] = function(this: unknown, ...args: Array<unknown>) {
    if (counting) statements++
    return original.apply(this, args)
  }
}

type Target = { readonly dialect: "pg"; readonly url: string } | { readonly dialect: "sqlite"; readonly filename: string }

const once = (tree: Tree, target: Target, jobs: number, concurrency: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    for (let i = 0; i < jobs; i++) yield* service.submit(tree.fixtures.NEW_JOB)
    let done = 0
    let last: () => void = () => {}
    const all = new Promise<void>((resolve) => (last = resolve))
    statements = 0
    counting = true
    const cpu0 = cpuMicros()
    const t0 = performance.now()
    yield* service.worker({
      concurrency,
      handler: () => Effect.sync(() => {
        if (++done === jobs) last()
        return { ok: true }
      })
    })
    yield* Effect.promise(() => all)
    const perSecond = jobs / ((performance.now() - t0) / 1000)
    yield* Effect.sleep("300 millis")
    counting = false
    return { statements: statements / jobs, cpu: (cpuMicros() - cpu0) / jobs, perSecond }
  })).pipe(Effect.provide(tree.app.servicesLayer(target, wakeUps.get(tree.name)!(target)))))

/** Each tree's own WakeUp module: its layer for a target. */
const wakeUps = new Map<string, (target: Target) => ReturnType<typeof WakeUpModule.layerPg>>()

const main = async () => {
  const [baseRoot, jobsArg, roundsArg, concurrencyArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: engineJob.ts <base checkout> [jobs] [rounds]")
  const jobs = Number(jobsArg ?? 200)
  const rounds = Number(roundsArg ?? 3)
  const concurrency = Number(concurrencyArg ?? 1)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadTree("base", path.resolve(baseRoot)), await loadTree("mine", here)]
  for (const [tree, root] of [[trees[0]!, path.resolve(baseRoot)], [trees[1]!, here]] as const) {
    const wake = await import(path.join(root, "src/WakeUp.ts")) as typeof WakeUpModule
    wakeUps.set(tree.name, (target) => target.dialect === "pg" ? wake.layerPg({ listenUrl: target.url }) : wake.layerInProcess)
  }
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(" ")}`)
  const cluster = await startBenchCluster()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-engine-job-"))
  const results = new Map<string, Array<{ statements: number; cpu: number; perSecond: number }>>()
  try {
    for (let round = 0; round < rounds; round++) {
      for (const tree of trees) {
        for (const dialect of ["pg", "sqlite"] as const) {
          const name = `${tree.name}_${dialect}_${round}`
          const target: Target = dialect === "pg"
            ? { dialect, url: await cluster.createDatabase(`engine_${name}`) }
            : { dialect, filename: path.join(tmp, `${name}.db`) }
          const profile = process.env["PROFILE"] !== undefined && tree.name === "mine" && round === rounds - 1
          const session = profile ? new Session() : undefined
          if (session !== undefined) {
            session.connect()
            await session.post("Profiler.enable")
            await session.post("Profiler.start")
          }
          const result = await once(tree, target, jobs, concurrency)
          if (session !== undefined) {
            const { profile: cpu } = await session.post("Profiler.stop")
            session.disconnect()
            fs.writeFileSync(`${process.env["PROFILE"]}-${dialect}.cpuprofile`, JSON.stringify(cpu))
          }
          const key = `${dialect} ${tree.name}`
          results.set(key, [...(results.get(key) ?? []), result])
        }
      }
    }
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`\n${jobs} jobs a round, ${rounds} rounds, ${concurrency} worker loop(s) (medians)`)
  console.log("| tree | statements per job | client CPU µs per job | jobs/s |")
  console.log("|---|---|---|---|")
  for (const [key, values] of results) {
    console.log(
      `| ${key} | ${median(values.map((v) => v.statements)).toFixed(2)} | ${median(values.map((v) => v.cpu)).toFixed(0)} | ${
        median(values.map((v) => v.perSecond)).toFixed(0)
      } |`
    )
  }
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(" ")}`)
}

void main()
