/**
 * A caller's duration longer than Node's longest timer (2^31 − 1 ms, about
 * 24.8 days) still ends. Effect's default Clock sets no timer at all for a
 * longer sleep, so a Janitor `interval` or a recovery `sweepEvery` of "30
 * days" ran once and never again, and `jobs.await`'s `timeout` of "30 days"
 * never timed out. Under the TestClock: every sleep asked of the Clock is at
 * most that timer, and moving the clock 30 days on runs the next pass or
 * sweep. On the real Clock (its long timers made to fire at once): a timer is
 * asked for, and the pass, sweep or timeout comes. On a SQLite file and on
 * PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { countingHeartbeats, realSleep, sharedBackends } from "./shared-database.js"
import { countingSweeps } from "./sweeps.js"

/** Node's longest timer: Effect's default Clock sets none for a longer sleep. */
const LONGEST_TIMER_MS = 2 ** 31 - 1
const DAY = 86_400_000

/**
 * Waits (real time) until a sleep a day or more ahead is armed on the
 * TestClock — the long interval's own, not some short one armed first (a
 * clock moved before the long sleep is armed would push it 30 days further
 * and the test would wait for ever) — then gives all the sleeps' instants.
 */
const armedSleeps = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  for (;;) {
    const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
    if (sleeps.some((due) => due - now >= DAY)) return sleeps
    yield* realSleep(2)
  }
})

/** Fails the test when `effect` has not ended within `ms` of real time (what it waits for never came). */
const within = <A, E, R>(ms: number, what: string, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.raceFirst(Effect.map(effect, Option.some), Effect.as(realSleep(ms), Option.none<A>())),
    Option.match({ onNone: () => Effect.dieMessage(`${what}: not within ${ms} ms of real time`), onSome: Effect.succeed })
  )

/**
 * The real Clock with time passing fast: every timer of a day or more asked
 * of `setTimeout` fires after 1 ms (Node's own, for any longer than its
 * longest, fires at once with a warning); the delays asked are recorded.
 * Restored with the scope.
 */
const longTimersFireAtOnce = Effect.acquireRelease(
  Effect.sync(() => {
    const real = globalThis.setTimeout
    const asked: Array<number> = []
    const warped = (handler: (...args: Array<unknown>) => void, ms?: number, ...args: Array<unknown>) => {
      if (typeof ms === "number" && ms >= DAY) {
        asked.push(ms)
        return real(handler, 1, ...args)
      }
      return real(handler, ms, ...args)
    }
    globalThis.setTimeout = warped as unknown as typeof setTimeout
    return { real, asked }
  }),
  ({ real }) => Effect.sync(() => { globalThis.setTimeout = real })
)

/** The Janitor on `store`, its schedule running in the scope. */
const janitorOn = (store: JobStore["Type"], interval: Duration.DurationInput) =>
  Effect.map(
    Layer.build(Janitor.layer({ interval }).pipe(Layer.provideMerge(FlightRecorder.layer()), Layer.provideMerge(Layer.succeed(JobStore, store)))),
    (context) => Context.get(context, Janitor.Janitor)
  )

/** Waits (on the Janitor's own state) until `n` scheduled passes have finished. */
const passesDone = (janitor: Janitor.Janitor["Type"], n: number) =>
  Effect.asVoid(Stream.runHead(Stream.filter(janitor.changes, (state) => state.passes >= n)))

/** Waits (real time) until the job's run has been stalled. */
const stalled = (jobs: Jobs["Type"], jobId: JobId): Effect.Effect<void, unknown> =>
  Effect.flatMap(jobs.get(jobId), (job) => (job.state === "stalled" ? Effect.void : Effect.zipRight(realSleep(5), stalled(jobs, jobId))))

