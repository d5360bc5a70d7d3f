/**
 * Group commit's timeline on PostgreSQL (issue 16): do concurrent workers
 * move in lockstep — the node thread busy while the server waits, then the
 * server busy while the thread waits — or do they overlap?
 *
 *   npx tsx bench/groupTimeline.ts [jobs] [workers,…] [tree root]
 *
 * `jobs` lifecycles (submit → claim → heartbeat → complete, every audit
 * event, as bench/trees.ts `treeLifecycle`) by each number of concurrent
 * workers, on a throwaway durable cluster, through the tree at `tree root`
 * (default this one). Every statement the `pg` driver sends is stamped when
 * it goes out and when its callback runs (`Client.prototype.query` wrapped);
 * each worker's steps are stamped when they start and end, and matched to
 * the statement that served them by the ids in its result rows (exact, no
 * timing guess). Prints, per step kind: statements per job, group sizes
 * (callers one statement served), the caller's wait from the step's start to
 * its statement going out, the statement in flight (out → callback: the
 * server's work, the network, and a reply waiting for a busy thread), and
 * from the callback to the step's end. And for the whole run: the node
 * thread's busy share (`performance.eventLoopUtilization`, sampled at every
 * send and reply, so each stretch between two of them is split into busy and
 * idle and charged to how many statements were in flight), the server's CPU
 * (every postgres process, /proc) in cores, and the share of wall time with
 * 0, 1, 2, 3+ statements in flight. Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { connectPg } from "./drivers.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { serverCpuMicros } from "./serverCpu.js"
import { cpuMicros, loadTree, median, type Tree } from "./trees.js"

type Kind = "submit" | "claim" | "heartbeat" | "complete"
const KINDS: ReadonlyArray<Kind> = ["submit", "claim", "heartbeat", "complete"]
/** Which step a statement's text serves (the store's coalesced statements and their lone forms). */
const kindOf = (text: string): Kind | "other" =>
  /INSERT INTO ai_jobs/.test(text) ? "submit"
  : /INSERT INTO workflow_runs/.test(text) ? "claim"
  : /SET last_heartbeat/.test(text) ? "heartbeat"
  : /UPDATE workflow_runs r SET status/.test(text) ? "complete"
  : "other"

interface Sent {
  readonly kind: Kind | "other"
  readonly out: number
  back: number
  /** Ids in its result rows (`id`, `job_id`): how a step finds the statement that served it. */
  ids: Array<string>
  served: number
}

/** The recording: statements, and the thread's busy time charged to how many were in flight. */
interface Recording {
  on: boolean
  sent: Array<Sent>
  inFlight: number
  /** [in flight] → { busy, idle } ms */
  byInFlight: Map<number, { busy: number; idle: number }>
  last: { at: number; elu: ReturnType<typeof performance.eventLoopUtilization> }
}

const recording: Recording = {
  on: false,
  sent: [],
  inFlight: 0,
  byInFlight: new Map(),
  last: { at: 0, elu: performance.eventLoopUtilization() }
}

/** Charges the stretch since the last mark to the number in flight during it. */
const mark = () => {
  const at = performance.now()
  const elu = performance.eventLoopUtilization()
  const busy = elu.active - recording.last.elu.active
  const wall = at - recording.last.at
  const slot = recording.byInFlight.get(recording.inFlight) ?? { busy: 0, idle: 0 }
  slot.busy += busy
  slot.idle += Math.max(0, wall - busy)
  recording.byInFlight.set(recording.inFlight, slot)
  recording.last = { at, elu }
  return at
}

