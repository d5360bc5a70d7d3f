/**
 * Issue 15.3, the wake-up channel. On PostgreSQL the database announces every
 * new job and every state change at commit (migration 0007's trigger), to a
 * listener on its own connection — never a change that rolled back — and a
 * listener that loses its connection says "look again" and listens again. In
 * process (SQLite), `Jobs`' own announcements. And waiting for work honours
 * kinds and a job's eligible time on Effect's clock.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import { DecodeFailure } from "../../src/domain/Errors.js"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { newJob } from "../store/fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"

const someJobId = "0190a000-0000-7000-8000-000000000001" as JobId

/** The next announced change, past any "look again" (the listener says one whenever it starts listening). */
const nextChange = (subscription: WakeUp.Subscription): Effect.Effect<WakeUp.JobChanged> =>
  Effect.flatMap(Queue.take(subscription), (signal) =>
    signal._tag === "LookAgain" ? nextChange(subscription) : Effect.succeed(signal))

describe("issue 15.3 PostgreSQL announces job changes at commit", () => {
  const onDatabase = (url: string) =>
    Layer.mergeAll(PgStore.layer({ url }), rawPgClient(url), WakeUp.layerPg({ listenUrl: url, reconnectDelay: "100 millis" }))

  it.live("issue 15.3 PostgreSQL: a new job and each state change reach a listener on its own connection; a rolled-back change never does", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("wake-up announce")
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* JobStore
        const sql = yield* SqlClient.SqlClient
        const wake = yield* WakeUp.WakeUp
        assert.strictEqual(wake.mode, "listen")
        const subscription = yield* wake.subscribe
        yield* wake.ready

        // Rolled back: created inside a transaction that fails.
        const doomed = newJob({ job_id: "0190a000-0000-7000-8000-0000000000dd", job_kind: "doc_edit" })
        yield* Effect.either(store.transaction(Effect.zipRight(store.createJob(doomed), Effect.fail("roll back"))))
        const job = yield* store.createJob(newJob({ job_kind: "terminal_exec" }))
        // The first change announced is the committed job's: the rolled-back one never was.
        const first = yield* nextChange(subscription)
        const [stored] = yield* sql<{ readonly run_after: Date }>`SELECT run_after FROM ai_jobs WHERE id = ${job.job_id}`
        assert.deepStrictEqual(first, {
          _tag: "JobChanged", job_id: job.job_id, state: "queued", job_kind: "terminal_exec", run_after: stored!.run_after.getTime()
        })

        yield* store.transition({ job_id: job.job_id, from: "queued", to: "cancelled" })
        assert.deepInclude(yield* nextChange(subscription), { job_id: job.job_id, state: "cancelled" })
        // A write that leaves the state as it is announces nothing: the next signal is the next change.
        yield* store.setPinned(job.job_id, true)
        const other = yield* store.createJob(newJob())
        assert.deepInclude(yield* nextChange(subscription), { job_id: other.job_id, state: "queued" })
        assert.strictEqual(yield* Queue.size(subscription), 0)
      }).pipe(Effect.provide(onDatabase(url))))
    })), 60_000)

  it.live("issue 15.3 PostgreSQL: a listener whose connection is killed says look again, reconnects, and hears the next change", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("wake-up reconnect")
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* JobStore
        const sql = yield* SqlClient.SqlClient
        const wake = yield* WakeUp.WakeUp
        const subscription = yield* wake.subscribe
        yield* wake.ready
        yield* Queue.takeAll(subscription)
        const killed = yield* sql<{ readonly n: string }>`
          SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
          WHERE application_name = 'ai-job-model listener' AND datname = current_database()`
        assert.strictEqual(Number(killed[0]?.n), 1)
        assert.deepStrictEqual(yield* Queue.take(subscription), { _tag: "LookAgain" }, "the loss")
        assert.deepStrictEqual(yield* Queue.take(subscription), { _tag: "LookAgain" }, "listening again")
        const job = yield* store.createJob(newJob())
        assert.deepInclude(yield* nextChange(subscription), { job_id: job.job_id, state: "queued" })
      }).pipe(Effect.provide(onDatabase(url))))
    })), 60_000)

  it.effect("issue 15.3 no listener URL (PgBouncer in transaction mode): poll only, and announcing is harmless", () =>
    Effect.scoped(Effect.gen(function*() {
      const wake = yield* WakeUp.WakeUp
      assert.strictEqual(wake.mode, "poll")
      yield* wake.ready
      const subscription = yield* wake.subscribe
      yield* wake.announce({ job_id: someJobId, state: "queued", job_kind: "doc_edit", run_after: 0 })
      assert.strictEqual(yield* Queue.size(subscription), 0)
    }).pipe(Effect.provide(WakeUp.layerPg({ listenUrl: null })))))

  it.effect("R17 options past the types stop the layer with a DecodeFailure naming them: a misspelt key, a reconnect delay below zero (read as zero: a tight loop) or unreadable", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Layer.Layer<WakeUp.WakeUp>, string]> = [
        [WakeUp.layerPg({ listenUrl: null, reconectDelay: "1 second" } as never), "reconectDelay"],
        [WakeUp.layerPg({ listenUrl: "postgres://127.0.0.1:1/none", reconnectDelay: "-1 seconds" }), "reconnectDelay"],
        [WakeUp.layerPg({ listenUrl: "postgres://127.0.0.1:1/none", reconnectDelay: [-1, 0] }), "reconnectDelay"],
        [WakeUp.layerPg({ listenUrl: "postgres://127.0.0.1:1/none", reconnectDelay: "soon" as never }), "reconnectDelay"],
        [WakeUp.layerFromUrl("postgres://127.0.0.1:1/none", { listenURL: null } as never), "listenURL"]
      ]
      for (const [layer, path] of cases) {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
        const defect = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
        assert.instanceOf(defect, DecodeFailure, `${path}: ${String(exit)}`)
        assert.deepStrictEqual((defect as DecodeFailure).issues.map((issue) => issue.path), [path])
      }
    }))
})

