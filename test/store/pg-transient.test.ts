/**
 * Issue 11.1: a transient failure on PostgreSQL — the server breaking a
 * deadlock (40P01), or a repeatable-read snapshot meeting a concurrent change
 * (40001) — is retried as a whole transaction, a bounded number of times,
 * instead of reaching the caller as a permanent StorageError. Both failures
 * are made to happen for real: another session (a plain `pg` client) takes
 * the row locks or commits the change at the chosen moment, through a hook
 * inside the store's transaction.
 *
 * (SQLite has no such failure: every write transaction holds the database's
 * write lock from its first statement, and waiting for that lock is bounded
 * by the busy timeout — see test/reliability/faults-sqlite.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

/** A store whose sessions use these server settings (`-c name=value`). */
const storeWith = (url: string, settings: ReadonlyArray<string>) =>
  Effect.map(
    Layer.build(PgStore.layer({ url: `${url}?options=${encodeURIComponent(settings.map((s) => `-c ${s}`).join(" "))}` })),
    (context) => Context.get(context, JobStore)
  )

/** A plain session on `url`, closed with the scope. */
const session = (url: string) =>
  Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end().catch(() => {})))

const query = (client: Awaited<ReturnType<typeof connectPg>>, text: string, values?: ReadonlyArray<unknown>) =>
  Effect.promise(() => client.query(text, values))

describe("R17 transient failures on PostgreSQL are retried, not reported", () => {
  it.scoped("R17 a transaction chosen as a deadlock victim (40P01) runs again and commits once", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg transient deadlock")
      // This store's sessions look for deadlocks 100 ms into a wait; the other session after 10 s.
      // Our transaction starts waiting last, so its check is the one that finds the cycle: it is the victim.
      const store = yield* storeWith(url, ["deadlock_timeout=100ms"])
      const [first, second] = yield* Effect.all([store.createJob(newJob()), store.createJob(newJob())])
      const other = yield* session(url)
      const watcher = yield* session(url)
      const pid = (yield* query(other, "SELECT pg_backend_pid() AS pid")).rows[0]?.["pid"]
      yield* query(other, "SET deadlock_timeout = '10s'")
      yield* query(other, "BEGIN")
      yield* query(other, "UPDATE ai_jobs SET status_reason = 'other' WHERE id = $1", [second!.job_id])

      let attempts = 0
      const holdsFirst = yield* Deferred.make<void>()
      const otherWaits = yield* Deferred.make<void>()
      const otherHasFirst = yield* Deferred.make<void>()
      const transaction = yield* Effect.fork(store.transaction(Effect.gen(function*() {
        attempts++
        // The retry starts the moment the server aborts us; the other session, woken by the same
        // abort, may not have taken our row yet. Were the retry to take it first, the cycle would
        // form again (a second deadlock, a third attempt): it waits until the other holds it.
        if (attempts > 1) yield* Deferred.await(otherHasFirst)
        yield* store.updateJob(first!.job_id, { status_reason: "ours" })
        yield* Deferred.succeed(holdsFirst, undefined)
        yield* Deferred.await(otherWaits)
        // Waits for the other session's row, which waits for ours: a cycle.
        return yield* store.updateJob(second!.job_id, { status_reason: "ours" })
      })))
      yield* Deferred.await(holdsFirst)
      // The other session asks for our row and waits; it gets it when the server aborts our transaction.
      const otherUpdate = yield* Effect.fork(query(other, "UPDATE ai_jobs SET status_reason = 'other' WHERE id = $1", [first!.job_id]))
      while ((yield* query(watcher, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", [pid])).rows[0]?.["wait_event_type"] !== "Lock") {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
      }
      yield* Deferred.succeed(otherWaits, undefined)
      yield* Fiber.join(otherUpdate)
      yield* Deferred.succeed(otherHasFirst, undefined)
      yield* query(other, "COMMIT")

      const result = yield* Effect.either(Fiber.join(transaction))
      assert.strictEqual(result._tag, "Right", `the transaction failed: ${result._tag === "Left" ? String(result.left) : ""}`)
      assert.strictEqual(attempts, 2, "one deadlock, one retry")
      assert.strictEqual((yield* store.getJob(first!.job_id)).status_reason, "ours")
      assert.strictEqual((yield* store.getJob(second!.job_id)).status_reason, "ours")
    }), 60_000)

  it.scoped("R17 a repeatable-read transaction that meets a concurrent update (40001) runs again and commits once", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg transient serialization")
      const store = yield* storeWith(url, ["default_transaction_isolation=repeatable\\ read"])
      const job = yield* store.createJob(newJob())
      const other = yield* session(url)

      let attempts = 0
      const readIt = yield* Deferred.make<void>()
      const changed = yield* Deferred.make<void>()
      const transaction = yield* Effect.fork(store.transaction(Effect.gen(function*() {
        attempts++
        // The snapshot is taken here; the other session's change lands after it.
        const read = yield* store.getJob(job.job_id)
        yield* Deferred.succeed(readIt, undefined)
        yield* Deferred.await(changed)
        return yield* store.updateJob(job.job_id, { status_reason: `${read.status_reason}+ours` })
      })))
      yield* Deferred.await(readIt)
      yield* query(other, "UPDATE ai_jobs SET status_reason = 'theirs' WHERE id = $1", [job.job_id])
      yield* Deferred.succeed(changed, undefined)

      const result = yield* Effect.either(Fiber.join(transaction))
      assert.strictEqual(result._tag, "Right", `the transaction failed: ${result._tag === "Left" ? String(result.left) : ""}`)
      assert.strictEqual(attempts, 2, "one serialization failure, one retry")
      assert.strictEqual((yield* store.getJob(job.job_id)).status_reason, "theirs+ours", "the retry read the committed change")
    }), 60_000)
})
