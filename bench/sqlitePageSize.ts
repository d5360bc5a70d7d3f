/**
 * The page size of a SQLite store's file (issue 16): does a smaller page
 * than SQLite's default 4096 bytes make the store cheaper? Every commit
 * writes each page it dirtied whole to the WAL, and a job's audit trail
 * dirties ~14 b-trees, so smaller pages write fewer bytes; they also make
 * b-trees deeper and rows with large `inputs` spill to overflow pages.
 *
 * The same code (this tree's store, its own client) on files that differ
 * only by their page size, set before the first table exists; interleaved
 * round by round in one process, the order rotated each round:
 *
 * - lifecycle through Jobs (`oneLifecycle`: submit → claim → heartbeat →
 *   complete, every audit event), at 1 and 4 workers: CPU µs, wall µs and
 *   (one pass with checkpoints off on the store's connection) WAL bytes per job;
 * - create one at a time and batched, ours against the raw driver on a file
 *   of the same page size (ratio = raw's time ÷ ours);
 * - a job with a large `inputs` (8 KiB and 64 KiB of JSON) through its lifecycle.
 *
 *   npx tsx bench/sqlitePageSize.ts [rounds] [jobs] [full|normal] [sizes, e.g. 4096,2048,1024]
 *
 * and, with `reads` first, the reads at 10k and 1M jobs (list by state, its
 * next page, by trace, claim with every job queued; median ms of `calls`)
 * and recovery of 10k stale runs among 100k against the per-row loop:
 *
 *   npx tsx bench/sqlitePageSize.ts reads [calls] [sizes] [largest, e.g. 1000000] [recovery]
 *
 * Not part of `npm run bench`.
 *
 * Measured 2026-11-30 (load 5–18, so CPU and WAL bytes, not wall time): 2048
 * against 4096 writes 42% fewer WAL bytes per lifecycle (250 → 145 KiB) but
 * more frames (62 → 72, each its own write), 1024 fewer still (90 KiB, 88
 * frames); lifecycle CPU per job −1% to −19% (−10% typical, through the
 * store, where JavaScript dominates); create costs more CPU per job (one at a
 * time +1–24%, batched +23%, the raw driver's +15%). Not a clear win: the
 * default stayed SQLite's 4096.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Capabilities from "../src/Capabilities.js"
import * as FlightRecorder from "../src/FlightRecorder.js"
import * as Jobs from "../src/Jobs.js"
import * as Recovery from "../src/Recovery.js"
import { JobStore } from "../src/store/JobStore.js"
import * as OwnClient from "../src/store/sqlite/ownClient.js"
import * as SqliteStore from "../src/store/SqliteJobStore.js"
import * as WakeUp from "../src/WakeUp.js"
import type { TraceId } from "../src/domain/Ids.js"
import { rawSqliteInsert } from "./baselines/rawInsert.js"
import { referenceRecoverySqlite } from "./baselines/referenceRecovery.js"
import { newJob } from "./create.js"
import { openSqlite } from "./drivers.js"
import { fixtureId, NEW_JOB, PREFIX, seedJobsSqlite, seedRunsSqlite } from "./fixtures.js"
import { oneLifecycle } from "./lifecycle.js"
import { runMain } from "./runMain.js"
import { median } from "./trees.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  pragma(source: string): unknown
  exec(source: string): void
  close(): void
}

/** An empty file whose pages are `pageSize` bytes: the size is fixed by the first table. */
const pageSizedFile = (filename: string, pageSize: number) => {
  const pre = new Database(filename)
  pre.pragma(`page_size = ${pageSize}`)
  pre.exec("CREATE TABLE page_size_fixed (a); DROP TABLE page_size_fixed")
  pre.close()
}

/** Jobs and the store over the store's own client on `filename`, the client exposed (to switch checkpoints off). */
const services = (filename: string, durability: SqliteStore.SqliteDurability) => {
  const client = Layer.scopedContext(Effect.map(
    OwnClient.make({ filename }),
    (c) => Context.make(SqliteClient.SqliteClient, c).pipe(Context.add(SqlClient.SqlClient, c))
  )).pipe(Layer.provide(Reactivity.layer))
  return ManagedRuntime.make(
    Jobs.layer().pipe(
      Layer.provideMerge(Recovery.layerNoStartupRecovery),
      Layer.provideMerge(WakeUp.layerPollOnly),
      Layer.provideMerge(FlightRecorder.layer()),
      Layer.provideMerge(Capabilities.layerDefault),
      Layer.provideMerge(SqliteStore.layerFromClient({ durability })),
      Layer.provideMerge(client)
    )
  )
}

