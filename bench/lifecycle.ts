/**
 * 2. Full lifecycle per second: submit → claim → one heartbeat → complete,
 * every audit event written (capability decision, queued, running,
 * completed), with 1, 4 and 16 concurrent workers. Against pg-boss
 * (send → fetch → complete) and SqlPersistedQueue (offer → take → complete)
 * on the same PostgreSQL server, and SqlPersistedQueue on SQLite. Each system
 * first runs `warmupLifecycles` lifecycles at each worker count, not counted
 * (the JIT's warm-up, bench/warmupCurve.ts). At one worker, the floor runs
 * beside them: our own statements sent with no JavaScript of ours (PostgreSQL:
 * the store's captured statements replayed raw, bench/pgReplay.ts; SQLite:
 * bench/sqliteReplayStatements.ts on better-sqlite3) — the most one worker of
 * this schema can reach, whatever the store's code.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Jobs } from "../src/Jobs.js"
import { type Claim, JobStore } from "../src/store/JobStore.js"
import { type BenchContext, freshTarget, migrateTarget, type Target, withServices } from "./app.js"
import { bossRepeatedly, bossThroughput, startBoss } from "./baselines/pgBoss.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { openSqlite } from "./drivers.js"
import { NEW_JOB } from "./fixtures.js"
import { type Measurement, measurement, repeatedly, repeatedlyEffect, throughput, throughputEffect } from "./harness.js"
import { captureLifecycle, replayer } from "./pgReplay.js"
import { capturedEvents, replayStatements } from "./sqliteReplayStatements.js"

type Samples = Map<string, Map<number, Array<number>>>

/**
 * One job's whole life through our API, every audit event written: submit,
 * claim, one heartbeat when `heartbeat`, complete. Another worker may have
 * taken the job just queued; there is always another one, so the claim is
 * retried.
 */
const jobLife = (heartbeat: boolean) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    yield* jobs.submit(NEW_JOB)
    let claim: Claim | null = null
    while (claim === null) claim = yield* jobs.claimNext()
    if (heartbeat) yield* (yield* JobStore).heartbeat(claim.run.id)
    yield* jobs.complete(claim.job.job_id)
  })

/** Submit, claim, one heartbeat, complete: the targets' figure. */
export const oneLifecycle = jobLife(true)

/**
 * The same without the heartbeat: the cycle the engine (`Jobs.worker`) runs
 * for a job that ends within its heartbeat interval (10 s by default; the
 * claim wrote the run's first heartbeat), and the shape of pg-boss's and
 * SqlPersistedQueue's cycles, which have no heartbeat.
 */
export const oneShortLifecycle = jobLife(false)

/** The floor at one worker: one lifecycle of our statements per call, no JavaScript of ours; `close` when done. */
interface Floor {
  readonly one: () => Promise<void>
  readonly close: () => Promise<void>
}

const push = (out: Samples, system: string, workers: number, value: number) => {
  const bySystem = out.get(system) ?? new Map<number, Array<number>>()
  bySystem.set(workers, [...(bySystem.get(workers) ?? []), value])
  out.set(system, bySystem)
}

/**
 * Ours, SqlPersistedQueue and (on PostgreSQL) pg-boss, each on its own fresh
 * database of the same server, interleaved: every repetition measures each
 * system at each worker count in turn, so drift hits all alike.
 */
const samples = (
  ctx: BenchContext,
  ours: Target,
  queueClient: Layer.Layer<SqlClient.SqlClient, unknown>,
  bossUrl: string | null,
  workerCounts: ReadonlyArray<number>,
  floor: Floor
): Promise<Samples> =>
  withServices(ours, Effect.gen(function*() {
    const queueContext = yield* Layer.build(PersistedQueueBench.layer.pipe(Layer.provide(queueClient)))
    const boss = bossUrl === null
      ? null
      : yield* Effect.acquireRelease(
        Effect.promise(() => startBoss(bossUrl)),
        ({ boss }) => Effect.promise(() => boss.stop({ graceful: false, wait: true }))
      )
    // Every system warmed alike at every worker count (its single and its concurrent paths), not counted.
    const warmup = ctx.mode.warmupLifecycles
    ctx.log(`lifecycle/${ours.dialect}: warm-up, ${warmup} lifecycles per system at each worker count`)
    for (const workers of workerCounts) {
      yield* repeatedlyEffect(workers, warmup, () => oneLifecycle)
      yield* repeatedlyEffect(workers, warmup, () => oneShortLifecycle)
      if (boss !== null) yield* Effect.promise(() => bossRepeatedly(boss.boss, boss.queue, workers, warmup))
      yield* Effect.provide(PersistedQueueBench.queueRepeatedly(workers, warmup), queueContext)
      if (workers === 1) yield* Effect.promise(() => repeatedly(1, warmup, floor.one))
    }
    const out: Samples = new Map()
    for (let rep = 0; rep < ctx.mode.reps; rep++) {
      ctx.log(`lifecycle/${ours.dialect}: sample ${rep + 1}/${ctx.mode.reps}`)
      for (const workers of workerCounts) {
        push(out, "ours", workers, yield* throughputEffect(workers, ctx.mode.sampleMs, () => oneLifecycle))
        push(out, "short", workers, yield* throughputEffect(workers, ctx.mode.sampleMs, () => oneShortLifecycle))
        if (boss !== null) push(out, "pgboss", workers, yield* Effect.promise(() => bossThroughput(boss.boss, boss.queue, workers, ctx.mode.sampleMs)))
        push(out, "queue", workers, yield* Effect.provide(PersistedQueueBench.queueThroughput(workers, ctx.mode.sampleMs), queueContext))
        if (workers === 1) push(out, "floor", workers, yield* Effect.promise(() => throughput(1, ctx.mode.sampleMs, floor.one)))
      }
    }
    return out
  }).pipe(Effect.ensuring(Effect.promise(floor.close))))

