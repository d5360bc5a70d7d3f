/**
 * A JS caller's `onBatch` (util/batchHandler.ts), on every entry point that
 * takes one: `Janitor.prune`, `Janitor.purgeEvents`,
 * `FlightRecorder.enforceRetention` and `Recovery.recoverStalledRuns` (found
 * by a regression probe). An `async` handler was not awaited by
 * `Janitor.prune` — the prune returned before its handlers had finished — and
 * its rejection went unhandled, which ends a Node process mid-prune; the
 * others (through `Effect.tap`) failed with an `UnknownException` their types
 * do not declare.
 *
 * Now a returned Promise is awaited before the next batch starts, and a
 * rejection or a synchronous throw ends the call after the batches that
 * committed, as an Effect handler's failure does: a defect (its type has no
 * error channel) carrying what was thrown. Five items, batches of three: the
 * handler of the first batch may be told, the second batch committed or not.
 *
 * The slow handler waits until the next batch's handler is called — at once
 * where batches do not wait for it — or, where they do, a quarter of a second.
 * So on the code under test the order is forced, not left to timing.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { EventId } from "../../src/domain/Ids.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { at, eventRecord, jobsIn, STALE_MS, startedJob } from "../store/fixtures.js"
import { postgres, sqliteFile } from "../support/stores.js"

const BATCH = 3
const ITEMS = 5
const DAY = 86_400_000

type Services = JobStore | FlightRecorder.FlightRecorder
/** A handler as a JS caller writes it (or an Effect one); these ignore what they are told. */
type Handler = () => Effect.Effect<void> | PromiseLike<unknown> | void

/** One entry point: its five items made, it run with a handler, and how many of the items are still there. */
interface Entry {
  readonly name: string
  readonly setup: Effect.Effect<void, unknown, Services>
  readonly run: (onBatch: Handler) => Effect.Effect<unknown, unknown, Services>
  readonly left: Effect.Effect<number, unknown, Services>
}

const oldEvents: Array<EventId> = []
const appendOldEvents = Effect.gen(function*() {
  const records = Array.from({ length: ITEMS }, (_, i) => eventRecord({ timestamp: at(i) }))
  oldEvents.splice(0, oldEvents.length, ...records.map((record) => record.event_id))
  yield* (yield* JobStore).appendEvents(records)
  yield* TestClock.adjust(DAY)
})
const oldEventsLeft = Effect.flatMap(JobStore, (store) =>
  Effect.map(store.listEvents({ limit: 100 }), (page) => page.items.filter((event) => oldEvents.includes(event.event_id)).length))

const entries: ReadonlyArray<Entry> = [
  {
    name: "Janitor.prune",
    setup: Effect.zipRight(jobsIn("failed", ITEMS), TestClock.adjust(DAY)),
    run: (onBatch) =>
      Effect.flatMap(DateTime.now, (now) =>
        Janitor.prune({ olderThan: DateTime.subtract(now, { minutes: 1 }), keepNewest: 0, batchSize: BATCH, onBatch })),
    left: Effect.flatMap(JobStore, (store) => Effect.map(store.listJobs({ limit: 100 }), (page) => page.items.length))
  },
  {
    name: "Janitor.purgeEvents",
    setup: appendOldEvents,
    run: (onBatch) => Effect.flatMap(DateTime.now, (cutoff) => Janitor.purgeEvents({ cutoff, onBatch })),
    left: oldEventsLeft
  },
  {
    name: "FlightRecorder.enforceRetention",
    setup: appendOldEvents,
    run: (onBatch) =>
      Effect.flatMap(Effect.all([FlightRecorder.FlightRecorder, DateTime.now]), ([recorder, cutoff]) =>
        recorder.enforceRetention({ cutoff, onBatch })),
    left: oldEventsLeft
  },
  {
    name: "Recovery.recoverStalledRuns",
    setup: Effect.zipRight(Effect.forEach(Array.from({ length: ITEMS }), () => startedJob()), TestClock.adjust(STALE_MS + 1_000)),
    run: (onBatch) => Recovery.recoverStalledRuns({ threshold: "30 seconds", batchSize: BATCH, concurrency: 1, onBatch }),
    left: Effect.flatMap(JobStore, (store) =>
      Effect.map(store.listJobs({ limit: 100 }), (page) => page.items.filter((job) => job.state === "running").length))
  }
]

