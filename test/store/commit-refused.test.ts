/**
 * A COMMIT that SQLite refuses (a full disk found by an outside probe:
 * "database or disk is full") is the store's typed `StorageError`, as on
 * PostgreSQL — not a defect. The connection is made safe first (a
 * transaction SQLite left open is rolled back), nothing of the refused
 * changes is in the file, every change the COMMIT covered (a group
 * commit's members too) fails with it, and the retries that exist for
 * `StorageError` (a run's end, startup recovery) do their work.
 *
 * The failure is real and needs no mount: a deferred foreign key
 * (`DEFERRABLE INITIALLY DEFERRED`) is checked at COMMIT only. A test
 * table and triggers on `ai_jobs`, written by a second connection, add a
 * dangling reference inside the store's own transaction while the fault is
 * armed, so the store's COMMIT fails with SQLITE_CONSTRAINT_FOREIGNKEY and
 * the transaction stays open (SQLite leaves it so for this error). The same
 * fault on PostgreSQL (a plpgsql trigger), where a failing COMMIT was already
 * typed (RELIABILITY.md #5), shows the two stores answer alike.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { realSleep } from "../jobs/shared-database.js"
import { openSqlite } from "../reliability/snapshot.js"
import { capturingLog } from "../support/capturedLog.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { jobEvent, newJob } from "./fixtures.js"
import { recordingStatements } from "./sqlite-recorder.js"

/** A second connection that can make the store's COMMITs fail, for real, while armed. */
interface CommitFault {
  readonly arm: Effect.Effect<void>
  readonly disarm: Effect.Effect<void>
  /** Every row of the jobs, runs, node executions and Flight Recorder events, and the dangling rows: what is in the database. */
  readonly snapshot: Effect.Effect<string>
}

/** The tables whose rows `CommitFault.snapshot` gives. */
const TABLES = ["ai_jobs", "workflow_runs", "workflow_node_executions", "flight_recorder_events", "test_dangling"]

/** A `CommitFault` on the SQLite file `filename` (migrated): triggers on `ai_jobs` add a dangling deferred reference. */
const commitFault = (filename: string): Effect.Effect<CommitFault, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const db = openSqlite(filename)
      for (
        const statement of [
          "CREATE TABLE test_fault (armed INTEGER NOT NULL)",
          "INSERT INTO test_fault VALUES (0)",
          "CREATE TABLE test_parent (id INTEGER PRIMARY KEY)",
          "CREATE TABLE test_dangling (parent INTEGER REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED)",
          "CREATE TRIGGER test_fault_insert AFTER INSERT ON ai_jobs WHEN (SELECT armed FROM test_fault) = 1 BEGIN INSERT INTO test_dangling VALUES (1); END",
          "CREATE TRIGGER test_fault_update AFTER UPDATE ON ai_jobs WHEN (SELECT armed FROM test_fault) = 1 BEGIN INSERT INTO test_dangling VALUES (1); END"
        ]
      ) db.exec(statement)
      const set = (armed: number) => Effect.sync(() => void db.exec(`UPDATE test_fault SET armed = ${armed}`))
      return {
        arm: set(1),
        disarm: set(0),
        snapshot: Effect.sync(() => JSON.stringify(TABLES.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all()))),
        close: () => db.close()
      }
    }),
    (fault) => Effect.sync(() => fault.close())
  )

/** The same `CommitFault` on the PostgreSQL database `url` (migrated), where a failing COMMIT was already a StorageError: the stores agree. */
const pgCommitFault = (url: string): Effect.Effect<CommitFault, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(async () => {
        const client = await connectPg(url)
        await client.query(`
          CREATE TABLE test_fault (armed integer NOT NULL);
          INSERT INTO test_fault VALUES (0);
          CREATE TABLE test_parent (id integer PRIMARY KEY);
          CREATE TABLE test_dangling (parent integer REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED);
          CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF (SELECT armed FROM test_fault) = 1 THEN INSERT INTO test_dangling VALUES (1); END IF;
            RETURN NULL;
          END $$;
          CREATE TRIGGER test_fault AFTER INSERT OR UPDATE ON ai_jobs FOR EACH ROW EXECUTE FUNCTION test_fault();
        `)
        return client
      }),
      (client) => Effect.promise(() => client.end())
    ),
    (client) => {
      const set = (armed: number) => Effect.promise(() => client.query(`UPDATE test_fault SET armed = ${armed}`)).pipe(Effect.asVoid)
      return {
        arm: set(1),
        disarm: set(0),
        snapshot: Effect.promise(async () => {
          const tables: Array<unknown> = []
          for (const table of TABLES) tables.push((await client.query(`SELECT * FROM ${table} ORDER BY 1`)).rows)
          return JSON.stringify(tables)
        })
      }
    }
  )

