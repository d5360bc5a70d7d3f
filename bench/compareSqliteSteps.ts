/**
 * A SQLite lifecycle's steps and `createJob` side by side with a base tree,
 * in one process (issue 16), next to SqlPersistedQueue and the raw driver:
 *
 *   git worktree add --detach /tmp/base main && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   npx tsx bench/compareSqliteSteps.ts /tmp/base [reps] [jobs] [full|normal] [sampleMs]
 *   npm run bench:build && node .bench-build/bench/compareSqliteSteps.js /tmp/base/.bench-build [reps] …  (compiled)
 *
 * Each rep runs, one job at a time on its own SQLite file per tree: `jobs`
 * lifecycles (submit → claim → heartbeat → complete, every audit event
 * written) and `jobs` single `createJob`s through each tree (the tree that
 * goes first alternating rep by rep, so drift on a loaded machine hits both
 * alike), then `jobs` SqlPersistedQueue cycles (offer → take → complete) and
 * `jobs` raw prepared INSERTs at the same durability; then lifecycles per
 * second at 1 and 4 concurrent workers for `sampleMs` each (base, mine,
 * SqlPersistedQueue), as bench/lifecycle.ts measures them. Prints per step the
 * median wall and CPU µs of this process per call (`process.cpuUsage`
 * around the step: JavaScript, the driver and the kernel's writes and
 * fsyncs), per job the sum, and mine ÷ base, with the load average. Not part
 * of `npm run bench`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type * as App from "./app.js"
import type * as JobsModule from "../src/Jobs.js"
import type * as JobStoreModule from "../src/store/JobStore.js"
import type * as Fixtures from "./fixtures.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { rawSqliteInsert } from "./baselines/rawInsert.js"
import { openSqlite } from "./drivers.js"
import { median, throughputEffect } from "./harness.js"

const STEPS = ["submit", "claim", "heartbeat", "complete", "createJob"] as const
type Step = typeof STEPS[number]
type Figures = Record<"wall" | "cpu", Record<Step, Array<number>>>

interface Tree {
  readonly name: string
  readonly app: typeof App
  readonly jobs: typeof JobsModule
  readonly store: typeof JobStoreModule
  readonly fixtures: typeof Fixtures
  /** The create benchmark's new job (every field given, as `createJob` takes it). */
  readonly newJob: Parameters<JobStoreModule.JobStore["Type"]["createJob"]>[0]
  readonly oneLifecycle: Effect.Effect<void, unknown, App.Services>
}

/** A tree's modules: its sources (under tsx), or its compiled `.bench-build/` (given as the root, run with node). */
const load = async (name: string, root: string): Promise<Tree> => {
  const ext = fs.existsSync(path.join(root, "bench/app.ts")) ? ".ts" : ".js"
  const module = (file: string) => import(path.join(root, `${file}${ext}`))
  return {
    name,
    app: await module("bench/app") as typeof App,
    jobs: await module("src/Jobs") as typeof JobsModule,
    store: await module("src/store/JobStore") as typeof JobStoreModule,
    fixtures: await module("bench/fixtures") as typeof Fixtures,
    newJob: (await module("bench/create")).newJob,
    oneLifecycle: (await module("bench/lifecycle")).oneLifecycle
  }
}

const cpuMicros = () => {
  const { system, user } = process.cpuUsage()
  return user + system
}

const emptyFigures = (): Figures => ({
  wall: { submit: [], claim: [], heartbeat: [], complete: [], createJob: [] },
  cpu: { submit: [], claim: [], heartbeat: [], complete: [], createJob: [] }
})

/** Times `run` into `figures[step]` (synchronous drivers and Effects alike). */
const timer = (figures: Figures) => <A, E, R>(step: Step, effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const [wall, cpu] = [performance.now(), cpuMicros()]
    return Effect.tap(effect, () => {
      figures.cpu[step].push(cpuMicros() - cpu)
      figures.wall[step].push((performance.now() - wall) * 1000)
    })
  })

/** `count` lifecycles, then `count` createJobs, one at a time through `tree`. */
const block = (tree: Tree, count: number, figures: Figures) =>
  Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    const store = yield* tree.store.JobStore
    const timed = timer(figures)
    for (let i = 0; i < count; i++) {
      yield* timed("submit", service.submit(tree.fixtures.NEW_JOB))
      const claim = yield* timed("claim", service.claimNext())
      if (claim === null) return yield* Effect.dieMessage("nothing to claim after a submit")
      yield* timed("heartbeat", store.heartbeat(claim.run.id))
      yield* timed("complete", service.complete(claim.job.job_id))
    }
    for (let i = 0; i < count; i++) yield* timed("createJob", store.createJob(tree.newJob))
  })

