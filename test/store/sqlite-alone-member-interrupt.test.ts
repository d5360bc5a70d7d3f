/**
 * SQLite group commit: a caller's transaction (an Effect member) waiting in a group's line is sent to a
 * transaction of its own ("alone") when the group closes before its turn — the owner's change failed, or
 * the owner's wait for the write lock was interrupted. That transaction of its own must be as
 * interruptible as the caller, as any transaction is: its wait for another connection's write lock ends
 * at once on an interrupt (nothing was begun), and its change, interrupted, is rolled back. Before, it ran
 * inside the first transaction's uninterruptible region: the interrupt waited for the whole transaction,
 * which then committed although its caller was told it was interrupted.
 *
 * The same for a write on a caller's client (`layerFromClient`) waiting for the client's one connection:
 * the client's acquirer makes only its own region's wait interruptible, and it ran inside the store's.
 *
 * Each test holds the transaction at the point to interrupt (a latch inside the change, another
 * connection's BEGIN IMMEDIATE, the connection held by another fiber), interrupts, then lets it go: a
 * change that ignored the interrupt goes on then (and commits, when it was past its BEGIN).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { ids, jobEvent, newJob } from "./fixtures.js"
import { Database } from "./sqlite-recorder.js"
import { storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** A store on its own client (group commit on, the default) over `filename`. */
const storeOn = (filename: string, busyTimeoutMs?: number) =>
  Effect.map(Layer.build(SqliteStore.layer({ filename, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) })), (context) =>
    Context.get(context, JobStore))

/** Creates job `jobId` with one record. */
const createJobWith = (store: JobStore["Type"], jobId: JobId) => store.createJob(newJob({ job_id: jobId }), { events: (job) => [jobEvent(job)] })

/** Each job's stored [job rows, records], read through the store. */
const storedOf = (store: JobStore["Type"], jobIds: ReadonlyArray<JobId>) =>
  Effect.forEach(jobIds, (jobId) =>
    Effect.all([
      Effect.map(Effect.either(store.getJob(jobId)), (found) => Either.isRight(found) ? 1 : 0),
      Effect.map(store.listEvents({ job_id: jobId }), (page) => page.items.length)
    ]))

/** Waits (yielding, no sleep) until `fiber` is suspended: a caller's transaction that finds a group open parks in its line at once. */
const parked = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.gen(function*() {
    for (;;) {
      if (FiberStatus.isSuspended(yield* Fiber.status(fiber))) return
      yield* Effect.yieldNow()
    }
  })

/**
 * Interrupts `fiber`: whether the interrupt returned within 10 s. Disconnected, so the bound returns even while
 * the interrupt itself still waits (an interrupt that waits for a latch nobody opens yet, or a lock held until
 * the test frees it).
 */
const interruptReturned = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Fiber.interrupt(fiber).pipe(Effect.disconnect, Effect.timeout("10 seconds"), Effect.option, Effect.map(Option.isSome))

/** What an exit says, for comparing: "ok", "interrupted", or "failed". */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "ok" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failed"

