/**
 * PostgreSQL: a call made while every connection of the store's pool is in
 * use (found by an outside probe of resource exhaustion). pg-pool bounds the
 * wait for a free connection by `connectionTimeoutMillis` (the store's
 * `connectTimeout`) and ends it with "timeout exceeded when trying to
 * connect", which the StorageError repeated: it read as a server that did not
 * answer, while the server was fine and the pool's one connection was held by
 * the caller's own long transaction. The StorageError now says so, pg-pool's
 * error kept as its cause.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

describe("PostgreSQL: a full pool is reported as one", () => {
  it.scopedLive(
    "with maxConnections 1 held by a store.transaction, another fiber's getJob, createJob, listJobs and transaction fail after connectTimeout with a StorageError saying the pool's 1 connection was in use, not a connect timeout; the transaction then commits",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("pool full")
        const store = Context.get(
          yield* Layer.build(PgStore.layer({ url, maxConnections: 1, connectTimeout: "500 millis" })),
          JobStore
        )
        const job = yield* store.createJob(newJob())
        const inside = yield* Deferred.make<void>()
        const done = yield* Deferred.make<void>()
        // The pool's one connection, held by a transaction until the others have failed.
        const holding = yield* Effect.fork(store.transaction(Effect.gen(function*() {
          yield* store.getJob(job.job_id)
          yield* Deferred.succeed(inside, undefined)
          yield* Deferred.await(done)
          return yield* store.getJob(job.job_id)
        })))
        yield* Deferred.await(inside)
        const failures = yield* Effect.all([
          Effect.flip(store.getJob(job.job_id)),
          Effect.flip(store.createJob(newJob())),
          Effect.flip(store.listJobs({})),
          // A second transaction: its checkout goes through @effect/sql-pg, not the held connections.
          Effect.flip(store.transaction(store.getJob(job.job_id)))
        ], { concurrency: "unbounded" })
        yield* Deferred.succeed(done, undefined)
        for (const failure of failures) {
          assert.instanceOf(failure, StorageError)
          const message = (failure as StorageError).message
          assert.include(message, "no connection within connectTimeout (500 ms)")
          assert.include(message, "the pool's 1 connections (maxConnections) were all in use")
          assert.notInclude(message, "timeout exceeded when trying to connect", "pg-pool's words only as the cause")
          const sqlError = (failure as StorageError).cause
          assert.instanceOf(sqlError, SqlError)
          const poolError = ((sqlError as SqlError).cause as { readonly cause?: unknown }).cause
          assert.strictEqual((poolError as Error).message, "timeout exceeded when trying to connect", "pg-pool's error kept")
        }
        const held = yield* Fiber.join(holding)
        assert.strictEqual(held.job_id, job.job_id, "the transaction holding the pool was not disturbed")
      }),
    60_000
  )
})
