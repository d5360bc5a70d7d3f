/**
 * 9. Memory (issue 16): a worker process running 16 jobs at a time through
 * `Jobs.worker` for `memoryJobs` jobs (100k in a full run) keeps a flat heap.
 * The jobs are loaded queued, set-based; a child process
 * (bench/memoryWorker.ts, with --expose-gc) runs them and samples the heap
 * used after a full GC. Reported: the heap at the start, once the first tenth
 * of the jobs has run (caches and pools are warm by then), in the middle and
 * at the end; the least-squares slope over everything after the first tenth;
 * and the verdict: flat when that slope, over the whole run, adds no more
 * than 10% of the heap at the first tenth.
 *
 * This section measures memory, not speed: commits are not fsynced here
 * (SQLite at `durability: "normal"`, the PostgreSQL database with
 * `synchronous_commit = off`), so 100k jobs take minutes, not an hour, on a
 * loaded disk. The heap does not depend on it.
 */
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { type BenchContext, freshTarget, migrateTarget, type Target } from "./app.js"
import { connectPg } from "./drivers.js"
import { loadJobs } from "./fixtures.js"
import { type Measurement, measurement } from "./harness.js"
import type { HeapSample, MemoryWorkerConfig, MemoryWorkerReport } from "./memoryWorker.js"
import { childScript, projectRoot } from "./paths.js"

const execFileAsync = promisify(execFile)
const worker = childScript("memoryWorker")

const CONCURRENCY = 16
const SAMPLES = 40
/** Growth over the run, as a share of the warm heap, still called flat. */
const FLAT = 0.1

/** Loads `count` queued jobs (created a day ago: all eligible now). */
const load = async (target: Target, count: number): Promise<void> => {
  await loadJobs(target, { count, state: "queued", startMs: Date.now() - 86_400_000, jobsPerTrace: 1 })
  if (target.dialect !== "pg") return
  const client = await connectPg(target.url)
  try {
    // New sessions of this database (the worker's) commit without waiting for the WAL flush.
    await client.query(`ALTER DATABASE "${new URL(target.url).pathname.slice(1)}" SET synchronous_commit = off`)
  } finally {
    await client.end()
  }
}

/** Least-squares slope of heap (MiB) against jobs. */
const slope = (samples: ReadonlyArray<HeapSample>): number => {
  const n = samples.length
  if (n < 2) return Number.NaN
  const mx = samples.reduce((a, s) => a + s.jobs, 0) / n
  const my = samples.reduce((a, s) => a + s.heapUsedMiB, 0) / n
  const sxy = samples.reduce((a, s) => a + (s.jobs - mx) * (s.heapUsedMiB - my), 0)
  const sxx = samples.reduce((a, s) => a + (s.jobs - mx) ** 2, 0)
  return sxx === 0 ? Number.NaN : sxy / sxx
}

/** The heap figures and verdict of one worker process's samples. */
export const heapFigures = (samples: ReadonlyArray<HeapSample>, jobs: number) => {
  const warm = samples.filter((s) => s.jobs >= jobs / 10)
  const first = warm[0]
  const middle = warm[Math.floor(warm.length / 2)]
  const last = warm[warm.length - 1]
  const perJob = slope(warm)
  const growth = perJob * jobs
  // A slope needs a few points; with fewer there is no verdict.
  const verdict = warm.length < 5 || first === undefined || !Number.isFinite(growth)
    ? "too few samples"
    : growth <= FLAT * first.heapUsedMiB
    ? "flat"
    : "growing"
  return {
    start: samples[0]?.heapUsedMiB ?? Number.NaN,
    warm: first?.heapUsedMiB ?? Number.NaN,
    middle: middle?.heapUsedMiB ?? Number.NaN,
    end: last?.heapUsedMiB ?? Number.NaN,
    kibPer10kJobs: perJob * 10_000 * 1024,
    verdict
  }
}

/** Runs the worker process on `target` and measures its heap. */
const measure = async (ctx: BenchContext, target: Target): Promise<Measurement> => {
  const jobs = ctx.mode.memoryJobs
  await migrateTarget(target)
  ctx.log(`memory/${target.dialect}: loading ${jobs} queued jobs`)
  await load(target, jobs)
  ctx.log(`memory/${target.dialect}: a worker process runs them, ${CONCURRENCY} at a time`)
  const config: MemoryWorkerConfig = { target, jobs, concurrency: CONCURRENCY, samples: SAMPLES }
  const { stdout } = await execFileAsync(
    process.execPath,
    ["--expose-gc", ...worker.execArgv, worker.file, JSON.stringify(config)],
    { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024 }
  )
  const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as MemoryWorkerReport
  if (report.unfinished !== 0) throw new Error(`memory/${target.dialect}: ${report.unfinished} jobs unfinished after the pool drained`)
  const figures = heapFigures(report.samples, jobs)
  return measurement({
    id: `memory.${target.dialect}.worker`,
    section: "memory",
    name: `heap used after GC, a worker process running ${jobs.toLocaleString("en-US")} jobs ${CONCURRENCY} at a time`,
    system: "ours (Jobs.worker)",
    dialect: target.dialect,
    unit: "MiB",
    better: "lower",
    params: { jobs, concurrency: CONCURRENCY, durability: target.dialect === "sqlite" ? "normal" : "synchronous_commit=off" },
    samples: report.samples.map((s) => s.heapUsedMiB),
    extra: {
      heap_before_the_first_job_MiB: figures.start,
      heap_after_the_first_tenth_MiB: figures.warm,
      heap_in_the_middle_MiB: figures.middle,
      heap_at_the_end_MiB: figures.end,
      slope_KiB_per_10k_jobs: Number(figures.kibPer10kJobs.toFixed(1)),
      jobs_per_second: Number((jobs / report.seconds).toFixed(0)),
      verdict: figures.verdict
    }
  })
}

/** Runs the memory measurement on SQLite and PostgreSQL. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const sqlite = await freshTarget(ctx, "sqlite", "memory")
  if (sqlite.dialect !== "sqlite") throw new Error("unreachable")
  return [
    await measure(ctx, { ...sqlite, durability: "normal" }),
    await measure(ctx, await freshTarget(ctx, "pg", "memory"))
  ]
}