/** The store's failure, which must be a `StorageError` caught by its tag, naming SQLite's refusal. */
const refusedCommitWith = (refusal: RegExp) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    assert.isTrue(Exit.isFailure(exit), "the change was refused")
    if (Exit.isSuccess(exit)) return
    assert.isFalse(Cause.isDie(exit.cause), `not a defect: ${Cause.pretty(exit.cause)}`)
    // Any other failure is not caught here, and fails the test.
    const caught = yield* Effect.catchTag(exit as unknown as Exit.Exit<never, StorageError>, "StorageError", (error) => Effect.succeed(error))
    assert.instanceOf(caught, StorageError)
    assert.match(caught.message, refusal, "the driver's error is named")
  })

/** The store over `filename`: its own client, or a caller's (`layerFromClient`). */
const clients = [
  { name: "the store's own client", store: (filename: string) => SqliteStore.layer({ filename }) },
  {
    name: "a caller's client",
    store: (filename: string) => SqliteStore.layerFromClient().pipe(Layer.provide(SqliteClient.layer({ filename })))
  }
] as const

/** Each store, with its fault installed (disarmed) once it has migrated, and the words of its driver's refusal. */
const stores = [
  ...clients.map((client) => ({
    name: `SQLite, on ${client.name}`,
    refusal: /FOREIGN KEY constraint failed/,
    open: Effect.gen(function*() {
      const filename = tempSqliteFile("commit-fails")
      const app = yield* Layer.build(services(client.store(filename)))
      return { jobs: Context.get(app, Jobs), fault: yield* commitFault(filename) }
    })
  })),
  {
    name: "PostgreSQL",
    refusal: /violates foreign key constraint/,
    open: Effect.gen(function*() {
      const url = yield* freshPgDatabase("commit_fails")
      const app = yield* Layer.build(services(PgStore.layer({ url })))
      return { jobs: Context.get(app, Jobs), fault: yield* pgCommitFault(url) }
    })
  }
]

for (const backend of stores) {
  describe(`COMMIT refused, on ${backend.name}`, () => {
    it.effect("submit, submitMany, start, complete and cancel whose COMMIT fails fail with StorageError, write nothing, and the store works for the next call", () =>
      Effect.gen(function*() {
        const { fault, jobs } = yield* backend.open
        const refusedCommit = refusedCommitWith(backend.refusal)
        const queued = yield* jobs.submit(summarize())
        const running = yield* jobs.submit(summarize())
        yield* jobs.start(running.job_id)

        const before = yield* fault.snapshot
        yield* fault.arm
        yield* refusedCommit(jobs.submit(summarize()))
        yield* refusedCommit(jobs.submitMany([summarize(), summarize({ job_kind: "doc_edit" })]))
        yield* refusedCommit(jobs.start(queued.job_id))
        yield* refusedCommit(jobs.complete(running.job_id))
        yield* refusedCommit(jobs.cancel(queued.job_id))
        yield* fault.disarm
        assert.strictEqual(yield* fault.snapshot, before, "nothing half-written: rows and audit trail as before")

        // The connection is usable: no transaction was left open.
        const next = yield* jobs.submit(summarize())
        assert.strictEqual(next.state, "queued")
        assert.strictEqual((yield* jobs.complete(running.job_id)).state, "completed")
        assert.strictEqual((yield* jobs.cancel(queued.job_id)).state, "cancelled")
      }).pipe(Effect.scoped))
  })
}

for (const client of clients) {
  describe(`SQLite COMMIT refused, on ${client.name}`, () => {
    it.effect("a group commit whose COMMIT fails answers every caller in it StorageError, and none of their changes is in the file", () =>
      Effect.gen(function*() {
        const filename = tempSqliteFile("commit-fails-group")
        const app = yield* Layer.build(services(client.store(filename)))
        const jobs = Context.get(app, Jobs)
        const store = Context.get(app, JobStore)
        const queued = yield* Effect.forEach([0, 1, 2], () => jobs.submit(summarize()))
        const fault = yield* commitFault(filename)

        const before = yield* fault.snapshot
        yield* fault.arm
        // Started together, they share one group's COMMIT (the first one's, with the others as members).
        const { seen, value: exits } = yield* recordingStatements(() => Effect.all(
          [
            jobs.submit(summarize()),
            jobs.start(queued[0]!.job_id),
            jobs.cancel(queued[1]!.job_id),
            jobs.submitMany([summarize(), summarize()]),
            // A change that is an Effect, not a step: a member on its own fiber.
            store.transaction(jobs.cancel(queued[2]!.job_id)),
            jobs.submit(summarize())
          ],
          { concurrency: "unbounded", mode: "either" }
        ).pipe(Effect.map((results) => results.map((result) => result._tag === "Left" ? (result.left as { readonly _tag?: string })._tag : "success"))))
        yield* fault.disarm
        assert.isAbove(seen.filter(({ source }) => source === "SAVEPOINT hsk_group_member").length, 0, "callers joined a group as members")
        assert.deepStrictEqual(exits, ["StorageError", "StorageError", "StorageError", "StorageError", "StorageError", "StorageError"])
        assert.strictEqual(yield* fault.snapshot, before, "no caller's change is in the file")

        assert.strictEqual((yield* jobs.cancel(queued[1]!.job_id)).state, "cancelled", "the store works after")
      }).pipe(Effect.scoped))

  })
}

