/**
 * 5. Queries: `listJobs` by state (first page and the next page through its
 * cursor) and by `trace_id`, at 10k and at 1M jobs (states spread evenly,
 * four jobs per trace); and `Jobs.claimNext` with 10k and with 1M jobs
 * queued (its own database, every job queued). Each figure is the median
 * latency of many calls, after a round of them not counted and, on
 * PostgreSQL, a CHECKPOINT after the load; the two sizes are sampled
 * interleaved.
 */
import { performance } from "node:perf_hooks"
import type * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { TraceId } from "../src/domain/Ids.js"
import { Jobs } from "../src/Jobs.js"
import { type JobFilter, JobStore } from "../src/store/JobStore.js"
import { type BenchContext, freshTarget, migrateTarget, servicesLayer, type Target } from "./app.js"
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

/** One size's database open for the samples: its calls, each with a name; `one` runs one call of one kind. */
interface Subject {
  readonly size: number
  readonly kinds: ReadonlyArray<readonly [key: string, name: string]>
  readonly one: (key: string) => Promise<unknown>
  readonly close: () => Promise<void>
}

/** The listings on a loaded `target` (the fixture checked: a full first page, a trace of four). */
const listings = async (target: Target, size: number): Promise<Subject> => {
  const runtime = ManagedRuntime.make(servicesLayer(target))
  const store = await runtime.runPromise(JobStore)
  const run = <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect)
  // A trace in the middle of the table: its four jobs are spread over no particular page.
  const traceId = fixtureId(PREFIX.trace, Math.floor(size / 8)) as TraceId
  const firstPage = await run(store.listJobs({ states: ["queued"], limit: PAGE }))
  const cursor = firstPage.next_cursor
  if (cursor === null || firstPage.items.length !== PAGE) throw new Error("fixture has too few queued jobs")
  const byTrace = await run(store.listJobs({ trace_id: traceId }))
  if (byTrace.items.length !== 4) throw new Error(`trace ${traceId} has ${byTrace.items.length} jobs, expected 4`)
  const queries: ReadonlyArray<readonly [string, string, JobFilter]> = [
    ["state", `by state, first page of ${PAGE}`, { states: ["queued"], limit: PAGE }],
    ["state_next", `by state, next page of ${PAGE} (cursor)`, { states: ["queued"], limit: PAGE, cursor }],
    ["trace", "by trace_id (4 jobs)", { trace_id: traceId }]
  ]
  const filters = new Map(queries.map(([key, , filter]) => [key, filter]))
  return {
    size,
    kinds: queries.map(([key, name]) => [key, name] as const),
    one: (key) => run(store.listJobs(filters.get(key)!)),
    close: () => runtime.dispose()
  }
}

/** `Jobs.claimNext` (claim, run row, events, commit) on a loaded, all-queued `target`. */
const claims = async (target: Target, size: number): Promise<Subject> => {
  const runtime = ManagedRuntime.make(servicesLayer(target))
  const jobs = await runtime.runPromise(Jobs)
  return {
    size,
    kinds: [["claim", "claim"]],
    one: async () => {
      if ((await runtime.runPromise(jobs.claimNext())) === null) throw new Error("the queue ran dry")
    },
    close: () => runtime.dispose()
  }
}

/**
 * Median latency (ms) of each kind of call at each size, one sample (the
 * median of `queryCalls` calls) per repetition. The sizes are sampled
 * interleaved, the order alternating rep by rep, after a round of every call
 * not counted (the pool's connections, their named statements, the JIT): a
 * figure at 1M and its figure at 10k then see the same process and machine,
 * which sampling one size minutes after the other did not (the ratio moved
 * from 1.2× to 2.5× between runs of the same code that way).
 */
const sampleInterleaved = async (ctx: BenchContext, subjects: ReadonlyArray<Subject>) => {
  const timed = async (subject: Subject, key: string) => {
    const times: Array<number> = []
    for (let i = 0; i < ctx.mode.queryCalls; i++) {
      const start = performance.now()
      await subject.one(key)
      times.push(performance.now() - start)
    }
    return median(times)
  }
  for (const subject of subjects) for (const [key] of subject.kinds) await timed(subject, key)
  const out = new Map<Subject, Map<string, Array<number>>>(subjects.map((subject) => [subject, new Map()]))
  for (let rep = 0; rep < ctx.mode.reps; rep++) {
    for (const subject of rep % 2 === 0 ? subjects : [...subjects].reverse()) {
      for (const [key] of subject.kinds) {
        const bySubject = out.get(subject)!
        bySubject.set(key, [...(bySubject.get(key) ?? []), await timed(subject, key)])
      }
    }
  }
  return out
}

/** A fresh database of `dialect` loaded with `size` jobs (`state` as the fixture says). */
const loaded = async (ctx: BenchContext, dialect: "sqlite" | "pg", name: string, size: number, state: "mixed" | "queued") => {
  const target = await freshTarget(ctx, dialect, name)
  await migrateTarget(target)
  ctx.log(`queries/${dialect}: loading ${size} ${state === "queued" ? "queued " : ""}jobs`)
  await load(target, size, state)
  return target
}

/** Runs the query benchmarks at each size on both dialects. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const out: Array<Measurement> = []
  for (const dialect of ["sqlite", "pg"] as const) {
    const listTargets = new Map<number, Target>()
    const claimTargets = new Map<number, Target>()
    for (const size of ctx.mode.querySizes) {
      listTargets.set(size, await loaded(ctx, dialect, `queries_${dialect}_${size}`, size, "mixed"))
      claimTargets.set(size, await loaded(ctx, dialect, `claims_${dialect}_${size}`, size, "queued"))
    }
    ctx.log(`queries/${dialect}: listing at ${ctx.mode.querySizes.join(" and ")}, interleaved`)
    const lists = await Promise.all(ctx.mode.querySizes.map((size) => listings(listTargets.get(size)!, size)))
    try {
      for (const [subject, byKey] of await sampleInterleaved(ctx, lists)) {
        for (const [key, name] of subject.kinds) {
          out.push(measurement({
            id: `queries.${dialect}.${key}.${subject.size}`,
            section: "queries",
            name: `list ${name}, ${subject.size.toLocaleString("en-US")} jobs`,
            system: "ours (JobStore.listJobs)",
            dialect,
            unit: "ms",
            params: { jobs: subject.size, calls: ctx.mode.queryCalls },
            samples: byKey.get(key)!
          }))
        }
      }
    } finally {
      for (const subject of lists) await subject.close()
    }
    ctx.log(`queries/${dialect}: claiming at ${ctx.mode.querySizes.join(" and ")}, interleaved`)
    const claimers = await Promise.all(ctx.mode.querySizes.map((size) => claims(claimTargets.get(size)!, size)))
    try {
      for (const [subject, byKey] of await sampleInterleaved(ctx, claimers)) {
        out.push(measurement({
          id: `queries.${dialect}.claim.${subject.size}`,
          section: "queries",
          name: `claim the next queued job (Jobs.claimNext: claim, run, events, commit), ${subject.size.toLocaleString("en-US")} queued`,
          system: "ours (Jobs.claimNext)",
          dialect,
          unit: "ms",
          params: { jobs: subject.size, queued: subject.size, calls: ctx.mode.queryCalls },
          samples: byKey.get("claim")!
        }))
      }
    } finally {
      for (const subject of claimers) await subject.close()
    }
  }
  return out
}
