/**
 * Issue 16 (the "client cut"): on the store's own client (`SqliteStore.layer`)
 * `createJob` with records, `claimAdmitted` and `finishRunningJob` run as
 * steps (sqlite/step.ts): synchronously, and in a group commit as a member
 * the group's owner runs itself, in a savepoint of its own, without handing
 * over to the member's fiber (sqlite/transaction.ts `serveNow`). These
 * tests force the groups — an owner holds its transaction open until the
 * members are in its line — and check what group commit promises for such
 * members: a member's failure rolls back its savepoint alone and reaches that
 * member alone, the others commit in the same COMMIT, and a step owner's
 * failure sends its members to transactions of their own.
 *
 * The paths that break a group: a member whose failure ends the whole
 * transaction (a trigger's RAISE(ROLLBACK), real SQLite) leaves nothing of the
 * group in the file, every change that ran in it gets a typed error, and the
 * members not yet run are not run in the dead group (a SAVEPOINT there would
 * begin a new transaction and its RELEASE commit that member alone) but in
 * transactions of their own. A member interrupted while it waits in the line
 * leaves it, its change never run; once the owner has run it, the interrupt
 * waits for the group's end (its change committed whole). An Effect member (a
 * caller's transaction) interrupted in the line leaves it too; once its turn
 * has come, its change is rolled back to its savepoint and the owner goes on
 * (also when the interrupt and its turn come together). A step that throws
 * a defect (not one of its typed failures) is rolled back alone, owner or
 * member.
 *
 * (The contract suites and sqlite-statements.test.ts cover the rest; their
 * group-commit tests run on a caller's client, where the steps go through Effect.)
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
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { EventId, JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import { makeContext } from "../../src/store/sqlite/context.js"
import * as OwnClient from "../../src/store/sqlite/ownClient.js"
import type { Step } from "../../src/store/sqlite/step.js"
import { makeWriteTransaction } from "../../src/store/sqlite/transaction.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { ids, jobEvent, newJob } from "./fixtures.js"
import { Database, recordingStatements, type Seen } from "./sqlite-recorder.js"
import { tempDatabaseFile } from "./sqlite-support.js"

const countOf = (seen: ReadonlyArray<Seen>, pattern: RegExp) => seen.filter(({ source }) => pattern.test(source)).length

/** A store on its own client over a fresh file, and a second connection that counts what is committed. */
const setUp = Effect.gen(function*() {
  const filename = yield* tempDatabaseFile()
  const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
  const reader = yield* Effect.acquireRelease(Effect.sync(() => new Database(filename)), (db) => Effect.sync(() => db.close()))
  const count = (table: "ai_jobs" | "flight_recorder_events", jobId: string) =>
    (reader.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${table === "ai_jobs" ? "id" : "job_id"} = ?`).all(jobId) as ReadonlyArray<{
      readonly n: number
    }>)[0]?.n
  /** Runs `text` on the second connection (a trigger the test adds behind the store's back). */
  const runOther = (text: string) => {
    reader.prepare(text).run()
  }
  return { store, count, runOther }
})

/** An event id already stored (a job's record): a change reusing it fails on the primary key. */
const storedEventId = (store: JobStore["Type"]) => {
  const id = ids.event()
  return Effect.as(store.createJob(newJob(), { events: (job) => [jobEvent(job, { event_id: id })] }), id)
}

/** A job with one record: its event id `eventId` when given (a taken one makes the change fail). */
const createWithRecord = (store: JobStore["Type"], eventId?: EventId) =>
  store.createJob(newJob(), { events: (job) => [eventId === undefined ? jobEvent(job) : jobEvent(job, { event_id: eventId })] })

/** Each outcome a job that was committed with its one record. */
const assertCommitted = (
  count: (table: "ai_jobs" | "flight_recorder_events", jobId: string) => number | undefined,
  outcomes: ReadonlyArray<Either.Either<{ readonly job_id: string }, unknown>>
) => {
  for (const outcome of outcomes) {
    const job = Either.getOrThrow(outcome)
    assert.deepStrictEqual([count("ai_jobs", job.job_id), count("flight_recorder_events", job.job_id)], [1, 1], job.job_id)
  }
}

/** The changes started together (in order, each on its own fiber), every statement the store ran recorded. */
const together = <A, E>(changes: ReadonlyArray<Effect.Effect<A, E>>) =>
  recordingStatements(() => Effect.all(changes, { concurrency: "unbounded", mode: "either" }))

/** How many of each transaction-control statement ran. */
const control = (seen: ReadonlyArray<Seen>) => ({
  begin: countOf(seen, /^BEGIN IMMEDIATE$/),
  commit: countOf(seen, /^COMMIT$/),
  rollback: countOf(seen, /^ROLLBACK$/),
  savepoint: countOf(seen, /^SAVEPOINT hsk_group_member$/),
  release: countOf(seen, /^RELEASE hsk_group_member$/),
  rollbackTo: countOf(seen, /^ROLLBACK TO hsk_group_member$/)
})

describe("issue 16 SQLite steps as group-commit members, on the store's own client", () => {
  it.scoped(
    "issue 16 step members in an Effect owner's group: the member whose change fails (a taken event id) is rolled back alone and alone gets AlreadyExists; the owner and the other members commit in one COMMIT",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const taken = yield* storedEventId(store)
        const { seen, value } = yield* recordingStatements(() =>
          Effect.gen(function*() {
            const inside = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            // The owner: a caller's transaction, held open until the members are in its line.
            const owner = yield* Effect.fork(store.transaction(Effect.gen(function*() {
              const job = yield* createWithRecord(store)
              yield* Deferred.succeed(inside, undefined)
              yield* Deferred.await(release)
              return job
            })))
            yield* Deferred.await(inside)
            const members = yield* Effect.fork(Effect.all([
            createWithRecord(store),
            createWithRecord(store, taken),
            createWithRecord(store)
            ], { concurrency: "unbounded", mode: "either" }))
            // Joining a group is synchronous once a member's fiber runs: real time lets all three in.
            yield* sleepRealTime(50)
            yield* Deferred.succeed(release, undefined)
            return { owner: yield* Fiber.join(owner), members: yield* Fiber.join(members) }
          })
        )
        // All three were members of the owner's one transaction, each in its own savepoint.
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 3, release: 3, rollbackTo: 1 })
        const [ok1, failed, ok2] = value.members
        assert.deepStrictEqual(value.members.map(Either.isRight), [true, false, true])
        if (Either.isRight(failed!)) return assert.fail("the member with the taken event id fails")
        const error = failed.left
        assert.deepStrictEqual(error._tag === "AlreadyExists" ? [error.entity, error.id] : error._tag, ["event", taken])
        assertCommitted(count, [Either.right(value.owner), ok1!, ok2!])
        // The failed member's job row went with its savepoint.
        assert.strictEqual(
          (seen.filter(({ source }) => /^INSERT INTO ai_jobs/.test(source)).map(({ params }) => params[0] as string)
            .filter((id) => count("ai_jobs", id) === 0)).length,
          1,
          "exactly one job row (the failed member's) is not stored"
        )
      }),
    60_000
  )

  it.scoped(
    "issue 16 in a step owner's group a failing step member is rolled back alone and the owner's and the other member's changes commit in the same COMMIT",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const taken = yield* storedEventId(store)
        const { seen, value } = yield* together([
          // The first fiber opens the group and yields once before it takes the connection; the two others
          // reach its line in that yield (Effect.all starts them in order).
          createWithRecord(store),
          createWithRecord(store, taken),
          createWithRecord(store)
        ])
        // One transaction: the owner's change, two members' savepoints (each released, the failed one rolled back first).
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 2, release: 2, rollbackTo: 1 })
        assert.deepStrictEqual(value.map(Either.isRight), [true, false, true])
        const failed = value[1]!
        if (Either.isRight(failed)) return assert.fail("the member with the taken event id fails")
        const error = failed.left
        assert.deepStrictEqual(error._tag === "AlreadyExists" ? [error.entity, error.id] : error._tag, ["event", taken])
        assertCommitted(count, [value[0]!, value[2]!])
      }),
    60_000
  )

  it.scoped(
    "issue 16 a step owner runs its step members in place until it meets a member that is an Effect (a caller's transaction), hands that one its turn, then runs the step behind it: all four in one COMMIT",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const { seen, value } = yield* together([
          // The first fiber opens the group and yields once; the three others reach its line in that yield, in order.
          createWithRecord(store),
          createWithRecord(store),
          // A caller's transaction: a member run on its own fiber (its statements as Effects).
          store.transaction(createWithRecord(store)),
          createWithRecord(store)
        ])
        assert.deepStrictEqual(value.map(Either.isRight), [true, true, true, true])
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 3, release: 3, rollbackTo: 0 })
        assertCommitted(count, value)
      }),
    60_000
  )

  it.scoped(
    "issue 16 when a step owner's change fails, it rolls back alone and its step members commit in a transaction of their own",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const taken = yield* storedEventId(store)
        const { seen, value } = yield* together([
          createWithRecord(store, taken),
          createWithRecord(store),
          createWithRecord(store)
        ])
        assert.deepStrictEqual(value.map(Either.isRight), [false, true, true])
        // The owner's ROLLBACK; the two members, sent to transactions of their own, form the next group.
        assert.deepStrictEqual(control(seen), { begin: 2, commit: 1, rollback: 1, savepoint: 1, release: 1, rollbackTo: 0 })
        assertCommitted(count, [value[1]!, value[2]!])
      }),
    60_000
  )
})

/** Jobs with this protocol id end the whole transaction they are written in (`endsTransaction`'s trigger). */
const ENDS_TRANSACTION = "hsk.test.ends_transaction"

/**
 * A trigger (real SQLite, added on the second connection) whose RAISE(ROLLBACK) rolls back the whole
 * transaction an INSERT of such a job runs in and fails that statement (SQLITE_CONSTRAINT_TRIGGER): a member
 * whose failure leaves no transaction to roll its savepoint back to.
 */
const endsTransaction = (runOther: (text: string) => void) =>
  runOther(`CREATE TRIGGER test_ends_transaction BEFORE INSERT ON ai_jobs WHEN NEW.protocol_id = '${ENDS_TRANSACTION}'
    BEGIN SELECT RAISE(ROLLBACK, 'test: this change ends the transaction'); END`)

/** Creates job `jobId` with one record; with `ending` its INSERT ends the whole transaction (`endsTransaction`). */
const createJobWith = (store: JobStore["Type"], jobId: JobId, ending = false) =>
  store.createJob(newJob({ job_id: jobId, ...(ending ? { protocol_id: ENDS_TRANSACTION } : {}) }), {
    events: (job) => [jobEvent(job)]
  })

/**
 * An Effect owner's group held open (a caller's transaction that has written job `owner` and waits for
 * `release`); `inside` is done once it is held.
 */
const heldOwner = (store: JobStore["Type"], owner: JobId) =>
  Effect.gen(function*() {
    const inside = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(store.transaction(Effect.gen(function*() {
      yield* createJobWith(store, owner)
      yield* Deferred.succeed(inside, undefined)
      yield* Deferred.await(release)
    })))
    yield* Deferred.await(inside)
    return { fiber, release }
  })

/** The store is usable afterwards: `write` stores a new job with its record. */
const expectUsable = (count: Parameters<typeof storedOf>[0], write: (jobId: JobId) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const after = ids.job()
    yield* write(after)
    assert.deepStrictEqual(storedOf(count, [after]), [[1, 1]])
  })

/** The exits of the changes started together (in order, each on its own fiber), every statement recorded. */
const togetherExits = <A, E>(changes: ReadonlyArray<Effect.Effect<A, E>>) =>
  recordingStatements(() => Effect.all(changes.map((change) => Effect.exit(change)), { concurrency: "unbounded" }))

/**
 * Waits (yielding, no sleep) until `fiber` is suspended: a change that finds a group open parks at once on its
 * answer, so a suspended member is in the group's line (the transaction-control counts confirm it).
 */
const parked = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  Effect.gen(function*() {
    for (;;) {
      if (FiberStatus.isSuspended(yield* Fiber.status(fiber))) return
      yield* Effect.yieldNow()
    }
  })

/** Starts `changes` one by one, each once the one before is parked in the group's line (`parked`): their fibers, in order. */
const inLine = (changes: ReadonlyArray<Effect.Effect<unknown, unknown>>) =>
  Effect.forEach(changes, (change) => Effect.tap(Effect.fork(change), parked))

/** What an exit says, for comparing: "ok", the failure's tag, "defect" or "interrupted". */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit)
    ? "ok"
    : Cause.isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Option.match(Cause.failureOption(exit.cause), {
      onNone: () => "defect",
      onSome: (error) => (error as { readonly _tag?: string })._tag ?? "failure"
    })


/** Each job's stored [job rows, records], in order. */
const storedOf = (count: (table: "ai_jobs" | "flight_recorder_events", jobId: string) => number | undefined, jobIds: ReadonlyArray<string>) =>
  jobIds.map((id) => [count("ai_jobs", id), count("flight_recorder_events", id)])

/** A store's `StorageError` whose SQLite error (through the group's error, if any) is `code`. */
const sqliteCodeOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return undefined
  let cause: unknown = Option.getOrUndefined(Cause.failureOption(exit.cause))
  for (let depth = 0; depth < 5 && cause !== undefined; depth++) {
    const code = (cause as { readonly code?: unknown }).code
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return undefined
}

describe("issue 16 SQLite step members: a broken group rolls back whole, every change in it gets a typed error", () => {
  it.scoped(
    "issue 16 R10 atomic audit: a step member that ends the whole transaction (a trigger's RAISE(ROLLBACK)) in a step owner's group: nothing of the group is in the file, the owner and that member get typed errors (StorageError), the member behind it is not run in the dead group but commits in a transaction of its own",
    () =>
      Effect.gen(function*() {
        const { count, runOther, store } = yield* setUp
        endsTransaction(runOther)
        const jobIds = [ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* togetherExits([
          // The owner opens the group and yields once; the two others reach its line in that yield, in order.
          createJobWith(store, jobIds[0]),
          createJobWith(store, jobIds[1], true),
          createJobWith(store, jobIds[2])
        ])
        assert.deepStrictEqual(value.map(outcomeOf), ["StorageError", "StorageError", "ok"])
        // The breaking member is told its own error (as alone); the owner the group's, whose cause is SQLite's.
        assert.strictEqual(sqliteCodeOf(value[1]!), "SQLITE_CONSTRAINT_TRIGGER")
        assert.deepStrictEqual(storedOf(count, jobIds), [[0, 0], [0, 0], [1, 1]])
        // The group: BEGIN, the owner's step, the member's SAVEPOINT, its failing ROLLBACK TO, the ROLLBACK finding
        // nothing to roll back — and no second SAVEPOINT (outside a transaction it would begin one, and its RELEASE
        // commit that member's change alone). Then the last member on its own: BEGIN … COMMIT.
        assert.deepStrictEqual(control(seen), { begin: 2, commit: 1, rollback: 1, savepoint: 1, release: 0, rollbackTo: 1 })
        // The store is usable afterwards.
        yield* expectUsable(count, (jobId) => createJobWith(store, jobId))
      }),
    60_000
  )

  it.scoped(
    "issue 16 R10 atomic audit: in an Effect owner's group (a caller's transaction) a step member that ends the whole transaction rolls back the owner and the member that already ran — each told a typed error, none told committed — and the step and Effect members behind it commit in transactions of their own",
    () =>
      Effect.gen(function*() {
        const { count, runOther, store } = yield* setUp
        endsTransaction(runOther)
        const [owner, ran, breaking, stepBehind, effectBehind] = [ids.job(), ids.job(), ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* recordingStatements(() =>
          Effect.gen(function*() {
            // The owner: a caller's transaction, held open until the members are in its line.
            const { fiber: ownerFiber, release } = yield* heldOwner(store, owner)
            // In the line, in this order, each before the next one starts.
            const members = yield* inLine([
              createJobWith(store, ran),
              createJobWith(store, breaking, true),
              createJobWith(store, stepBehind),
              store.transaction(createJobWith(store, effectBehind))
            ])
            yield* Deferred.succeed(release, undefined)
            return [yield* Fiber.await(ownerFiber), ...yield* Effect.forEach(members, Fiber.await)]
          })
        )
        assert.deepStrictEqual(value.map(outcomeOf), ["StorageError", "StorageError", "StorageError", "ok", "ok"])
        assert.strictEqual(sqliteCodeOf(value[2]!), "SQLITE_CONSTRAINT_TRIGGER")
        assert.deepStrictEqual(storedOf(count, [owner, ran, breaking, stepBehind, effectBehind]), [[0, 0], [0, 0], [0, 0], [1, 1], [1, 1]])
        // The group: BEGIN, the owner's change, two members' savepoints (the first released, the second's ROLLBACK
        // TO failing), the ROLLBACK finding nothing. Then the two left form the next group: BEGIN, the step's change,
        // the Effect member's savepoint, COMMIT.
        assert.deepStrictEqual(control(seen), { begin: 2, commit: 1, rollback: 1, savepoint: 3, release: 2, rollbackTo: 1 })
        yield* expectUsable(count, (jobId) => createJobWith(store, jobId))
      }),
    60_000
  )
  it.scoped(
    "issue 16 R10 atomic audit: in a step owner's group an Effect member (a caller's transaction) whose change ends the whole transaction: nothing of the group is in the file, the owner and that member get typed errors, and the step and Effect members behind it commit in transactions of their own",
    () =>
      Effect.gen(function*() {
        const { count, runOther, store } = yield* setUp
        endsTransaction(runOther)
        const [owner, breaking, stepBehind, effectBehind] = [ids.job(), ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* togetherExits([
          // The owner opens the group and yields once; the three others reach its line in that yield, in order.
          createJobWith(store, owner),
          store.transaction(createJobWith(store, breaking, true)),
          createJobWith(store, stepBehind),
          store.transaction(createJobWith(store, effectBehind))
        ])
        assert.deepStrictEqual(value.map(outcomeOf), ["StorageError", "StorageError", "ok", "ok"])
        assert.strictEqual(sqliteCodeOf(value[1]!), "SQLITE_CONSTRAINT_TRIGGER")
        assert.deepStrictEqual(storedOf(count, [owner, breaking, stepBehind, effectBehind]), [[0, 0], [0, 0], [1, 1], [1, 1]])
        // The group: BEGIN, the owner's step, the Effect member's SAVEPOINT and failing ROLLBACK TO, the ROLLBACK
        // finding nothing. Then the two left: BEGIN, the step's change, the Effect member's savepoint, COMMIT.
        assert.deepStrictEqual(control(seen), { begin: 2, commit: 1, rollback: 1, savepoint: 2, release: 1, rollbackTo: 1 })
        yield* expectUsable(count, (jobId) => createJobWith(store, jobId))
      }),
    60_000
  )
})

describe("issue 16 SQLite step members interrupted while they wait in a group's line", () => {
  it.scopedLive(
    "issue 16 a step member interrupted while it waits in the line (the owner, a caller's transaction, still open) leaves the line at once, its change never run; the owner and the member behind it commit, and the next caller proceeds",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const [owner, interrupted, behind] = [ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* recordingStatements(() =>
          Effect.gen(function*() {
            // The owner: a caller's transaction, held open until the members are in its line.
            const { fiber: ownerFiber, release } = yield* heldOwner(store, owner)
            const member = yield* Effect.fork(createJobWith(store, interrupted))
            yield* parked(member)
            const behindFiber = yield* Effect.fork(createJobWith(store, behind))
            yield* parked(behindFiber)
            // The interrupt returns while the owner still holds its group open (the bound only turns a hang into a
            // failure; with the owner held, nothing else can end the wait).
            yield* Fiber.interrupt(member).pipe(
              Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "the interrupt waited for the group's owner" })
            )
            yield* Deferred.succeed(release, undefined)
            return [yield* Fiber.await(ownerFiber), yield* Fiber.await(member), yield* Fiber.await(behindFiber)]
          })
        )
        assert.deepStrictEqual(value.map(outcomeOf), ["ok", "interrupted", "ok"])
        assert.deepStrictEqual(storedOf(count, [owner, interrupted, behind]), [[1, 1], [0, 0], [1, 1]])
        // One transaction, one member's savepoint: the interrupted member was not run.
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 1, release: 1, rollbackTo: 0 })
        yield* expectUsable(count, (jobId) => createJobWith(store, jobId))
      }),
    60_000
  )

  it.scopedLive(
    "issue 16 a step member interrupted after the owner ran it but before the group's COMMIT: the interrupt waits for the COMMIT, its change is committed whole (job and record), the owner and the other member commit with it, and the next caller proceeds",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const [owner, interrupted, effectMember] = [ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* recordingStatements(() =>
          Effect.gen(function*() {
            // The owner: a caller's transaction, held open until the members are in its line.
            const { fiber: ownerFiber, release } = yield* heldOwner(store, owner)
            const member = yield* Effect.fork(createJobWith(store, interrupted))
            yield* parked(member)
            // Behind it an Effect member (a caller's transaction) that holds the group open once its turn has come.
            const itsTurn = yield* Deferred.make<void>()
            const releaseIt = yield* Deferred.make<void>()
            const effectFiber = yield* Effect.fork(store.transaction(Effect.gen(function*() {
              yield* Deferred.succeed(itsTurn, undefined)
              yield* Deferred.await(releaseIt)
              yield* createJobWith(store, effectMember)
            })))
            yield* parked(effectFiber)
            yield* Deferred.succeed(release, undefined)
            // The owner runs the step member in place, then gives the Effect member its turn: the step has run, the
            // group has not committed.
            yield* Deferred.await(itsTurn)
            const interrupter = yield* Effect.fork(Fiber.interrupt(member))
            // While the group is open the interrupt does not return (a bounded look: the group cannot end meanwhile).
            assert.isTrue(Option.isNone(yield* Effect.option(Effect.timeout(Fiber.await(interrupter), "250 millis"))))
            assert.deepStrictEqual(storedOf(count, [interrupted]), [[0, 0]], "nothing committed yet")
            yield* Deferred.succeed(releaseIt, undefined)
            const memberExit = yield* Fiber.join(interrupter)
            // When the interrupt returns the group has committed: the member's change is in the file, whole.
            const atInterrupt = storedOf(count, [interrupted])
            return { atInterrupt, exits: [yield* Fiber.await(ownerFiber), memberExit, yield* Fiber.await(effectFiber)] }
          })
        )
        assert.deepStrictEqual(value.atInterrupt, [[1, 1]])
        // Its fiber ends interrupted (the interrupt took effect after the change's point of no return), never with a
        // failure for a change that is in the file.
        assert.deepStrictEqual(value.exits.map(outcomeOf), ["ok", "interrupted", "ok"])
        assert.deepStrictEqual(storedOf(count, [owner, interrupted, effectMember]), [[1, 1], [1, 1], [1, 1]])
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 2, release: 2, rollbackTo: 0 })
        yield* expectUsable(count, (jobId) => createJobWith(store, jobId))
      }),
    60_000
  )
})

/** Interrupts `fiber`, bounded: the bound only turns a hang (an interrupt waiting for a group held open) into a failure. */
const interruptNow = (fiber: Fiber.RuntimeFiber<unknown, unknown>, what: string) =>
  // Disconnected, so the bound returns even while the interrupt itself still waits.
  Fiber.interrupt(fiber).pipe(Effect.disconnect, Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => what }))

describe("issue 16 SQLite Effect members (a caller's transaction) interrupted in a group", () => {
  it.scopedLive(
    "issue 16 an Effect member interrupted while it waits for its turn (the owner, a caller's transaction, still open) leaves the line at once, its change never run (no savepoint for it); the owner and the Effect and step members behind it commit in one COMMIT, and the next caller proceeds",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const [owner, interrupted, effectBehind, stepBehind] = [ids.job(), ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* recordingStatements(() =>
          Effect.gen(function*() {
            const held = yield* heldOwner(store, owner)
            // In the line, in this order, each before the next one starts.
            const members = yield* inLine([
              store.transaction(createJobWith(store, interrupted)),
              store.transaction(createJobWith(store, effectBehind)),
              createJobWith(store, stepBehind)
            ])
            // The interrupt returns while the owner still holds its group open: nothing else can end the wait.
            yield* interruptNow(members[0]!, "the interrupt waited for the group's owner")
            const beforeCommit = storedOf(count, [owner])
            yield* Deferred.succeed(held.release, undefined)
            return { beforeCommit, exits: [yield* Fiber.await(held.fiber), ...yield* Effect.forEach(members, Fiber.await)] }
          })
        )
        assert.deepStrictEqual(value.beforeCommit, [[0, 0]], "the interrupt returned before the owner's COMMIT")
        assert.deepStrictEqual(value.exits.map(outcomeOf), ["ok", "interrupted", "ok", "ok"])
        assert.deepStrictEqual(storedOf(count, [owner, interrupted, effectBehind, stepBehind]), [[1, 1], [0, 0], [1, 1], [1, 1]])
        // One transaction; savepoints for the two members behind only: the interrupted member was never run.
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 2, release: 2, rollbackTo: 0 })
        yield* expectUsable(count, (jobId) => store.transaction(createJobWith(store, jobId)))
      }),
    60_000
  )

  it.scopedLive(
    "issue 16 R10 atomic audit: an Effect member interrupted while its own change runs in the group (blocked inside its transaction after writing a job) is rolled back to its savepoint — its job and record not in the file — the interrupt returns before the group's COMMIT, the owner and the members behind it commit, and the store is usable after",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const [owner, interrupted, effectBehind, stepBehind] = [ids.job(), ids.job(), ids.job(), ids.job()] as const
        const { seen, value } = yield* recordingStatements(() =>
          Effect.gen(function*() {
            const held = yield* heldOwner(store, owner)
            const wrote = yield* Deferred.make<void>()
            const never = yield* Deferred.make<void>()
            const behindsTurn = yield* Deferred.make<void>()
            const releaseBehind = yield* Deferred.make<void>()
            // In the line, in this order, each before the next one starts.
            const members = yield* inLine([
              // Its turn come, it writes its job and record, then blocks (a latch nobody opens).
              store.transaction(Effect.gen(function*() {
                yield* createJobWith(store, interrupted)
                yield* Deferred.succeed(wrote, undefined)
                yield* Deferred.await(never)
              })),
              // Behind it an Effect member that, its turn come, holds the group open until released.
              store.transaction(Effect.gen(function*() {
                yield* Deferred.succeed(behindsTurn, undefined)
                yield* Deferred.await(releaseBehind)
                yield* createJobWith(store, effectBehind)
              })),
              createJobWith(store, stepBehind)
            ])
            yield* Deferred.succeed(held.release, undefined)
            // The owner has run its change and given the first member its turn: its write is in the open group.
            yield* Deferred.await(wrote)
            yield* interruptNow(members[0]!, "the interrupt of a running member did not return")
            // The owner went on (signalled by the interrupted member) and gave the next member its turn; the group
            // is still open, held by that member.
            yield* Deferred.await(behindsTurn)
            const atInterrupt = storedOf(count, [owner, interrupted])
            yield* Deferred.succeed(releaseBehind, undefined)
            return { atInterrupt, exits: [yield* Fiber.await(held.fiber), ...yield* Effect.forEach(members, Fiber.await)] }
          })
        )
        // The member's savepoint rolled back and ended at once: the interrupt did not wait for the group's end.
        assert.deepStrictEqual(value.atInterrupt, [[0, 0], [0, 0]], "nothing committed when the interrupt returned")
        assert.deepStrictEqual(value.exits.map(outcomeOf), ["ok", "interrupted", "ok", "ok"])
        assert.deepStrictEqual(storedOf(count, [owner, interrupted, effectBehind, stepBehind]), [[1, 1], [0, 0], [1, 1], [1, 1]])
        // One transaction: three members' savepoints, the interrupted one's rolled back, all released.
        assert.deepStrictEqual(control(seen), { begin: 1, commit: 1, rollback: 0, savepoint: 3, release: 3, rollbackTo: 1 })
        const after = ids.job()
        yield* store.transaction(createJobWith(store, after))
        yield* createJobWith(store, ids.job())
        assert.deepStrictEqual(storedOf(count, [after]), [[1, 1]])
      }),
    60_000
  )

  for (const first of ["interrupt", "turn"] as const) {
    it.scopedLive(
      `issue 16 an Effect member whose interrupt and turn come together (the ${first} sent first): the owner and the member agree on one end — never run (no savepoint, the owner signalled and going on) or run in its savepoint, interrupted there and rolled back — nothing of it is stored, the owner and the member behind it commit, nobody waits for ever`,
      () =>
        Effect.gen(function*() {
          const { count, store } = yield* setUp
          const [owner, interrupted, behind] = [ids.job(), ids.job(), ids.job()] as const
          const { seen, value } = yield* recordingStatements(() =>
            Effect.gen(function*() {
              const held = yield* heldOwner(store, owner)
              const member = yield* Effect.fork(store.transaction(createJobWith(store, interrupted)))
              yield* parked(member)
              const behindFiber = yield* Effect.fork(store.transaction(createJobWith(store, behind)))
              yield* parked(behindFiber)
              // Both sent at once, no wait between: the owner takes the member from the line and gives it its turn
              // while its interrupt is under way. (With the store's code as it is, both orders end the same way:
              // the member's fiber takes the interrupt, the owner takes it from the line before its canceler runs,
              // and the canceler, finding it told "run", signals the owner. Which one wins is the scheduler's;
              // what is checked is that the two agree.)
              if (first === "interrupt") {
                yield* Fiber.interruptFork(member)
                yield* Deferred.succeed(held.release, undefined)
              } else {
                yield* Deferred.succeed(held.release, undefined)
                yield* Fiber.interruptFork(member)
              }
              return yield* Effect.all([Fiber.await(held.fiber), Fiber.await(member), Fiber.await(behindFiber)]).pipe(
                Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "a fiber of the group waits for ever" })
              )
            })
          )
          assert.deepStrictEqual(value.map(outcomeOf), ["ok", "interrupted", "ok"])
          assert.deepStrictEqual(storedOf(count, [owner, interrupted, behind]), [[1, 1], [0, 0], [1, 1]])
          // One transaction, the member behind in its savepoint; the interrupted member either never ran, or ran
          // in a savepoint of its own that was rolled back — never released with its change.
          assert.oneOf(JSON.stringify(control(seen)), [
            JSON.stringify({ begin: 1, commit: 1, rollback: 0, savepoint: 1, release: 1, rollbackTo: 0 }),
            JSON.stringify({ begin: 1, commit: 1, rollback: 0, savepoint: 2, release: 2, rollbackTo: 1 })
          ])
          yield* expectUsable(count, (jobId) => store.transaction(createJobWith(store, jobId)))
        }),
      60_000
    )
  }
})

/** A step that writes `key` into `t`. */
function* insertKey(key: string): Step<string> {
  yield ["INSERT INTO t (k) VALUES (?)", [key]]
  return key
}

/** What `insertThenDefect` throws: not one of a step's typed failures. */
const DEFECT = new TypeError("test: a step's bug")

/** A step that writes `key`, then throws a defect (a bug in a step, not one of its typed failures). */
function* insertThenDefect(key: string): Step<string> {
  yield ["INSERT INTO t (k) VALUES (?)", [key]]
  throw DEFECT
}

/**
 * The store's write transaction on its own client, over a fresh file with a table `t`, built directly: the
 * store's own steps throw only typed failures, so a step with a bug is the test's (the database, the client
 * and the transaction machinery are the store's, nothing mocked).
 */
const ownTransaction = Effect.gen(function*() {
  const filename = yield* tempDatabaseFile()
  const sql = yield* Effect.provide(OwnClient.make({ filename }), Reactivity.layer)
  yield* sql.unsafe("CREATE TABLE t (k TEXT PRIMARY KEY)")
  const context = makeContext(sql, makeWriteTransaction(sql, 5000, 1, { groupCommit: true }))
  // The first write takes the connection's busy timeout over; from then on steps run synchronously.
  yield* context.change(() => insertKey("first"))
  const keys = Effect.map(sql.unsafe<{ readonly k: string }>("SELECT k FROM t WHERE k <> 'first' ORDER BY k"), (rows) => rows.map(({ k }) => k))
  return { context, keys }
})

/** The defect an exit died with, if it died. */
const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown => Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

/**
 * A defect test's checks: each caller's outcome (the one at `defective` died with `DEFECT`), the keys stored,
 * the transaction-control counts, and then that the connection is free and no group is left open — the next
 * change commits on its own.
 */
const expectDefectRun = (
  run: Effect.Effect.Success<typeof ownTransaction>,
  result: { readonly seen: Parameters<typeof control>[0]; readonly value: ReadonlyArray<Exit.Exit<unknown, unknown>> },
  expected: {
    readonly outcomes: ReadonlyArray<string>
    readonly keys: ReadonlyArray<string>
    readonly control: ReturnType<typeof control>
  }
) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(result.value.map(outcomeOf), expected.outcomes)
    assert.strictEqual(defectOf(result.value[expected.outcomes.indexOf("defect")]!), DEFECT)
    assert.deepStrictEqual(yield* run.keys, expected.keys)
    assert.deepStrictEqual(control(result.seen), expected.control)
    assert.strictEqual(yield* run.context.change(() => insertKey("d")), "d")
    assert.deepStrictEqual(yield* run.keys, [...expected.keys, "d"])
  })

describe("issue 16 SQLite step members whose step throws a defect", () => {
  it.scoped(
    "issue 16 in a step owner's group a step member that throws a defect is rolled back alone (its write undone) and alone gets that defect; the owner's and the other member's changes commit in the same COMMIT",
    () =>
      Effect.gen(function*() {
        const run = yield* ownTransaction
        const { context } = run
        const result = yield* togetherExits([
          context.change(() => insertKey("a")),
          context.change(() => insertThenDefect("b")),
          context.change(() => insertKey("c"))
        ])
        yield* expectDefectRun(run, result, {
          outcomes: ["ok", "defect", "ok"],
          keys: ["a", "c"],
          control: { begin: 1, commit: 1, rollback: 0, savepoint: 2, release: 2, rollbackTo: 1 }
        })
      }),
    60_000
  )

  it.scoped(
    "issue 16 in an Effect owner's group (a transaction held open) a step member that throws a defect is rolled back alone and alone gets that defect; the owner and the other member commit in one COMMIT",
    () =>
      Effect.gen(function*() {
        const run = yield* ownTransaction
        const { context } = run
        const result = yield* recordingStatements(() =>
          Effect.gen(function*() {
            const inside = yield* Deferred.make<void>()
            const release = yield* Deferred.make<void>()
            const owner = yield* Effect.fork(context.transaction(Effect.gen(function*() {
              yield* context.exec("INSERT INTO t (k) VALUES (?)", ["a"])
              yield* Deferred.succeed(inside, undefined)
              yield* Deferred.await(release)
            })))
            yield* Deferred.await(inside)
            const members = yield* inLine([context.change(() => insertThenDefect("b")), context.change(() => insertKey("c"))])
            yield* Deferred.succeed(release, undefined)
            return [yield* Fiber.await(owner), ...yield* Effect.forEach(members, Fiber.await)]
          })
        )
        yield* expectDefectRun(run, result, {
          outcomes: ["ok", "defect", "ok"],
          keys: ["a", "c"],
          control: { begin: 1, commit: 1, rollback: 0, savepoint: 2, release: 2, rollbackTo: 1 }
        })
      }),
    60_000
  )

  it.scoped(
    "issue 16 a step owner whose step throws a defect rolls back (its write undone) and gets that defect; its members commit in a transaction of their own",
    () =>
      Effect.gen(function*() {
        const run = yield* ownTransaction
        const { context } = run
        const result = yield* togetherExits([
          context.change(() => insertThenDefect("a")),
          context.change(() => insertKey("b")),
          context.change(() => insertKey("c"))
        ])
        yield* expectDefectRun(run, result, {
          outcomes: ["defect", "ok", "ok"],
          keys: ["b", "c"],
          control: { begin: 2, commit: 1, rollback: 1, savepoint: 1, release: 1, rollbackTo: 0 }
        })
      }),
    60_000
  )
})
