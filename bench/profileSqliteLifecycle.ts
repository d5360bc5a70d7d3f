/**
 * Where a SQLite lifecycle's time goes (issue 16): `oneLifecycle`'s steps
 * (submit → claim → heartbeat → complete, the lifecycle benchmark's unit)
 * many times on a SQLite file, after a warm-up, one job at a time. Prints,
 * per step: its median wall time, the statements better-sqlite3 ran and the
 * commits (COMMITs plus statements outside a transaction, as
 * bench/statements.ts counts them, without PRAGMAs and reads) per call, and the time spent inside the
 * driver (the statement's run/all, which at "full" includes each commit's
 * fsync), the store's own JavaScript (time inside JobStore methods less the
 * driver's) and the rest (Jobs, the Flight Recorder, Capabilities, the
 * port's checks and the Effect runtime around them), and the WAL frames
 * (pages written) each step appends, counted over 100 more lifecycles; then
 * each statement's calls per job and driver time per call. One job at a
 * time: group commit (sqlite/transaction.ts) has nobody to group here.
 *
 *   npx tsx bench/profileSqliteLifecycle.ts [n] [normal|full]
 *
 * Or under the CPU profiler, then summarised:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profileSqliteLifecycle.ts [n] [normal|full]
 *   npx tsx bench/cpuProfileSummary.ts /tmp/prof/<file>.cpuprofile
 *
 * Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Claim } from "../src/store/JobStore.js"
import { JobStore } from "../src/store/JobStore.js"
import * as Jobs from "../src/Jobs.js"
import * as Capabilities from "../src/Capabilities.js"
import * as FlightRecorder from "../src/FlightRecorder.js"
import * as Recovery from "../src/Recovery.js"
import * as WakeUp from "../src/WakeUp.js"
import { storeLayer } from "./app.js"
import { NEW_JOB } from "./fixtures.js"
import { runMain } from "./runMain.js"

type Step = "submit" | "claim" | "heartbeat" | "complete"
const STEPS: ReadonlyArray<Step> = ["submit", "claim", "heartbeat", "complete"]

interface StepFigures {
  readonly wallUs: Array<number>
  /** Time inside the JobStore's methods (the outermost call), driver included. */
  storeUs: number
  statements: number
  commits: number
  driverUs: number
  /** Driver time of COMMITs (and autocommitted statements): at "full", their fsyncs. */
  commitUs: number
  /** Driver calls and time by statement (its first words). */
  readonly byStatement: Map<string, { calls: number; us: number }>
}

interface StatementLike {
  readonly source: string
}
type Method = "run" | "all"

/** Wraps better-sqlite3's Statement prototype: every statement run is counted and timed into `current()`. */
const instrumentDriver = (current: () => StepFigures | undefined) => {
  const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
    prepare(sql: string): StatementLike
    close(): void
    readonly inTransaction: boolean
  }
  const probe = new Database(":memory:")
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<Method, (...args: Array<unknown>) => unknown>
  probe.close()
  for (const method of ["run", "all"] as const) {
    const original = proto[method]
    proto[method] = function(this: StatementLike & { readonly database: { readonly inTransaction: boolean } }, ...args: Array<unknown>) {
      const figures = current()
      if (figures === undefined) return original.apply(this, args)
      // A write outside a transaction is its own commit; BEGIN, a PRAGMA or a read is none.
      const autocommit = !this.database.inTransaction && !/^\s*(BEGIN|PRAGMA|SELECT)\b/i.test(this.source)
      const start = performance.now()
      try {
        return original.apply(this, args)
      } finally {
        const us = (performance.now() - start) * 1000
        figures.statements++
        figures.driverUs += us
        const key = this.source.replace(/\s+/g, " ").trim().slice(0, 70)
        const entry = figures.byStatement.get(key) ?? { calls: 0, us: 0 }
        entry.calls++
        entry.us += us
        figures.byStatement.set(key, entry)
        if (autocommit || /^\s*COMMIT\b/i.test(this.source)) {
          figures.commits++
          figures.commitUs += us
        }
      }
    }
  }
}

/**
 * The store with every method timed into `current()`: the outermost call only
 * (a store method the store calls itself, or one inside `transaction`, is in it).
 */
const timedStore = (store: JobStore["Type"], current: () => StepFigures | undefined): JobStore["Type"] => {
  let depth = 0
  const timed = (method: (...args: Array<unknown>) => unknown) => (...args: Array<unknown>) => {
    const effect = method(...args)
    if (!Effect.isEffect(effect)) return effect
    return Effect.suspend(() => {
      const figures = depth === 0 ? current() : undefined
      depth++
      const start = performance.now()
      return Effect.ensuring(
        effect,
        Effect.sync(() => {
          depth--
          if (figures !== undefined) figures.storeUs += (performance.now() - start) * 1000
        })
      )
    })
  }
  return Object.fromEntries(
    Object.entries(store).map(([name, value]) => [name, typeof value === "function" ? timed(value as never) : value])
  ) as unknown as JobStore["Type"]
}

