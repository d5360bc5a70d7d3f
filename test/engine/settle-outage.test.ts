/**
 * R17 a database that goes away and comes back loses nothing: a pool's
 * program that ends while the database is down has its end written once the
 * database answers again — the job completed with its outputs, one
 * completion record — not left `running` under a run nobody runs any more,
 * its outputs lost (found by an outside probe: nothing but a recovery scan
 * ever moved it, and a long-lived process with no sweep never scans). The
 * outage is forced by wrapping the real store (the README's way to inject
 * faults): every write that ends a run fails for 300 ms from the moment the
 * program returns.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { makeOutage } from "../support/outage.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"

for (const backend of sharedBackends) {
  describe(`a run's end during a database outage, on ${backend.name}`, () => {
    it.live("R17 a pool's program that ends while the database is down is settled once it is back: completed with its outputs, one record, not left running", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("settle outage")
        const store = yield* database.store()
        const outage = makeOutage()
        // Every way a run's end is written: one statement (settleRun, finishRunningJob) or a transaction.
        const flaky: JobStore["Type"] = {
          ...store,
          transaction: (effect) => outage.during("JobStore.transaction", () => store.transaction(effect)),
          heartbeat: (runId) => outage.during("JobStore.heartbeat", () => store.heartbeat(runId)),
          ...(store.settleRun === undefined ? {} : { settleRun: (settle) => outage.during("JobStore.settleRun", () => store.settleRun!(settle)) }),
          ...(store.finishRunningJob === undefined ? {} : { finishRunningJob: (end) => outage.during("JobStore.finishRunningJob", () => store.finishRunningJob!(end)) })
        }
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, flaky))), Jobs)
        const job = yield* jobs.submit(summarize())
        const returned = yield* Deferred.make<void>()
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: Duration.millis(50),
          handler: () =>
            Effect.gen(function*() {
              // The database goes away just as the program returns, and is back 300 ms later.
              outage.down = true
              yield* Effect.forkDaemon(Effect.zipRight(realSleep(300), Effect.sync(() => { outage.down = false })))
              yield* Deferred.succeed(returned, undefined)
              return { summary: "written after the outage" }
            })
        })
        yield* Deferred.await(returned)
        const settled = yield* jobs.await(job.job_id, { timeout: "10 seconds", pollInterval: "50 millis" })
        assert.isAbove(outage.refused, 0, "the end was refused at least once")
        assert.strictEqual(settled.state, "completed")
        assert.deepStrictEqual(settled.job_outputs, { summary: "written after the outage" })
        const history = yield* jobs.history(job.job_id)
        assert.deepStrictEqual(history.runs.map((entry) => entry.run.status), ["completed"])
        const completions = history.events.filter((event) => event.type === "system" && event.body["to_state"] === "completed")
        assert.lengthOf(completions, 1, "one completion record")
      }).pipe(Effect.scoped), 60_000)
  })
}
