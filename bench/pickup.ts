/**
 * 6. Pickup latency (issue 15.3): submit → the job's program starts, with
 * one idle worker waiting. Ours (woken by LISTEN/NOTIFY on PostgreSQL, in
 * process on SQLite; and polling only, for a deployment without a listener),
 * pg-boss (polling: its default 2 s and its least 0.5 s) and graphile-worker
 * (LISTEN/NOTIFY), each on its own fresh database of the same server.
 *
 * Each sample: the worker is idle (the previous job has started and a random
 * pause of 20–1020 ms has passed, so a 1 s poll is at a random phase — right
 * after a job a poller has just begun its sleep, and a fixed short pause
 * would measure its worst case); the clock starts
 * just before submit is called and stops when the program (handler) begins,
 * in the same process. p50 and p99 of `pickupSamples` jobs.
 *
 * Ours (LISTEN/NOTIFY) and graphile-worker — the pair the target compares —
 * are sampled interleaved: both idle workers run side by side, and each
 * round takes one sample of each, the order alternating round by round, so
 * a load that drifts during the section (a machine still settling after a
 * test run) hits both alike rather than whichever ran first. Before sampling,
 * each of the pair runs `warmupPickups` pickups back to back, not counted
 * (the JIT's warm-up, as in the lifecycle section).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { performance } from "node:perf_hooks"
import { Jobs } from "../src/Jobs.js"
import * as WakeUp from "../src/WakeUp.js"
import { type BenchContext, freshTarget, servicesLayer, type Target } from "./app.js"
import { startGraphile } from "./baselines/graphileWorker.js"
import { startBoss, startBossWorker } from "./baselines/pgBoss.js"
import { NEW_JOB } from "./fixtures.js"
import { type Measurement, measurement, percentile } from "./harness.js"

/** The idle pause before each sample: 20–1020 ms, so a 1 s poll is at a random phase. */
export const pause = () => new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 1000))

/** Latencies of `count` submits, each waited for: `submit` resolves when the job is queued, `started` when its program begins. */
const sampleLatencies = async (
  count: number,
  submit: () => Promise<void>,
  started: () => Promise<void>
): Promise<Array<number>> => {
  const out: Array<number> = []
  for (let i = 0; i < count; i++) {
    await pause()
    const begin = performance.now()
    const start = started()
    await submit()
    await start
    out.push(performance.now() - begin)
  }
  return out
}

/** One idle system under test: `sample` submits one job and resolves with ms from the call to submit to the program's start. */
export interface Sampler {
  readonly sample: () => Promise<number>
  readonly stop: () => Promise<void>
}

/** `count` rounds of one sample of each system (after its own pause), the order alternating: each system's samples. */
const interleaved = async (count: number, systems: ReadonlyArray<Sampler>): Promise<Array<Array<number>>> => {
  const out = systems.map((): Array<number> => [])
  for (let round = 0; round < count; round++) {
    const order = round % 2 === 0 ? systems.map((_, i) => i) : systems.map((_, i) => systems.length - 1 - i)
    for (const i of order) {
      await pause()
      out[i]!.push(await systems[i]!.sample())
    }
  }
  return out
}

/**
 * Ours as a `Sampler`: a one-worker pool with `wakeUp` kept running between
 * samples. `eagerDispatch: false` turns the pool's eager dispatch off: the
 * submit only queues, and the pool claims after the wake-up (two commits).
 */
export const oursSampler = async (
  target: Target,
  wakeUp: Layer.Layer<WakeUp.WakeUp>,
  options: { readonly eagerDispatch?: boolean } = {}
): Promise<Sampler> => {
  const runtime = ManagedRuntime.make(servicesLayer(target, wakeUp))
  const scope = await runtime.runPromise(Scope.make())
  const latch = startLatch()
  const jobs = await runtime.runPromise(Effect.gen(function*() {
    const jobs = yield* Jobs
    yield* Scope.extend(jobs.worker({ concurrency: 1, handler: () => Effect.sync(latch.hit), ...options }), scope)
    yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
    return jobs
  }))
  return {
    sample: async () => {
      const begin = performance.now()
      const started = latch.next()
      await runtime.runPromise(Effect.asVoid(jobs.submit(NEW_JOB)))
      await started
      return performance.now() - begin
    },
    // The pool's scope closes before the services' (as in `ours`): no loop outlives the store.
    stop: async () => {
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    }
  }
}

/** graphile-worker as a `Sampler`: its runner idle in this process, jobs added through its utils. */
export const graphileSampler = async (url: string): Promise<Sampler> => {
  const latch = startLatch()
  const graphile = await startGraphile(url, latch.hit)
  return {
    sample: async () => {
      const begin = performance.now()
      const started = latch.next()
      await graphile.add({ doc: "bench" })
      await started
      return performance.now() - begin
    },
    stop: graphile.stop
  }
}

/** A latch the handler opens: `next()` gives the promise of the next start. */
const startLatch = () => {
  let open: () => void = () => {}
  return {
    next: () => new Promise<void>((resolve) => {
      open = resolve
    }),
    hit: () => open()
  }
}

/**
 * Ours: a one-worker pool with `wakeUp` (provided to Jobs, not merged beside
 * it), submitting through `Jobs.submit`. `eagerDispatch: false` for the poll's
 * own figure: with it on, an idle pool of this process gets the job in the
 * submit's write whatever its wake-up.
 */
