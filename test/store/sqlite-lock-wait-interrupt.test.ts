/**
 * A SQLite write waiting for another connection's write lock can be
 * interrupted (found by an outside probe). The store waits for the lock
 * itself, retrying `BEGIN IMMEDIATE` (or a lone write statement) between
 * short real sleeps (sqlite/transaction.ts `waitingForWriteLock`); those
 * sleeps ran inside the transaction's uninterruptible region, so an
 * interrupt waited out the whole `busyTimeoutMs` — a submit, a store build
 * migrating, a shutdown, all delayed up to the budget. A try that met the
 * lock began nothing, so the interrupt now ends the wait at once.
 *
 * The lock is real: a second connection (better-sqlite3) holds
 * `BEGIN IMMEDIATE`. The budget is 60 s, the interrupt must return within
 * 20 s while the lock is still held, and only then is the lock let go: on
 * the old code the interrupt could not return before the budget ran out.
 * (A lone write statement, `single`, waits outside any region of the
 * store's own and was interruptible already: its test guards that.)
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { JobStore } from "../../src/store/JobStore.js"
import { migrateFrom, migrationsDirectory, schemaVersion } from "../../src/store/sqlite/migrations.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { openSqlite } from "../reliability/snapshot.js"
import { jobEvent, newJob } from "./fixtures.js"
import { rawClient, tempDatabaseFile } from "./sqlite-support.js"

/** The store's budget for the lock: far longer than any bound below, so only an interrupt can end a wait in time. */
const BUSY_TIMEOUT_MS = 60_000
/** How long an interrupt may take here (generous, against a loaded machine; still a third of the budget). */
const INTERRUPT_BOUND = "20 seconds"
/** Per test: the bound, the lock released after it, and the rest. */
const TEST_TIMEOUT_MS = 45_000

/** Another connection, as another process, that can hold the file's write lock; closed (rolled back) with the scope. */
const lockHolder = (filename: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const db = openSqlite(filename, { timeout: 0 })
        db.pragma("journal_mode = WAL")
        return db
      }),
      (db) => Effect.sync(() => db.close())
    ),
    (db) => {
      let held = false
      return {
        take: () => {
          db.exec("BEGIN IMMEDIATE")
          held = true
        },
        release: () => {
          db.exec("ROLLBACK")
          held = false
        },
        held: () => held,
        count: (table: "ai_jobs" | "flight_recorder_events") => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).all()[0]?.n)
      }
    }
  )

/** A store on its own client over a fresh file, with one write done (the lock wait taken over), and a lock holder. */
const setUp = Effect.gen(function*() {
  const filename = yield* tempDatabaseFile()
  const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: BUSY_TIMEOUT_MS })), JobStore)
  yield* store.createJob(newJob())
  const holder = yield* lockHolder(filename)
  return { store, holder }
})

/** Interrupts `fiber`, waiting for the held lock: the interrupt must return within the bound, with the lock still held. */
const interruptInTime = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, held: () => boolean) =>
  Effect.gen(function*() {
    assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "the write waits while another connection holds the lock")
    const exit = yield* Effect.timeoutOption(Fiber.interrupt(fiber), INTERRUPT_BOUND)
    assert.isTrue(Option.isSome(exit), `the interrupt returned within ${INTERRUPT_BOUND}, not after the ${BUSY_TIMEOUT_MS} ms budget`)
    assert.isTrue(held(), "the lock was still held when the interrupt returned")
    const ended = Option.getOrThrow(exit)
    assert.isTrue(Exit.isInterrupted(ended), `ended by the interrupt, got ${String(ended)}`)
  })

/** Forks `effect`, lets it reach its wait for the held lock (it cannot end while the lock is held), and interrupts it (`interruptInTime`). */
const interruptWhileLocked = <A, E>(effect: Effect.Effect<A, E>, held: () => boolean) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* sleepRealTime(300)
    yield* interruptInTime(fiber, held)
  })