const idsOf = (result: unknown): Array<string> => {
  const rows = (Array.isArray(result) ? result : [result]).flatMap((r: { readonly rows?: ReadonlyArray<Record<string, unknown>> }) => r?.rows ?? [])
  const ids: Array<string> = []
  for (const row of rows) {
    for (const column of ["id", "job_id"]) if (typeof row[column] === "string") ids.push(row[column])
  }
  return ids
}

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }
const original = pg.Client.prototype.query
pg.Client.prototype.query = function(this: object, ...args: Array<unknown>) {
  if (!recording.on) return original.apply(this, args)
  const [config] = args
  const text = typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? "")
  const sent: Sent = { kind: kindOf(text), out: mark(), back: 0, ids: [], served: 0 }
  recording.sent.push(sent)
  recording.inFlight++
  const done = (result: unknown) => {
    sent.back = mark()
    recording.inFlight--
    sent.ids = idsOf(result)
  }
  // A Query object (the store's named statements) carries its callback; else a trailing callback; else a promise.
  const query = config as { callback?: (error: unknown, result: unknown) => void; submit?: unknown }
  if (typeof query?.submit === "function" && typeof query.callback === "function") {
    const callback = query.callback
    query.callback = (error, result) => {
      done(result)
      callback(error, result)
    }
    return original.apply(this, args)
  }
  const last = args.length - 1
  if (typeof args[last] === "function") {
    const callback = args[last] as (error: unknown, result: unknown) => void
    args[last] = (error: unknown, result: unknown) => {
      done(result)
      callback(error, result)
    }
    return original.apply(this, args)
  }
  const returned = original.apply(this, args)
  if (returned instanceof Promise) returned.then(done, () => done(undefined))
  return returned
}

interface Step {
  readonly kind: Kind
  readonly start: number
  end: number
  /** The job id or run id its statement's rows name. */
  id: string
}

/** One job's life, each step stamped, as `treeLifecycle` runs it. */
const stampedLifecycle = (tree: Tree, steps: Array<Step>) =>
  Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    const store = yield* tree.store.JobStore
    const stamp = (kind: Kind) => {
      const step: Step = { kind, start: performance.now(), end: 0, id: "" }
      steps.push(step)
      return step
    }
    let step = stamp("submit")
    const job = yield* service.submit(tree.fixtures.NEW_JOB)
    step.end = performance.now()
    step.id = job.job_id
    for (;;) {
      step = stamp("claim")
      const claim = yield* service.claimNext()
      step.end = performance.now()
      if (claim === null) {
        step.id = "none"
        continue
      }
      step.id = claim.job.job_id
      step = stamp("heartbeat")
      yield* store.heartbeat(claim.run.id)
      step.end = performance.now()
      step.id = claim.run.id
      step = stamp("complete")
      yield* service.complete(claim.job.job_id)
      step.end = performance.now()
      step.id = claim.job.job_id
      return
    }
  })

