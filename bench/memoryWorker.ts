/**
 * The worker process of the memory section (bench/memory.ts), started as
 * `node --expose-gc --import tsx bench/memoryWorker.ts '<config JSON>'`:
 * a `Jobs.worker` pool of `concurrency` loops runs `jobs` queued jobs (already
 * in the database) with a handler that does nothing, and the heap used is
 * sampled after a full GC before the pool starts and, from the handler,
 * each time another `jobs / samples` jobs have started. Prints one JSON line: the samples, and
 * how many jobs are still unfinished after the pool shut down (should be 0).
 */
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { Jobs } from "../src/Jobs.js"
import { JobStore } from "../src/store/JobStore.js"
import { type Target, withServices } from "./app.js"

/** What the parent passes. */
export interface MemoryWorkerConfig {
  readonly target: Target
  readonly jobs: number
  readonly concurrency: number
  readonly samples: number
}

/** One heap sample. */
export interface HeapSample {
  /** Jobs started when the sample was taken. */
  readonly jobs: number
  readonly seconds: number
  readonly heapUsedMiB: number
}

/** The process's report. */
export interface MemoryWorkerReport {
  readonly samples: ReadonlyArray<HeapSample>
  readonly unfinished: number
  readonly seconds: number
}

const gc = (globalThis as { gc?: () => void }).gc

const heapAfterGc = (): number => {
  if (gc === undefined) throw new Error("run with --expose-gc")
  gc()
  return Number((process.memoryUsage().heapUsed / 2 ** 20).toFixed(2))
}

const main = async (config: MemoryWorkerConfig): Promise<MemoryWorkerReport> => {
  const began = performance.now()
  const seconds = () => Number(((performance.now() - began) / 1000).toFixed(1))
  const samples: Array<HeapSample> = []
  let started = 0
  const every = Math.max(1, Math.floor(config.jobs / config.samples))
  const unfinished = await withServices(config.target, Effect.gen(function*() {
    const jobs = yield* Jobs
    const store = yield* JobStore
    samples.push({ jobs: 0, seconds: seconds(), heapUsedMiB: heapAfterGc() })
    yield* Effect.scoped(Effect.gen(function*() {
      // Sampled from the handler itself: on SQLite the pool's fibers keep the
      // event loop busy, and a sampler waiting on a timer would hardly run.
      yield* jobs.worker({
        concurrency: config.concurrency,
        pollInterval: "50 millis",
        handler: () =>
          Effect.sync(() => {
            started++
            if (started % every === 0 || started === config.jobs) {
              samples.push({ jobs: started, seconds: seconds(), heapUsedMiB: heapAfterGc() })
            }
          })
      })
      while (started < config.jobs) yield* Effect.sleep("50 millis")
    }))
    // The pool has drained (its scope closed): every job should have finished.
    const left = yield* store.listJobs({ states: ["queued", "running"], limit: 1000 })
    return left.items.length
  }))
  return { samples, unfinished, seconds: seconds() }
}

const config = JSON.parse(process.argv[2] ?? "{}") as MemoryWorkerConfig
main(config).then(
  (report) => {
    process.stdout.write(JSON.stringify(report) + "\n")
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
