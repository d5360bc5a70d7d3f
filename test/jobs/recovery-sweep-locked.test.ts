/**
 * R9 a sweep after failed sweeps, on a SQLite file another connection holds
 * write-locked (found by an outside observability probe): the sweep's first
 * statement is a read, which SQLite serves under another connection's write
 * lock, so the sweep logged "the database answers again" while the file was
 * still locked — then its stall failed and "recovery sweep failed" followed,
 * and the next sweep said it answered again once more. Now the read says only
 * that the database can be read again (once an outage), and "the database
 * answers again" is said once the sweep's stall went through. Under the
 * TestClock; the lock is real (a second better-sqlite3 connection). Also: a
 * recovery batch tried again warned with the error dumped after its text as
 * a value (JSON in a logger), "database is locked" in no text; it is now in
 * the line.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { createRequire } from "node:module"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { capturingLog } from "../support/capturedLog.js"
import { tempSqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { armedIn } from "./sweeps.js"
import { realSleep } from "./shared-database.js"

/** Another connection to a SQLite file, as another process would hold it. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec: (sql: string) => void
  close: () => void
}

describe("R9 recovery sweeps on a SQLite file held write-locked", () => {
  it.effect("R9 a sweep whose read passes under another connection's write lock does not say the database answers again; it says so once its stall went through, after the lock is let go — once", () => {
    const log = capturingLog(["INFO", "WARN", "ERROR"])
    return Effect.gen(function*() {
      const filename = tempSqliteFile("sweep locked")
      const worker = Context.get(yield* Layer.build(services(SqliteStore.layer({ filename }))), Jobs)
      const dead = yield* worker.submit(summarize())
      yield* worker.claimNext()
      // The sweeping process: a short busy timeout, its stalls counted as they fail.
      const real = Context.get(yield* Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: 20 })), JobStore)
      let stallsFailed = 0
      const sweeper: JobStore["Type"] = {
        ...real,
        stallStaleRuns: (options) => Effect.tapError(real.stallStaleRuns(options), () => Effect.sync(() => stallsFailed++))
      }
      const gate = Context.get(
        yield* Layer.build(Recovery.layerStartup({ sweepEvery: "10 seconds" }).pipe(Layer.provide(Layer.succeed(JobStore, sweeper)))),
        Recovery.RecoveryGate
      )
      assert.deepStrictEqual((yield* gate.result).recovered, [], "nothing stale at startup")
      yield* armedIn(10_000)
      const other = new Database(filename)
      yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
      other.exec("BEGIN EXCLUSIVE")
      // 10 s: the sweep's stall is refused by the lock.
      yield* TestClock.adjust("10 seconds")
      while (stallsFailed < 1) yield* realSleep(2)
      yield* armedIn(10_000)
      // 20 s: the next sweep reads the stale run under the lock, waits one threshold, and its stall is refused again.
      yield* TestClock.adjust("10 seconds")
      yield* armedIn(30_000)
      yield* TestClock.adjust("30 seconds")
      while (stallsFailed < 2) yield* realSleep(2)
      yield* armedIn(10_000)
      const whileLocked = log.leveled.filter(([, line]) => line.startsWith("recovery sweep"))
      assert.deepStrictEqual(whileLocked.filter(([, line]) => line.includes("answers again")), [], "not said while the file is write-locked")
      assert.deepStrictEqual(whileLocked.map(([level]) => level), ["WARN", "INFO", "WARN"], whileLocked.map(([, line]) => line).join(" | "))
      assert.strictEqual(whileLocked[1]![1], "recovery sweep: the database can be read again; runs not heard from since are stalled in 30s if still silent")
      // The lock let go: the next sweep reads (said once an outage: not again), waits, and its stall goes through.
      other.exec("COMMIT")
      yield* TestClock.adjust("10 seconds")
      yield* armedIn(30_000)
      yield* TestClock.adjust("30 seconds")
      yield* armedIn(10_000)
      assert.strictEqual((yield* real.getJob(dead.job_id)).state, "stalled", "stalled once the lock was let go")
      const lines = log.leveled.filter(([, line]) => line.startsWith("recovery sweep")).map(([level, line]) => [level, line.split(";")[0]])
      assert.deepStrictEqual(lines, [
        ["WARN", "recovery sweep failed"],
        ["INFO", "recovery sweep: the database can be read again"],
        ["WARN", "recovery sweep failed"],
        ["INFO", "recovery sweep: stalled 1 workflow run(s) whose heartbeat was older than 30s, each with a workflow_recovery event"],
        ["INFO", "recovery sweep: the database answers again (the sweep's stall went through)"]
      ])
    }).pipe(Effect.scoped, log.provide)
  }, 60_000)
})

describe("R9 a recovery batch tried again, in the log", () => {
  it.effect("R9 a batch that failed and is tried again warns with the error's own text in the line ('database is locked'), not the error dumped as a value after it", () => {
    const log = capturingLog(["WARN"])
    return Effect.gen(function*() {
      const real = Context.get(yield* Layer.build(SqliteStore.layer({ filename: tempSqliteFile("batch retry log") })), JobStore)
      let refused = 0
      const store: JobStore["Type"] = {
        ...real,
        stallStaleRuns: (options) =>
          refused++ === 0
            ? Effect.fail(new StorageError({ operation: "JobStore.stallStaleRuns", cause: new Error("database is locked") }))
            : real.stallStaleRuns(options)
      }
      yield* Effect.provideService(Recovery.recoverStalledRuns({ retries: 1 }), JobStore, store).pipe(TestServices.provideLive)
      const retried = log.annotated.filter((entry) => entry.line.startsWith("recovery batch failed"))
      assert.lengthOf(retried, 1)
      assert.strictEqual(retried[0]!.parts, 1, "the error is text in the line")
      assert.include(retried[0]!.line, "database is locked")
      assert.include(retried[0]!.line, "trying again (1 of 1)")
    }).pipe(Effect.scoped, log.provide)
  }, 60_000)
})
