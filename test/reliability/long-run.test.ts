/**
 * Long runs (issue 8, part 5), in real time on a SQLite file and on
 * PostgreSQL: a run that keeps heartbeating (every 100 ms) survives recovery
 * scans (threshold 1 s) for several times the threshold and completes; in
 * the same database and the same scans, a run whose process stopped beating
 * is stalled — so the scans are not simply blind.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { counts } from "./config.js"
import { report } from "./report.js"

const THRESHOLD_SECS = 1
const SCAN_EVERY_MS = 350

const stores: ReadonlyArray<readonly [string, Effect.Effect<Layer.Layer<JobStore, unknown>, never, Scope.Scope>]> = [
  ["sqlite", Effect.sync(() => SqliteStore.layer({ filename: tempSqliteFile("long-run") }))],
  ["pg", Effect.map(
    freshPgDatabase("reliability long run"),
    (url) => PgStore.layer({ url })
  )]
]

describe("reliability: long runs", () => {
  for (const [name, open] of stores) {
    it.live(`R9 a run heartbeating every 100 ms survives ${counts.recoveryScans} recovery scans (threshold 1 s) on ${name}; a silent one in the same scans is stalled`, () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(services(yield* open))
        const jobs = Context.get(context, Jobs)
        const store = Context.get(context, JobStore)
        const scan = Recovery.recoverStalledRuns({ threshold: Duration.seconds(THRESHOLD_SECS) }).pipe(Effect.provide(context))

        const beating = yield* jobs.submit(summarize())
        const silent = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        yield* jobs.start(beating.job_id)
        // Started, but nothing runs it: its heartbeat stays where the claim put it, like a dead worker's.
        const silentClaim = yield* jobs.start(silent.job_id)

        // The run lasts until every scan is done, however long the scans take.
        const finish = yield* Deferred.make<void>()
        const started = Date.now()
        const running = yield* Effect.fork(jobs.run(beating.job_id, (ctx) =>
          ctx.node({ node_id: "long", node_type: "llm" }, Effect.as(Deferred.await(finish), { done: true })), { heartbeatInterval: "100 millis" }))

        const recovered: Array<string> = []
        for (let i = 0; i < counts.recoveryScans; i++) {
          yield* Effect.sleep(`${SCAN_EVERY_MS} millis`)
          const result = yield* scan
          recovered.push(...result.recovered.map((run) => run.id))
          assert.strictEqual((yield* store.getJob(beating.job_id)).state, "running", `scan ${i + 1}: the beating run is still running`)
        }
        const runtimeMs = Date.now() - started
        yield* Deferred.succeed(finish, undefined)
        const outputs = yield* Fiber.join(running)
        assert.deepStrictEqual(outputs, { done: true })
        assert.strictEqual((yield* store.getJob(beating.job_id)).state, "completed")
        assert.deepStrictEqual(recovered, [silentClaim.run.id], "only the silent run was recovered")
        assert.strictEqual((yield* store.getJob(silent.job_id)).state, "stalled")
        const recoveries = (yield* store.listEvents({ types: ["workflow_recovery"] })).items
        assert.deepStrictEqual(recoveries.map((e) => e.workflow_run_id), [silentClaim.run.id])
        report(`long-run-${name}`, { scans: counts.recoveryScans, scanEveryMs: SCAN_EVERY_MS, runtimeMs, thresholdSecs: THRESHOLD_SECS })
      }).pipe(Effect.scoped), 120_000)
  }
})
