/**
 * R9 exactly-once recovery and no double claim, with real separate
 * connections (PostgreSQL: one pool per recoverer/worker) and real separate
 * processes (two OS processes on one SQLite file).
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { claimAll } from "../support/drain.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

const run = promisify(execFile)
const script = fileURLToPath(new URL("./store-process.ts", import.meta.url))

/** Queues `count` jobs and, if `claim`, claims them all (their runs start at the TestClock's now). */
const seed = (count: number, claim: boolean) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    for (let i = 0; i < count; i++) yield* jobs.submit(summarize({ job_inputs: { i } }))
    if (claim) for (let i = 0; i < count; i++) assert.isNotNull(yield* jobs.claimNext())
  })

/** Checks that every one of `count` runs was stalled once, with exactly one recovery event each. */
const assertRecoveredOnce = (count: number, recoveredIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    assert.strictEqual(recoveredIds.length, count, "total recovered")
    assert.strictEqual(new Set(recoveredIds).size, count, "no run recovered twice")
    const events = (yield* store.listEvents({ types: ["workflow_recovery"], limit: 1000 })).items
    assert.strictEqual(events.length, count, "one workflow_recovery event per run")
    assert.deepStrictEqual(new Set(events.map((e) => e.workflow_run_id as string | null)), new Set<string | null>(recoveredIds))
    assert.strictEqual((yield* store.listJobs({ states: ["stalled"], limit: 1000 })).items.length, count)
  })

/**
 * The tests that start two OS processes: each child compiles and loads the library through tsx before
 * it works, which took up to ~50 s per test on a loaded 2-core machine (load 8) against ~6–10 s quiet.
 */
const PROCESS_TEST_TIMEOUT = 150_000

const nodeArgs = (mode: string, file: string, startAt: number) => ["--import", "tsx", script, mode, file, String(startAt)]

describe("R9 exactly once and no double claim, across connections and processes", () => {
  it.scoped("R9 4 concurrent recoverers on PostgreSQL, each with its own pool: N stale runs, N transitions, N events", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("recover4")
      const N = 60
      yield* Effect.provide(seed(N, true), services(PgStore.layer({ url })))
      yield* TestClock.adjust("1 minute")
      const reports = yield* Effect.all(
        Array.from({ length: 4 }, () =>
          Effect.provide(Recovery.recoverStalledRuns({ batchSize: 4 }), services(PgStore.layer({ url, migrate: false })))),
        { concurrency: "unbounded" }
      )
      const ids = reports.flatMap((report) => report.recovered.map((r) => r.id))
      assert.isAbove(reports.filter((r) => r.recovered.length > 0).length, 1, "the recoverers shared the work")
      yield* Effect.provide(assertRecoveredOnce(N, ids), PgStore.layer({ url, migrate: false }))
    }), 60_000)

  it.effect("R9 2 separate processes recovering one SQLite file: N stale runs, N transitions, N events", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("recover2")
      const N = 60
      // Runs claimed at TestClock time 0 (1970): stale for the processes' real clocks.
      yield* Effect.scoped(Effect.provide(seed(N, true), services(SqliteStore.layer({ filename }))))
      const startAt = Date.now() + 2500
      const outputs = yield* Effect.promise(() =>
        Promise.all([0, 1].map(() => run(process.execPath, nodeArgs("recover", filename, startAt))))
      )
      const perProcess = outputs.map(({ stdout }) => (JSON.parse(stdout) as { recovered: Array<string> }).recovered)
      console.log(`R9 SQLite recovery split between the processes: ${perProcess.map((ids) => ids.length).join(" + ")}`)
      const ids = perProcess.flat()
      yield* Effect.provide(assertRecoveredOnce(N, ids), SqliteStore.layer({ filename, migrate: false }))
    }), PROCESS_TEST_TIMEOUT)

  it.scoped("R9 no double claim: 4 PostgreSQL workers with their own pools over M queued jobs", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("claim4")
      const M = 80
      yield* Effect.provide(seed(M, false), services(PgStore.layer({ url })))
      const claimIds = Effect.flatMap(Jobs, (jobs) =>
        Effect.map(claimAll(() => jobs.claimNext()), (claims) => claims.map((claim) => claim.job.job_id)))
      const perWorker = yield* Effect.all(
        Array.from({ length: 4 }, () => Effect.provide(claimIds, services(PgStore.layer({ url, migrate: false })))),
        { concurrency: "unbounded" }
      )
      const all = perWorker.flat()
      assert.strictEqual(all.length, M)
      assert.strictEqual(new Set(all).size, M)
      yield* Effect.provide(Effect.gen(function*() {
        const store = yield* JobStore
        for (const jobId of all) assert.strictEqual((yield* store.listRuns(jobId as never)).length, 1)
      }), PgStore.layer({ url, migrate: false }))
    }), 60_000)

  it.effect("R9 no double claim: 2 processes claiming from one SQLite file", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("claim2")
      const M = 80
      yield* Effect.scoped(Effect.provide(seed(M, false), services(SqliteStore.layer({ filename }))))
      const startAt = Date.now() + 2500
      const outputs = yield* Effect.promise(() =>
        Promise.all([0, 1].map(() => run(process.execPath, nodeArgs("claim", filename, startAt))))
      )
      const perProcess = outputs.map(({ stdout }) => (JSON.parse(stdout) as { claimed: Array<string> }).claimed)
      console.log(`R9 SQLite claims split between the processes: ${perProcess.map((ids) => ids.length).join(" + ")}`)
      const all = perProcess.flat()
      assert.strictEqual(all.length, M)
      assert.strictEqual(new Set(all).size, M)
      const storeLayer = SqliteStore.layer({ filename, migrate: false })
      const context = yield* Layer.build(storeLayer)
      const store = Context.get(context, JobStore)
      assert.strictEqual((yield* store.listJobs({ states: ["running"], limit: 1000 })).items.length, M)
    }).pipe(Effect.scoped), PROCESS_TEST_TIMEOUT)
})
