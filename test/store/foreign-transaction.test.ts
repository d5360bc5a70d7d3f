/**
 * R17, an application with a database of its own: @effect/sql keeps one open
 * transaction per fiber for every client, so a job submitted inside the
 * application's `sql.withTransaction(...)` on *another* database ran there —
 * written to the application's database (here migrated like ours, so the
 * write succeeded silently), gone with its rollback, absent from the store.
 * The store now joins a transaction on its own database only (any client:
 * the job and the caller's rows commit or roll back together) and works
 * beside any other, on both stores, against each other kind of database:
 * another file or database of the same engine, and the other engine.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { summarize } from "../jobs/jobs.suite.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"

/** The wrapper passes a method three arguments (no rest array a call): the port must take no more. Checked by the compiler. */
type Arity = { [K in keyof JobStore["Type"]]-?: NonNullable<JobStore["Type"][K]> extends (...args: infer P) => unknown ? P["length"] : 0 }
export const portArityFitsTheWrapper: Arity[keyof Arity] extends 0 | 1 | 2 | 3 ? true : never = true

/** A database migrated with our schema (so a write misrouted there would succeed), and a plain client on it. */
interface Database {
  readonly name: string
  readonly store: () => Layer.Layer<JobStore, unknown>
  readonly client: () => Layer.Layer<SqlClient.SqlClient, unknown>
}

const migrated = <E>(layer: Layer.Layer<JobStore, E>) => Effect.scoped(Layer.build(layer))

const sqliteDatabase = (label: string): Effect.Effect<Database, unknown> =>
  Effect.gen(function*() {
    const filename = tempSqliteFile(label)
    yield* migrated(SqliteStore.layer({ filename }))
    return {
      name: "SQLite",
      store: () => SqliteStore.layer({ filename }),
      client: () => SqliteClient.layer({ filename })
    }
  })

const pgDatabase = (label: string): Effect.Effect<Database, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    yield* migrated(PgStore.layer({ url }))
    return {
      name: "PostgreSQL",
      store: () => PgStore.layer({ url }),
      client: () => PgClient.layer({ url: Redacted.make(url), transformJson: false })
    }
  })

/** The store built on the caller's own client (`layerFromClient`), with that client beside it. */
const sharedClient = (label: string): Effect.Effect<Layer.Layer<JobStore | SqlClient.SqlClient, unknown>, unknown, Scope.Scope> =>
  label.startsWith("SQLite")
    ? Effect.succeed(SqliteStore.layerFromClient().pipe(Layer.provideMerge(SqliteClient.layer({ filename: tempSqliteFile("foreign-tx-own") }))))
    : Effect.map(freshPgDatabase("foreign-tx-own"), (url) =>
      PgStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), transformJson: false }))))

const kinds: ReadonlyArray<readonly [string, (label: string) => Effect.Effect<Database, unknown, Scope.Scope>]> = [
  ["SQLite", sqliteDatabase],
  ["PostgreSQL", pgDatabase]
]

/** How many jobs of id `jobId` the client's database holds. */
const jobsWithId = (jobId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql.onDialectOrElse({
        pg: () => sql<{ n: number }>`SELECT count(*)::int AS n FROM ai_jobs WHERE id = ${jobId}::uuid`,
        orElse: () => sql<{ n: number }>`SELECT count(*) AS n FROM ai_jobs WHERE id = ${jobId}`
      }),
      (rows) => Number(rows[0]?.n)
    ))

/** A job submitted inside the client's transaction, which then fails: the job's id, the transaction rolled back. */
const submitInsideFailedTransaction = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* Jobs.Jobs
  let jobId = ""
  const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
    jobId = (yield* jobs.submit(summarize())).job_id
    // The application's transaction is still its own to use: nothing the store did broke it.
    assert.deepStrictEqual((yield* sql<{ one: number }>`SELECT 1 AS one`).map((row) => Number(row.one)), [1])
    return yield* Effect.fail("the application's own step failed" as const)
  })))
  assert.deepStrictEqual(exit, Exit.fail("the application's own step failed"), "the application's transaction failed of its own step")
  return jobId
})

describe("R17 a transaction open on the fiber is joined only on the store's own database", () => {
  for (const [storeKind, storeDatabase] of kinds) {
    for (const [otherKind, otherDatabase] of kinds) {
      it.scoped(`${storeKind} store, inside a transaction on another ${otherKind} database: the job is the store's, committed on its own`, () =>
        Effect.gen(function*() {
          const ours = yield* storeDatabase("foreign-tx-ours")
          const theirs = yield* otherDatabase("foreign-tx-theirs")
          const context = yield* Layer.build(Layer.merge(services(ours.store()), theirs.client()))
          const jobId = yield* Effect.provide(submitInsideFailedTransaction, context)
          const stored = yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.getJob(jobId as never)), context)
          assert.strictEqual(stored.job_id, jobId)
          assert.strictEqual(stored.state, "queued")
          const events = yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.listEvents({ job_id: jobId as never })), context)
          assert.isAtLeast(events.items.length, 1, "its records were written with it")
          assert.strictEqual(yield* Effect.provide(jobsWithId(jobId), context), 0, "nothing written to the other database")
          // The other client's transactions still work, and later ones are told apart the same way.
          const again = yield* Effect.provide(submitInsideFailedTransaction, context)
          assert.strictEqual((yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.getJob(again as never)), context)).job_id, again)
        }), 60_000)
    }

    it.scoped(`${storeKind} store, inside a transaction of another client on its own database: joined, rolled back with it or committed with it`, () =>
      Effect.gen(function*() {
        const ours = yield* storeDatabase("foreign-tx-same")
        const context = yield* Layer.build(Layer.merge(services(ours.store()), ours.client()))
        const rolledBack = yield* Effect.provide(submitInsideFailedTransaction, context)
        assert.strictEqual(yield* Effect.provide(jobsWithId(rolledBack), context), 0, "the job went with the caller's rollback")
        const committed = yield* Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(Effect.flatMap(Jobs.Jobs, (jobs) => jobs.submit(summarize())))),
          context
        )
        assert.strictEqual(yield* Effect.provide(jobsWithId(committed.job_id), context), 1)
      }), 60_000)

    it.scoped(`${storeKind} store built on the caller's own client: the caller's transaction on that client is joined`, () =>
      Effect.gen(function*() {
        const store = yield* sharedClient(storeKind)
        const context = yield* Layer.build(Layer.merge(services(store), store))
        const rolledBack = yield* Effect.provide(submitInsideFailedTransaction, context)
        assert.strictEqual(yield* Effect.provide(jobsWithId(rolledBack), context), 0, "the job went with the caller's rollback")
      }), 60_000)
  }
})
