/**
 * R18 HSK-GC-004 every purge is in some `gc_summary`, however the pass ends
 * (an outside probe's lead, p18-janitor-interrupt). A pass purges retention
 * in batches of their own before the pruning transaction that writes its
 * summary; a pass cut short there — its scope closed at shutdown, a caller's
 * interrupt of `runOnce`, a batch refused — had deleted events that no summary
 * ever counted. Now it records what it purged before it ends; a summary write
 * that is refused too is carried into the service's next pass.
 *
 * The interleaving is forced by wrapping the real store: the third retention
 * batch, once committed, waits on a Deferred the test controls (the interrupt
 * arrives as its COMMIT returns), or a batch or the event append is refused.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"

const BATCH = 5
const EVENTS = 40

/** What the wrapped store does to retention batches and event appends. */
interface Gate {
  batches: number
  /** This batch, once committed, tells `committed` and waits for `go`. */
  readonly holdAt?: number
  /** This batch is refused, unwritten. */
  readonly failAt?: number
  /** The pruning, before it starts, tells `committed` and waits for `go`. */
  readonly holdPrune?: boolean
  /** Appends refused while set. */
  appendsDown: boolean
  readonly committed: Deferred.Deferred<void>
  readonly go: Deferred.Deferred<void>
}

const refused = (operation: string) => new StorageError({ operation, cause: new Error("refused by the test") })

/** The backend's real store, its retention batches and appends passing through `gate`. */
const gatedStore = (backend: Backend, gate: Gate) =>
  Layer.effect(
    JobStore,
    Effect.map(JobStore, (store) =>
      JobStore.of({
        ...store,
        purgeEventsBatch: (options) =>
          Effect.suspend(() => {
            const call = ++gate.batches
            if (call === gate.failAt) return Effect.fail(refused("JobStore.purgeEventsBatch"))
            const batch = store.purgeEventsBatch(options)
            return call === gate.holdAt
              ? Effect.tap(batch, () => Effect.zipRight(Deferred.succeed(gate.committed, undefined), Deferred.await(gate.go)))
              : batch
          }),
        pruneJobs: (options) =>
          gate.holdPrune === true
            ? Effect.zipRight(Effect.zipRight(Deferred.succeed(gate.committed, undefined), Deferred.await(gate.go)), store.pruneJobs(options))
            : store.pruneJobs(options),
        appendEvents: (records) => Effect.suspend(() => gate.appendsDown ? Effect.fail(refused("JobStore.appendEvents")) : store.appendEvents(records))
      }))
  ).pipe(Layer.provide(backend.makeStore()))

const makeGate = (options: { readonly holdAt?: number; readonly failAt?: number; readonly holdPrune?: boolean }) =>
  Effect.map(Effect.all([Deferred.make<void>(), Deferred.make<void>()]), ([committed, go]): Gate => ({
    batches: 0,
    ...options,
    appendsDown: false,
    committed,
    go
  }))

/** Every event, and the gc_summaries among them. */
const eventsNow = Effect.gen(function*() {
  const items = (yield* (yield* JobStore).listEvents({ limit: 1000 })).items
  const summaries = items.filter((record) => record.body["event_name"] === "gc_summary")
  return { others: items.length - summaries.length, summaries }
})

/** Records EVENTS diagnostics, then moves the clock past the recorder's window. */
const oldEvents = Effect.gen(function*() {
  const recorder = yield* FlightRecorder.FlightRecorder
  for (let i = 0; i < EVENTS; i++) {
    yield* Effect.flatMap(FlightRecorder.makeEvent("diagnostic", { actor: "system", diagnostic_id: `d-${i}` }), recorder.record)
  }
  yield* TestClock.adjust("1 hour")
})

/** The rule: the events gone are exactly those the summaries say were purged. */
const everyPurgeSummarised = Effect.gen(function*() {
  const { others, summaries } = yield* eventsNow
  const purged = EVENTS - others
  assert.isAbove(purged, 0, "the pass purged something before it ended")
  assert.strictEqual(summaries.reduce((sum, record) => sum + Number(record.body["events_purged"] ?? 0), 0), purged, "every purged event is in a gc_summary")
  return { purged, summaries }
})