const quantile = (values: ReadonlyArray<number>, q: number) => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const report = (workers: number, jobs: number, steps: ReadonlyArray<Step>, wallMs: number, clientCpu: number, serverCpu: number) => {
  const sent = recording.sent
  console.log(`\n### ${workers} worker(s), ${jobs} lifecycles: ${(jobs / wallMs * 1000).toFixed(0)} jobs/s, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
  const busy = [...recording.byInFlight.values()].reduce((a, s) => a + s.busy, 0)
  console.log(`node thread busy ${(busy / wallMs * 100).toFixed(0)}% of wall (${(busy * 1000 / jobs).toFixed(0)} µs a job), client CPU ${(clientCpu / jobs).toFixed(0)} µs a job (${(clientCpu / 1000 / wallMs).toFixed(2)} cores), server CPU ${(serverCpu / jobs).toFixed(0)} µs a job (${(serverCpu / 1000 / wallMs).toFixed(2)} cores)`)
  console.log("| statements in flight | share of wall | thread busy | thread idle |")
  console.log("|---|---|---|---|")
  const buckets = new Map<string, { busy: number; idle: number }>()
  for (const [n, s] of recording.byInFlight) {
    const key = n >= 3 ? "3+" : String(n)
    const b = buckets.get(key) ?? { busy: 0, idle: 0 }
    b.busy += s.busy
    b.idle += s.idle
    buckets.set(key, b)
  }
  const total = [...buckets.values()].reduce((a, s) => a + s.busy + s.idle, 0)
  for (const key of ["0", "1", "2", "3+"]) {
    const s = buckets.get(key) ?? { busy: 0, idle: 0 }
    const pct = (x: number) => `${(x / total * 100).toFixed(1)}%`
    console.log(`| ${key} | ${pct(s.busy + s.idle)} | ${pct(s.busy)} | ${pct(s.idle)} |`)
  }
  // Each step → the statement of its kind whose rows name its id, sent after the step began.
  const byKindId = new Map<string, Array<Sent>>()
  for (const s of sent) for (const id of s.ids) byKindId.set(`${s.kind}:${id}`, [...(byKindId.get(`${s.kind}:${id}`) ?? []), s])
  console.log("| step | statements/job | group size mean (p50 / max) | wait before out µs p50 (p90) | in flight µs p50 (p90) | after reply µs p50 (p90) | step µs p50 |")
  console.log("|---|---|---|---|---|---|---|")
  for (const kind of KINDS) {
    const mine = steps.filter((s) => s.kind === kind && s.id !== "none")
    const waits: Array<number> = []
    const flights: Array<number> = []
    const afters: Array<number> = []
    for (const step of mine) {
      const statement = byKindId.get(`${kind}:${step.id}`)?.find((s) => s.out >= step.start && s.back <= step.end)
      if (statement === undefined) continue
      statement.served++
      waits.push((statement.out - step.start) * 1000)
      flights.push((statement.back - statement.out) * 1000)
      afters.push((step.end - statement.back) * 1000)
    }
    const statements = sent.filter((s) => s.kind === kind)
    const groups = statements.map((s) => s.served).filter((n) => n > 0)
    const fmt = (xs: ReadonlyArray<number>) => `${quantile(xs, 0.5).toFixed(0)} (${quantile(xs, 0.9).toFixed(0)})`
    console.log(`| ${kind} | ${(statements.length / jobs).toFixed(2)} | ${(groups.reduce((a, b) => a + b, 0) / Math.max(1, groups.length)).toFixed(2)} (${quantile(groups, 0.5)} / ${Math.max(0, ...groups)}) | ${fmt(waits)} | ${fmt(flights)} | ${fmt(afters)} | ${median(mine.map((s) => (s.end - s.start) * 1000)).toFixed(0)} |`)
  }
  const other = sent.filter((s) => s.kind === "other").length
  console.log(`other statements: ${(other / jobs).toFixed(2)} a job; claims that found nothing: ${(steps.filter((s) => s.id === "none").length / jobs).toFixed(2)} a job`)
}

const main = async () => {
  const [jobsArg, workersArg, rootArg] = process.argv.slice(2)
  const jobs = Number(jobsArg ?? 1000)
  const workerCounts = (workersArg ?? "1,4,16").split(",").map(Number)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const tree = await loadTree("tree", path.resolve(rootArg ?? here))
  const cluster = await startBenchCluster()
  const admin = await connectPg(cluster.url)
  const backend = Number((await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid)
  const postmaster = Number(fs.readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1]!.split(" ")[1])
  console.log(`## Group commit timeline, tree ${rootArg ?? here}`)
  try {
    for (const workers of workerCounts) {
      const runtime = ManagedRuntime.make(tree.app.servicesLayer({ dialect: "pg", url: await cluster.createDatabase(`timeline_${workers}`) }))
      const run = (count: number, steps: Array<Step>) =>
        runtime.runPromise(Effect.all(
          Array.from({ length: workers }, () => Effect.repeatN(stampedLifecycle(tree, steps), Math.ceil(count / workers) - 1)),
          { concurrency: "unbounded", discard: true }
        ))
      await run(200, []) // warm-up: JIT, pool connections, plans
      recording.sent = []
      recording.byInFlight = new Map()
      recording.inFlight = 0
      const steps: Array<Step> = []
      const [client, server] = [cpuMicros(), serverCpuMicros(postmaster)]
      recording.on = true
      const start = mark()
      recording.byInFlight = new Map()
      await run(jobs, steps)
      const wallMs = mark() - start
      recording.on = false
      report(workers, Math.ceil(jobs / workers) * workers, steps, wallMs, cpuMicros() - client, serverCpuMicros(postmaster) - server)
      await runtime.dispose()
    }
  } finally {
    await admin.end()
    await cluster.stop()
  }
}

runMain(main)
