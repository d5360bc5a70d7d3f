/**
 * Issue 16 (a PostgreSQL statement's client cost): the cheaper path of a
 * statement keeps its guarantees.
 *
 * - A statement on a held connection is uninterruptible from the moment it is
 *   sent: an interrupt takes effect once it has run (never a cancel that
 *   could land on the connection's next statement), and the connection then
 *   serves the next statement. Forced: the statement sleeps on the server
 *   and is seen running in `pg_stat_activity` before the interrupt is asked.
 * - A store call stays uninterruptible once its statement is out, now that its
 *   outcome is handed back from the statement's own callback (h52): an
 *   interrupted heartbeat waiting on a row lock is written when the lock goes,
 *   and only then does the interrupt take effect.
 * - A lifecycle step's store call on the held path takes a handful of Effect
 *   operations (h52 budgets; the code before took 30 for a heartbeat, 50 for a
 *   createJob).
 * - Group commit looks for a transaction once per call; a call made inside a
 *   caller's transaction still runs on that transaction's connection — the
 *   heartbeat, a running job's end and a settle are undone with it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Pg from "pg"
import { JobStore } from "../../src/store/JobStore.js"
import { holdConnections } from "../../src/store/pg/heldConnections.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { countOperations } from "../support/effectOperations.js"
import { connectPg, endPoolClosed, freshPgDatabase } from "../support/pg-database.js"
import { eventRecord, newJob, startedJob } from "./fixtures.js"

class Undo extends Schema.TaggedError<Undo>()("Undo", {}) {}

describe("issue 16 PostgreSQL store: a statement's path", () => {
  it.scopedLive(
    "R10 issue 16 an interrupted statement on a held connection runs to its end before the interrupt takes effect, and the connection serves the next statement",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("held interrupt")
        const watcher = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
        yield* Effect.promise(() => watcher.query("CREATE TABLE probe (v int NOT NULL)"))
        const pool = yield* Effect.acquireRelease(
          Effect.sync(() => new Pg.Pool({ connectionString: url, max: 2 })),
          endPoolClosed
        )
        const held = yield* holdConnections(pool)
        const running = yield* Effect.fork(
          held.execute("INSERT INTO probe SELECT $1::int FROM pg_sleep(0.5)", [1])
        )
        // Seen running on the server before the interrupt is asked.
        yield* Effect.promise(async () => {
          for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
            const { rows } = await watcher.query<{ readonly n: string }>(
              "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'INSERT INTO probe%' AND state = 'active'"
            )
            if (Number(rows[0]?.n) === 1) return
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
          throw new Error("setup: the statement never ran")
        })
        yield* Fiber.interrupt(running)
        const { rows } = yield* Effect.promise(() => watcher.query<{ readonly v: number }>("SELECT v FROM probe"))
        assert.deepStrictEqual(rows.map((row) => row.v), [1], "the statement had run (and committed) when the interrupt took effect")
        const next = yield* held.execute("SELECT $1::int AS v", [2])
        assert.deepStrictEqual(next, [{ v: 2 }], "the connection serves the next statement")
        assert.strictEqual(held.held(), 1, "the same connection, kept: not dropped as broken")
      }),
    60_000
  )

  it.scopedLive(
    "R10 issue 16 h52 a heartbeat interrupted while its statement waits on a row lock is written when the lock goes, before the interrupt takes effect",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("store call interrupt")
        const context = yield* Layer.build(PgStore.layer({ url }))
        const watcher = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
        yield* Effect.gen(function*() {
          const store = yield* JobStore
          const { run } = yield* startedJob()
          // Another transaction holds the run's row: the heartbeat's UPDATE waits for it on the server.
          yield* Effect.promise(() => watcher.query("BEGIN"))
          yield* Effect.promise(() => watcher.query("SELECT id FROM workflow_runs WHERE id = $1 FOR UPDATE", [run.id]))
          const beating = yield* Effect.fork(store.heartbeat(run.id))
          yield* Effect.promise(async () => {
            for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
              // A lock not granted: the heartbeat's UPDATE waiting for the watcher's (pg_stat_activity's
              // text and state lag for a named statement run again).
              const { rows } = await watcher.query<{ readonly n: string }>("SELECT count(*) AS n FROM pg_locks WHERE NOT granted")
              if (Number(rows[0]?.n) >= 1) return
              await new Promise((resolve) => setTimeout(resolve, 10))
            }
            throw new Error("setup: the heartbeat never waited on the lock")
          })
          const interrupting = yield* Effect.fork(Fiber.interrupt(beating))
          yield* Effect.sleep("200 millis")
          assert.isNull(interrupting.unsafePoll(), "the interrupt waits for the statement")
          yield* Effect.promise(() => watcher.query("COMMIT"))
          yield* Fiber.join(interrupting)
          const { rows } = yield* Effect.promise(() =>
            watcher.query<{ readonly beat: Date }>("SELECT last_heartbeat AS beat FROM workflow_runs WHERE id = $1", [run.id])
          )
          assert.isAbove(rows[0]!.beat.getTime(), run.last_heartbeat.epochMillis, "the heartbeat was written")
          assert.deepStrictEqual(yield* store.heartbeat(run.id).pipe(Effect.map((beaten) => beaten.id)), run.id, "and the store serves the next call")
        }).pipe(Effect.provide(context))
      }),
    60_000
  )

  it.scopedLive(
    "issue 16 h52 on the held path a heartbeat takes at most 12 Effect operations and a createJob without records at most 21, beyond a bare Effect.void",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("store call operations")
        const context = yield* Layer.build(PgStore.layer({ url }))
        yield* Effect.gen(function*() {
          const store = yield* JobStore
          const operations = <A, E>(effect: Effect.Effect<A, E>) =>
            Effect.zipWith(countOperations(Effect.exit(effect)), countOperations(Effect.exit(Effect.void)), ([, ops], [, bare]) => ops - bare)
          const { run } = yield* startedJob()
          // 11 and 20 before every store method looked at the fiber's transaction (internal/foreignTransaction.ts: one operation).
          assert.isAtMost(yield* operations(store.heartbeat(run.id)), 12)
          assert.isAtMost(yield* operations(store.createJob(newJob())), 21)
        }).pipe(Effect.provide(context))
      }),
    60_000
  )

  it.scopedLive(
    "R6 R10 issue 16 with group commit on, a heartbeat, a running job's end and a settle made inside a caller's transaction run on its connection and are undone with it",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("statement path transaction")
        const context = yield* Layer.build(PgStore.layer({ url }))
        yield* Effect.gen(function*() {
          const store = yield* JobStore
          const [beaten, ended, settled] = yield* Effect.forEach([0, 1, 2], () => startedJob())
          const outcome = yield* Effect.either(store.transaction(Effect.gen(function*() {
            yield* store.heartbeat(beaten!.run.id)
            yield* store.finishRunningJob!({
              job_id: ended!.job.job_id,
              to: "completed",
              event: eventRecord({ job_id: ended!.job.job_id, trace_id: ended!.job.trace_id, workflow_run_id: ended!.run.id })
            })
            yield* store.settleRun!({
              job_id: settled!.job.job_id,
              workflow_run_id: settled!.run.id,
              to: "completed",
              duration_ms: 5,
              event: eventRecord({ job_id: settled!.job.job_id, trace_id: settled!.job.trace_id, workflow_run_id: settled!.run.id })
            })
            return yield* new Undo()
          })))
          assert.isTrue(Either.isLeft(outcome) && outcome.left._tag === "Undo")
          const run = yield* store.getRun(beaten!.run.id)
          assert.strictEqual(run.last_heartbeat.epochMillis, beaten!.run.last_heartbeat.epochMillis, "the heartbeat was undone")
          for (const { job, run } of [ended!, settled!]) {
            assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "the end was undone")
            assert.strictEqual((yield* store.getRun(run.id)).status, "running")
            assert.strictEqual((yield* store.listEvents({ job_id: job.job_id })).items.length, 0, "and its record")
          }
        }).pipe(Effect.provide(context))
      }),
    60_000
  )
})