/** A `Janitor.runOnce` interrupted by its caller once the gate has held it: the interrupt's exit. */
const runOnceInterruptedAtGate = (gate: Gate) =>
  Effect.gen(function*() {
    const pass = yield* Effect.fork(Janitor.runOnce({ olderThan: "30 days" }))
    yield* Deferred.await(gate.committed)
    const interrupting = yield* Effect.fork(Fiber.interrupt(pass))
    yield* Deferred.succeed(gate.go, undefined)
    return yield* Fiber.join(interrupting)
  })

const run = (backend: Backend, gate: Gate, body: Effect.Effect<void, unknown, JobStore | FlightRecorder.FlightRecorder | Scope.Scope>) =>
  Effect.scoped(body).pipe(
    Effect.provide(FlightRecorder.layer({ retention: "1 minute", purgeBatchSize: BATCH }).pipe(Layer.provideMerge(gatedStore(backend, gate))))
  )

for (const backend of [sqliteFile, postgres("janitor_interrupted")]) {
  describe(`an interrupted Janitor pass on ${backend.name}`, () => {
    it.effect("R18 HSK-GC-004 a pass whose scope closes (shutdown) mid-retention records what it purged in a gc_summary before it ends", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ holdAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          const scope = yield* Scope.make()
          yield* Layer.buildWithScope(Janitor.layer({ interval: "1 hour", olderThan: "30 days" }), scope)
          yield* Deferred.await(gate.committed)
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* Deferred.succeed(gate.go, undefined)
          yield* Fiber.join(closing)
          const { purged, summaries } = yield* everyPurgeSummarised
          assert.strictEqual(purged, 3 * BATCH, "three batches committed, the interrupt came before a fourth")
          assert.deepStrictEqual(summaries.map((record) => [record.body["items_pruned"], record.body["events_purged"]]), [[0, 3 * BATCH]])
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 Janitor.runOnce interrupted by its caller mid-retention records what it purged", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ holdAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          assert.isTrue(Exit.isInterrupted(yield* runOnceInterruptedAtGate(gate)))
          assert.strictEqual((yield* everyPurgeSummarised).purged, 3 * BATCH)
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a pass interrupted once its pruning is due prunes and writes its one summary, holding the whole purge, before it ends", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ holdPrune: true })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          yield* runOnceInterruptedAtGate(gate)
          const { purged, summaries } = yield* everyPurgeSummarised
          assert.strictEqual(purged, EVENTS)
          assert.strictEqual(summaries.length, 1, "one summary, the pruning's: the purge is not counted twice")
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a pass whose retention batch is refused part-way fails, and records the batches it purged", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ failAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          const error = yield* Effect.flip(Janitor.runOnce({ olderThan: "30 days" }))
          assert.strictEqual(error._tag, "StorageError")
          assert.strictEqual((yield* everyPurgeSummarised).purged, 2 * BATCH)
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a summary whose own write is refused is carried into the service's next pass", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ failAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          gate.appendsDown = true
          const janitor = Context.get(yield* Layer.build(Janitor.layer({ interval: "1 hour", olderThan: "30 days" })), Janitor.Janitor)
          const first = yield* Stream.runHead(Stream.filter(janitor.changes, (state) => state.passes >= 1))
          assert.isTrue(Option.isSome(first) && Option.isSome(first.value.last) && Exit.isFailure(first.value.last.value), "the first pass failed")
          assert.strictEqual((yield* eventsNow).summaries.length, 0, "its summary was refused")
          gate.appendsDown = false
          const report = yield* janitor.runOnce
          const { purged } = yield* everyPurgeSummarised
          assert.strictEqual(report.events_purged, purged, "the next pass's summary holds the earlier purge and its own")
          assert.strictEqual(purged, EVENTS)
        }))
      }), 60_000)
  })
}