const main = async () => {
  const [baseRoot, repsArg, jobsArg, durabilityArg, sampleArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: compareSqliteSteps.ts <base checkout> [reps] [jobs] [full|normal]")
  const reps = Number(repsArg ?? 4)
  const jobs = Number(jobsArg ?? 300)
  const durability = durabilityArg === "normal" ? "normal" : "full"
  const sampleMs = Number(sampleArg ?? 1500)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await load("base", path.resolve(baseRoot)), await load("mine", here)]
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-sqlite-steps-"))
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const figures = new Map(trees.map((tree) => [tree.name, emptyFigures()]))
  const queueCpu: Array<number> = []
  const queueWall: Array<number> = []
  const rawCpu: Array<number> = []
  const rawWall: Array<number> = []
  /** Lifecycles per second by "<who> w<workers>", one sample per rep. */
  const perSecond = new Map<string, Array<number>>()
  const push = (key: string, value: number) => perSecond.set(key, [...(perSecond.get(key) ?? []), value])
  try {
    const runtimes = trees.map((tree) => ({
      tree,
      runtime: ManagedRuntime.make(
        tree.app.servicesLayer({ dialect: "sqlite", filename: path.join(tmp, `${tree.name}.db`), durability })
      )
    }))
    const queue = ManagedRuntime.make(
      PersistedQueueBench.layer.pipe(Layer.provide(PersistedQueueBench.sqliteClient(path.join(tmp, "queue.db"), durability)))
    )
    await trees[0]!.app.migrateTarget({ dialect: "sqlite", filename: path.join(tmp, "raw.db") })
    const rawDb = openSqlite(path.join(tmp, "raw.db"), durability)
    const raw = rawSqliteInsert(rawDb)
    // A warm-up block each (JIT, statement caches, the claim memo's first subject), not counted.
    for (const { runtime, tree } of runtimes) await runtime.runPromise(block(tree, 100, emptyFigures()))
    const queueBlock = (count: number, measure: boolean) =>
      Effect.flatMap(PersistedQueueBench.makeQueue, (q) =>
        Effect.gen(function*() {
          for (let i = 0; i < count; i++) {
            const [wall, cpu] = [performance.now(), cpuMicros()]
            yield* PersistedQueueBench.queueCycle(q)
            if (measure) {
              queueCpu.push(cpuMicros() - cpu)
              queueWall.push((performance.now() - wall) * 1000)
            }
          }
        }))
    await queue.runPromise(queueBlock(100, false))
    for (let rep = 0; rep < reps; rep++) {
      console.error(`rep ${rep + 1}/${reps}`)
      for (const { runtime, tree } of rep % 2 === 0 ? runtimes : [...runtimes].reverse()) {
        await runtime.runPromise(block(tree, jobs, figures.get(tree.name)!))
      }
      await queue.runPromise(queueBlock(jobs, true))
      for (let i = 0; i < jobs; i++) {
        const [wall, cpu] = [performance.now(), cpuMicros()]
        await raw.insertOne()
        rawCpu.push(cpuMicros() - cpu)
        rawWall.push((performance.now() - wall) * 1000)
      }
      // Throughput at 1 and 4 concurrent workers, as bench/lifecycle.ts measures it.
      for (const workers of [1, 4]) {
        for (const { runtime, tree } of rep % 2 === 0 ? runtimes : [...runtimes].reverse()) {
          push(`${tree.name} w${workers}`, await runtime.runPromise(throughputEffect(workers, sampleMs, () => tree.oneLifecycle)))
        }
        push(`queue w${workers}`, await queue.runPromise(PersistedQueueBench.queueThroughput(workers, sampleMs)))
      }
      loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    }
    await Promise.all([...runtimes.map(({ runtime }) => runtime.dispose()), queue.dispose()])
    rawDb.close()
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`\n## ${reps} × ${jobs} lifecycles and createJobs per tree on a SQLite file at "${durability}", one at a time, interleaved`)
  console.log(`load average (1/5/15 min) at start and after each rep: ${loads.join(" | ")}`)
  console.log("| step | base wall µs | mine wall µs | mine ÷ base | base CPU µs | mine CPU µs | mine ÷ base |")
  console.log("|---|---|---|---|---|---|---|")
  const [base, mine] = [figures.get("base")!, figures.get("mine")!]
  const ratio = (m: number, b: number) => `${(m / b).toFixed(2)}×`
  const row = (name: string, pick: (s: Figures, kind: "wall" | "cpu") => number) => {
    const [bw, mw, bc, mc] = [pick(base, "wall"), pick(mine, "wall"), pick(base, "cpu"), pick(mine, "cpu")]
    console.log(`| ${name} | ${bw.toFixed(0)} | ${mw.toFixed(0)} | ${ratio(mw, bw)} | ${bc.toFixed(0)} | ${mc.toFixed(0)} | ${ratio(mc, bc)} |`)
  }
  for (const step of STEPS) row(step, (s, kind) => median(s[kind][step]))
  const lifecycle = STEPS.filter((step) => step !== "createJob")
  row("lifecycle (sum of medians)", (s, kind) => lifecycle.reduce((sum, step) => sum + median(s[kind][step]), 0))
  console.log(
    `\nSqlPersistedQueue cycle (offer → take → complete): wall ${median(queueWall).toFixed(0)} µs, CPU ${median(queueCpu).toFixed(0)} µs; ` +
      `raw prepared INSERT: wall ${median(rawWall).toFixed(0)} µs, CPU ${median(rawCpu).toFixed(0)} µs (medians)`
  )
  console.log("\n| lifecycles/s (median of reps) | base | mine | SqlPersistedQueue | mine ÷ base | base ÷ queue | mine ÷ queue |")
  console.log("|---|---|---|---|---|---|---|")
  for (const workers of [1, 4]) {
    const [b, m, q] = ["base", "mine", "queue"].map((who) => median(perSecond.get(`${who} w${workers}`) ?? []))
    console.log(`| ${workers} worker(s) | ${b!.toFixed(0)} | ${m!.toFixed(0)} | ${q!.toFixed(0)} | ${ratio(m!, b!)} | ${ratio(b!, q!)} | ${ratio(m!, q!)} |`)
    console.error(`w${workers}`, ["base", "mine", "queue"].map((who) => `${who}: ${(perSecond.get(`${who} w${workers}`) ?? []).map((v) => v.toFixed(0)).join(" ")}`).join("; "))
  }
}

void main()
