/**
 * `Janitor.prune`'s `onBatch` given a plain function by a JS caller
 * (`(batch) => console.log(batch)`), as `purgeEvents` takes one: it is called
 * for each batch and the prune goes on. It died with "yield* … is not
 * iterable" after the first batch had committed, the rest left unpruned
 * (found by a regression probe).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Janitor from "../../src/Janitor.js"
import { Jobs } from "../../src/Jobs.js"
import type { PruneReport } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { sqliteMemory } from "../support/stores.js"

describe("Janitor.prune's onBatch, a plain function", () => {
  it.effect("R18 a plain onBatch is told each batch and the prune finishes: 7 old failed jobs, batches of 3", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobs
      for (let i = 0; i < 7; i++) {
        const job = yield* jobs.submit(summarize())
        yield* jobs.fail(job.job_id, "gave up", { actor: "human" })
      }
      const told: Array<PruneReport> = []
      const onBatch = ((batch: PruneReport) => void told.push(batch)) as unknown as (batch: PruneReport) => Effect.Effect<void>
      // Every job is older than a cutoff a day ahead.
      const olderThan = DateTime.add(yield* DateTime.now, { days: 1 })
      const report = yield* Janitor.prune({ olderThan, keepNewest: 0, batchSize: 3, onBatch })
      assert.strictEqual(report.pruned, 7)
      assert.deepStrictEqual(told.map((batch) => batch.pruned), [3, 3, 1])
      assert.strictEqual((yield* jobs.list({ limit: 100 })).items.length, 0)
    }).pipe(Effect.provide(services(sqliteMemory.makeStore()))))
})
