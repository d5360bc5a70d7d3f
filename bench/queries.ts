/**
 * 5. Queries: `listJobs` by state (first page and the next page through its
 * cursor) and by `trace_id`, at 10k and at 1M jobs (states spread evenly,
 * four jobs per trace); and `Jobs.claimNext` with 10k and with 1M jobs
 * queued (its own database, every job queued). Each figure is the median
 * latency of many calls, after a round of them not counted and, on
 * PostgreSQL, a CHECKPOINT after the load.
 */
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import type { TraceId } from "../src/domain/Ids.js"
import { Jobs } from "../src/Jobs.js"
import { type JobFilter, JobStore } from "../src/store/JobStore.js"
import { type BenchContext, freshTarget, migrateTarget, type Target, withServices } from "./app.js"
import { connectPg } from "./drivers.js"
import { fixtureId, loadJobs, PREFIX } from "./fixtures.js"
import { type Measurement, measurement, median } from "./harness.js"

const PAGE = 100

/**
 * Loads `count` jobs, states spread evenly (or all queued), four per trace;
 * on PostgreSQL then a CHECKPOINT, so the samples measure the queries, not the
 * server writing the load's million rows back while they run.
 */
const load = async (target: Target, count: number, state: "mixed" | "queued" = "mixed"): Promise<void> => {
  await loadJobs(target, { count, state, startMs: Date.UTC(2025, 0, 1), jobsPerTrace: 4 })
  if (target.dialect !== "pg") return
  const client = await connectPg(target.url)
  try {
    await client.query("CHECKPOINT")
  } finally {
    await client.end()
  }
}

/** Median latency (ms) of each query, one sample per repetition. */
const sample = (ctx: BenchContext, target: Target, size: number) =>
  withServices(target, Effect.gen(function*() {
    const store = yield* JobStore
    // A trace in the middle of the table: its four jobs are spread over no particular page.
    const traceId = fixtureId(PREFIX.trace, Math.floor(size / 8)) as TraceId
    const firstPage = yield* store.listJobs({ states: ["queued"], limit: PAGE })
    const cursor = firstPage.next_cursor
    if (cursor === null || firstPage.items.length !== PAGE) return yield* Effect.die(new Error("fixture has too few queued jobs"))
    const byTrace = yield* store.listJobs({ trace_id: traceId })
    if (byTrace.items.length !== 4) return yield* Effect.die(new Error(`trace ${traceId} has ${byTrace.items.length} jobs, expected 4`))
    const queries: ReadonlyArray<readonly [string, string, JobFilter]> = [
      ["state", `by state, first page of ${PAGE}`, { states: ["queued"], limit: PAGE }],
      ["state_next", `by state, next page of ${PAGE} (cursor)`, { states: ["queued"], limit: PAGE, cursor }],
      ["trace", "by trace_id (4 jobs)", { trace_id: traceId }]
    ]
    // One round of each query first, not counted: the pool's connections, their named statements, the JIT.
    for (const [, , filter] of queries) for (let i = 0; i < ctx.mode.queryCalls; i++) yield* store.listJobs(filter)
    const out = new Map<string, { name: string; samples: Array<number> }>()
    for (let rep = 0; rep < ctx.mode.reps; rep++) {
      for (const [key, name, filter] of queries) {
        const times: Array<number> = []
        for (let i = 0; i < ctx.mode.queryCalls; i++) {
          const start = performance.now()
          yield* store.listJobs(filter)
          times.push(performance.now() - start)
        }
        const entry = out.get(key) ?? { name, samples: [] }
        entry.samples.push(median(times))
        out.set(key, entry)
      }
    }
    return out
  }))

/** Median latency (ms) of `Jobs.claimNext` (claim, run row, events, commit), one sample per repetition. */
const sampleClaims = (ctx: BenchContext, target: Target) =>
  withServices(target, Effect.gen(function*() {
    const jobs = yield* Jobs
    // One round first, not counted, as for the listings.
    for (let i = 0; i < ctx.mode.queryCalls; i++) {
      if ((yield* jobs.claimNext()) === null) return yield* Effect.die(new Error("the queue ran dry"))
    }
    const samples: Array<number> = []
    for (let rep = 0; rep < ctx.mode.reps; rep++) {
      const times: Array<number> = []
      for (let i = 0; i < ctx.mode.queryCalls; i++) {
        const start = performance.now()
        const claim = yield* jobs.claimNext()
        times.push(performance.now() - start)
        if (claim === null) return yield* Effect.die(new Error("the queue ran dry"))
      }
      samples.push(median(times))
    }
    return samples
  }))

/** Runs the query benchmarks at each size on both dialects. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const out: Array<Measurement> = []
  for (const dialect of ["sqlite", "pg"] as const) {
    for (const size of ctx.mode.querySizes) {
      const target = await freshTarget(ctx, dialect, `queries_${dialect}_${size}`)
      await migrateTarget(target)
      ctx.log(`queries/${dialect}: loading ${size} jobs`)
      await load(target, size)
      ctx.log(`queries/${dialect}: querying at ${size}`)
      for (const [key, { name, samples }] of await sample(ctx, target, size)) {
        out.push(measurement({
          id: `queries.${dialect}.${key}.${size}`,
          section: "queries",
          name: `list ${name}, ${size.toLocaleString("en-US")} jobs`,
          system: "ours (JobStore.listJobs)",
          dialect,
          unit: "ms",
          params: { jobs: size, calls: ctx.mode.queryCalls },
          samples
        }))
      }
      const queued = await freshTarget(ctx, dialect, `claims_${dialect}_${size}`)
      await migrateTarget(queued)
      ctx.log(`queries/${dialect}: loading ${size} queued jobs, claiming`)
      await load(queued, size, "queued")
      out.push(measurement({
        id: `queries.${dialect}.claim.${size}`,
        section: "queries",
        name: `claim the next queued job (Jobs.claimNext: claim, run, events, commit), ${size.toLocaleString("en-US")} queued`,
        system: "ours (Jobs.claimNext)",
        dialect,
        unit: "ms",
        params: { jobs: size, queued: size, calls: ctx.mode.queryCalls },
        samples: await sampleClaims(ctx, queued)
      }))
    }
  }
  return out
}