describe("SQLite group commit: a caller's transaction sent to a transaction of its own stays interruptible", () => {
  for (const where of ["memory", "file"] as const) {
    it.scopedLive(
      `a store.transaction waiting in a group's line whose owner's change fails runs alone, and an interrupt while its change runs ends it at once and rolls it back: nothing of it is stored, also once its change would have gone on (SQLite ${where})`,
      () =>
        Effect.gen(function*() {
          const store = yield* storeOn(where === "memory" ? ":memory:" : yield* tempDatabaseFile())
          const [owner, member] = [ids.job(), ids.job()] as const
          const ownerInside = yield* Deferred.make<void>()
          const releaseOwner = yield* Deferred.make<void>()
          // The owner: a caller's transaction that holds its group open, then fails (its change rolled back).
          const ownerFiber = yield* Effect.fork(store.transaction(Effect.gen(function*() {
            yield* createJobWith(store, owner)
            yield* Deferred.succeed(ownerInside, undefined)
            yield* Deferred.await(releaseOwner)
            return yield* Effect.fail("the owner's change fails" as const)
          })))
          yield* Deferred.await(ownerInside)
          const wrote = yield* Deferred.make<void>()
          const latch = yield* Deferred.make<void>()
          // The member: in the owner's line; once alone, it writes its job, then waits for the latch.
          const memberFiber = yield* Effect.fork(store.transaction(Effect.gen(function*() {
            yield* createJobWith(store, member)
            yield* Deferred.succeed(wrote, undefined)
            yield* Deferred.await(latch)
          })))
          yield* parked(memberFiber)
          yield* Deferred.succeed(releaseOwner, undefined)
          const ownerExit = yield* Fiber.await(ownerFiber)
          // Its change written inside a transaction of its own (the owner's group closed before its turn).
          yield* Deferred.await(wrote)
          const returned = yield* interruptReturned(memberFiber)
          // A change still running (the interrupt ignored) goes on now and commits.
          yield* Deferred.succeed(latch, undefined)
          const memberExit = yield* Fiber.await(memberFiber)
          assert.deepStrictEqual({
            owner: outcomeOf(ownerExit),
            interruptReturnedAtOnce: returned,
            member: outcomeOf(memberExit),
            stored: yield* storedOf(store, [owner, member])
          }, { owner: "failed", interruptReturnedAtOnce: true, member: "interrupted", stored: [[0, 0], [0, 0]] })
          // The store is usable after.
          const after = ids.job()
          yield* store.transaction(createJobWith(store, after))
          assert.deepStrictEqual(yield* storedOf(store, [after]), [[1, 1]])
        }),
      60_000
    )
  }

  // The store's own client, where a caller's transaction is an Effect member; a caller's client
  // (`layerFromClient`), where every write is one, the store's own methods (a submit's createJob) too.
  for (const on of ["a store.transaction on the store's own client", "a createJob on a caller's client"] as const) {
  const own = on === "a store.transaction on the store's own client"
  it.scopedLive(
    `${on} waiting in a group's line whose owner is interrupted while it waits for another connection's write lock runs alone and waits for the lock itself; an interrupt then ends that wait at once, and once the lock is free nothing of it is stored (SQLite file)`,
    () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        // A budget far past the test's bound: only an interrupt ends these waits.
        const store = own
          ? yield* storeOn(filename, 120_000)
          : Context.get(yield* Layer.build(storeWithClient(filename, { busyTimeoutMs: 120_000 })), JobStore)
        const write = (jobId: JobId) => own ? store.transaction(createJobWith(store, jobId)) : createJobWith(store, jobId)
        // The store's first write takes the connection's busy timeout over (later waits are the store's own).
        yield* createJobWith(store, ids.job())
        const other = yield* Effect.acquireRelease(Effect.sync(() => new Database(filename)), (db) => Effect.sync(() => db.close()))
        other.prepare("BEGIN IMMEDIATE").run()
        const [owner, member] = [ids.job(), ids.job()] as const
        // The owner waits for the write lock, its group open; the member joins its line.
        const ownerFiber = yield* Effect.fork(write(owner))
        yield* parked(ownerFiber)
        const memberFiber = yield* Effect.fork(write(member))
        yield* parked(memberFiber)
        // The owner's wait ends at the interrupt; its group closes and the member starts a transaction of its own.
        const ownerReturned = yield* interruptReturned(ownerFiber)
        // The member meets the lock and waits for it (real sleeps between its tries).
        yield* sleepRealTime(100)
        yield* parked(memberFiber)
        const returned = yield* interruptReturned(memberFiber)
        // The lock free: a wait that ignored the interrupt begins now, and commits.
        other.prepare("COMMIT").run()
        const memberExit = yield* Fiber.await(memberFiber)
        assert.deepStrictEqual({
          ownerInterruptReturnedAtOnce: ownerReturned,
          interruptReturnedAtOnce: returned,
          member: outcomeOf(memberExit),
          stored: yield* storedOf(store, [owner, member])
        }, { ownerInterruptReturnedAtOnce: true, interruptReturnedAtOnce: true, member: "interrupted", stored: [[0, 0], [0, 0]] })
        const after = ids.job()
        yield* write(after)
        assert.deepStrictEqual(yield* storedOf(store, [after]), [[1, 1]])
      }),
    60_000
  )
  }
})

describe("SQLite caller's client: a write waiting for the client's connection stays interruptible", () => {
  // Group commit on, a write arriving while another's transaction is open joins its line (interruptible already):
  // there the connection is held by a read (`readConsistent`), which opens no group.
  for (const groupCommit of [false, true] as const) {
    const holding = groupCommit ? "store.readConsistent" : "store.transaction"
    it.scopedLive(
      `a createJob on a caller's client (layerFromClient, groupCommit ${groupCommit ? "on" : "off"}) waiting for the client's one connection, held by another fiber's ${holding}, ends at its interrupt, before the holder lets go; nothing of it is stored`,
      () =>
        Effect.gen(function*() {
          const filename = yield* tempDatabaseFile()
          const store = Context.get(yield* Layer.build(storeWithClient(filename, { groupCommit })), JobStore)
          const inside = yield* Deferred.make<void>()
          const latch = yield* Deferred.make<void>()
          // The holder: the client's connection held until the latch opens.
          const held = Effect.zipRight(Deferred.succeed(inside, undefined), Deferred.await(latch))
          const holder = yield* Effect.fork(groupCommit ? store.readConsistent(held) : store.transaction(held))
          yield* Deferred.await(inside)
          const member = ids.job()
          const waiting = yield* Effect.fork(createJobWith(store, member))
          yield* parked(waiting)
          const returned = yield* interruptReturned(waiting)
          yield* Deferred.succeed(latch, undefined)
          yield* Fiber.await(holder)
          const exit = yield* Fiber.await(waiting)
          assert.deepStrictEqual(
            { interruptReturnedAtOnce: returned, outcome: outcomeOf(exit), stored: yield* storedOf(store, [member]) },
            { interruptReturnedAtOnce: true, outcome: "interrupted", stored: [[0, 0]] }
          )
        }),
      60_000
    )
  }
})