/** `setUp`, then `write` interrupted while another connection holds the lock (`interruptWhileLocked`), the lock let go after. */
const interruptedUnderLock = <A, E>(write: (store: JobStore["Type"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const { holder, store } = yield* setUp
    holder.take()
    yield* interruptWhileLocked(write(store), holder.held)
    holder.release()
    return { holder, store }
  })

describe("SQLite: a write waiting for another connection's write lock is interruptible", () => {
  it.scopedLive(
    "a createJob with its record (a step, its own transaction) interrupted while it waits for the lock ends at once and writes nothing",
    () =>
      Effect.gen(function*() {
        const { holder, store } = yield* interruptedUnderLock((store) => store.createJob(newJob(), { events: (job) => [jobEvent(job)] }))
        assert.deepStrictEqual([holder.count("ai_jobs"), holder.count("flight_recorder_events")], [1, 0], "nothing of the interrupted write")
        // The connection is left as it was: the next write begins and commits.
        yield* store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
        assert.deepStrictEqual([holder.count("ai_jobs"), holder.count("flight_recorder_events")], [2, 1])
      }),
    TEST_TIMEOUT_MS
  )

  it.scopedLive(
    "a caller's transaction of several statements (store.transaction) interrupted while it waits for the lock ends at once and writes nothing",
    () =>
      Effect.gen(function*() {
        const two = (store: JobStore["Type"]) => store.transaction(Effect.zipRight(store.createJob(newJob()), store.createJob(newJob())))
        const { holder, store } = yield* interruptedUnderLock(two)
        assert.strictEqual(holder.count("ai_jobs"), 1, "nothing of the interrupted transaction")
        yield* two(store)
        assert.strictEqual(holder.count("ai_jobs"), 3)
      }),
    TEST_TIMEOUT_MS
  )

  it.scopedLive(
    "a lone write statement (createJob without records) interrupted while it waits for the lock ends at once and writes nothing",
    () =>
      Effect.gen(function*() {
        const { holder } = yield* interruptedUnderLock((store) => store.createJob(newJob()))
        assert.strictEqual(holder.count("ai_jobs"), 1, "nothing of the interrupted write")
      }),
    TEST_TIMEOUT_MS
  )

  it.scopedLive(
    "group commit: the group's owner interrupted while it waits for the lock ends at once; the member waiting in its line is not interrupted, starts its own transaction and commits once the lock is free",
    () =>
      Effect.gen(function*() {
        const { holder, store } = yield* setUp
        holder.take()
        const owner = yield* Effect.fork(store.createJob(newJob(), { events: (job) => [jobEvent(job)] }))
        yield* sleepRealTime(300)
        // The owner's group is open while it waits for the lock: this change joins its line.
        const member = yield* Effect.fork(store.createJob(newJob(), { events: (job) => [jobEvent(job)] }))
        yield* sleepRealTime(100)
        yield* interruptInTime(owner, holder.held)
        assert.isTrue(Option.isNone(yield* Fiber.poll(member)), "the member still waits (for the lock now)")
        holder.release()
        const job = yield* Fiber.join(member)
        assert.deepStrictEqual([holder.count("ai_jobs"), holder.count("flight_recorder_events")], [2, 1], "only the member's change")
        assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
      }),
    TEST_TIMEOUT_MS
  )
})

describe("SQLite: a busyTimeoutMs past 2^31-1 ms", () => {
  it.scopedLive(
    "R17 is honoured as the longest budget SQLite holds: a write waits for another connection's lock instead of failing at once",
    () =>
      Effect.gen(function*() {
        // SQLite's busy_timeout is a 32-bit int: 3e9 ms read as 0, so the write failed "database is locked" at once.
        const filename = yield* tempDatabaseFile()
        const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: 3e9 })), JobStore)
        const holder = yield* lockHolder(filename)
        holder.take()
        const write = yield* Effect.fork(store.createJob(newJob(), { events: (job) => [jobEvent(job)] }))
        yield* sleepRealTime(300)
        assert.isTrue(Option.isNone(yield* Fiber.poll(write)), "the write waits while another connection holds the lock")
        holder.release()
        yield* Fiber.join(write)
        assert.deepStrictEqual([holder.count("ai_jobs"), holder.count("flight_recorder_events")], [1, 1])
      }),
    TEST_TIMEOUT_MS
  )
})