/** Lifecycles whose WAL frames are counted, after the timed ones. */
const WAL_SAMPLE = 100

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const main = async () => {
  const n = Number(process.argv[2] ?? 2000)
  const durability = process.argv[3] === "normal" ? "normal" : "full"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-profile-sqlite-"))
  const figures = new Map<Step, StepFigures>(
    STEPS.map((step) => [step, { wallUs: [], storeUs: 0, statements: 0, commits: 0, driverUs: 0, commitUs: 0, byStatement: new Map() }])
  )
  let measuring: StepFigures | undefined
  const walFrames = new Map<Step, number>()
  instrumentDriver(() => measuring)
  /** Runs one step, measured when `measure`. */
  const step = <A, E, R>(name: Step, measure: boolean, effect: Effect.Effect<A, E, R>) =>
    measure
      ? Effect.suspend(() => {
        const current = figures.get(name)!
        measuring = current
        const start = performance.now()
        return Effect.ensuring(effect, Effect.sync(() => {
          current.wallUs.push((performance.now() - start) * 1000)
          measuring = undefined
        }))
      })
      : effect
  const lifecycle = (measure: boolean) =>
    Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const store = yield* JobStore
      yield* step("submit", measure, jobs.submit(NEW_JOB))
      let claim: Claim | null = null
      while (claim === null) claim = yield* step("claim", measure, jobs.claimNext())
      yield* step("heartbeat", measure, store.heartbeat(claim.run.id))
      yield* step("complete", measure, jobs.complete(claim.job.job_id))
    })
  try {
    const target = { dialect: "sqlite", filename: path.join(tmp, "lifecycle.db"), durability } as const
    const store = Layer.map(storeLayer(target), (context) => Context.add(context, JobStore, timedStore(Context.get(context, JobStore), () => measuring)))
    const services = Jobs.layer().pipe(
      Layer.provideMerge(Recovery.layerNoStartupRecovery),
      Layer.provideMerge(WakeUp.layerPollOnly),
      Layer.provideMerge(FlightRecorder.layer()),
      Layer.provideMerge(Capabilities.layerDefault),
      Layer.provideMerge(store)
    )
    await Effect.runPromise(Effect.scoped(Effect.provide(Effect.gen(function*() {
      for (let i = 0; i < 200; i++) yield* lifecycle(false)
      const start = performance.now()
      for (let i = 0; i < n; i++) yield* lifecycle(true)
      const ms = performance.now() - start
      console.log(`${n} lifecycles on a SQLite file (durability ${durability}): ${ms.toFixed(0)} ms, ${(ms * 1000 / n).toFixed(0)} µs each (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)
      // WAL frames each step appends: a reader holding one snapshot keeps every checkpoint
      // from restarting the WAL, so it only grows, by one frame (header and page) per page written.
      const reader = new (createRequire(import.meta.url)("better-sqlite3"))(target.filename, { readonly: true })
      reader.exec("BEGIN")
      reader.prepare("SELECT count(*) FROM ai_jobs").get()
      const wal = `${target.filename}-wal`
      const pageSize = (reader.pragma("page_size", { simple: true }) as number) + 24
      for (let i = 0; i < WAL_SAMPLE; i++) {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const framed = <A, E, R>(name: Step, effect: Effect.Effect<A, E, R>) =>
          Effect.suspend(() => {
            const before = fs.statSync(wal).size
            return Effect.tap(effect, () => {
              walFrames.set(name, (walFrames.get(name) ?? 0) + (fs.statSync(wal).size - before) / pageSize)
            })
          })
        yield* framed("submit", jobs.submit(NEW_JOB))
        const claim = yield* framed("claim", jobs.claimNext())
        if (claim === null) return yield* Effect.dieMessage("nothing to claim after a submit")
        yield* framed("heartbeat", store.heartbeat(claim.run.id))
        yield* framed("complete", jobs.complete(claim.job.job_id))
      }
      reader.exec("COMMIT")
      reader.close()
    }), services)))
    console.log("| step | median µs | statements | commits | WAL frames | driver µs (mean) | of it commits µs | store's JS µs (mean) | rest µs (mean) |")
    console.log("|---|---|---|---|---|---|---|---|---|")
    const total = { statements: 0, commits: 0, driverUs: 0, commitUs: 0, wallUs: 0, median: 0, storeUs: 0 }
    for (const [name, f] of figures) {
      const calls = f.wallUs.length
      const mean = f.wallUs.reduce((a, b) => a + b, 0) / calls
      const row = {
        statements: f.statements / n,
        commits: f.commits / n,
        driverUs: f.driverUs / calls,
        commitUs: f.commitUs / calls
      }
      total.statements += row.statements
      total.commits += row.commits
      total.driverUs += f.driverUs / n
      total.commitUs += f.commitUs / n
      total.wallUs += mean * calls / n
      total.median += median(f.wallUs)
      total.storeUs += f.storeUs / n
      const storeJs = f.storeUs / calls - row.driverUs
      console.log(
        `| ${name} | ${median(f.wallUs).toFixed(0)} | ${row.statements.toFixed(1)} | ${row.commits.toFixed(1)} | ${((walFrames.get(name) ?? 0) / WAL_SAMPLE).toFixed(1)} | ${row.driverUs.toFixed(0)} | ${
          row.commitUs.toFixed(0)
        } | ${storeJs.toFixed(0)} | ${(mean - f.storeUs / calls).toFixed(0)} |`
      )
    }
    console.log(
      `| job | ${total.median.toFixed(0)} | ${total.statements.toFixed(1)} | ${total.commits.toFixed(1)} | ${
        ([...walFrames.values()].reduce((a, b) => a + b, 0) / WAL_SAMPLE).toFixed(1)
      } | ${total.driverUs.toFixed(0)} | ${
        total.commitUs.toFixed(0)
      } | ${(total.storeUs - total.driverUs).toFixed(0)} | ${(total.wallUs - total.storeUs).toFixed(0)} |`
    )
    console.log("\n| step | statement | calls per job | driver µs per call |")
    console.log("|---|---|---|---|")
    for (const [name, f] of figures) {
      for (const [text, entry] of f.byStatement) {
        console.log(`| ${name} | \`${text}\` | ${(entry.calls / n).toFixed(1)} | ${(entry.us / entry.calls).toFixed(0)} |`)
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
