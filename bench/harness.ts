/**
 * The benchmark harness: run modes and sizes, repetitions and medians,
 * time-boxed throughput loops (Promise and Effect flavours), latency
 * percentiles, and the description of the machine a run happened on.
 */
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/** The report's sections, in the order main.ts runs them. */
export type Section =
  | "create"
  | "lifecycle"
  | "recovery"
  | "recorder"
  | "queries"
  | "pickup"
  | "durability"
  | "statements"
  | "memory"

/** One measured figure: every sample and their median. */
export interface Measurement {
  /** Stable key, used by comparisons and in results.json. */
  readonly id: string
  readonly section: Section
  /** What was measured, in words. */
  readonly name: string
  /** Whose code did it: `ours`, `raw better-sqlite3`, `pg-boss`, ... */
  readonly system: string
  readonly dialect: "sqlite" | "pg"
  readonly unit: "ops/s" | "jobs/s" | "events/s" | "ms" | "per job" | "MiB"
  /** Whether a higher number is better (throughput) or a lower one (time). */
  readonly better: "higher" | "lower"
  readonly params: Readonly<Record<string, number | string>>
  readonly samples: ReadonlyArray<number>
  readonly median: number
  /** Extra figures (percentiles, counts) that belong to this measurement. */
  readonly extra?: Readonly<Record<string, number | string>>
}

/** Sizes and durations of one run. */
export interface Mode {
  readonly name: "quick" | "full"
  /** Repetitions of each measurement (the median is reported). */
  readonly reps: number
  /** Length of one time-boxed throughput sample, ms. */
  readonly sampleMs: number
  /** Jobs per batch in the batched create. */
  readonly batch: number
  /** Concurrent workers in the lifecycle comparison. */
  readonly workers: ReadonlyArray<number>
  /**
   * Lifecycles each system runs, not counted, at each worker count before the
   * lifecycle section samples: V8 optimizes a function only after it has run
   * often, and every system's client is still compiling for its first
   * thousand or more lifecycles (bench/warmupCurve.ts). A worker in service
   * is past that; a short sample taken before it measures the JIT.
   */
  readonly warmupLifecycles: number
  /** Repetitions of the recovery comparison (the per-row loop is slow). */
  readonly recoveryReps: number
  readonly recoveryTotal: number
  readonly recoveryStale: number
  readonly purgeEvents: number
  readonly querySizes: ReadonlyArray<number>
  /** Query calls per sample. */
  readonly queryCalls: number
  /** Jobs submitted, one at a time, per pickup-latency measurement. */
  readonly pickupSamples: number
  /** Pickups each system of the interleaved pair runs back to back, not counted, before it samples (the JIT's warm-up). */
  readonly warmupPickups: number
  /** Lifecycles counted per system in the statements-per-job section. */
  readonly statementJobs: number
  /** Jobs the worker process runs in the memory section (issue 16 asks for 100k). */
  readonly memoryJobs: number
}

/** The full run: the sizes. */
export const FULL: Mode = {
  name: "full",
  reps: 5,
  sampleMs: 3_000,
  batch: 100,
  workers: [1, 4, 16],
  warmupLifecycles: 1_000,
  recoveryReps: 3,
  recoveryTotal: 100_000,
  recoveryStale: 10_000,
  purgeEvents: 1_000_000,
  querySizes: [10_000, 1_000_000],
  queryCalls: 100,
  pickupSamples: 120,
  warmupPickups: 1_000,
  statementJobs: 500,
  memoryJobs: 100_000
}

/** `--quick`: a smoke run, same code paths, small sizes. */
export const QUICK: Mode = {
  name: "quick",
  reps: 2,
  sampleMs: 750,
  batch: 50,
  workers: [1, 4, 16],
  warmupLifecycles: 100,
  recoveryReps: 2,
  recoveryTotal: 5_000,
  recoveryStale: 500,
  purgeEvents: 20_000,
  querySizes: [10_000, 50_000],
  queryCalls: 50,
  pickupSamples: 40,
  warmupPickups: 100,
  statementJobs: 100,
  memoryJobs: 10_000
}