describe("issue 15.3 waiting for work", () => {
  const queued = (job_kind: "doc_edit" | "terminal_exec", run_after: number, job_id: JobId = someJobId) =>
    ({ job_id, state: "queued" as const, job_kind, run_after })

  it.effect("issue 15.3 in process: an announced queued job of a wanted kind wakes the waiter at once; other kinds and states do not", () =>
    Effect.scoped(Effect.gen(function*() {
      const wake = yield* WakeUp.WakeUp
      const subscription = yield* wake.subscribe
      const waiting = yield* Effect.fork(WakeUp.awaitWork(subscription, new Set(["doc_edit"])))
      yield* wake.announce(queued("terminal_exec", 0))
      yield* wake.announce({ ...queued("doc_edit", 0), state: "running" })
      yield* TestClock.adjust("1 hour")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "no wanted work yet")
      yield* wake.announce(queued("doc_edit", 0))
      yield* Fiber.join(waiting)
    }).pipe(Effect.provide(WakeUp.layerInProcess))))

  it.effect("issue 15.3 a job eligible later wakes the waiter when its time comes on Effect's clock (TestClock), not before", () =>
    Effect.scoped(Effect.gen(function*() {
      const wake = yield* WakeUp.WakeUp
      const subscription = yield* wake.subscribe
      yield* TestClock.setTime(10_000)
      const waiting = yield* Effect.fork(WakeUp.awaitWork(subscription))
      yield* wake.announce(queued("doc_edit", 15_000))
      yield* TestClock.adjust(4_999)
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "not before its run-after time")
      yield* TestClock.adjust(1)
      yield* Fiber.join(waiting)
    }).pipe(Effect.provide(WakeUp.layerInProcess))))

  it.effect("issue 15.3 announcements made while the waiter was busy are not lost; awaitChange waits for the named job and state", () =>
    Effect.scoped(Effect.gen(function*() {
      const wake = yield* WakeUp.WakeUp
      const subscription = yield* wake.subscribe
      yield* wake.announce(queued("doc_edit", 0))
      yield* WakeUp.awaitWork(subscription)
      const other = "0190a000-0000-7000-8000-000000000002" as JobId
      const waiting = yield* Effect.fork(WakeUp.awaitChange(subscription, someJobId, (state) => state === "completed"))
      yield* wake.announce({ ...queued("doc_edit", 0, other), state: "completed" })
      yield* wake.announce({ ...queued("doc_edit", 0), state: "running" })
      yield* TestClock.adjust("1 hour")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      yield* wake.announce({ ...queued("doc_edit", 0), state: "completed" })
      yield* Fiber.join(waiting)
    }).pipe(Effect.provide(WakeUp.layerInProcess))))
})
