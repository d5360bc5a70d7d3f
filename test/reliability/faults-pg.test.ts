/**
 * Connection faults on PostgreSQL (issue 8, part 3): our backend is killed
 * with `pg_terminate_backend` from an admin connection while a transaction
 * of ours is open. The caller must get a typed `StorageError` (not a defect),
 * nothing of the transaction may be stored, and the same layer must serve the
 * next call on a new connection.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { AiJob } from "../../src/domain/AiJob.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { connectPg, freshPgDatabase, pgAdminUrl, type PgClient } from "../support/pg-database.js"
import { ids, newJob } from "../store/fixtures.js"
import { sleep } from "./children.js"
import { report } from "./report.js"

/** A fresh database, its store layer built in the test's scope, and an admin connection. */
const setup = Effect.gen(function*() {
  const url = yield* freshPgDatabase("reliability faults")
  const admin = yield* Effect.acquireRelease(
    Effect.promise(() => connectPg(pgAdminUrl())),
    (client) => Effect.promise(() => client.end().catch(() => {}))
  )
  const store = Context.get(yield* Layer.build(PgStore.layer({ url, maxConnections: 4 })), JobStore)
  const database = decodeURIComponent(new URL(url).pathname.slice(1))
  return { url, admin, store, database }
})

/** Waits until one of our backends sits idle inside a transaction, and returns its pid. */
const idleInTransaction = async (admin: PgClient, database: string): Promise<number> => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const rows = (await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'",
      [database]
    )).rows
    if (rows.length === 1) return rows[0]!.pid
    await sleep(10)
  }
  throw new Error("no backend of ours became idle in transaction")
}

/** How the effect ended: the typed error's tag, or a defect. */
const outcome = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") return (failure.value as { readonly _tag?: string })._tag ?? "untagged failure"
  if (!Cause.isDie(exit.cause)) return "interrupted"
  const defect = Cause.squash(exit.cause) as { readonly message?: unknown; readonly cause?: { readonly message?: unknown } }
  return `defect: ${String(defect?.message)} (${String(defect?.cause?.message)})`
}

const countJobs = async (url: string, jobIds: ReadonlyArray<string>): Promise<number> => {
  const client = await connectPg(url)
  try {
    const rows = (await client.query<{ n: string }>("SELECT count(*) AS n FROM ai_jobs WHERE id = ANY($1::uuid[])", [jobIds])).rows
    return Number(rows[0]?.n ?? -1)
  } finally {
    await client.end().catch(() => {})
  }
}

describe("reliability: PostgreSQL connection faults", () => {
  it.live("R17 a backend terminated mid-transaction gives a typed StorageError, stores nothing, and the layer serves the next call", () =>
    Effect.gen(function*() {
      const { admin, database, store, url } = yield* setup
      const rounds = 3
      for (let round = 0; round < rounds; round++) {
        const first = newJob({ job_id: ids.job() })
        const second = newJob({ job_id: ids.job() })
        // Writes, then waits with the transaction open, then writes again.
        const fiber = yield* Effect.fork(store.transaction(Effect.gen(function*() {
          yield* store.createJob(first)
          yield* Effect.sleep("1500 millis")
          yield* store.createJob(second)
        })))
        const pid = yield* Effect.promise(() => idleInTransaction(admin, database))
        const terminated = yield* Effect.promise(() => admin.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [pid]))
        assert.isTrue(terminated.rows[0]?.ok, "the backend was terminated")
        const exit = yield* Fiber.await(fiber)
        assert.strictEqual(outcome(exit), "StorageError", `round ${round}: the caller gets a typed StorageError`)
        assert.strictEqual(yield* Effect.promise(() => countJobs(url, [first.job_id!, second.job_id!])), 0, "no partial write")
        assert.strictEqual(outcome(yield* Effect.exit(store.getJob(first.job_id!))), "NotFound")

        // The same layer serves the next calls, on a fresh connection.
        const next = newJob({ job_id: ids.job() })
        const created: AiJob = yield* store.createJob(next)
        assert.strictEqual((yield* store.getJob(created.job_id)).job_id, next.job_id)
      }
      report("faults-pg-terminate", { rounds })
    }).pipe(Effect.scoped), 60_000)

  it.live("R17 every pooled backend terminated while idle: the next calls are served by new connections", () =>
    Effect.gen(function*() {
      const { admin, database, store } = yield* setup
      // Open several pooled connections, then kill them all while they sit idle in the pool.
      yield* Effect.forEach([1, 2, 3, 4], () => store.createJob(newJob()), { concurrency: 4 })
      const killed = yield* Effect.promise(() => admin.query<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [database]
      ))
      assert.isAbove(killed.rows.length, 0, "some backends were terminated")
      yield* Effect.promise(() => sleep(100))
      const exits = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => Effect.exit(store.createJob(newJob())), { concurrency: 4 })
      assert.deepStrictEqual(exits.map(outcome), exits.map(() => "success"))
      assert.strictEqual((yield* store.listJobs({ limit: 100 })).items.length, 10)
    }).pipe(Effect.scoped), 60_000)
})