const ours = (
  target: Target,
  wakeUp: Layer.Layer<WakeUp.WakeUp>,
  count: number,
  options: { readonly eagerDispatch?: boolean } = {}
): Promise<Array<number>> =>
  // The pool's scope closes inside the services' (provided outside it), so no loop outlives the store.
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const jobs = yield* Jobs
    const latch = startLatch()
    yield* jobs.worker({ concurrency: 1, handler: () => Effect.sync(latch.hit), ...options })
    yield* Effect.flatMap(WakeUp.WakeUp, (wake) => wake.ready)
    return yield* Effect.promise(() =>
      sampleLatencies(count, () => Effect.runPromise(Effect.asVoid(jobs.submit(NEW_JOB))), latch.next)
    )
  })).pipe(Effect.provide(servicesLayer(target, wakeUp))))

/** Runs the pickup comparison. */
export const run = async (ctx: BenchContext): Promise<Array<Measurement>> => {
  const count = ctx.mode.pickupSamples
  const results: Array<readonly [system: string, dialect: "pg" | "sqlite", what: string, samples: Array<number>]> = []

  const pgOurs = await freshTarget(ctx, "pg", "pickup_ours")
  if (pgOurs.dialect !== "pg") throw new Error("unreachable")
  const graphileTarget = await freshTarget(ctx, "pg", "pickup_graphile")
  if (graphileTarget.dialect !== "pg") throw new Error("unreachable")
  const pgTwoCommits = await freshTarget(ctx, "pg", "pickup_ours_two_commits")
  if (pgTwoCommits.dialect !== "pg") throw new Error("unreachable")
  ctx.log(
    `pickup/pg: ours (eager dispatch, the default), graphile-worker, and ours with eager dispatch off, LISTEN/NOTIFY, interleaved (${count} jobs each)`
  )
  const pair = [
    await oursSampler(pgOurs, WakeUp.layerPg({ listenUrl: pgOurs.url })),
    await graphileSampler(graphileTarget.url),
    await oursSampler(pgTwoCommits, WakeUp.layerPg({ listenUrl: pgTwoCommits.url }), { eagerDispatch: false })
  ]
  try {
    // Each warmed alike, back to back (the same wake-up path, no pause), not counted: a worker in service is past its JIT's warm-up.
    ctx.log(`pickup/pg: warm-up, ${ctx.mode.warmupPickups} pickups each`)
    for (const system of pair) for (let i = 0; i < ctx.mode.warmupPickups; i++) await system.sample()
    const [oursListen, graphile, twoCommits] = await interleaved(count, pair)
    results.push(["ours", "pg", "ours, LISTEN/NOTIFY, eager dispatch (default)", oursListen!])
    results.push(["graphile", "pg", "graphile-worker, LISTEN/NOTIFY", graphile!])
    results.push(["ours-two-commits", "pg", "ours, LISTEN/NOTIFY, eager dispatch off (submit, then claim)", twoCommits!])
  } finally {
    for (const system of pair) await system.stop()
  }
  ctx.log("pickup/pg: ours, polling only (no listener), eager dispatch off")
  results.push([
    "ours-poll",
    "pg",
    "ours, polling only (1 s), eager dispatch off",
    await ours(pgOurs, WakeUp.layerPollOnly, Math.min(count, 50), { eagerDispatch: false })
  ])

  const sqliteOurs = await freshTarget(ctx, "sqlite", "pickup_ours")
  ctx.log("pickup/sqlite: ours, in process, eager dispatch (the default)")
  results.push(["ours", "sqlite", "ours, in process, eager dispatch (the default)", await ours(sqliteOurs, WakeUp.layerInProcess, count)])

  for (const seconds of [2, 0.5]) {
    const target = await freshTarget(ctx, "pg", `pickup_boss_${String(seconds).replace(".", "_")}`)
    if (target.dialect !== "pg") throw new Error("unreachable")
    ctx.log(`pickup/pg: pg-boss, polling every ${seconds} s`)
    const { boss, queue } = await startBoss(target.url)
    const latch = startLatch()
    await startBossWorker(boss, queue, seconds, latch.hit)
    const samples = await sampleLatencies(Math.min(count, seconds >= 2 ? 50 : 100), async () => {
      await boss.send(queue, { doc: "bench" })
    }, latch.next)
    await boss.stop({ graceful: false, wait: true })
    results.push([seconds >= 2 ? "pgboss" : "pgboss-fast", "pg", `pg-boss, polling every ${seconds} s${seconds >= 2 ? " (default)" : " (least)"}`, samples])
  }

  return results.map(([system, dialect, what, samples]) =>
    measurement({
      id: `pickup.${dialect}.${system}`,
      section: "pickup",
      name: `pickup latency p50, ${what}`,
      system,
      dialect,
      unit: "ms",
      params: { jobs: samples.length, workers: 1 },
      samples: [percentile(samples, 50)],
      extra: {
        p50: Number(percentile(samples, 50).toFixed(2)),
        p99: Number(percentile(samples, 99).toFixed(2)),
        max: Number(Math.max(...samples).toFixed(2))
      }
    }))
}
