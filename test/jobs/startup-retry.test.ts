/**
 * Issue 11.1: startup recovery that meets a moment's trouble with the
 * database does not close job intake until a restart. The trouble is real:
 * another connection holds the lock recovery needs (PostgreSQL: an ACCESS
 * EXCLUSIVE lock on workflow_runs, with the store's sessions giving up on
 * locks after 200 ms; SQLite: the write lock, with a 100 ms busy timeout)
 * for about a second. Before the fix the first failed batch became a
 * permanent `RecoveryFailed`, and every submit was refused. A scan whose
 * retries are spent closes intake, and is tried again on the Clock until it
 * gets through, which opens intake without a restart.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
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
import { capturingLog } from "../support/capturedLog.js"
import { connectPg } from "../support/pg-database.js"
import { openSqlite } from "../reliability/snapshot.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, type SharedDatabase, sharedBackends } from "./shared-database.js"

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

/** Until `condition` holds, looking every 5 ms of real time (a try runs in real time; the Clock only schedules it). */
const until = (condition: Effect.Effect<boolean>, what: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2_000; tries++) {
      if (yield* condition) return
      yield* realSleep(5)
    }
    return assert.fail(`timed out waiting until ${what}`)
  })

/** Until a sleep of `ms` from now is scheduled on the TestClock: the next try armed. */
const armed = (ms: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    until(Effect.map(TestClock.sleeps(), (sleeps) => Chunk.toReadonlyArray(sleeps).includes(now + ms)), `a try is due in ${ms} ms`))

/** A store that gives up on a held lock quickly, so the fault surfaces as a StorageError. */
const impatientStore = (url: string, pg: boolean): Layer.Layer<JobStore, unknown> =>
  pg
    ? PgStore.layer({ url: `${url}?options=${encodeURIComponent("-c lock_timeout=200ms")}`, migrate: false })
    : SqliteStore.layer({ filename: url, busyTimeoutMs: 100, migrate: false })

/** A job running under a worker that died a minute ago (by the TestClock): its run is stale. */
const leftByCrashedWorker = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const crashed = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
    const left = yield* crashed.submit(summarize())
    const { run } = yield* crashed.start(left.job_id)
    yield* TestClock.adjust("1 minute")
    return { left, run }
  })

for (const backend of sharedBackends) {
  const pg = backend.name === "PostgreSQL"

  describe(`startup recovery on ${backend.name}`, () => {
    it.effect("R9 startup recovery retries a storage failure that passes, instead of refusing every submit until restart", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("startup retry")
        const { left, run } = yield* leftByCrashedWorker(database)

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

    it.effect("R9 a startup scan that failed tries again 1 s, then 2 s later, on the Clock, and opens intake once it gets through — no restart; the stale run stalled once, with one event", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("startup retry reopens")
        const { left, run } = yield* leftByCrashedWorker(database)

        // Held through the first two tries; each batch gives up at once (retries: 0).
        const holder = yield* holdLock(database.url, pg)
        const app = yield* Layer.build(services(impatientStore(database.url, pg), Recovery.layerStartup({ retries: 0 })))
        const jobs = Context.get(app, Jobs)
        const gate = Context.get(app, Recovery.RecoveryGate)
        assert.strictEqual((yield* Effect.flip(jobs.submit(summarize())))._tag, "RecoveryFailed", "intake closed after the first try")
        assert.strictEqual(yield* gate.status, "failed")

        yield* armed(1_000)
        yield* TestClock.adjust("1 second")
        yield* until(Effect.sync(() => log.lines.some((line) => line.includes("try 2"))), "the second try failed")
        assert.strictEqual(yield* gate.status, "failed")
        assert.strictEqual((yield* Effect.flip(jobs.submit(summarize())))._tag, "RecoveryFailed", "still closed while the lock is held")

        yield* holder.release
        yield* armed(2_000)
        yield* TestClock.adjust("2 seconds")
        yield* until(Effect.map(gate.status, (status) => status === "finished"), "the third try succeeded")

        const job = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        assert.strictEqual(job.state, "queued", "intake open without a restart")
        assert.deepStrictEqual((yield* gate.result).recovered.map((r) => r.id), [run.id])
        assert.strictEqual((yield* jobs.get(left.job_id)).state, "stalled")
        const store = yield* database.store()
        const events = (yield* store.listEvents({ types: ["workflow_recovery"], limit: 100 })).items
        assert.deepStrictEqual(events.map((event) => event.workflow_run_id), [run.id], "one workflow_recovery event")
        assert.deepStrictEqual((yield* store.listJobs({ limit: 100 })).items.map((j) => j.job_id).sort(), [left.job_id, job.job_id].sort(), "the refused submits stored nothing")
        assert.deepStrictEqual(log.leveled, [
          ["ERROR", "startup recovery failed: no new job is accepted until it succeeds; trying again in 1s"],
          ["WARN", "startup recovery failed again (try 2): no new job is accepted until it succeeds; trying again in 2s"],
          ["INFO", "startup recovery: stalled 1 workflow run(s) whose heartbeat was older than 30s, each with a workflow_recovery event"],
          ["INFO", "startup recovery succeeded on try 3: job intake is open"]
        ])
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)

    it.effect("R9 bad recovery options close intake for good: no try again, whatever the Clock does", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("startup retry bad options")
        const app = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup({ threshold: "0 seconds" })))
        const gate = Context.get(app, Recovery.RecoveryGate)
        assert.strictEqual((yield* Effect.flip(gate.result))._tag, "RecoveryFailed")
        // Every delay a try again could have (1 s … 30 s) passes many times over, with real time for a try to run.
        for (let i = 0; i < 5; i++) {
          yield* TestClock.adjust("1 minute")
          yield* realSleep(10)
        }
        assert.strictEqual(yield* gate.status, "failed")
        assert.strictEqual((yield* Effect.flip(Context.get(app, Jobs).submit(summarize())))._tag, "RecoveryFailed")
        assert.deepStrictEqual(log.leveled, [["ERROR", "startup recovery failed: no new job is accepted until it succeeds (restart the process)"]])
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)

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
