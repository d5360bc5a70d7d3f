/**
 * R17 a worker pool's log during a database outage: one warning for the
 * streak of failing iterations, not one a poll (an outside probe counted 109
 * warnings with their stacks in 7 s from two idle loops at a 100 ms poll),
 * and one info line once an iteration works again, saying how many failed.
 * The outage is forced by wrapping the real store: its claims fail while
 * `down` is set. Then the pool runs a job as before.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { Jobs } from "../../src/Jobs.js"
import { makeFailureStreak } from "../../src/internal/jobs/failureStreak.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { makeOutage } from "../support/outage.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"

for (const backend of sharedBackends) {
  describe(`a worker pool's log during an outage, on ${backend.name}`, () => {
    it.live("R17 a streak of failing iterations is one warning, and its end one info line with the count; the pool then runs jobs", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("failure streak")
        const store = yield* database.store()
        const outage = makeOutage()
        outage.down = true
        // Both ways a pool claims: one statement (claimAdmitted) or the general path.
        const flaky: JobStore["Type"] = {
          ...store,
          claimNext: (options) => outage.during("JobStore.claimNext", () => store.claimNext(options)),
          ...(store.claimAdmitted === undefined ? {} : { claimAdmitted: (options) => outage.during("JobStore.claimAdmitted", () => store.claimAdmitted!(options)) })
        }
        const lines: Array<readonly [string, string]> = []
        const logger = Logger.make(({ logLevel, message }) => {
          const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
          if (text.startsWith("worker iteration")) lines.push([logLevel.label, text])
        })
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, flaky))), Jobs)
        yield* jobs.worker({ concurrency: 2, pollInterval: "20 millis", handler: () => Effect.succeed({ ok: true }) })
          .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        // Until the loops have failed a dozen times (not a fixed time: on a loaded machine 600 ms
        // held fewer polls than the count below asks for).
        const giveUp = Date.now() + 20_000
        while (outage.refused <= 10 && Date.now() < giveUp) yield* realSleep(20)
        outage.down = false
        const job = yield* jobs.submit(summarize())
        assert.strictEqual((yield* jobs.await(job.job_id, { timeout: "10 seconds", pollInterval: "20 millis" })).state, "completed")
        assert.isAbove(outage.refused, 10, "the loops kept trying through the outage")
        assert.deepStrictEqual(lines.map(([level]) => level), ["WARN", "INFO"], JSON.stringify(lines))
        assert.strictEqual(lines[0]![1], "worker iteration failed")
        assert.match(lines[1]![1], /^worker iterations work again after \d+ failed in a row$/)
      }).pipe(Effect.scoped), 60_000)
  })
}

describe("a worker pool's failure streak", () => {
  it.effect("R17 a second streak after an iteration worked is logged again from its first failure, however soon it comes", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        lines.push(`${logLevel.label} ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
      })
      const streak = makeFailureStreak("30 seconds")
      const cause = Cause.fail("database down")
      yield* Effect.gen(function*() {
        yield* streak.failed(cause)
        yield* streak.failed(cause)
        yield* streak.succeeded()
        // The same instant (TestClock stands still): well inside the 30 s gap of the first streak's warning.
        yield* streak.failed(cause)
        yield* streak.succeeded()
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.deepStrictEqual(lines, [
        "WARN worker iteration failed",
        "INFO worker iterations work again after 2 failed in a row",
        "WARN worker iteration failed",
        "INFO worker iterations work again after 1 failed in a row"
      ])
    }))
})