describe("SQLite COMMIT refused, on the store's own client: a group of steps", () => {
  it.effect("a step owner's group whose COMMIT fails answers the owner and its step members StorageError, after one ROLLBACK; none of their changes is in the file", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("commit-fails-steps")
      const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
      const withRecord = () => store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
      yield* withRecord()
      const fault = yield* commitFault(filename)

      const before = yield* fault.snapshot
      yield* fault.arm
      // The first opens the group and yields once; the two others reach its line in that yield (as sqlite-step-members.test.ts).
      const { seen, value } = yield* recordingStatements(() =>
        Effect.all([withRecord(), withRecord(), withRecord()], { concurrency: "unbounded", mode: "either" })
      )
      yield* fault.disarm
      const count = (text: string) => seen.filter(({ source }) => source === text).length
      assert.deepStrictEqual(
        { begin: count("BEGIN IMMEDIATE"), savepoint: count("SAVEPOINT hsk_group_member"), commit: count("COMMIT"), rollback: count("ROLLBACK") },
        { begin: 1, savepoint: 2, commit: 1, rollback: 1 },
        "one group: the owner and two members, its COMMIT refused, its transaction rolled back"
      )
      assert.deepStrictEqual(value.map((outcome) => outcome._tag === "Left" ? outcome.left._tag : "success"), ["StorageError", "StorageError", "StorageError"])
      assert.strictEqual(yield* fault.snapshot, before, "no change is in the file")
      yield* withRecord()
    }).pipe(Effect.scoped))
})

describe("SQLite COMMIT refused: the retries for StorageError do their work", () => {
  it.effect("Jobs.run: a run's end whose COMMIT is refused is written again after 100 ms, and the job ends completed with one end record", () => {
    const log = capturingLog(["WARN", "ERROR"])
    return Effect.gen(function*() {
      const filename = tempSqliteFile("commit-fails-run")
      const app = yield* Layer.build(services(SqliteStore.layer({ filename })))
      const jobs = Context.get(app, Jobs)
      const job = yield* jobs.submit(summarize())
      yield* jobs.start(job.job_id)
      const fault = yield* commitFault(filename)

      // Armed by the program itself, once its run has begun: only the end is refused.
      const ran = yield* Effect.fork(jobs.run(job.job_id, () => Effect.as(fault.arm, { done: true })))
      const now = yield* Clock.currentTimeMillis
      for (let tries = 0; !Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(now + 100); tries++) {
        assert.isBelow(tries, 2_000, "a second try is due in 100 ms")
        yield* realSleep(5)
      }
      assert.strictEqual((yield* jobs.get(job.job_id)).state, "running", "the refused end wrote nothing")
      yield* fault.disarm
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* Fiber.join(ran), { done: true })

      assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
      const history = yield* jobs.history(job.job_id)
      assert.strictEqual(history.events.filter((event) => event.body["to_state"] === "completed").length, 1, "one completion event")
      assert.strictEqual(log.leveled.length, 1)
      assert.match(log.lines[0]!, /its run's end could not be written .*; trying again in 100 ms/)
    }).pipe(Effect.scoped, log.provide)
  })

  it.effect("startup recovery whose scan's COMMIT is refused tries again 1 s later, stalls the stale run, and opens intake without a restart", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("commit-fails-recovery")
      // A job left running by a worker that died a minute ago (by the TestClock).
      const crashed = Context.get(yield* Layer.build(services(SqliteStore.layer({ filename }))), Jobs)
      const left = yield* crashed.submit(summarize())
      const { run } = yield* crashed.start(left.job_id)
      yield* TestClock.adjust("1 minute")
      const fault = yield* commitFault(filename)

      yield* fault.arm
      const app = yield* Layer.build(services(SqliteStore.layer({ filename }), Recovery.layerStartup({ retries: 0 })))
      const jobs = Context.get(app, Jobs)
      const gate = Context.get(app, Recovery.RecoveryGate)
      assert.strictEqual((yield* Effect.flip(jobs.submit(summarize())))._tag, "RecoveryFailed", "intake closed after the first try")
      assert.strictEqual((yield* jobs.get(left.job_id)).state, "running", "the refused scan wrote nothing")

      yield* fault.disarm
      const now = yield* Clock.currentTimeMillis
      for (let tries = 0; !Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(now + 1_000); tries++) {
        assert.isBelow(tries, 2_000, "a second try is due in 1 s")
        yield* realSleep(5)
      }
      yield* TestClock.adjust("1 second")
      const report = yield* gate.result
      assert.deepStrictEqual(report.recovered.map((r) => r.id), [run.id])
      assert.strictEqual((yield* jobs.get(left.job_id)).state, "stalled")
      assert.strictEqual((yield* jobs.submit(summarize())).state, "queued", "intake open without a restart")
    }).pipe(Effect.scoped))
})
