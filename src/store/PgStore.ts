/**
 * The PostgreSQL `JobStore` (R17): jobs, runs, nodes and Flight Recorder
 * events in one database, `timestamptz` and `jsonb` columns, the domain
 * enforced by CHECK constraints and triggers (migrations/pg/), and
 * `FOR UPDATE SKIP LOCKED` where several processes work the same rows.
 *
 * The SQL lives in `pg/`, one module per part of the port: jobs, runs and
 * nodes, workers (claiming, recovery, pruning), events.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { JobStore } from "./JobStore.js"
import { inTransaction } from "./pg/storageErrors.js"
import { makeEvents } from "./pg/events.js"
import { makeJobs } from "./pg/jobs.js"
import { migrate, schemaVersion } from "./pg/migrations.js"
import type { MigrationFailed } from "./StoreErrors.js"
import { makeRuns } from "./pg/runs.js"
import { makeWorkers } from "./pg/workers.js"
import { StorageError } from "./StoreErrors.js"

export { migrate, migrationsTable } from "./pg/migrations.js"

/**
 * Builds the store on the `SqlClient` in context, which must be PostgreSQL
 * and already migrated (see `migrate`). Name transforms of the client are
 * bypassed: rows and JSON keep the column and field names as stored.
 */
export const make: Effect.Effect<Context.Tag.Service<JobStore>, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const events = makeEvents(sql)
  const { insertEvents, ...sink } = events
  return JobStore.of({
    dialect: "pg",
    schemaVersion: Effect.provideService(schemaVersion, SqlClient.SqlClient, sql),
    transaction: (effect) =>
      inTransaction(sql)(effect).pipe(
        Effect.mapError((error) =>
          error instanceof SqlError ? new StorageError({ operation: "JobStore.transaction", cause: error }) : error
        )
      ),
    ...makeJobs(sql, insertEvents),
    ...makeRuns(sql, insertEvents),
    ...makeWorkers(sql, insertEvents),
    ...sink
  })
})

/** Connection and start-up options of `layer`. */
export interface PgStoreOptions {
  /** A `postgres://` or `postgresql://` URL. */
  readonly url: string | Redacted.Redacted
  /** Apply pending migrations when the layer is built. Default true. */
  readonly migrate?: boolean
  /** Pool size (the `pg` default, 10, when left out). */
  readonly maxConnections?: number
}

/**
 * The store on its own connection pool. JSON is passed through untouched
 * (`transformJson: false`, no name transforms), so payload keys are never
 * rewritten. Failing to connect is a `StorageError`; a failing migration is
 * `MigrationFailed`.
 */
export const layer = (options: PgStoreOptions): Layer.Layer<JobStore, StorageError | MigrationFailed> =>
  Layer.effect(
    JobStore,
    Effect.gen(function*() {
      if (options.migrate !== false) yield* migrate
      return yield* make
    })
  ).pipe(
    Layer.provide(
      PgClient.layer({
        url: Redacted.isRedacted(options.url) ? options.url : Redacted.make(options.url),
        transformJson: false,
        ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections })
      }).pipe(Layer.mapError((cause) => new StorageError({ operation: "PgStore.layer", cause })))
    )
  )
