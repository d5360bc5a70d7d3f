/**
 * R10 behind a connection pooler: the PostgreSQL store through a real
 * PgBouncer (Debian's 1.18, the version a team server on Debian 12 gets) in
 * transaction mode, where consecutive transactions of one client connection
 * run on whichever of the pooler's server connections is free, and a server
 * connection serves many clients in turn. Three server connections for up
 * to eight concurrent clients, so sharing happens on every run, not by luck.
 *
 * - Named prepared statements (the default) cannot be kept on such a
 *   pooler: the store notices the first time the server refuses one (a name
 *   it was preparing exists there already, 42P05) and sends its statements
 *   unnamed from then on, without failing the call that noticed.
 * - PgBouncer 1.18 refuses the `statement_timeout` the store asks for at
 *   startup unless told to ignore it; ignored, it never reaches the server,
 *   and the client's own deadline still ends a statement that hangs.
 * - A read-only store opens behind it as configured here (it asks for no
 *   `options` at startup, which 1.18 refuses), and the database still
 *   refuses its every write — also behind a pooler told to ignore `options`,
 *   which drops a session setting there silently.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { afterAll, beforeAll } from "vitest"
import { Jobs } from "../../src/Jobs.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { clientTimeouts } from "../../src/store/pg/clientTimeouts.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase, pgAdminUrl } from "../support/pg-database.js"
import { type Pooler, startPgBouncer } from "../support/pgbouncer.js"
import { encode, expectTag, failureOf, newJob } from "./fixtures.js"

let pooler: Pooler
beforeAll(async () => {
  pooler = await startPgBouncer(pgAdminUrl(), { poolSize: 3 })
}, 30_000)
afterAll(async () => {
  await pooler?.stop()
})

/** `count` whole lifecycles (submit → claim → heartbeat → complete, every audit event), `workers` at a time. */
const lifecycles = (count: number, workers: number) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const store = yield* JobStore
    yield* Effect.forEach(Array.from({ length: count }), () =>
      Effect.gen(function*() {
        yield* jobs.submit(newJob())
        let claim = yield* jobs.claimNext()
        while (claim === null) claim = yield* jobs.claimNext()
        yield* store.heartbeat(claim.run.id)
        yield* jobs.complete(claim.job.job_id)
      }), { concurrency: workers, discard: true })
  })

/** Per state, how many jobs; and per job, which event types — read on the server directly, not through the pooler. */
const stored = (url: string) =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      const states = (await client.query<{ status: string; n: string }>(
        "SELECT status, count(*) AS n FROM ai_jobs GROUP BY status"
      )).rows.map(({ n, status }) => `${status}:${n}`)
      const trails = (await client.query<{ types: string; n: string }>(`
        SELECT types, count(*) AS n FROM (
          SELECT job_id, string_agg(type, ',' ORDER BY type) AS types FROM flight_recorder_events GROUP BY job_id
        ) t GROUP BY types`)).rows.map(({ n, types }) => `${types}:${n}`)
      return { states, trails }
    } finally {
      await client.end()
    }
  })

const storeThrough = (url: string, options: Omit<PgStore.PgStoreOptions, "url"> = {}) =>
  services(PgStore.layer({ url: pooler.through(url), ...options }))

/** What one lifecycle leaves in the Flight Recorder for its job, run straight on the server (no pooler). */
const directTrail = Effect.gen(function*() {
  const url = yield* freshPgDatabase("pgbouncer direct")
  yield* lifecycles(1, 1).pipe(Effect.provide(services(PgStore.layer({ url }))))
  const { trails } = yield* stored(url)
  assert.lengthOf(trails, 1)
  return trails[0]!.replace(/:1$/, "")
})