/** Median of a non-empty list. */
export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** The p-th percentile (nearest rank) of a non-empty list. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

/** Builds a measurement from its samples. */
export const measurement = (
  fields: Omit<Measurement, "median" | "better"> & { readonly better?: Measurement["better"] }
): Measurement => ({
  ...fields,
  better: fields.better ?? (fields.unit === "ms" ? "lower" : "higher"),
  median: median(fields.samples)
})

/** Wall time of `fn`, ms. */
export const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/**
 * Operations per second of `workers` concurrent loops of `op` for `durationMs`
 * (operations still running at the deadline are awaited and counted).
 */
export const throughput = async (workers: number, durationMs: number, op: (worker: number) => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  const deadline = start + durationMs
  let count = 0
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    while (performance.now() < deadline) {
      await op(worker)
      count++
    }
  }))
  return count / ((performance.now() - start) / 1000)
}

/** `total` calls of `op` shared by `workers` concurrent loops, awaited (a warm-up: nothing is measured). */
export const repeatedly = async (workers: number, total: number, op: () => Promise<unknown>): Promise<void> => {
  let left = total
  await Promise.all(Array.from({ length: workers }, async () => {
    while (left > 0) {
      left--
      await op()
    }
  }))
}

/** `repeatedly` for an Effect operation: `workers` fibers share `total` calls of `op`. */
export const repeatedlyEffect = <E, R>(workers: number, total: number, op: () => Effect.Effect<unknown, E, R>): Effect.Effect<void, E, R> =>
  Effect.suspend(() => {
    let left = total
    return Effect.all(
      Array.from({ length: workers }, () =>
        Effect.whileLoop({
          while: () => left > 0,
          body: () => {
            left--
            return op()
          },
          step: () => {}
        })),
      { concurrency: "unbounded", discard: true }
    )
  })

/** `throughput` for an Effect operation: `workers` fibers loop on `op` until the deadline. */
export const throughputEffect = <E, R>(
  workers: number,
  durationMs: number,
  op: (worker: number) => Effect.Effect<unknown, E, R>
): Effect.Effect<number, E, R> =>
  Effect.gen(function*() {
    const start = performance.now()
    const deadline = start + durationMs
    let count = 0
    const loop = (worker: number) =>
      Effect.whileLoop({
        while: () => performance.now() < deadline,
        body: () => op(worker),
        step: () => {
          count++
        }
      })
    const fibers = yield* Effect.forEach(Array.from({ length: workers }, (_, i) => i), (i) => Effect.fork(loop(i)))
    yield* Fiber.joinAll(fibers)
    return count / ((performance.now() - start) / 1000)
  })

/**
 * Latencies (ms) of `op` called every `paceMs` (after the previous call
 * ends) until `until` says stop: a steady background load, not a flood.
 */
export const latencies = <E, R>(
  op: Effect.Effect<unknown, E, R>,
  until: () => boolean,
  paceMs: number
): Effect.Effect<Array<number>, E, R> =>
  Effect.gen(function*() {
    const out: Array<number> = []
    while (!until()) {
      const start = performance.now()
      yield* op
      out.push(performance.now() - start)
      yield* Effect.sleep(paceMs)
    }
    return out
  })

/** The 1-minute load average now, rounded (other work on the machine skews every figure). */
export const loadAverage = (): number => Number((os.loadavg()[0] ?? 0).toFixed(2))

/** The machine, as BENCHMARKS.md describes it. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly date: string
  /** 1-minute load average when the run started (other work on the machine skews every figure). */
  readonly loadAverage: number
}

/** Describes this machine from `os`. */
export const machine = (): Machine => ({
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  date: new Date().toISOString(),
  loadAverage: loadAverage()
})

/** Progress on stderr with the time since start, so a long run shows where it is. */
export const makeLog = (): (message: string) => void => {
  const start = performance.now()
  return (message) => {
    const secs = ((performance.now() - start) / 1000).toFixed(1).padStart(7)
    process.stderr.write(`[${secs}s] ${message}\n`)
  }
}
