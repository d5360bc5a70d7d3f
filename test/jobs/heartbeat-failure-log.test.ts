/**
 * What a run's log says while its heartbeats cannot be written (found by an
 * outside observability probe): each failed beat was a WARN "heartbeat
 * failed" — one per running job per beat, naming neither the job nor its
 * run, the error dumped whole as a JSON message part (the driver's "database
 * is locked" nowhere in its text), and no word of what it means. Now the
 * first failure of a streak is one WARN, annotated with the job and run,
 * saying the error's message and what happens if beats keep failing; the
 * streak's later failures are debug lines; the first beat written again is
 * an info line saying how many failed. Beats are failed by count (a wrapped
 * store, the README's way to inject faults; on a SQLite file also a real
 * write lock another connection holds), never by time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { createRequire } from "node:module"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { capturingLog } from "../support/capturedLog.js"
import { tempSqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

/** Another connection to a SQLite file, as another process would hold it. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec: (sql: string) => void
  close: () => void
}

/** The lines about heartbeats, as level and line. */
const beatLines = (log: ReturnType<typeof capturingLog>) => log.annotated.filter((entry) => entry.line.includes("heartbeat"))

for (const backend of sharedBackends) {
  describe(`a run's failed heartbeats in the log, on ${backend.name}`, () => {
    it.live("R9 a streak of failed heartbeats is one WARN naming the job and run with the error's text and what it means, the rest debug; one INFO when beats are written again — per streak, not per beat", () => {
      const log = capturingLog(["DEBUG", "INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("heartbeat failure log")
        const real = yield* database.store()
        // Beat by beat: five fail, two are written, three fail, one is written; then the program ends.
        const script = [false, false, false, false, false, true, true, false, false, false, true]
        let beat = 0
        const scripted = yield* Deferred.make<void>()
        const store: JobStore["Type"] = {
          ...real,
          heartbeat: (runId) =>
            Effect.suspend(() => {
              // The beat after the script's last: that one, and what the run made of it, are over.
              if (beat === script.length) Deferred.unsafeDone(scripted, Effect.void)
              const written = script[beat++] ?? true
              return written
                ? real.heartbeat(runId)
                : Effect.fail(new StorageError({ operation: "JobStore.heartbeat", cause: new Error("database is locked") }))
            })
        }
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* jobs.submit(summarize())
        const claim = (yield* jobs.claimNext())!
        yield* jobs.run(job.job_id, () => Effect.as(Deferred.await(scripted), { ok: true }), { heartbeatInterval: "5 millis" })
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
        const lines = beatLines(log)
        const warnings = lines.filter((entry) => entry.level === "WARN")
        assert.strictEqual(warnings.length, 2, `one warning a streak, two streaks: ${lines.map((entry) => entry.line).join(" | ")}`)
        for (const warning of warnings) {
          assert.deepStrictEqual(warning.annotations, { job_id: job.job_id, workflow_run_id: claim.run.id })
          assert.strictEqual(warning.parts, 1, "the error is text in the line, not a value dumped after it")
          assert.include(warning.line, `job ${job.job_id}`)
          assert.include(warning.line, `run ${claim.run.id}`)
          assert.include(warning.line, "database is locked")
          assert.include(warning.line, "recovery stalls the run")
        }
        assert.deepStrictEqual(lines.map((entry) => entry.level), [
          "WARN", "DEBUG", "DEBUG", "DEBUG", "DEBUG", "INFO",
          "WARN", "DEBUG", "DEBUG", "INFO"
        ])
        const back = lines.filter((entry) => entry.level === "INFO")
        assert.deepStrictEqual(back.map((entry) => entry.line), [
          `heartbeat written again for job ${job.job_id} (run ${claim.run.id}) after 5 failed in a row`,
          `heartbeat written again for job ${job.job_id} (run ${claim.run.id}) after 3 failed in a row`
        ])
        assert.deepStrictEqual(back[0]!.annotations, { job_id: job.job_id, workflow_run_id: claim.run.id })
      }).pipe(Effect.scoped, log.provide, Logger.withMinimumLogLevel(LogLevel.Debug))
    }, 60_000)
  })
}

describe("a run's heartbeats under a SQLite file another connection holds write-locked", () => {
  it.live("R9 the lock's failed beats are one WARN with the driver's text ('database is locked'), the job and run named; one INFO once the lock is let go and a beat is written", () => {
    const log = capturingLog(["INFO", "WARN", "ERROR"])
    return Effect.gen(function*() {
      const filename = tempSqliteFile("heartbeat lock log")
      const real = Context.get(yield* Layer.build(SqliteStore.layer({ filename, busyTimeoutMs: 20 })), JobStore)
      const other = new Database(filename)
      yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
      // Counted by outcome: the lock is taken before the first beat and let go after the fourth beat failed under it.
      let failed = 0
      let written = 0
      const backAgain = yield* Deferred.make<void>()
      const store: JobStore["Type"] = {
        ...real,
        heartbeat: (runId) =>
          Effect.suspend(() => {
            // The beat after the first one written since the lock: that one, and what the run made of it, are over.
            if (written > 0) Deferred.unsafeDone(backAgain, Effect.void)
            return real.heartbeat(runId).pipe(
              Effect.tapError(() =>
                Effect.sync(() => {
                  if (++failed === 4) other.exec("COMMIT")
                })
              ),
              Effect.tap(() => Effect.sync(() => failed >= 4 && written++))
            )
          })
      }
      const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
      const job = yield* jobs.submit(summarize())
      const claim = (yield* jobs.claimNext())!
      // Taken by the program, once the run is taken (a write): its beats come after.
      const program = () => Effect.zipRight(Effect.sync(() => other.exec("BEGIN EXCLUSIVE")), Effect.as(Deferred.await(backAgain), { ok: true }))
      yield* jobs.run(job.job_id, program, { heartbeatInterval: "5 millis" })
      assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
      const lines = beatLines(log)
      assert.deepStrictEqual(lines.map((entry) => entry.level), ["WARN", "INFO"], lines.map((entry) => entry.line).join(" | "))
      assert.include(lines[0]!.line, "database is locked")
      assert.include(lines[0]!.line, `job ${job.job_id}`)
      assert.deepStrictEqual(lines[0]!.annotations, { job_id: job.job_id, workflow_run_id: claim.run.id })
      assert.strictEqual(lines[1]!.line, `heartbeat written again for job ${job.job_id} (run ${claim.run.id}) after 4 failed in a row`)
    }).pipe(Effect.scoped, log.provide)
  }, 60_000)
})