describe("PostgreSQL store behind PgBouncer 1.18 in transaction mode (R10)", () => {
  it.scoped("named statements by default: two processes' workers finish every job with its whole audit trail", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pgbouncer named")
      // Two store layers: two processes, each with its own pool, sharing the pooler's three server connections.
      const process = () => lifecycles(30, 4).pipe(Effect.provide(storeThrough(url)))
      yield* Effect.all([process(), process()], { concurrency: 2, discard: true })
      const { states, trails } = yield* stored(url)
      assert.deepStrictEqual(states, ["completed:60"])
      assert.deepStrictEqual(trails, [`${yield* directTrail}:60`])
    }), 120_000)

  it.scoped("with preparedStatements: false, the same", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pgbouncer unnamed")
      yield* lifecycles(40, 8).pipe(Effect.provide(storeThrough(url, { preparedStatements: false })))
      const { states, trails } = yield* stored(url)
      assert.deepStrictEqual(states, ["completed:40"])
      assert.deepStrictEqual(trails, [`${yield* directTrail}:40`])
    }), 120_000)

  it.scoped("a transaction stays on one server connection: a failure inside it undoes all of it", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pgbouncer transaction")
      const context = yield* Layer.build(storeThrough(url))
      const store = Context.get(context, JobStore)
      const exit = yield* Effect.exit(store.transaction(Effect.gen(function*() {
        yield* store.createJob(newJob())
        yield* store.createJob(newJob())
        return yield* Effect.fail("changed my mind" as const)
      })))
      assert.deepStrictEqual(exit, Exit.fail("changed my mind" as const))
      assert.deepStrictEqual((yield* stored(url)).states, [])
      // The store is still usable through the pooler after the rolled-back transaction.
      yield* store.createJob(newJob())
      assert.deepStrictEqual((yield* stored(url)).states, ["queued:1"])
    }), 60_000)

  it.scoped("a transaction that meets another process's statement name on its server connection runs again whole: nothing doubled", () =>
    Effect.gen(function*() {
      // One server connection: every transaction of both processes runs on it, so the meeting is certain.
      const single = yield* Effect.acquireRelease(
        Effect.promise(() => startPgBouncer(pgAdminUrl(), { poolSize: 1 })),
        (p) => Effect.promise(() => p.stop())
      )
      const url = yield* freshPgDatabase("pgbouncer named transaction")
      const storeOf = (options: Omit<PgStore.PgStoreOptions, "url">) =>
        Effect.map(Layer.build(PgStore.layer({ url: single.through(url), ...options })), (context) => Context.get(context, JobStore))
      // Process A, on one client connection (so no two of its own Parses meet), prepares the in-transaction create.
      const a = yield* storeOf({ maxConnections: 1 })
      yield* Effect.forEach(Array.from({ length: 4 }), () => a.transaction(a.createJob(newJob())), { discard: true })
      const named = yield* Effect.promise(async () => {
        const client = await connectPg(single.through(url))
        try {
          return Number((await client.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE 'hsk_%'"
          )).rows[0]!.n)
        } finally {
          await client.end()
        }
      })
      assert.isAbove(named, 0, "the one server connection holds A's named statements")
      // Process B (already migrated: its first named statement is the create, inside its transaction) meets
      // A's name there (42P05), which aborts its transaction; the transaction runs again whole, unnamed.
      const b = yield* storeOf({ migrate: false })
      yield* Effect.forEach(Array.from({ length: 3 }), () =>
        b.transaction(Effect.zipRight(b.createJob(newJob()), b.createJob(newJob()))), { concurrency: 3, discard: true })
      assert.deepStrictEqual((yield* stored(url)).states, [`queued:${4 + 6}`])
    }), 60_000)

  it.scoped("the statement timeout the pooler drops: a statement blocked past it still ends in a StorageError", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pgbouncer timeout")
      const context = yield* Layer.build(storeThrough(url, { statementTimeout: Duration.millis(600) }))
      const store = Context.get(context, JobStore)
      const job = yield* store.createJob(newJob())
      // Another session holds the job's row: the store's cancel has to wait for it.
      const holder = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = await connectPg(url)
          await client.query("BEGIN")
          await client.query("SELECT 1 FROM ai_jobs WHERE id = $1 FOR UPDATE", [job.job_id])
          return client
        }),
        (client) => Effect.promise(() => client.query("ROLLBACK").then(() => client.end()))
      )
      const result = yield* Effect.either(store.transition({ job_id: job.job_id, to: "cancelled" }))
      assert.isTrue(result._tag === "Left" && result.left instanceof StorageError, `expected a StorageError, got ${String(result)}`)
      // The server was never told (no statement_timeout through the pooler): the client's deadline (pg's
      // query_timeout, 1.5 × 600 ms as the store sets it) ended it, by its own words — not the server's
      // "canceling statement due to statement timeout". Not a measured duration: a timer armed late in a
      // long turn of a loaded machine's event loop fires short of 900 ms after the test's clock read. The
      // holder still holds the row: nothing else could have ended the wait.
      const said: Array<string> = []
      for (let cause: unknown = result._tag === "Left" ? result.left : undefined; cause instanceof Error; cause = cause.cause) {
        said.push(cause.message)
      }
      assert.include(said, "Query read timeout", said.join(" ← "))
      assert.strictEqual(Either.getOrThrow(clientTimeouts(url, { statementTimeout: Duration.millis(600) })).settings.query_timeout, 900)
      void holder
    }), 60_000)

  it.live("a pooler that was not told to ignore the store's timeouts refuses it: a StorageError naming the parameter", () =>
    Effect.gen(function*() {
      const strict = yield* Effect.acquireRelease(
        Effect.promise(() => startPgBouncer(pgAdminUrl(), { ignoreStartupTimeouts: false })),
        (p) => Effect.promise(() => p.stop())
      )
      const url = yield* freshPgDatabase("pgbouncer strict")
      const refused = yield* Effect.flip(Layer.build(PgStore.layer({ url: strict.through(url) })))
      assert.instanceOf(refused, StorageError)
      // The pooler's own words reach the caller: what to change is in them.
      const said = (refused.cause as { readonly cause?: { readonly message?: string } }).cause?.message
      assert.match(String(said), /unsupported startup parameter: (statement_timeout|idle_in_transaction_session_timeout)/)
      // Without timeouts the store asks for nothing the pooler refuses.
      yield* Layer.build(PgStore.layer({ url: strict.through(url), statementTimeout: Duration.infinity }))
    }).pipe(Effect.scoped), 60_000)
})

