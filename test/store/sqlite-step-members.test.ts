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
 * (The contract suites and sqlite-statements.test.ts cover the rest; their
 * group-commit tests run on a caller's client, where the steps go through Effect.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { EventId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
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
  return { store, count }
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
