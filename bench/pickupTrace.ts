/**
 * Where pickup latency goes (issue 15.3): `npx tsx bench/pickupTrace.ts [jobs]`.
 * One idle worker on a fresh PostgreSQL database (and a SQLite file), jobs
 * submitted one at a time after a random pause; for each, the milestones
 * from the moment submit is called:
 *
 *   submitted   Jobs.submit returned (its transaction committed)
 *   notified    the announcement reached a LISTEN connection of the bench's own (PostgreSQL)
 *   claiming    the woken worker began the Jobs.claimNext that took the job
 *   running     Jobs.run began (the claim had returned)
 *   program     the job's program began
 *
 * Milestones come from the spans the library emits (a tracer that keeps each
 * span's start and end) and a raw `pg` client; medians and p90 in ms.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Pg from "pg"
import { Jobs } from "../src/Jobs.js"
import * as WakeUp from "../src/WakeUp.js"
import { servicesLayer, type Target } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { percentile } from "./harness.js"
import { startBenchCluster } from "./postgres.js"

type Milestone = "submitted" | "notified" | "claiming" | "running" | "program"
const MILESTONES: ReadonlyArray<Milestone> = ["submitted", "notified", "claiming", "running", "program"]

/** The current sample's milestones, set by the tracer, the listener and the program. */
let current: Partial<Record<Milestone, number>> | undefined
const mark = (milestone: Milestone) => {
  if (current !== undefined && current[milestone] === undefined) current[milestone] = performance.now()
}

/** Statements sent to PostgreSQL during the current sample (every `pg` client's `query`), up to submitted and up to running. */
let statements = 0
const statementCounts: Array<{ submit: number; claim: number }> = []
let atSubmitted = 0
const query = Pg.Client.prototype.query
Pg.Client.prototype.query = function(this: Pg.Client, ...args: Array<unknown>) {
  if (current !== undefined) statements++
  return (query as (...a: Array<unknown>) => unknown).apply(this, args)
} as typeof query

/** A tracer that marks the start of `Jobs.claimNext` and `Jobs.run`, and the end of `Jobs.submit`. */
const tracer = Tracer.make({
  span(name, parent, context, links, startTime, kind) {
    // The claim that took the job is the last one begun before its run: an earlier one (a poll, a
    // stale announcement) found nothing.
    if (name === "Jobs.claimNext" && current !== undefined && current["running"] === undefined) current["claiming"] = performance.now()
    if (name === "Jobs.run" && current !== undefined && current["running"] === undefined) {
      statementCounts.push({ submit: atSubmitted, claim: statements - atSubmitted })
    }
    if (name === "Jobs.run") mark("running")
    return {
      _tag: "Span",
      name,
      spanId: Math.random().toString(16).slice(2),
      traceId: Option.isSome(parent) ? parent.value.traceId : Math.random().toString(16).slice(2),
      parent,
      context,
      status: { _tag: "Started", startTime },
      attributes: new Map(),
      links,
      sampled: true,
      kind,
      end() {
        if (name === "Jobs.submit") {
          mark("submitted")
          atSubmitted = statements
        }
      },
      attribute() {},
      event() {},
      addLinks() {}
    }
  },
  context: (f) => f()
})

const trace = (target: Target, wakeUp: Layer.Layer<WakeUp.WakeUp>, count: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const jobs = yield* Jobs
    let started: () => void = () => {}
    yield* jobs.worker({ concurrency: 1, handler: () => Effect.sync(() => started()) })
    yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
    const rows: Array<Partial<Record<Milestone, number>>> = []
    for (let i = 0; i < count; i++) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 500)))
      const begin = performance.now()
      current = {}
      statements = 0
      const program = new Promise<void>((resolve) => (started = resolve))
      yield* jobs.submit(NEW_JOB)
      yield* Effect.promise(() => program)
      mark("program")
      const row = current
      current = undefined
      rows.push(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v - begin])))
    }
    return rows
  })).pipe(Effect.provide(servicesLayer(target, wakeUp)), Effect.withTracer(tracer)))

const report = (label: string, rows: ReadonlyArray<Partial<Record<Milestone, number>>>) => {
  console.log(`\n${label} (${rows.length} jobs; ms since submit was called)`)
  for (const milestone of MILESTONES) {
    const values = rows.map((row) => row[milestone]).filter((v): v is number => v !== undefined)
    if (values.length === 0) continue
    console.log(`  ${milestone.padEnd(10)} p50 ${percentile(values, 50).toFixed(1).padStart(7)}   p90 ${percentile(values, 90).toFixed(1).padStart(7)}`)
  }
  const counted = statementCounts.splice(0)
  if (label.startsWith("PostgreSQL") && counted.length > 0) {
    console.log(`  statements: submit ${percentile(counted.map((c) => c.submit), 50)}, submitted -> run start ${percentile(counted.map((c) => c.claim), 50)} (medians)`)
  }
}

const main = async () => {
  const count = Number(process.argv[2] ?? 40)
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(" ")}`)
  const cluster = await startBenchCluster()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-pickup-trace-"))
  try {
    const url = await cluster.createDatabase("pickup_trace")
    const listener = new Pg.Client({ connectionString: url })
    await listener.connect()
    await listener.query(`LISTEN ${WakeUp.CHANNEL}`)
    listener.on("notification", (message) => {
      if (message.payload?.includes("\"queued\"") === true) mark("notified")
    })
    report("PostgreSQL, LISTEN/NOTIFY", await trace({ dialect: "pg", url }, WakeUp.layerPg({ listenUrl: url }), count))
    await listener.end()
    report("SQLite, in process", await trace({ dialect: "sqlite", filename: path.join(tmp, "trace.db") }, WakeUp.layerInProcess, count))
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`load average ${os.loadavg().map((n) => n.toFixed(1)).join(" ")}`)
}

void main()