/** The SQLSTATE under a store's `StorageError`. */
const sqlState = (error: unknown): unknown =>
  ((expectTag(error as StorageError, "StorageError").cause as { readonly cause?: { readonly code?: unknown } }).cause)?.code

/** The read-only store through `through`, its reads, and its writes refused by the database (25006): nothing changes. */
const readOnlyBehind = (through: Pooler, label: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const seeded: AiJob = yield* Effect.flatMap(JobStore, (store) => store.createJob(newJob())).pipe(
      Effect.provide(PgStore.layer({ url }))
    )
    const context = yield* Layer.build(DatabaseUrl.layerFromUrl(through.through(url), { readonly: true }))
    const readOnly = Context.get(context, JobStore)
    const everything = Effect.map(readOnly.listJobs(), (page) => page.items.map(encode.job))
    assert.deepStrictEqual(yield* everything, [encode.job(seeded)])
    // Each write alone, and inside a transaction, many at once: more clients than the pooler's
    // three server connections, so they share them with one another and with the reads.
    const writes: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
      readOnly.createJob(newJob()),
      readOnly.setPinned(seeded.job_id, true),
      readOnly.transition({ job_id: seeded.job_id, to: "cancelled" }),
      readOnly.transaction(Effect.zipRight(readOnly.listJobs(), readOnly.setPinned(seeded.job_id, true))),
      readOnly.readConsistent(Effect.zipRight(readOnly.listJobs(), readOnly.createJob(newJob())))
    ]
    const outcomes = yield* Effect.all(
      Array.from({ length: 4 }, () => [...writes.map((write) => Effect.map(failureOf(write), sqlState)), Effect.as(everything, "read")]).flat(),
      { concurrency: "unbounded" }
    )
    assert.deepStrictEqual(outcomes, Array.from({ length: 4 }, () => [...writes.map(() => "25006"), "read"]).flat())
    assert.deepStrictEqual((yield* stored(url)).states, ["queued:1"], "nothing written")
    assert.deepStrictEqual(yield* everything, [encode.job(seeded)])
  })

describe("a read-only PostgreSQL store behind PgBouncer 1.18 in transaction mode (R17)", () => {
  it.scoped("configured as the README says: it opens, reads, and the database refuses every write", () =>
    readOnlyBehind(pooler, "pgbouncer readonly"), 60_000)

  it.scoped("behind a pooler that ignores `options` as well: still every write refused by the database", () =>
    Effect.gen(function*() {
      const ignoring = yield* Effect.acquireRelease(
        Effect.promise(() => startPgBouncer(pgAdminUrl(), { poolSize: 3, ignoreOptions: true })),
        (p) => Effect.promise(() => p.stop())
      )
      yield* readOnlyBehind(ignoring, "pgbouncer readonly ignoring options")
    }), 60_000)
})