for (const backend of sharedBackends) {
  describe(`durations past Node's longest timer on ${backend.name}`, () => {
    it.effect("R18 a Janitor interval of 30 days repeats: no sleep asked of the Clock is longer than 2^31−1 ms, and 30 days on the second pass runs", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("janitor long interval")
        const janitor = yield* janitorOn(yield* database.store(), "30 days")
        yield* passesDone(janitor, 1)
        const now = yield* Clock.currentTimeMillis
        for (const due of yield* armedSleeps) assert.isAtMost(due - now, LONGEST_TIMER_MS, "a sleep the default Clock would never end")
        yield* TestClock.adjust("30 days")
        yield* within(20_000, "the second pass", passesDone(janitor, 2))
        assert.strictEqual((yield* janitor.state).passes, 2, "one pass per 30 days")
      }).pipe(Effect.scoped), 60_000)

    it.live("R18 a Janitor interval of 30 days on the real Clock asks for a timer, and its second pass comes when that time has passed", () =>
      Effect.gen(function*() {
        const timers = yield* longTimersFireAtOnce
        const database = yield* backend.fresh("janitor long interval live")
        const janitor = yield* janitorOn(yield* database.store(), "30 days")
        yield* within(20_000, "the second pass (no timer was set for the 30 days)", passesDone(janitor, 2))
        assert.isAbove(timers.asked.length, 0)
        for (const ms of timers.asked) assert.isAtMost(ms, LONGEST_TIMER_MS)
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a recovery sweepEvery of 30 days sweeps again: no sleep asked of the Clock is longer than 2^31−1 ms, and 30 days on a dead worker's run is stalled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery long sweep")
        const sweeping = countingSweeps(yield* database.store())
        const context = yield* Layer.build(services(Layer.succeed(JobStore, sweeping.store), Recovery.layerStartup({ sweepEvery: "30 days" })))
        const jobs = Context.get(context, Jobs)
        // Startup recovery on an empty database: nothing stale, no second look; then the sweeps.
        yield* sweeping.atLeast(1)
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const lost = yield* dead.submit(summarize())
        yield* dead.claimNext()
        const now = yield* Clock.currentTimeMillis
        for (const due of yield* armedSleeps) assert.isAtMost(due - now, LONGEST_TIMER_MS, "a sleep the default Clock would never end")
        yield* TestClock.adjust("30 days")
        yield* within(20_000, "the sweep 30 days on", stalled(jobs, lost.job_id))
      }).pipe(Effect.scoped), 60_000)

    it.live("R9 a recovery sweepEvery of 30 days on the real Clock asks for a timer, and a sweep after startup's stalls a dead worker's run when that time has passed", () =>
      Effect.gen(function*() {
        const timers = yield* longTimersFireAtOnce
        const database = yield* backend.fresh("recovery long sweep live")
        const sweeping = countingSweeps(yield* database.store())
        // A threshold of 1 s: the dead worker's run is stale a second (of real time) after its claim.
        yield* Layer.build(services(Layer.succeed(JobStore, sweeping.store), Recovery.layerStartup({ sweepEvery: "30 days", threshold: "1 second" })))
        yield* sweeping.atLeast(1)
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const lost = yield* dead.submit(summarize())
        yield* dead.claimNext()
        yield* within(20_000, "a sweep after startup's (no timer was set for the 30 days)", stalled(dead, lost.job_id))
        assert.isAbove(timers.asked.length, 0)
        for (const ms of timers.asked) assert.isAtMost(ms, LONGEST_TIMER_MS)
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a pool with pollInterval and run.heartbeatInterval of 30 days: no sleep asked of the Clock is longer than 2^31−1 ms, and 30 days on its run has beaten", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("pool long durations")
        const beating = countingHeartbeats(yield* database.store())
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, beating.store))), Jobs)
        yield* jobs.submit(summarize())
        const started = yield* Deferred.make<WorkflowRun>()
        const finish = yield* Deferred.make<void>()
        // Two loops: one runs the job (its heartbeat sleeps), the other finds nothing and parks for its poll.
        yield* jobs.worker({
          concurrency: 2,
          pollInterval: "30 days",
          run: { heartbeatInterval: "30 days" },
          handler: (ctx) => Effect.zipRight(Deferred.succeed(started, ctx.run), Deferred.await(finish))
        })
        const claimed = yield* Deferred.await(started)
        const now = yield* Clock.currentTimeMillis
        for (;;) {
          // Both armed: the beat's and the park's, each a day or more ahead.
          const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((due) => due - now >= DAY)
          if (sleeps.length >= 2) {
            for (const due of sleeps) assert.isAtMost(due - now, LONGEST_TIMER_MS, "a sleep the default Clock would never end")
            break
          }
          yield* realSleep(2)
        }
        yield* TestClock.adjust("30 days")
        yield* within(20_000, "the heartbeat 30 days on", beating.atLeast(1))
        const run = yield* beating.store.getRun(claimed.id)
        assert.strictEqual(DateTime.toEpochMillis(run.last_heartbeat) - DateTime.toEpochMillis(claimed.last_heartbeat), 30 * DAY)
        yield* Deferred.succeed(finish, undefined)
      }).pipe(Effect.scoped), 60_000)

    it.live("jobs.await with a timeout of 30 days on the real Clock times out when that time has passed (AwaitTimeout), a timer asked for", () =>
      Effect.gen(function*() {
        const timers = yield* longTimersFireAtOnce
        const database = yield* backend.fresh("await long timeout live")
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const job = yield* jobs.submit(summarize())
        const result = yield* within(20_000, "the timeout (no timer was set for the 30 days)", Effect.either(jobs.await(job.job_id, { timeout: "30 days" })))
        assert.strictEqual(result._tag === "Left" ? result.left._tag : "settled", "AwaitTimeout")
        assert.isAbove(timers.asked.length, 0)
        for (const ms of timers.asked) assert.isAtMost(ms, LONGEST_TIMER_MS)
      }).pipe(Effect.scoped), 60_000)
  })
}
