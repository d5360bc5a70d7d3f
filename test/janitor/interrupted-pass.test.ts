/**
 * R18 HSK-GC-004 every purge is in some `gc_summary`, however the pass ends
 * (an outside probe's lead, p18-janitor-interrupt). A pass purges retention
 * in batches before its pruning; a pass cut short between them — its scope
 * closed at shutdown, a caller's interrupt of `runOnce`, a batch, a summary or
 * the pruning refused — once deleted events no summary counted. Now each full
 * batch commits with a summary of its own and the last (short) batch with the
 * pruning and its summary, so whatever ends the pass, the events gone are
 * exactly those the summaries count (the process killed: kill-mid-pass.test.ts).
 *
 * The interleaving is forced by wrapping the real store: the third retention
 * batch, its rows deleted, waits inside its transaction on a Deferred the test
 * controls (the interrupt arrives there), or a batch, the event append or the
 * pruning is refused.
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
/** Eight full batches and a short one of two. */
const EVENTS = 42

/** What the wrapped store does to retention batches and event appends. */
interface Gate {
  batches: number
  /** This batch, its rows deleted (its transaction not yet committed), tells `held` and waits for `go`. */
  readonly holdAt?: number
  /** This batch is refused, unwritten. */
  readonly failAt?: number
  /** The pruning, before it starts, tells `held` and waits for `go`. */
  readonly holdPrune?: boolean
  /** The pruning is refused, unwritten. */
  readonly failPrune?: boolean
  /** Appends refused while set. */
  appendsDown: boolean
  readonly held: Deferred.Deferred<void>
  readonly go: Deferred.Deferred<void>
}

const refused = (operation: string) => new StorageError({ operation, cause: new Error("refused by the test") })

/** The backend's real store, its retention batches, pruning and appends passing through `gate`. */
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
              ? Effect.tap(batch, () => Effect.zipRight(Deferred.succeed(gate.held, undefined), Deferred.await(gate.go)))
              : batch
          }),
        pruneJobs: (options) =>
          gate.failPrune === true
            ? Effect.fail(refused("JobStore.pruneJobs"))
            : gate.holdPrune === true
            ? Effect.zipRight(Effect.zipRight(Deferred.succeed(gate.held, undefined), Deferred.await(gate.go)), store.pruneJobs(options))
            : store.pruneJobs(options),
        appendEvents: (records) => Effect.suspend(() => gate.appendsDown ? Effect.fail(refused("JobStore.appendEvents")) : store.appendEvents(records))
      }))
  ).pipe(Layer.provide(backend.makeStore()))

const makeGate = (options: { readonly holdAt?: number; readonly failAt?: number; readonly holdPrune?: boolean; readonly failPrune?: boolean }) =>
  Effect.map(Effect.all([Deferred.make<void>(), Deferred.make<void>()]), ([held, go]): Gate => ({
    batches: 0,
    ...options,
    appendsDown: false,
    held,
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
  return { purged, summaries, shapes: summaries.map((record) => [record.body["items_pruned"], record.body["events_purged"]]) }
})

/** The summaries of `n` full batches, each its own: no job pruned, one batch purged. */
const fullBatches = (n: number) => Array.from({ length: n }, () => [0, BATCH])

/** A `Janitor.runOnce` interrupted by its caller once the gate has held it: the interrupt's exit. */
const runOnceInterruptedAtGate = (gate: Gate) =>
  Effect.gen(function*() {
    const pass = yield* Effect.fork(Janitor.runOnce({ olderThan: "30 days" }))
    yield* Deferred.await(gate.held)
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
    it.effect("R18 HSK-GC-004 a pass whose scope closes (shutdown) mid-retention ends after the batch in progress, each batch committed with its own gc_summary", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ holdAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          const scope = yield* Scope.make()
          yield* Layer.buildWithScope(Janitor.layer({ interval: "1 hour", olderThan: "30 days" }), scope)
          yield* Deferred.await(gate.held)
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* Deferred.succeed(gate.go, undefined)
          yield* Fiber.join(closing)
          const { purged, shapes } = yield* everyPurgeSummarised
          assert.strictEqual(purged, 3 * BATCH, "three batches committed, the interrupt came before a fourth")
          assert.deepStrictEqual(shapes, fullBatches(3))
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 Janitor.runOnce interrupted by its caller mid-retention leaves each committed batch in its own gc_summary", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ holdAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          assert.isTrue(Exit.isInterrupted(yield* runOnceInterruptedAtGate(gate)))
          const { purged, shapes } = yield* everyPurgeSummarised
          assert.strictEqual(purged, 3 * BATCH)
          assert.deepStrictEqual(shapes, fullBatches(3))
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a pass interrupted once its pruning is due prunes before it ends, its summary holding the last batch, committed with it", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ holdPrune: true })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          yield* runOnceInterruptedAtGate(gate)
          const { purged, shapes } = yield* everyPurgeSummarised
          assert.strictEqual(purged, EVENTS)
          assert.deepStrictEqual(shapes, [...fullBatches(8), [0, 2]], "eight full batches' summaries, then the pruning's with the short batch: no purge counted twice")
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a pass whose retention batch is refused part-way fails, the batches before it each in its own gc_summary", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ failAt: 3 })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          const error = yield* Effect.flip(Janitor.runOnce({ olderThan: "30 days" }))
          assert.strictEqual(error._tag, "StorageError")
          const { purged, shapes } = yield* everyPurgeSummarised
          assert.strictEqual(purged, 2 * BATCH)
          assert.deepStrictEqual(shapes, fullBatches(2))
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a pass whose pruning is refused fails, and its last batch rolls back with it: the full batches stay, each in its own gc_summary", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({ failPrune: true })
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          const error = yield* Effect.flip(Janitor.runOnce({ olderThan: "30 days" }))
          assert.strictEqual(error._tag, "StorageError")
          const { purged, shapes } = yield* everyPurgeSummarised
          assert.strictEqual(purged, 8 * BATCH, "the short batch's two events are still there")
          assert.deepStrictEqual(shapes, fullBatches(8))
        }))
      }), 60_000)

    it.effect("R18 HSK-GC-004 a pass whose summary write is refused purges nothing (the batch rolls back with its summary); the service's next pass purges and records it all", () =>
      Effect.gen(function*() {
        const gate = yield* makeGate({})
        yield* run(backend, gate, Effect.gen(function*() {
          yield* oldEvents
          gate.appendsDown = true
          const janitor = Context.get(yield* Layer.build(Janitor.layer({ interval: "1 hour", olderThan: "30 days" })), Janitor.Janitor)
          const first = yield* Stream.runHead(Stream.filter(janitor.changes, (state) => state.passes >= 1))
          assert.isTrue(Option.isSome(first) && Option.isSome(first.value.last) && Exit.isFailure(first.value.last.value), "the first pass failed")
          assert.deepStrictEqual(yield* eventsNow, { others: EVENTS, summaries: [] }, "nothing purged, nothing recorded")
          gate.appendsDown = false
          const report = yield* janitor.runOnce
          const { purged, shapes } = yield* everyPurgeSummarised
          assert.strictEqual(purged, EVENTS)
          assert.strictEqual(report.events_purged, EVENTS, "the report counts the whole pass's purge")
          assert.deepStrictEqual(shapes, [...fullBatches(8), [0, 2]])
        }))
      }), 60_000)
  })
}