/** Runs the lifecycle comparison on PostgreSQL and SQLite. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const out: Array<Measurement> = []
  const add = (dialect: "sqlite" | "pg", system: string, key: string, samples: Map<number, Array<number>>, name: string) => {
    for (const [workers, values] of samples) {
      out.push(measurement({
        id: `lifecycle.${dialect}.w${workers}.${key}`,
        section: "lifecycle",
        name: `${name}, ${workers} worker${workers === 1 ? "" : "s"}`,
        system,
        dialect,
        unit: "jobs/s",
        params: { workers },
        samples: values
      }))
    }
  }
  const ours = "submit → claim → heartbeat → complete (4 audit events)"
  const systems = [
    ["ours", "ours", ours],
    ["short", "ours", "submit → claim → complete, no heartbeat (4 audit events; the engine's cycle for a job within its heartbeat interval)"],
    ["pgboss", "pg-boss 10", "send → fetch → complete"],
    ["queue", "SqlPersistedQueue", "offer → take → complete"],
    ["floor", "our statements sent raw (no JavaScript of ours)", "the same statements and commits as ours"]
  ] as const
  const record = (dialect: "sqlite" | "pg", all: Samples) => {
    for (const [key, system, name] of systems) {
      const bySystem = all.get(key)
      if (bySystem !== undefined) add(dialect, system, key, bySystem, name)
    }
  }

  const pgUrl = (name: string) => freshTarget(ctx, "pg", name).then((t) => (t as { readonly url: string }).url)
  const queueUrl = await pgUrl("lifecycle_queue")
  const pgStatements = await captureLifecycle(await pgUrl("lifecycle_capture"))
  const pgFloorUrl = await pgUrl("lifecycle_floor")
  await migrateTarget({ dialect: "pg", url: pgFloorUrl })
  record("pg", await samples(
    ctx,
    await freshTarget(ctx, "pg", "lifecycle_ours"),
    PgClient.layer({ url: Redacted.make(queueUrl) }),
    await pgUrl("lifecycle_pgboss"),
    ctx.mode.workers,
    await (async () => {
      const replay = await replayer(pgFloorUrl, pgStatements)
      return { one: replay.one, close: async () => void await replay.check().finally(replay.close) }
    })()
  ))

  // SQLite has one writer; more than a few in-process workers only queue on its lock.
  const sqliteFile = async (name: string) => (await freshTarget(ctx, "sqlite", name) as { readonly filename: string }).filename
  const queueFile = await sqliteFile("lifecycle_queue")
  const events = await capturedEvents(await sqliteFile("lifecycle_capture"))
  const floorFile = await sqliteFile("lifecycle_floor")
  await migrateTarget({ dialect: "sqlite", filename: floorFile })
  const floorDb = openSqlite(floorFile, "full")
  const { lifecycles } = replayStatements(floorDb, events)
  record("sqlite", await samples(
    ctx,
    await freshTarget(ctx, "sqlite", "lifecycle_ours"),
    // At our store's default durability ("full"), as ours runs.
    PersistedQueueBench.sqliteClient(queueFile, "full"),
    null,
    ctx.mode.workers.filter((w) => w <= 4),
    {
      one: async () => lifecycles(1, { k: 1, durability: "full" }),
      close: async () => {
        // Every replayed job really went through: none left queued or running.
        const { unfinished } = floorDb.prepare("SELECT count(*) AS unfinished FROM ai_jobs WHERE status <> 'completed'").get() as { unfinished: number }
        floorDb.close()
        if (unfinished !== 0) throw new Error(`SQLite floor: ${unfinished} replayed jobs unfinished`)
      }
    }
  ))
  return out
}
