/**
 * 4. Flight Recorder: events per second with `record` (one event per call)
 * and `recordMany` (a batch per call); then the retention purge of a large
 * number of expired events, timing the purge and the latency of `record`
 * calls made concurrently with it (and, for reference, without it).
 */
import { performance } from "node:perf_hooks"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { JobId, TraceId } from "../src/domain/Ids.js"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { FlightRecorder, systemEvent } from "../src/FlightRecorder.js"
import { type BenchContext, freshTarget, migrateTarget, type Target, withServices } from "./app.js"
import { connectPg, openSqlite } from "./drivers.js"
import { seedEventsPg, seedEventsSqlite } from "./fixtures.js"
import { latencies, type Measurement, measurement, percentile, throughputEffect } from "./harness.js"

const DAY = 86_400_000
const MANY = 100
/**
 * The concurrent `record` calls come every 5 ms from another fiber. A tight
 * loop instead starves the purge on SQLite: the store's one connection is
 * guarded by a semaphore the looping fiber re-takes before the waiting purge
 * fiber is scheduled.
 */
const PACE_MS = 5

const anEvent = () =>
  systemEvent({ trace_id: uuidv7() as TraceId, job_id: uuidv7() as JobId, from_state: "queued", to_state: "running" })

/** record and recordMany throughput, events/s. */
const rates = (ctx: BenchContext, target: Target) =>
  withServices(target, Effect.gen(function*() {
    const recorder = yield* FlightRecorder
    const one: Array<number> = []
    const many: Array<number> = []
    for (let rep = 0; rep < ctx.mode.reps; rep++) {
      one.push(yield* throughputEffect(1, ctx.mode.sampleMs, () => Effect.flatMap(anEvent(), recorder.record)))
      many.push(MANY * (yield* throughputEffect(1, ctx.mode.sampleMs, () =>
        Effect.flatMap(Effect.all(Array.from({ length: MANY }, anEvent)), recorder.recordMany))))
    }
    return { one, many }
  }))

/** Loads `count` events 30 days old (all expired under the default 7-day retention). */
const loadExpired = async (target: Target, count: number): Promise<void> => {
  const startMs = Date.now() - 30 * DAY
  if (target.dialect === "sqlite") {
    const db = openSqlite(target.filename)
    try {
      seedEventsSqlite(db, { count, startMs })
    } finally {
      db.close()
    }
  } else {
    const client = await connectPg(target.url)
    try {
      await seedEventsPg(client, { count, startMs })
      await client.query("VACUUM ANALYZE flight_recorder_events")
    } finally {
      await client.end()
    }
  }
}

/** One purge of everything expired, with `record` latencies during it and before it. */
const purge = (target: Target, expected: number) =>
  withServices(target, Effect.gen(function*() {
    const recorder = yield* FlightRecorder
    const recordOnce = Effect.flatMap(anEvent(), recorder.record)
    // Idle latency first: the same calls with no purge running.
    const idleUntil = performance.now() + 2_000
    const idle = yield* latencies(recordOnce, () => performance.now() > idleUntil, PACE_MS)
    let done = false
    // The recording fiber is running (one call made) before the purge starts.
    const started = yield* Deferred.make<void>()
    const during = yield* Effect.fork(Effect.zipRight(
      Effect.zipRight(recordOnce, Deferred.succeed(started, undefined)),
      latencies(recordOnce, () => done, PACE_MS)
    ))
    yield* Deferred.await(started)
    const start = performance.now()
    const purged = yield* recorder.enforceRetention()
    const purgeMs = performance.now() - start
    done = true
    const busy = yield* Fiber.join(during)
    if (purged !== expected) return yield* Effect.die(new Error(`purged ${purged} events, expected ${expected}`))
    return { purgeMs, purged, idle, busy }
  }))

/** Runs the recorder benchmarks on both dialects. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const out: Array<Measurement> = []
  for (const dialect of ["sqlite", "pg"] as const) {
    ctx.log(`recorder/${dialect}: record, recordMany`)
    const rateTarget = await freshTarget(ctx, dialect, `recorder_rate_${dialect}`)
    const r = await rates(ctx, rateTarget)
    const common = { section: "recorder", dialect, unit: "events/s", system: "ours" } as const
    out.push(
      measurement({ ...common, id: `recorder.${dialect}.record`, name: "record (one event per call)", system: "ours (FlightRecorder.record)", params: {}, samples: r.one }),
      measurement({ ...common, id: `recorder.${dialect}.recordMany`, name: `recordMany (${MANY} events per call)`, system: "ours (FlightRecorder.recordMany)", params: { batch: MANY }, samples: r.many })
    )

    const count = ctx.mode.purgeEvents
    const purgeTarget = await freshTarget(ctx, dialect, `recorder_purge_${dialect}`)
    await migrateTarget(purgeTarget)
    ctx.log(`recorder/${dialect}: loading ${count} expired events`)
    await loadExpired(purgeTarget, count)
    ctx.log(`recorder/${dialect}: purging`)
    const p = await purge(purgeTarget, count)
    const pct = (values: ReadonlyArray<number>, q: number) => Number(percentile(values, q).toFixed(2))
    out.push(measurement({
      id: `recorder.${dialect}.purge`,
      section: "recorder",
      name: `retention purge of ${count} expired events (batches of 1000)`,
      system: "ours (FlightRecorder.enforceRetention)",
      dialect,
      unit: "ms",
      params: { events: count },
      samples: [p.purgeMs],
      extra: {
        purged_per_s: Math.round(p.purged / (p.purgeMs / 1000)),
        record_calls_during: p.busy.length,
        record_p50_ms_during: pct(p.busy, 50),
        record_p99_ms_during: pct(p.busy, 99),
        record_max_ms_during: pct(p.busy, 100),
        record_p50_ms_idle: pct(p.idle, 50),
        record_p99_ms_idle: pct(p.idle, 99)
      }
    }))
  }
  return out
}
