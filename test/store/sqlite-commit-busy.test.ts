/**
 * SQLite's locking: a COMMIT that meets another connection's lock (found by
 * a probe). In rollback-journal mode (a caller's client with WAL off, a
 * legacy file) a write transaction holds the RESERVED lock from BEGIN
 * IMMEDIATE, and its COMMIT needs the EXCLUSIVE lock, which a reader's read
 * transaction (its SHARED lock) keeps from it: SQLITE_BUSY. SQLite keeps the
 * transaction open and the COMMIT may be tried again. The store sets its
 * connections' `busy_timeout` to 0 and waits itself, but tried only BEGIN
 * IMMEDIATE and single statements again: the COMMIT failed at once with a
 * `StorageError`, although a write waits up to `busyTimeoutMs` for the lock.
 * Now the COMMIT waits as BEGIN does, and when the budget runs out the
 * transaction is rolled back and the caller gets the `StorageError` over
 * SQLITE_BUSY a BEGIN that waited it out gives.
 *
 * No time is measured. The reader is a second connection (better-sqlite3, as
 * another process would be); it lets go only once the store's COMMIT has
 * been refused and tried again (the statement recorder counts the tries), so
 * a store that does not wait has failed by then. SQLite only: this is its
 * file locking; PostgreSQL's COMMIT never waits for readers.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { EventId, JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as OwnClient from "../../src/store/sqlite/ownClient.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { realSleep } from "../jobs/shared-database.js"
import { openSqlite } from "../reliability/snapshot.js"
import { failureOf, jobEvent, newJob } from "./fixtures.js"
import { tempDatabaseFile } from "./sqlite-support.js"
import { recordingStatements, type Seen } from "./sqlite-recorder.js"

type Store = JobStore["Type"]

/** The two clients a SQLite store runs on, each with WAL off: the file stays in rollback-journal mode (DELETE). */
const clients = [
  [
    "the store's own client",
    (filename: string) =>
      Layer.scopedContext(Effect.map(OwnClient.make({ filename, disableWAL: true }), (client) =>
        Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client)))).pipe(
          Layer.provide(Reactivity.layer)
        )
  ],
  ["a caller's client", (filename: string) => SqliteClient.layer({ filename, disableWAL: true })]
] as const

type Client = (typeof clients)[number][1]

/** A store on `filename` through `client`, migrated and past its first write (its lock waits taken over). */
const storeOn = (client: Client, filename: string, options: Omit<SqliteStore.SqliteStoreOptions, "filename">) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(SqliteStore.layerFromClient(options).pipe(Layer.provide(client(filename))))
    const store = Context.get(context, JobStore)
    yield* store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
    return store
  })

/** What a change wrote: its jobs and its events. */
interface Written {
  readonly jobs: ReadonlyArray<JobId>
  readonly events: ReadonlyArray<EventId>
}

/** A job and its event, one change (`createJob` with its records: a step). */
const jobWithEvent = (store: Store): Effect.Effect<Written, unknown> =>
  Effect.suspend(() => {
    const events: Array<EventId> = []
    return Effect.map(store.createJob(newJob(), {
      events: (job) => {
        const event = jobEvent(job)
        events.push(event.event_id)
        return [event]
      }
    }), (job) => ({ jobs: [job.job_id], events }))
  })

/** The changes whose COMMIT meets the reader: each a different way to the store's COMMIT. */
const changes: ReadonlyArray<readonly [string, (store: Store) => Effect.Effect<Written, unknown>]> = [
  ["a job and its event (createJob, a change of its own)", jobWithEvent],
  [
    "a caller's transaction (store.transaction: createJob, then appendEvents)",
    (store) =>
      store.transaction(Effect.gen(function*() {
        const job = yield* store.createJob(newJob())
        const event = jobEvent(job)
        yield* store.appendEvents([event])
        return { jobs: [job.job_id], events: [event.event_id] }
      }))
  ],
  [
    "4 concurrent jobs with their events (with group commit, one COMMIT for all)",
    (store) =>
      Effect.map(
        Effect.all(Array.from({ length: 4 }, () => jobWithEvent(store)), { concurrency: "unbounded" }),
        (all) => ({ jobs: all.flatMap(({ jobs }) => jobs), events: all.flatMap(({ events }) => events) })
      )
  ]
]

/** The store's COMMITs that ran, refused or not. */
const commitTries = (seen: ReadonlyArray<Seen>) => seen.filter(({ inTransaction, source }) => inTransaction && source.trim() === "COMMIT").length

/**
 * Another connection on `filename` holding a read transaction (a SHARED lock) until `release`: in
 * rollback-journal mode no COMMIT can take the file's EXCLUSIVE lock meanwhile. `stored` reads, on
 * that connection, which of the given jobs and events are in the file.
 */
const heldReader = (filename: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const db = openSqlite(filename, { timeout: 0 })
      assert.deepStrictEqual(db.pragma("journal_mode", { simple: true }), "delete", "the file is in rollback-journal mode")
      db.exec("BEGIN")
      db.prepare("SELECT count(*) FROM ai_jobs").all()
      let held = true
      return {
        release: () => {
          if (held) db.exec("COMMIT")
          held = false
        },
        stored: ({ events, jobs }: Written): Written => ({
          jobs: jobs.filter((id) => db.prepare("SELECT 1 FROM ai_jobs WHERE id = ?").all(id).length > 0),
          events: events.filter((id) => db.prepare("SELECT 1 FROM flight_recorder_events WHERE event_id = ?").all(id).length > 0)
        }),
        close: () => db.close()
      }
    }),
    (reader) => Effect.sync(() => reader.close())
  )