/**
 * An `async` handler that logs its start and end, and in between waits for the next call's start
 * (it comes at once if the caller does not wait for this one) or 250 ms of real time.
 */
const slowHandler = (log: Array<string>): Handler => {
  const nextCalled: Array<() => void> = []
  let calls = 0
  return async () => {
    const call = ++calls
    log.push(`start ${call}`)
    nextCalled[call - 1]?.()
    await Promise.race([
      new Promise<void>((resolve) => void (nextCalled[call] = resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, 250))
    ])
    log.push(`end ${call}`)
  }
}

/** The call's exit must be the defect `failure` alone, after the first batch committed, its handler told once. */
const endedByDefect = (entry: Entry, exit: Exit.Exit<unknown, unknown>, failure: Error, calls: number) =>
  Effect.gen(function*() {
    assert.isTrue(Exit.isFailure(exit), "the call fails")
    if (Exit.isSuccess(exit)) return
    assert.isTrue(Option.isNone(Cause.failureOption(exit.cause)), `no typed failure: ${Cause.pretty(exit.cause)}`)
    // A span on the way copies the value (Effect adds its span to it): the same error, not the same object.
    const defect = Option.getOrUndefined(Cause.dieOption(exit.cause))
    assert.instanceOf(defect, Error)
    assert.strictEqual((defect as Error).message, failure.message, "the defect is what the handler threw")
    assert.strictEqual(calls, 1, "no batch after the failed handler")
    assert.strictEqual(yield* entry.left, ITEMS - BATCH, "the first batch stays committed, the second never ran")
  })

const runOn = (layer: Layer.Layer<Services, unknown>, body: Effect.Effect<void, unknown, Services>) => Effect.provide(body, layer)

for (const backend of [sqliteFile, postgres("on_batch_js")]) {
  const layer = () => FlightRecorder.layer({ purgeBatchSize: BATCH }).pipe(Layer.provideMerge(backend.makeStore()))
  describe(`a JS caller's onBatch on ${backend.name}`, () => {
    for (const entry of entries) {
      it.effect(`R18 R9 ${entry.name}: an async onBatch is awaited: each batch's handler has finished before the next batch starts, and the call returns after the last`, () =>
        runOn(layer(), Effect.gen(function*() {
          yield* entry.setup
          const log: Array<string> = []
          yield* entry.run(slowHandler(log))
          log.push("returned")
          assert.deepStrictEqual(log, ["start 1", "end 1", "start 2", "end 2", "returned"])
          assert.strictEqual(yield* entry.left, 0)
        })), 60_000)

      it.effect(`R18 R9 ${entry.name}: an async onBatch that rejects ends the call after the committed batch, a defect carrying the rejection, as an Effect onBatch's defect does; never an unhandled rejection`, () =>
        runOn(layer(), Effect.gen(function*() {
          yield* entry.setup
          const failure = new Error("the audit sink is down")
          let calls = 0
          const exit = yield* Effect.exit(entry.run(async () => {
            calls += 1
            throw failure
          }))
          yield* endedByDefect(entry, exit, failure, calls)
        })), 60_000)

      it.effect(`R18 R9 ${entry.name}: a plain onBatch that throws ends the call after the committed batch, a defect carrying what it threw`, () =>
        runOn(layer(), Effect.gen(function*() {
          yield* entry.setup
          const failure = new Error("the audit sink is down")
          let calls = 0
          const exit = yield* Effect.exit(entry.run(() => {
            calls += 1
            throw failure
          }))
          yield* endedByDefect(entry, exit, failure, calls)
        })), 60_000)

      it.effect(`R18 R9 ${entry.name}: an Effect onBatch that dies ends the call the same way (the contract the JS handlers follow)`, () =>
        runOn(layer(), Effect.gen(function*() {
          yield* entry.setup
          const failure = new Error("the audit sink is down")
          let calls = 0
          const exit = yield* Effect.exit(entry.run(() =>
            Effect.suspend(() => {
              calls += 1
              return Effect.die(failure)
            })
          ))
          yield* endedByDefect(entry, exit, failure, calls)
        })), 60_000)
    }
  })
}
