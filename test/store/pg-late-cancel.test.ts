/**
 * R8 graceful shutdown, PostgreSQL (regression probe, f143): a worker pool's
 * drain end cancels a job's statements still in flight (`cancelWritesOf`,
 * by a claim's event id or a job's id). A cancel is a signal to the
 * statement's backend, sent on a connection of its own: when the statement
 * ended between the look and the cancel's delivery, the cancel reached that
 * connection's next statement — another caller's (the probe: a just-claimed
 * job's release, cancelled, the job stranded `running`).
 *
 * Forced, not timed: the store connects through a proxy that holds the
 * CancelRequest; the statement looked at waits on a lock another session
 * holds, and commits once it is let go, the cancel still held; the next
 * statement, another caller's, waits on a second lock while the cancel is
 * passed on and delivered, and only then is that lock let go. That
 * statement now runs on another connection and succeeds; the cancelled
 * one's connection is closed on its release, never lent again. A caller's
 * transaction whose connection the cancel was sent to gives it back closed
 * too, and the next caller's statement is not cancelled.
 *
 * The cancel is PostgreSQL's: the SQLite store has no `cancelWritesOf` (its
 * cut interrupts its own lock wait, in process), so only PostgreSQL runs here.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { NewAiJob } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { cancelHoldingStore, cancelsHeld } from "../support/cancelHoldingStore.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { holdTable } from "../support/tableHold.js"
import { ids, jobEvent, newJob } from "./fixtures.js"

/** A job's creation as `Jobs.submit` writes it: the job and its event (one statement outside a transaction). */
const create = (store: JobStore["Type"], job: NewAiJob) => store.createJob(job, { events: (created) => [jobEvent(created)] })

/** The job `id` and how many events it has, read back through `store`. */
const stored = (store: JobStore["Type"], id: JobId) =>
  Effect.zipWith(store.getJob(id), store.listEvents({ job_id: id }), (job, events) => ({ job: job.job_id, events: events.items.length }))

/** The ways a statement's connection is checked out: a statement of its own, or a caller's transaction. */
const checkouts = [
  { name: "a statement of its own", inTransaction: false },
  { name: "a caller's transaction", inTransaction: true }
] as const

describe("a cancel delivered after its statement ended, on PostgreSQL", () => {
  for (const checkout of checkouts) {
    it.live(`R8 the cut statement's connection (${checkout.name}) is not lent again: the next caller's statement is not cancelled, the cut one keeps what it committed`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("late cancel")
        const { proxy, store } = yield* cancelHoldingStore(url)
        const [cutId, nextId] = [ids.job(), ids.job()]
        const cut = newJob({ job_id: cutId })
        const next = newJob({ job_id: nextId })
        const first = yield* holdTable(url, "ai_jobs")
        const write = create(store, cut)
        const cutWrite = yield* Effect.fork(checkout.inTransaction ? store.transaction(write) : write)
        yield* first.blocked
        // The drain's end looks at the statement in flight (it names the job) and sends its cancel: held on the way.
        proxy.holdCancels()
        const cancel = yield* Effect.fork(store.cancelWritesOf!(cutId))
        yield* cancelsHeld(proxy, 1)
        // The statement ends before the cancel is delivered: it committed.
        yield* first.release
        const created = yield* Fiber.join(cutWrite)
        assert.strictEqual(created.job_id, cutId)
        // The next caller's statement is running when the cancel is delivered.
        const second = yield* holdTable(url, "ai_jobs")
        const nextWrite = yield* Effect.fork(Effect.exit(create(store, next)))
        yield* second.blocked
        yield* Effect.promise(() => proxy.releaseCancels())
        yield* Fiber.join(cancel)
        yield* second.release
        const exit = yield* Fiber.join(nextWrite)
        assert.isTrue(Exit.isSuccess(exit), `the next caller's statement was not cancelled: ${String(exit)}`)
        assert.deepStrictEqual(yield* stored(store, cutId), { job: cutId, events: 1 }, "the cut statement keeps what it committed")
        assert.deepStrictEqual(yield* stored(store, nextId), { job: nextId, events: 1 }, "the next caller's job and its event are stored")
      }).pipe(Effect.scoped), 60_000)
  }
})
