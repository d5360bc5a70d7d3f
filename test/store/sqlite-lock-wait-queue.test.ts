/**
 * SQLite: writers queued in process behind a wait for another connection's
 * write lock (found by an outside probe of resource exhaustion). The store
 * waits for the lock itself, up to `busyTimeoutMs`, holding its one
 * connection; the writers behind it waited for the connection, and when its
 * wait ran out each began a whole wait of its own, in turn: with another
 * process holding `BEGIN IMMEDIATE`, 16 concurrent submits failed after 1, 2,
 * … 16 budgets, group commit on or off. A writer queued behind a lock wait
 * now counts that wait as its own: when the wait runs out, every writer that
 * was queued when it began fails with the same busy error at once.
 *
 * No time is measured. The other connection (better-sqlite3, as another
 * process would) lets the lock go as soon as the callers' failures reach a
 * count: a caller still waiting then would get the lock and succeed. On the
 * old code the callers behind the first were still waiting (each its own
 * wait, in turn) and succeeded; now they failed with the first wait's end.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { openSqlite } from "../reliability/snapshot.js"
import { jobEvent, newJob } from "./fixtures.js"
import { tempDatabaseFile } from "./sqlite-support.js"

const CALLERS = 16

/** Whether `error` is a StorageError over SQLite's "database is locked". */
const isBusyStorageError = (error: unknown): boolean =>
  error instanceof StorageError && error.cause instanceof SqlError &&
  String((error.cause.cause as { readonly code?: unknown } | undefined)?.code).startsWith("SQLITE_BUSY")

/**
 * A submit (`Jobs.submit`), or the store's write under it (`createJob` with
 * its record: Jobs.submit looks a failed write up after, with a read that
 * queues for the connection behind every writer, so its caller hears of the
 * failure only once the last writer has failed).
 */
type Caller = "submit" | "createJob"

/**
 * `CALLERS` concurrent calls while another connection holds the write
 * lock, which it lets go as soon as `releaseAfter` callers have failed:
 * each caller's outcome (failed busy, or its job).
 */
const writesUnderLock = (caller: Caller, groupCommit: boolean, releaseAfter: number) =>
  Effect.gen(function*() {
    const filename = yield* tempDatabaseFile()
    const context = yield* Layer.build(services(SqliteStore.layer({ filename, busyTimeoutMs: 1000, groupCommit })))
    const jobs = Context.get(context, Jobs)
    const store = Context.get(context, JobStore)
    const write = (): Effect.Effect<unknown, unknown> =>
      caller === "submit" ? jobs.submit(newJob()) : store.createJob(newJob(), { events: (job) => [jobEvent(job)] })
    // One write first: the store has taken the lock wait over (and the file is migrated).
    yield* write()
    const holder = yield* Effect.acquireRelease(
      Effect.sync(() => openSqlite(filename, { timeout: 0 })),
      (db) => Effect.sync(() => db.close())
    )
    holder.exec("BEGIN IMMEDIATE")
    let failed = 0
    let held = true
    const outcomes = yield* Effect.forEach(
      Array.from({ length: CALLERS }),
      () =>
        Effect.either(write()).pipe(
          Effect.tap((outcome) =>
            Effect.sync(() => {
              if (outcome._tag === "Left" && ++failed >= releaseAfter && held) {
                held = false
                holder.exec("ROLLBACK")
              }
            })
          )
        ),
      { concurrency: "unbounded" }
    )
    if (held) holder.exec("ROLLBACK")
    return outcomes.map((outcome) => outcome._tag === "Left" ? (isBusyStorageError(outcome.left) ? "busy" : String(outcome.left)) : "submitted")
  })

describe("SQLite: writers queued behind a wait for the write lock share its end", () => {
  for (const caller of ["submit", "createJob"] as const) {
    it.scopedLive(
      `group commit: ${CALLERS} concurrent ${caller}s while another connection holds the write lock all fail busy when the first wait runs out, none beginning a wait of its own (the lock let go at the first failure: nobody was left waiting for it)`,
      () =>
        Effect.map(writesUnderLock(caller, true, 1), (outcomes) => {
          assert.deepStrictEqual(outcomes, Array.from({ length: CALLERS }, () => "busy"))
        }),
      60_000
    )
  }

  it.scopedLive(
    `group commit off: ${CALLERS} concurrent createJobs under the lock — the writers queued for the connection when the second writer's wait began fail busy with its end (the lock let go at the second failure: nobody was left waiting for it)`,
    () =>
      Effect.map(writesUnderLock("createJob", false, 2), (outcomes) => {
        assert.deepStrictEqual(outcomes, Array.from({ length: CALLERS }, () => "busy"))
      }),
    60_000
  )
})
