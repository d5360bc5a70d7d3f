/**
 * PostgreSQL: a caller's transaction left idle past the store's
 * statementTimeout (found by an outside probe of resource exhaustion). The
 * store sets the server's idle_in_transaction_session_timeout to it, so the
 * server ends the session (FATAL 25P03); the transaction's next statement
 * then failed with pg's "Client has encountered a connection error and is
 * not queryable", and nothing said why. The StorageError now says the server
 * ended the session for being idle in a transaction longer than the timeout,
 * pg's error kept as the cause; the store goes on on a fresh connection.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

describe("PostgreSQL: a transaction the server ended for idling says so", () => {
  for (const preparedStatements of [true, false]) {
    it.scopedLive(
      `a store.transaction idle past statementTimeout (1 s) fails its next statement with a StorageError naming the idle-in-transaction timeout, not only 'not queryable'; the store's next call runs (preparedStatements ${preparedStatements})`,
      () =>
        Effect.gen(function*() {
          const url = yield* freshPgDatabase("idle transaction")
          const store = Context.get(
            yield* Layer.build(PgStore.layer({ url, statementTimeout: "1 second", maxConnections: 2, preparedStatements })),
            JobStore
          )
          const job = yield* store.createJob(newJob())
          const failure = yield* Effect.flip(store.transaction(Effect.gen(function*() {
            yield* store.getJob(job.job_id)
            // Idle inside the transaction, well past the server's idle-in-transaction timeout.
            yield* sleepRealTime(3000)
            return yield* store.getJob(job.job_id)
          })))
          assert.instanceOf(failure, StorageError)
          const message = (failure as StorageError).message
          assert.include(message, "idle in transaction longer than 1000 ms (statementTimeout)")
          assert.include(message, "25P03")
          assert.instanceOf((failure as StorageError).cause, SqlError)
          // The connection the server ended is dropped: the next call runs on a fresh one.
          assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
        }),
      60_000
    )
  }
})
