/**
 * Named prepared statements on PostgreSQL, measured (issue 16): `npx tsx
 * bench/preparedStatements.ts [jobs] [base checkout]` runs the same work
 * through the store with `preparedStatements` off (every statement unnamed,
 * as @effect/sql-pg sends it) and on — and through a base checkout's store
 * when one is given (`git worktree add --detach /tmp/base main`, with a
 * node_modules symlink) — each on its own database of one cluster started
 * with pg_stat_statements (planning tracked), interleaved round by round, and prints
 *
 * - per statement its server planning and execution time, off and on;
 * - the wall time per call of each lifecycle step (median), and of
 *   `createJob` one at a time next to the raw driver's named INSERT;
 * - the same with named statements but `plan_cache_mode = force_custom_plan`
 *   (parsed once, planned every call), to weigh the generic plans.
 *
 * `npx tsx bench/preparedStatements.ts plan` instead loads 1,000,000 queued
 * and 1,000,000 finished jobs (claimPlan.ts's data; a cluster with fsync off:
 * plans only), then claims ten times through `Jobs.claimNext` with prepared
 * statements on and `auto_explain` logging every plan, and prints which plan
 * each claim ran: PostgreSQL switches a named statement to a generic plan
 * after five custom ones when it looks no costlier, and the claim must stay
 * the index scan of migration 0007.
 *
 * Not part of `npm run bench`; used to write bench/analysis.md.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../src/Jobs.js"
import { JobStore } from "../src/store/JobStore.js"
import type * as App from "./app.js"
import { migrateTarget, type Services, servicesLayer } from "./app.js"
import { rawPgInsert } from "./baselines/rawInsert.js"
import { newJob } from "./create.js"
import { connectPg } from "./drivers.js"
import { claimQueueDatabase } from "./fixtures.js"
import { median } from "./harness.js"
import { COUNTING_SETTINGS, startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { printStatementStats, statementStats } from "./statementStats.js"
import { emptyStepTimes, STEPS as LIFECYCLE_STEPS, type StepTimes, timed, timedLifecycles } from "./timedSteps.js"

const STEPS = [...LIFECYCLE_STEPS, "createJob"] as const
type Times = StepTimes & { readonly createJob: Array<number> }

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ")

/** `jobs` lifecycles and `jobs` createJob calls, each call timed (µs) into `times`. */
const timedWork = (jobs: number, times: Times) =>
  Effect.gen(function*() {
    yield* timedLifecycles(jobs, times)
    const store = yield* JobStore
    for (let i = 0; i < jobs; i++) yield* timed(times.createJob, store.createJob(newJob))
  })

const emptyTimes = (): Times => ({ ...emptyStepTimes(), createJob: [] })

/** A store build compared: this tree with the option off or on, or a base checkout's (`git worktree add`). */
interface Variant {
  readonly name: string
  readonly database: string
  readonly layer: (url: string) => Layer.Layer<Services, unknown>
}

const compare = async (jobs: number, baseRoot: string | undefined) => {
  const cluster = await startBenchCluster([...COUNTING_SETTINGS, ["pg_stat_statements.track_planning", "on"]])
  const admin = await connectPg(cluster.url)
  try {
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    const base = baseRoot === undefined ? undefined : await import(path.join(path.resolve(baseRoot), "bench/app.ts")) as typeof App
    const variants: Array<Variant> = [
      ...(base === undefined ? [] : [{ name: "base", database: "prepared_base", layer: (url: string) => base.servicesLayer({ dialect: "pg", url }) }]),
      { name: "off", database: "prepared_off", layer: (url) => servicesLayer({ dialect: "pg", url, preparedStatements: false }) },
      // Named, but planned on every call: what `plan_cache_mode` would trade back if generic plans were worse.
      { name: "on, custom plans", database: "prepared_custom", layer: (url) => servicesLayer({ dialect: "pg", url: `${url}?options=${encodeURIComponent("-c plan_cache_mode=force_custom_plan")}`, preparedStatements: true }) },
      { name: "on", database: "prepared_on", layer: (url) => servicesLayer({ dialect: "pg", url, preparedStatements: true }) }
    ]
    const rawUrl = await cluster.createDatabase("prepared_raw")
    await migrateTarget({ dialect: "pg", url: rawUrl })
    const raw = await connectPg(rawUrl)
    const rawInsert = rawPgInsert(raw)
    const times = new Map(variants.map((variant) => [variant.name, emptyTimes()]))
    const rawTimes: Array<number> = []
    const rounds = 10
    const perRound = Math.max(1, Math.round(jobs / rounds))
    console.log(`load at start: ${load()}`)
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const built: Array<readonly [Variant, Context.Context<Services>]> = []
      for (const variant of variants) {
        const url = yield* Effect.promise(() => cluster.createDatabase(variant.database))
        built.push([variant, yield* Layer.build(variant.layer(url))])
      }
      // Warm-up: JIT, pool connections, and (on) every statement prepared on the connections it uses.
      for (const [, context] of built) yield* Effect.provide(timedWork(50, emptyTimes()), context)
      yield* Effect.promise(() => admin.query("SELECT pg_stat_statements_reset()"))
      for (let round = 0; round < rounds; round++) {
        // Which goes first turns round by round: none always meets another's leftovers.
        for (let i = 0; i < built.length; i++) {
          const [variant, context] = built[(round + i) % built.length]!
          yield* Effect.provide(timedWork(perRound, times.get(variant.name)!), context)
        }
        for (let i = 0; i < perRound; i++) {
          const start = performance.now()
          yield* Effect.promise(() => rawInsert.insertOne())
          rawTimes.push((performance.now() - start) * 1000)
        }
      }
    }).pipe(Effect.orDie)))
    await raw.end()
    const done = perRound * rounds
    const server = new Map<string, { total: number; planning: number }>()
    for (const variant of variants) {
      const stats = await statementStats(admin, variant.database)
      server.set(variant.name, printStatementStats(`${variant.name} (per job: a lifecycle and a createJob)`, stats, done))
    }
    const names = variants.map((variant) => variant.name)
    const last = names[names.length - 1]!
    console.log(`\n## Wall time per call, median µs (${done} of each, interleaved in ${rounds} rounds; load at end ${load()})`)
    console.log(`| step | ${names.join(" | ")} | ${names.slice(0, -1).map((name) => `${last}/${name}`).join(" | ")} |`)
    console.log(`|---|${names.map(() => "---|").join("")}${names.slice(0, -1).map(() => "---|").join("")}`)
    const lifecycle = (t: Times) => median(t.submit) + median(t.claim) + median(t.heartbeat) + median(t.complete)
    const row = (label: string, of: (t: Times) => number) => {
      const values = names.map((name) => of(times.get(name)!))
      const mine = values[values.length - 1]!
      console.log(`| ${label} | ${values.map((v) => v.toFixed(0)).join(" | ")} | ${values.slice(0, -1).map((v) => (mine / v).toFixed(2)).join(" | ")} |`)
    }
    for (const step of STEPS) row(step, (t) => median(t[step]))
    row("lifecycle (sum of step medians)", lifecycle)
    const rawMedian = median(rawTimes)
    console.log(`\nraw pg named INSERT: ${rawMedian.toFixed(0)} µs; createJob speed ÷ raw: ${names.map((name) => `${name} ${(rawMedian / median(times.get(name)!.createJob)).toFixed(2)}×`).join(", ")}`)
    console.log(`server µs per job (lifecycle + createJob): ${names.map((name) => `${name} ${server.get(name)!.total.toFixed(0)} (planning ${server.get(name)!.planning.toFixed(0)})`).join(", ")}`)
  } finally {
    await admin.end()
    await cluster.stop()
  }
}