interface Figures {
  readonly wall: Array<number>
  readonly cpu: Array<number>
}
const figures = (): Figures => ({ wall: [], cpu: [] })

/** Runs `work` and pushes its wall and CPU µs per unit. */
const sample = async (into: Figures, units: number, work: () => Promise<unknown>) => {
  const cpu = process.cpuUsage()
  const wall = performance.now()
  await work()
  const { system, user } = process.cpuUsage(cpu)
  into.wall.push((performance.now() - wall) * 1000 / units)
  into.cpu.push((user + system) / units)
}

/** A job whose `job_inputs` is ~`bytes` of JSON. */
const largeJob = (bytes: number) => ({
  ...NEW_JOB,
  job_inputs: { doc: "bench", chunks: Array.from({ length: Math.ceil(bytes / 64) }, (_, i) => `${i}`.padStart(56, "x")) }
})

const lifecycleOf = (job: typeof NEW_JOB | ReturnType<typeof largeJob>) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const store = yield* JobStore
    yield* jobs.submit(job as typeof NEW_JOB)
    let claim = null
    while (claim === null) claim = yield* jobs.claimNext()
    yield* store.heartbeat(claim.run.id)
    yield* jobs.complete(claim.job.job_id)
  })

const main = async () => {
  const rounds = Number(process.argv[2] ?? 5)
  const jobs = Number(process.argv[3] ?? 300)
  const durability: SqliteStore.SqliteDurability = process.argv[4] === "normal" ? "normal" : "full"
  const sizes = (process.argv[5] ?? "4096,2048,1024,8192").split(",").map(Number)
  const batch = 100
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-pagesize-"))
  const loadBefore = os.loadavg()
  try {
    const systems = await Promise.all(sizes.map(async (pageSize) => {
      const ours = path.join(tmp, `ours-${pageSize}.db`)
      const raw = path.join(tmp, `raw-${pageSize}.db`)
      pageSizedFile(ours, pageSize)
      pageSizedFile(raw, pageSize)
      const runtime = services(ours, durability)
      // Migrates the raw file too (the same schema), then the raw driver writes to it.
      const rawRuntime = services(raw, durability)
      await rawRuntime.runPromise(Effect.void)
      await rawRuntime.dispose()
      const rawDb = openSqlite(raw, durability)
      const inserts = rawSqliteInsert(rawDb)
      await runtime.runPromise(Effect.repeatN(oneLifecycle, 100))
      return {
        pageSize,
        ours,
        runtime,
        rawDb,
        inserts,
        f: {
          w1: figures(),
          w4: figures(),
          rawOne: figures(),
          one: figures(),
          rawBatch: figures(),
          batch: figures(),
          in8k: figures(),
          in64k: figures()
        }
      }
    }))
    const jobsOfBatch = Array.from({ length: batch }, () => newJob)
    const in8k = largeJob(8 * 1024)
    const in64k = largeJob(64 * 1024)
    for (let round = 0; round < rounds; round++) {
      const order = systems.map((_, i) => systems[(i + round) % systems.length]!)
      for (const s of order) {
        const run = <A, E>(effect: Effect.Effect<A, E, JobStore | Jobs.Jobs>) => s.runtime.runPromise(effect)
        await sample(s.f.w1, jobs, () => run(Effect.repeatN(oneLifecycle, jobs - 1)))
        await sample(s.f.w4, jobs, () => run(Effect.forEach(Array.from({ length: jobs }), () => oneLifecycle, { concurrency: 4, discard: true })))
        await sample(s.f.rawOne, jobs, async () => {
          for (let i = 0; i < jobs; i++) s.inserts.insertOne()
        })
        await sample(s.f.one, jobs, () => run(Effect.flatMap(JobStore, (store) => Effect.repeatN(store.createJob(newJob), jobs - 1))))
        await sample(s.f.rawBatch, jobs, async () => {
          for (let i = 0; i < jobs / batch; i++) s.inserts.insertBatch(batch)
        })
        await sample(s.f.batch, jobs, () => run(Effect.flatMap(JobStore, (store) => Effect.repeatN(store.createJobs(jobsOfBatch), jobs / batch - 1))))
        await sample(s.f.in8k, 50, () => run(Effect.repeatN(lifecycleOf(in8k), 49)))
        await sample(s.f.in64k, 20, () => run(Effect.repeatN(lifecycleOf(in64k), 19)))
      }
    }
    // WAL bytes per job: checkpoints off on the store's connection, so the WAL only grows.
    const walPerJob = async (s: typeof systems[number], count: number, effect: Effect.Effect<unknown, unknown, JobStore | Jobs.Jobs>) => {
      await s.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("PRAGMA wal_checkpoint(TRUNCATE)")))
      await s.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("PRAGMA wal_autocheckpoint = 0")))
      const before = fs.statSync(`${s.ours}-wal`).size
      await s.runtime.runPromise(effect)
      const bytes = (fs.statSync(`${s.ours}-wal`).size - before) / count
      await s.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("PRAGMA wal_autocheckpoint = 1000")))
      return bytes
    }
    const wal: Array<{ lifecycle: number; one: number; batch: number; in8k: number; in64k: number }> = []
    for (const s of systems) {
      wal.push({
        lifecycle: await walPerJob(s, 200, Effect.repeatN(oneLifecycle, 199)),
        one: await walPerJob(s, 200, Effect.flatMap(JobStore, (store) => Effect.repeatN(store.createJob(newJob), 199))),
        batch: await walPerJob(s, 10 * batch, Effect.flatMap(JobStore, (store) => Effect.repeatN(store.createJobs(jobsOfBatch), 9))),
        in8k: await walPerJob(s, 20, Effect.repeatN(lifecycleOf(in8k), 19)),
        in64k: await walPerJob(s, 10, Effect.repeatN(lifecycleOf(in64k), 9))
      })
    }
    const loadAfter = os.loadavg()
    console.log(
      `## SQLite page size, "${durability}", ${rounds} rounds of ${jobs} jobs (load ${loadBefore.map((l) => l.toFixed(2)).join(" ")} → ${
        loadAfter.map((l) => l.toFixed(2)).join(" ")
      })`
    )
    console.log("WAL frames per job = WAL bytes ÷ (page + 24): one frame per dirtied page per commit, each written by its own write()")
    console.log("medians per job; create ratio = raw's time ÷ ours (the target's 'ours ÷ raw' in jobs/s)\n")
    console.log(
      "| page | lifecycle 1w CPU µs | 1w wall µs | 4w CPU µs | 4w wall µs | WAL KiB/job | create one CPU µs (raw) | one ratio | batched CPU µs (raw) | batched ratio | create WAL KiB one/batched | 8 KiB inputs CPU/wall µs, WAL KiB | 64 KiB inputs CPU/wall µs, WAL KiB |"
    )
    console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    systems.forEach((s, i) => {
      const m = (xs: Array<number>) => median(xs).toFixed(0)
      const w = wal[i]!
      console.log(
        `| ${s.pageSize} | ${m(s.f.w1.cpu)} | ${m(s.f.w1.wall)} | ${m(s.f.w4.cpu)} | ${m(s.f.w4.wall)} | ${(w.lifecycle / 1024).toFixed(1)} | ${m(s.f.one.cpu)} (${
          m(s.f.rawOne.cpu)
        }) | ${(median(s.f.rawOne.wall) / median(s.f.one.wall)).toFixed(2)}× | ${m(s.f.batch.cpu)} (${m(s.f.rawBatch.cpu)}) | ${
          (median(s.f.rawBatch.wall) / median(s.f.batch.wall)).toFixed(2)
        }× | ${(w.one / 1024).toFixed(1)}/${(w.batch / 1024).toFixed(1)} | ${m(s.f.in8k.cpu)}/${m(s.f.in8k.wall)}, ${(w.in8k / 1024).toFixed(1)} | ${m(s.f.in64k.cpu)}/${
          m(s.f.in64k.wall)
        }, ${(w.in64k / 1024).toFixed(1)} |`
      )
    })
    for (const s of systems) {
      s.rawDb.close()
      await s.runtime.dispose()
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** Median ms of `calls` runs of `effect`. */
const medianMs = <A, E, R>(calls: number, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    for (let i = 0; i < calls; i++) {
      const start = performance.now()
      yield* effect
      times.push(performance.now() - start)
    }
    return median(times)
  })

