/**
 * 1. Create: jobs created per second, one at a time and batched, on SQLite
 * and PostgreSQL, against the raw driver inserting the same row. Also
 * `Jobs.submit` (capability check, audit events), which is what applications call.
 */
import * as Effect from "effect/Effect"
import type { NewAiJob } from "../src/domain/AiJob.js"
import { Jobs } from "../src/Jobs.js"
import { JobStore } from "../src/store/JobStore.js"
import { type BenchContext, freshTarget, migrateTarget, type Target, withServices } from "./app.js"
import { rawPgInsert, rawSqliteInsert } from "./baselines/rawInsert.js"
import { connectPg, openSqlite } from "./drivers.js"
import { NEW_JOB } from "./fixtures.js"
import { type Measurement, measurement, repeatedly, repeatedlyEffect, throughput, throughputEffect } from "./harness.js"

/** The job `createJob` stores: NEW_JOB with its defaults applied. */
export const newJob: NewAiJob = {
  ...NEW_JOB,
  entity_refs: [],
  planned_operations: [],
  status_reason: "",
  is_pinned: false
} as unknown as NewAiJob

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** The raw driver's two operations on `target`, and how to close it. */
const openRaw = async (target: Target) => {
  if (target.dialect === "sqlite") {
    const db = openSqlite(target.filename)
    const raw = rawSqliteInsert(db)
    return { one: async () => void raw.insertOne(), batch: async (n: number) => raw.insertBatch(n), close: async () => db.close() }
  }
  const client = await connectPg(target.url)
  const raw = rawPgInsert(client)
  return { one: raw.insertOne, batch: raw.insertBatch, close: () => client.end() }
}

/**
 * Samples of the raw driver and of ours, interleaved repetition by
 * repetition so that drift in the machine (disk flushes, other load) hits
 * both alike: createJob one at a time, createJobs of a batch (one write, one
 * transaction: the batch API of issue 16), and Jobs.submit — after a warm-up
 * of each, not counted: `warmupLifecycles` calls one at a time, a tenth as
 * many batches.
 */
const samples = async (ctx: BenchContext, rawTarget: Target, ourTarget: Target) => {
  const raw = await openRaw(rawTarget)
  const { reps, sampleMs, batch } = ctx.mode
  const out = { rawOne: [] as Array<number>, rawBatch: [] as Array<number>, one: [] as Array<number>, batch: [] as Array<number>, submit: [] as Array<number> }
  try {
    await withServices(ourTarget, Effect.gen(function*() {
      const store = yield* JobStore
      const jobs = yield* Jobs
      const jobsOfBatch = range(batch).map(() => newJob)
      // Every operation warmed alike, not counted, as the lifecycle section does (bench/warmupCurve.ts); batches
      // count a call, not a job.
      const warmup = ctx.mode.warmupLifecycles
      yield* Effect.promise(() => repeatedly(1, warmup, raw.one))
      yield* repeatedlyEffect(1, warmup, () => store.createJob(newJob))
      yield* Effect.promise(() => repeatedly(1, warmup / 10, () => raw.batch(batch)))
      yield* repeatedlyEffect(1, warmup / 10, () => store.createJobs(jobsOfBatch))
      yield* repeatedlyEffect(1, warmup, () => jobs.submit(NEW_JOB))
      for (let rep = 0; rep < reps; rep++) {
        out.rawOne.push(yield* Effect.promise(() => throughput(1, sampleMs, raw.one)))
        out.one.push(yield* throughputEffect(1, sampleMs, () => store.createJob(newJob)))
        out.rawBatch.push(batch * (yield* Effect.promise(() => throughput(1, sampleMs, () => raw.batch(batch)))))
        out.batch.push(batch * (yield* throughputEffect(1, sampleMs, () => store.createJobs(jobsOfBatch))))
        out.submit.push(yield* throughputEffect(1, sampleMs, () => jobs.submit(NEW_JOB)))
      }
    }))
  } finally {
    await raw.close()
  }
  return out
}

/** Runs the create benchmarks on both dialects. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const out: Array<Measurement> = []
  for (const dialect of ["sqlite", "pg"] as const) {
    const label = dialect === "sqlite" ? "raw better-sqlite3" : "raw pg"
    const rawTarget = await freshTarget(ctx, dialect, `create_raw_${dialect}`)
    await migrateTarget(rawTarget)
    ctx.log(`create/${dialect}: raw driver and ours, interleaved`)
    const ours = await samples(ctx, rawTarget, await freshTarget(ctx, dialect, `create_ours_${dialect}`))
    const raw = { one: ours.rawOne, batch: ours.rawBatch }
    const common = { section: "create", dialect, unit: "jobs/s" } as const
    out.push(
      measurement({ ...common, id: `create.${dialect}.one.raw`, name: "create one at a time", system: label, params: {}, samples: raw.one }),
      measurement({ ...common, id: `create.${dialect}.one.ours`, name: "create one at a time", system: "ours (JobStore.createJob)", params: {}, samples: ours.one }),
      measurement({ ...common, id: `create.${dialect}.batch.raw`, name: `create batched (${ctx.mode.batch} per transaction)`, system: label, params: { batch: ctx.mode.batch }, samples: raw.batch }),
      measurement({ ...common, id: `create.${dialect}.batch.ours`, name: `create batched (${ctx.mode.batch} per transaction)`, system: "ours (JobStore.createJobs)", params: { batch: ctx.mode.batch }, samples: ours.batch }),
      measurement({ ...common, id: `create.${dialect}.submit.ours`, name: "submit one at a time (capability check + 2 audit events)", system: "ours (Jobs.submit)", params: {}, samples: ours.submit })
    )
  }
  return out
}
