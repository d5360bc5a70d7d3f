/**
 * 7. SQLite durability (issue 16): the store's `durability` option, "full"
 * (the default: every commit fsynced) and "normal" (WAL fsynced only at
 * checkpoints), side by side in one run. For each: creating a job one at a
 * time against the raw driver at the same `PRAGMA synchronous`, and one
 * job's whole lifecycle with one worker (every audit event written) against
 * SqlPersistedQueue at the same setting. Durabilities and systems are
 * interleaved repetition by repetition, so drift hits all alike, after a
 * warm-up of `warmupLifecycles` creates and lifecycles per system, not counted.
 *
 * The other sections run SQLite at the store's default; `storeSettings`
 * reads back what that is, for the report.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqliteStore from "../src/store/SqliteJobStore.js"
import { JobStore } from "../src/store/JobStore.js"
import { type BenchContext, freshTarget, migrateTarget, type Target, withServices } from "./app.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { rawSqliteInsert } from "./baselines/rawInsert.js"
import { newJob } from "./create.js"
import { openSqlite } from "./drivers.js"
import { type Measurement, measurement, repeatedly, repeatedlyEffect, throughput, throughputEffect } from "./harness.js"
import { oneLifecycle } from "./lifecycle.js"

const DURABILITIES: ReadonlyArray<SqliteStore.SqliteDurability> = ["full", "normal"]

/** What a commit survives at each durability (the README's table, in one sentence each). */
export const SURVIVES: Record<SqliteStore.SqliteDurability, string> = {
  full: "every commit is fsynced before it returns: a committed change and its events survive a process crash, an OS crash and a power loss",
  normal:
    "commits are written to the WAL and fsynced only at checkpoints: a process crash loses nothing, an OS crash or power loss may roll back the last commits (never corrupting the file or splitting a change from its events)"
}

/** The journal mode and synchronous level our store's connection runs with when given no `durability`. */
export const storeSettings = (filename: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(SqliteStore.layerFromClient().pipe(Layer.provideMerge(SqliteClient.layer({ filename }))))
    const sql = Context.get(context, SqlClient.SqlClient)
    const [journal] = yield* sql<{ readonly journal_mode: string }>`PRAGMA journal_mode`
    const [synchronous] = yield* sql<{ readonly synchronous: number }>`PRAGMA synchronous`
    const level = Number(synchronous?.synchronous)
    return {
      journalMode: String(journal?.journal_mode),
      synchronous: level === 2 ? "FULL" : level === 1 ? "NORMAL" : String(level),
      durability: level === 2 ? "full" : level === 1 ? "normal" : `synchronous=${level}`
    }
  })))

/**
 * How a system's operation is run — `warmupLifecycles` calls, or a time-boxed sample (its calls a second) — for
 * a Promise (the raw driver, with no Effect around it) and for an Effect.
 */
interface Loop<A> {
  readonly promise: (op: () => Promise<unknown>) => Promise<A>
  readonly effect: <E, R>(op: () => Effect.Effect<unknown, E, R>) => Effect.Effect<A, E, R>
}

/** Runs both durabilities, create and lifecycle, ours and the baselines. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const { reps, sampleMs } = ctx.mode
  const samples = new Map<string, Array<number>>()
  const push = (id: string, value: number) => samples.set(id, [...(samples.get(id) ?? []), value])
  const files = new Map<SqliteStore.SqliteDurability, { raw: string; create: Target; lifecycle: Target; queue: string }>()
  for (const durability of DURABILITIES) {
    const raw = await freshTarget(ctx, "sqlite", `durability_raw_${durability}`)
    await migrateTarget(raw)
    const queue = await freshTarget(ctx, "sqlite", `durability_queue_${durability}`)
    const create = await freshTarget(ctx, "sqlite", `durability_create_${durability}`)
    const lifecycle = await freshTarget(ctx, "sqlite", `durability_lifecycle_${durability}`)
    if (raw.dialect !== "sqlite" || queue.dialect !== "sqlite" || create.dialect !== "sqlite" || lifecycle.dialect !== "sqlite") {
      throw new Error("unreachable")
    }
    files.set(durability, {
      raw: raw.filename,
      create: { ...create, durability },
      lifecycle: { ...lifecycle, durability },
      queue: queue.filename
    })
  }
  /**
   * Each system at one durability, in a fixed order, each driven by `loop` (a warm-up or a sample) with one
   * call of its operation: what `loop` returns, by system.
   */
  const eachSystem = async <A>(durability: SqliteStore.SqliteDurability, loop: Loop<A>) => {
    const f = files.get(durability)
    if (f === undefined) throw new Error("unreachable")
    const db = openSqlite(f.raw, durability)
    let rawFigure: A
    try {
      const raw = rawSqliteInsert(db)
      rawFigure = await loop.promise(async () => void raw.insertOne())
    } finally {
      db.close()
    }
    return {
      "create.raw": rawFigure,
      "create.ours": await withServices(f.create, Effect.flatMap(JobStore, (store) => loop.effect(() => store.createJob(newJob)))),
      "lifecycle.ours": await withServices(f.lifecycle, loop.effect(() => oneLifecycle)),
      "lifecycle.queue": await Effect.runPromise(Effect.scoped(
        Effect.flatMap(
          Layer.build(PersistedQueueBench.layer.pipe(Layer.provide(PersistedQueueBench.sqliteClient(f.queue, durability)))),
          (context) => Effect.provide(Effect.flatMap(PersistedQueueBench.makeQueue, (queue) => loop.effect(() => PersistedQueueBench.queueCycle(queue))), context)
        )
      ))
    }
  }
  // Every system warmed alike at each durability, not counted, as the lifecycle section does (bench/warmupCurve.ts).
  const warmup = ctx.mode.warmupLifecycles
  ctx.log(`durability/sqlite: warm-up, ${warmup} creates and lifecycles per system at each durability`)
  const warming: Loop<void> = { promise: (op) => repeatedly(1, warmup, op), effect: (op) => repeatedlyEffect(1, warmup, op) }
  for (const durability of DURABILITIES) await eachSystem(durability, warming)
  const sampling: Loop<number> = { promise: (op) => throughput(1, sampleMs, op), effect: (op) => throughputEffect(1, sampleMs, op) }
  for (let rep = 0; rep < reps; rep++) {
    ctx.log(`durability/sqlite: sample ${rep + 1}/${reps}`)
    for (const durability of DURABILITIES) {
      const figures = await eachSystem(durability, sampling)
      for (const [key, value] of Object.entries(figures)) push(`${durability}.${key}`, value)
    }
  }
  const what = {
    create: ["create one at a time", { raw: "raw better-sqlite3", ours: "ours (JobStore.createJob)" }],
    lifecycle: ["lifecycle, 1 worker", { queue: "SqlPersistedQueue", ours: "ours (submit → claim → heartbeat → complete)" }]
  } as const
  const out: Array<Measurement> = []
  for (const [key, values] of samples) {
    const [durability, figure, system] = key.split(".") as [SqliteStore.SqliteDurability, keyof typeof what, string]
    const [name, systems] = what[figure]
    out.push(measurement({
      id: `durability.sqlite.${key}`,
      section: "durability",
      name: `${name}, durability "${durability}"`,
      system: (systems as Record<string, string>)[system] ?? system,
      dialect: "sqlite",
      unit: "jobs/s",
      params: { durability, workers: 1 },
      samples: values
    }))
  }
  return out
}