describe("SQLite: a store build whose migration waits for another connection's write lock is interruptible", () => {
  for (const migrated of [false, true]) {
    it.scopedLive(
      `building the store on ${migrated ? "an already migrated" : "a fresh"} file, interrupted while its migration waits for the lock, ends at once`,
      () =>
        Effect.gen(function*() {
          const filename = yield* tempDatabaseFile()
          if (migrated) yield* Effect.scoped(Layer.build(SqliteStore.layer({ filename })))
          const holder = yield* lockHolder(filename)
          holder.take()
          yield* interruptWhileLocked(
            Effect.scoped(Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: BUSY_TIMEOUT_MS }))),
            holder.held
          )
          holder.release()
          // Nothing was half done: the store builds and writes.
          const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
          yield* store.createJob(newJob())
          assert.strictEqual(holder.count("ai_jobs"), 1)
        }),
      TEST_TIMEOUT_MS
    )
  }
})

/**
 * A store build that cannot get the write lock for its migration within `busyTimeoutMs` (another
 * process holds it) failed as `MigrationFailed: SQLite migrations failed: database is locked`, though no
 * migration ran — on an already migrated file there is nothing to migrate. The database was busy: a
 * `StorageError` naming the lock wait, as on PostgreSQL when its migration lock is not got in time. A
 * migration that ran and failed is still `MigrationFailed`.
 */
describe("SQLite: a store build that never gets the write lock for its migration fails with StorageError, not MigrationFailed", () => {
  for (const migrated of [false, true]) {
    it.scopedLive(
      `on ${migrated ? "an already migrated" : "a fresh"} file whose write lock another connection holds past busyTimeoutMs: StorageError naming the lock wait`,
      () =>
        Effect.gen(function*() {
          const filename = yield* tempDatabaseFile()
          if (migrated) yield* Effect.scoped(Layer.build(SqliteStore.layer({ filename })))
          const holder = yield* lockHolder(filename)
          holder.take()
          const failure = yield* Effect.flip(Effect.scoped(Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: 100 }))))
          assert.strictEqual(failure._tag, "StorageError", failure.message)
          assert.match(failure.message, /^HSK-500-DB: .*write lock.*database is locked/)
          holder.release()
          // Nothing was changed: the build goes through once the lock is free.
          yield* Effect.scoped(Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: 100 })))
        }),
      TEST_TIMEOUT_MS
    )
  }

  it.scopedLive("a migration that ran and failed is still MigrationFailed", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-bad-migration-"))
          fs.writeFileSync(path.join(dir, "0001_broken.sql"), "INSERT INTO no_such_table VALUES (1);\n")
          return dir
        }),
        (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(pathToFileURL(`${directory}/`)), rawClient(filename)))
      assert.strictEqual(failure._tag, "MigrationFailed", failure.message)
      assert.match(failure.message, /^SQLite migration.*no such table: no_such_table/)
    }))

  /**
   * A caller's own client on a rollback-journal file (as sqlx leaves one), another connection holding
   * BEGIN EXCLUSIVE, so even a read waits: the file's encoding check, which reads the file, ran before
   * the lock wait, and its SQLITE_BUSY came out as `MigrationFailed: SQLite migrations failed: database
   * is locked` (found by an outside probe). It is now read under the write lock the run waits for.
   */
  it.scopedLive("on a caller's own client over a rollback-journal file another connection holds EXCLUSIVE: StorageError naming the lock wait, nothing migrated", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const holder = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const db = openSqlite(filename, { timeout: 0 })
          db.exec("CREATE TABLE other_app (x TEXT)")
          db.exec("BEGIN EXCLUSIVE")
          db.exec("INSERT INTO other_app VALUES ('held')")
          return db
        }),
        (db) => Effect.sync(() => db.close())
      )
      const caller = SqliteClient.layer({ filename, disableWAL: true })
      const migrateBusy = Effect.zipRight(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("PRAGMA busy_timeout = 100")),
        migrateFrom(migrationsDirectory)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateBusy, caller))
      assert.strictEqual(failure._tag, "StorageError", failure.message)
      assert.match(failure.message, /^HSK-500-DB: .*waiting for the database's write lock.*database is locked/)
      holder.exec("ROLLBACK")
      assert.strictEqual(yield* Effect.provide(schemaVersion, caller), 0)
      // Nothing was changed: the migration goes through once the lock is free.
      assert.isAbove((yield* Effect.provide(migrateBusy, caller)).length, 0)
    }))
})