/** A migrated file of `pageSize`-byte pages, seeded by `seed` through the raw driver. */
const seeded = async (filename: string, pageSize: number, seed: (db: ReturnType<typeof openSqlite>) => void) => {
  pageSizedFile(filename, pageSize)
  const runtime = services(filename, "full")
  await runtime.runPromise(Effect.void)
  const db = openSqlite(filename)
  seed(db)
  return { runtime, db }
}

const reads = async () => {
  const calls = Number(process.argv[3] ?? 200)
  const sizes = (process.argv[4] ?? "4096,2048").split(",").map(Number)
  const largest = Number(process.argv[5] ?? 1_000_000)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-pagesize-reads-"))
  const loadBefore = os.loadavg()
  const rows: Array<string> = []
  try {
    for (const count of [10_000, largest]) {
      for (const pageSize of sizes) {
        const startMs = Date.UTC(2025, 0, 1)
        const mixed = await seeded(path.join(tmp, `mixed-${pageSize}-${count}.db`), pageSize, (db) =>
          seedJobsSqlite(db, { count, state: "mixed", startMs, jobsPerTrace: 4 }))
        const traceId = fixtureId(PREFIX.trace, Math.floor(count / 8)) as TraceId
        const lists = await mixed.runtime.runPromise(Effect.gen(function*() {
          const store = yield* JobStore
          const first = yield* store.listJobs({ states: ["queued"], limit: 100 })
          const cursor = first.next_cursor!
          return [
            yield* medianMs(calls, store.listJobs({ states: ["queued"], limit: 100 })),
            yield* medianMs(calls, store.listJobs({ states: ["queued"], limit: 100, cursor })),
            yield* medianMs(calls, store.listJobs({ trace_id: traceId }))
          ]
        }))
        mixed.db.close()
        await mixed.runtime.dispose()
        const queued = await seeded(path.join(tmp, `queued-${pageSize}-${count}.db`), pageSize, (db) =>
          seedJobsSqlite(db, { count, state: "queued", startMs, jobsPerTrace: 4 }))
        const claim = await queued.runtime.runPromise(Effect.flatMap(Jobs.Jobs, (jobs) => medianMs(calls, jobs.claimNext())))
        queued.db.close()
        await queued.runtime.dispose()
        rows.push(`| ${count} | ${pageSize} | ${[...lists, claim].map((ms) => ms.toFixed(3)).join(" | ")} |`)
        for (const file of fs.readdirSync(tmp)) fs.rmSync(path.join(tmp, file))
      }
    }
    // Recovery only when asked ("recovery" last): its per-row loop fsyncs 10k commits.
    for (const pageSize of process.argv[6] === "recovery" ? sizes : []) {
      const now = Date.now()
      const count = 100_000
      const stale = 10_000
      const { runtime, db } = await seeded(path.join(tmp, `recovery-${pageSize}.db`), pageSize, (db) => {
        seedJobsSqlite(db, { count, state: "running", startMs: now - 7_200_000, jobsPerTrace: 1 })
        seedRunsSqlite(db, { count, staleEvery: count / stale, staleMs: now - 3_600_000, freshMs: now + 86_400_000 })
      })
      const reset = () => {
        db.exec(`UPDATE workflow_runs SET status = 'running' WHERE status = 'stalled'`)
        db.exec(`UPDATE ai_jobs SET status = 'running' WHERE status = 'stalled'`)
      }
      const ours: Array<number> = []
      const loop: Array<number> = []
      for (let rep = 0; rep < 3; rep++) {
        let start = performance.now()
        const report = await runtime.runPromise(Recovery.recoverStalledRuns())
        ours.push(performance.now() - start)
        if (report.recovered.length !== stale) throw new Error(`recovered ${report.recovered.length}`)
        reset()
        start = performance.now()
        if (referenceRecoverySqlite(db) !== stale) throw new Error("the loop missed runs")
        loop.push(performance.now() - start)
        reset()
      }
      rows.push(`| recovery 10k of 100k | ${pageSize} | ours ${median(ours).toFixed(0)} ms | loop ${median(loop).toFixed(0)} ms | ${(median(loop) / median(ours)).toFixed(2)}× | |`)
      db.close()
      await runtime.dispose()
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  console.log(`## SQLite page size, reads ("full"; load ${loadBefore.map((l) => l.toFixed(2)).join(" ")} → ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`)
  console.log("| jobs | page | by state ms | next page ms | by trace ms | claim ms |")
  console.log("|---|---|---|---|---|---|")
  for (const row of rows) console.log(row)
}

runMain(process.argv[2] === "reads" ? reads : main)