/** Until the store has tried its COMMIT `tries` times, or `writer` has ended (a store that does not wait). */
const untilCommitTried = (seen: ReadonlyArray<Seen>, tries: number, writer: Fiber.Fiber<unknown, unknown>): Effect.Effect<void> =>
  Effect.suspend(() =>
    commitTries(seen) >= tries ? Effect.void : Effect.flatMap(Fiber.poll(writer), (ended) =>
      Option.isSome(ended) ? Effect.void : Effect.zipRight(realSleep(1), untilCommitTried(seen, tries, writer)))
  )

/** Whether `error` is a StorageError over SQLite's "database is locked", as a BEGIN that waited out its budget gives. */
const isBusyStorageError = (error: unknown): boolean =>
  error instanceof StorageError && error.cause instanceof SqlError &&
  String((error.cause.cause as { readonly code?: unknown } | undefined)?.code).startsWith("SQLITE_BUSY")

/** A fresh rollback-journal file, its store through `client`, and a reader holding it. */
const setUp = (client: Client, options: Omit<SqliteStore.SqliteStoreOptions, "filename">): Effect.Effect<
  { readonly store: Store; readonly reader: Effect.Effect.Success<ReturnType<typeof heldReader>> },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const filename = yield* tempDatabaseFile()
    const store = yield* storeOn(client, filename, options)
    return { store, reader: yield* heldReader(filename) }
  })

describe("SQLite locking: a COMMIT kept from its lock by another connection's reader (rollback journal) waits for it", () => {
  for (const [clientName, client] of clients) {
    for (const groupCommit of [true, false]) {
      const on = `${clientName}, group commit ${groupCommit ? "on" : "off"}`
      for (const [changeName, change] of changes) {
        it.scopedLive(`R17 ${on}: ${changeName} — its COMMIT refused while the reader holds the file, tried again, committed once the reader ends`, () =>
          Effect.gen(function*() {
            // A budget far beyond the test: the reader lets go as soon as the COMMIT was tried again.
            const { reader, store } = yield* setUp(client, { busyTimeoutMs: 60_000, groupCommit })
            const { seen, value: written } = yield* recordingStatements((seen) =>
              Effect.gen(function*() {
                const writer = yield* Effect.fork(change(store))
                yield* untilCommitTried(seen, 2, writer)
                reader.release()
                return yield* Fiber.join(writer)
              })
            )
            assert.isAtLeast(commitTries(seen), 2, "the COMMIT was refused, then tried again")
            assert.deepStrictEqual(reader.stored(written), written, "every job and event of the change is in the file")
          }), 60_000)
      }

      it.scopedLive(`R17 ${on}: a reader that never lets go — the COMMIT tried again until the budget ran out, then the StorageError over SQLITE_BUSY a BEGIN gives, nothing stored, the connection usable after`, () =>
        Effect.gen(function*() {
          const { reader, store } = yield* setUp(client, { busyTimeoutMs: 200, groupCommit })
          let tried: Written = { jobs: [], events: [] }
          const { seen, value: error } = yield* recordingStatements(() =>
            failureOf(Effect.tap(jobWithEvent(store), (written) => {
              tried = written
            }))
          )
          assert.isTrue(isBusyStorageError(error), `a StorageError over SQLITE_BUSY, got ${String(error)}`)
          assert.isAtLeast(commitTries(seen), 2, "the COMMIT was tried again within the budget")
          reader.release()
          assert.deepStrictEqual(reader.stored(tried), { jobs: [], events: [] }, "nothing of the change is in the file")
          // The transaction was rolled back: the next write begins and commits.
          const next = yield* jobWithEvent(store)
          assert.deepStrictEqual(reader.stored(next), next)
        }), 60_000)
    }

    it.scopedLive(`R17 ${clientName}: a single write's implicit commit refused by the reader is tried again (SQLite undid the statement), committed once the reader ends`, () =>
      Effect.gen(function*() {
        const { reader, store } = yield* setUp(client, { busyTimeoutMs: 60_000 })
        const inserts = (seen: ReadonlyArray<Seen>) => seen.filter(({ source }) => /^\s*INSERT INTO ai_jobs\b/i.test(source)).length
        const { seen, value: job } = yield* recordingStatements((seen) =>
          Effect.gen(function*() {
            // Without records createJob is its INSERT alone, outside any transaction.
            const writer = yield* Effect.fork(store.createJob(newJob()))
            const tried = () => inserts(seen) >= 2
            while (!tried() && Option.isNone(yield* Fiber.poll(writer))) yield* realSleep(1)
            reader.release()
            return yield* Fiber.join(writer)
          })
        )
        assert.isAtLeast(inserts(seen), 2, "the statement was refused, then run again")
        assert.strictEqual(commitTries(seen), 0, "no transaction: the statement's own commit")
        assert.deepStrictEqual(reader.stored({ jobs: [job.job_id], events: [] }).jobs, [job.job_id])
      }), 60_000)
  }

  it.scopedLive("R17 WAL mode (SqliteStore.layer) is unchanged: a reader's read transaction never keeps a COMMIT from the file, which commits at its first try", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), JobStore)
      const db = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(filename, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
      assert.strictEqual(db.pragma("journal_mode", { simple: true }), "wal")
      db.exec("BEGIN")
      db.prepare("SELECT count(*) FROM ai_jobs").all()
      const { seen } = yield* recordingStatements(() => jobWithEvent(store))
      db.exec("COMMIT")
      assert.strictEqual(commitTries(seen), 1)
    }))
})