/** The claim's plans at a million queued jobs, execution by execution, with prepared statements on. */
const plans = async () => {
  const cluster = await startBenchCluster([["fsync", "off"], ["synchronous_commit", "off"], ["full_page_writes", "off"]])
  try {
    const { client, seconds, url } = await claimQueueDatabase(cluster)
    console.log(`loaded 2M jobs in ${seconds.toFixed(0)} s`)
    for (const setting of ["session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = off"]) {
      await client.query(`ALTER DATABASE claim_plan SET ${setting}`)
    }
    await client.end()
    const from = fs.statSync(cluster.logFile).size
    const claims: Array<number> = []
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(servicesLayer({ dialect: "pg", url, preparedStatements: true }))
      // Jobs.claimNext: the claim as workers run it (on PostgreSQL one statement, `claimAdmitted`).
      const jobs = Context.get(context, Jobs)
      for (const kinds of [undefined, ["doc_edit", "workflow_run"] as const]) {
        for (let i = 0; i < 10; i++) {
          const start = performance.now()
          yield* jobs.claimNext(kinds === undefined ? {} : { kinds })
          claims.push((performance.now() - start) * 1000)
        }
      }
    }).pipe(Effect.orDie)))
    const log = fs.readFileSync(cluster.logFile, "utf8").slice(from)
    const entries = log.split(/\n(?=\S+ \S+ \S+ \[\d+\] LOG:\s+duration:)/).filter((entry) => entry.includes("next_job"))
    console.log(`\n## The claim at 1M queued, named statement, one plan per execution (auto_explain)`)
    console.log("| # | kinds | generic plan | scan of next_job | duration |")
    console.log("|---|---|---|---|---|")
    entries.forEach((entry, i) => {
      // The plan's own lines (the query text above them holds `$1` too).
      const plan = entry.split("\n").filter((line) => /\(cost=|Cond:|Filter:/.test(line)).join("\n")
      const scan = /(Index Scan using \S+|Index Only Scan using \S+|Seq Scan|Bitmap Heap Scan) on ai_jobs /.exec(plan)?.[1] ?? "?"
      const duration = /duration: ([\d.]+) ms/.exec(entry)?.[1] ?? "?"
      console.log(`| ${i + 1} | ${/job_kind = ANY/.test(plan) ? "2 kinds" : "any"} | ${/run_after <= \$\d/.test(plan) ? "yes" : "no"} | ${scan} | ${duration} ms |`)
    })
    console.log(`\nwall per claim, µs: ${claims.map((c) => c.toFixed(0)).join(", ")}`)
    fs.writeFileSync(`${os.tmpdir()}/claim-plan-prepared.log`, entries.join("\n"))
    console.log(`plans: ${os.tmpdir()}/claim-plan-prepared.log`)
  } finally {
    await cluster.stop()
  }
}

runMain(() => process.argv[2] === "plan" ? plans() : compare(Number(process.argv[2] ?? 500), process.argv[3]))
