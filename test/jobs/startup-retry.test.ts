/**
 * Issue 11.1: startup recovery that meets a moment's trouble with the
 * database does not close job intake until a restart. The trouble is real:
 * another connection holds the lock recovery needs (PostgreSQL: an ACCESS
 * EXCLUSIVE lock on workflow_runs, with the store's sessions giving up on
 * locks after 200 ms; SQLite: the write lock, with a 100 ms busy timeout)
 * for about a second. Before the fix the first failed batch became a
 * permanent `RecoveryFailed`, and every submit was refused.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { connectPg } from "../support/pg-database.js"
import { openSqlite } from "../reliability/snapshot.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, sharedBackends } from "./shared-database.js"

/** Another connection holding the lock recovery needs; `release` lets go. */
interface Holder {
  readonly release: Effect.Effect<void>
}

const holdLock = (url: string, pg: boolean): Effect.Effect<Holder> =>
  pg
    ? Effect.promise(async () => {
      const client = await connectPg(url)
      await client.query("BEGIN")
      await client.query("LOCK TABLE workflow_runs IN ACCESS EXCLUSIVE MODE")
      return { release: Effect.promise(() => client.query("COMMIT").then(() => client.end())) }
    })
    : Effect.sync(() => {
      const db = openSqlite(url)
      db.exec("BEGIN IMMEDIATE")
      return { release: Effect.sync(() => (db.exec("COMMIT"), db.close())) }
    })

/** A store that gives up on a held lock quickly, so the fault surfaces as a StorageError. */
const impatientStore = (url: string, pg: boolean): Layer.Layer<JobStore, unknown> =>
  pg
    ? PgStore.layer({ url: `${url}?options=${encodeURIComponent("-c lock_timeout=200ms")}`, migrate: false })
    : SqliteStore.layer({ filename: url, busyTimeoutMs: 100, migrate: false })

for (const backend of sharedBackends) {
  const pg = backend.name === "PostgreSQL"

  describe(`startup recovery on ${backend.name}`, () => {
    it.effect("R9 startup recovery retries a storage failure that passes, instead of refusing every submit until restart", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("startup retry")
        // A run left behind by a crashed worker.
        const crashed = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const left = yield* crashed.submit(summarize())
        const { run } = yield* crashed.start(left.job_id)
        yield* TestClock.adjust("1 minute")

        const holder = yield* holdLock(database.url, pg)
        const app = yield* Layer.build(services(impatientStore(database.url, pg), Recovery.layerStartup()))
        const jobs = Context.get(app, Jobs)
        const submitted = yield* Effect.fork(jobs.submit(summarize({ job_kind: "doc_edit" })))
        yield* realSleep(900)
        yield* holder.release

        const job = yield* Fiber.join(submitted)
        assert.strictEqual(job.state, "queued", "intake opened once recovery got through")
        const report = yield* Context.get(app, Recovery.RecoveryGate).result
        assert.deepStrictEqual(report.recovered.map((r) => r.id), [run.id])
        assert.strictEqual((yield* jobs.get(left.job_id)).state, "stalled")
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a failure that does not pass still ends in RecoveryFailed, after a bounded number of retries", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("startup retry gives up")
        yield* database.store()
        const holder = yield* holdLock(database.url, pg)
        const app = yield* Layer.build(services(impatientStore(database.url, pg), Recovery.layerStartup({ retries: 2 })))
        const error = yield* Effect.flip(Context.get(app, Jobs).submit(summarize()))
        yield* holder.release
        assert.strictEqual(error._tag, "RecoveryFailed")
        assert.strictEqual((yield* (yield* database.store()).listJobs()).items.length, 0)
      }).pipe(Effect.scoped), 60_000)
  })
}
