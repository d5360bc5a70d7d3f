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
              const job = yield* store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
              yield* Deferred.succeed(inside, undefined)
              yield* Deferred.await(release)
              return job
            })))
            yield* Deferred.await(inside)
            const members = yield* Effect.fork(Effect.all([
              store.createJob(newJob(), { events: (job) => [jobEvent(job)] }),
              store.createJob(newJob(), { events: (job) => [jobEvent(job, { event_id: taken })] }),
              store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
            ], { concurrency: "unbounded", mode: "either" }))
            // Joining a group is synchronous once a member's fiber runs: real time lets all three in.
            yield* sleepRealTime(50)
            yield* Deferred.succeed(release, undefined)
            return { owner: yield* Fiber.join(owner), members: yield* Fiber.join(members) }
          })
        )
        // All three were members of the owner's one transaction, each in its own savepoint.
        assert.strictEqual(countOf(seen, /^BEGIN IMMEDIATE$/), 1)
        assert.strictEqual(countOf(seen, /^COMMIT$/), 1)
        assert.strictEqual(countOf(seen, /^SAVEPOINT hsk_group_member$/), 3)
        assert.strictEqual(countOf(seen, /^ROLLBACK TO hsk_group_member$/), 1)
        const [ok1, failed, ok2] = value.members
        assert.deepStrictEqual(value.members.map(Either.isRight), [true, false, true])
        if (Either.isRight(failed!)) return assert.fail("the member with the taken event id fails")
        const error = failed.left
        assert.deepStrictEqual(error._tag === "AlreadyExists" ? [error.entity, error.id] : error._tag, ["event", taken])
        for (const job of [value.owner, Either.getOrThrow(ok1!), Either.getOrThrow(ok2!)]) {
          assert.deepStrictEqual([count("ai_jobs", job.job_id), count("flight_recorder_events", job.job_id)], [1, 1], job.job_id)
        }
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
        const { seen, value } = yield* recordingStatements(() =>
          // The first fiber opens the group and yields once before it takes the connection; the two others
          // reach its line in that yield (Effect.all starts them in order).
          Effect.all([
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] }),
            store.createJob(newJob(), { events: (job) => [jobEvent(job, { event_id: taken })] }),
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
          ], { concurrency: "unbounded", mode: "either" })
        )
        assert.strictEqual(countOf(seen, /^BEGIN IMMEDIATE$/), 1)
        assert.strictEqual(countOf(seen, /^COMMIT$/), 1)
        assert.strictEqual(countOf(seen, /^SAVEPOINT hsk_group_member$/), 2)
        assert.strictEqual(countOf(seen, /^ROLLBACK TO hsk_group_member$/), 1)
        assert.deepStrictEqual(value.map(Either.isRight), [true, false, true])
        const failed = value[1]!
        if (Either.isRight(failed)) return assert.fail("the member with the taken event id fails")
        const error = failed.left
        assert.deepStrictEqual(error._tag === "AlreadyExists" ? [error.entity, error.id] : error._tag, ["event", taken])
        for (const outcome of [value[0]!, value[2]!]) {
          const job = Either.getOrThrow(outcome)
          assert.deepStrictEqual([count("ai_jobs", job.job_id), count("flight_recorder_events", job.job_id)], [1, 1], job.job_id)
        }
      }),
    60_000
  )

  it.scoped(
    "issue 16 a step owner runs its step members in place until it meets a member that is an Effect (a caller's transaction), hands that one its turn, then runs the step behind it: all four in one COMMIT",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const { seen, value } = yield* recordingStatements(() =>
          // The first fiber opens the group and yields once; the three others reach its line in that yield, in order.
          Effect.all([
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] }),
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] }),
            // A caller's transaction: a member run on its own fiber (its statements as Effects).
            store.transaction(store.createJob(newJob(), { events: (job) => [jobEvent(job)] })),
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
          ], { concurrency: "unbounded", mode: "either" })
        )
        assert.deepStrictEqual(value.map(Either.isRight), [true, true, true, true])
        assert.strictEqual(countOf(seen, /^BEGIN IMMEDIATE$/), 1)
        assert.strictEqual(countOf(seen, /^COMMIT$/), 1)
        assert.strictEqual(countOf(seen, /^SAVEPOINT hsk_group_member$/), 3)
        assert.strictEqual(countOf(seen, /^RELEASE hsk_group_member$/), 3)
        for (const outcome of value) {
          const job = Either.getOrThrow(outcome)
          assert.deepStrictEqual([count("ai_jobs", job.job_id), count("flight_recorder_events", job.job_id)], [1, 1], job.job_id)
        }
      }),
    60_000
  )

  it.scoped(
    "issue 16 when a step owner's change fails, it rolls back alone and its step members commit in a transaction of their own",
    () =>
      Effect.gen(function*() {
        const { count, store } = yield* setUp
        const taken = yield* storedEventId(store)
        const { seen, value } = yield* recordingStatements(() =>
          Effect.all([
            store.createJob(newJob(), { events: (job) => [jobEvent(job, { event_id: taken })] }),
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] }),
            store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
          ], { concurrency: "unbounded", mode: "either" })
        )
        assert.deepStrictEqual(value.map(Either.isRight), [false, true, true])
        // The owner's ROLLBACK; the two members, sent to transactions of their own, form the next group.
        assert.strictEqual(countOf(seen, /^ROLLBACK$/), 1)
        assert.strictEqual(countOf(seen, /^BEGIN IMMEDIATE$/), 2)
        assert.strictEqual(countOf(seen, /^COMMIT$/), 1)
        assert.strictEqual(countOf(seen, /^SAVEPOINT hsk_group_member$/), 1)
        for (const outcome of [value[1]!, value[2]!]) {
          const job = Either.getOrThrow(outcome)
          assert.deepStrictEqual([count("ai_jobs", job.job_id), count("flight_recorder_events", job.job_id)], [1, 1], job.job_id)
        }
      }),
    60_000
  )
})
