/**
 * Issue 16, stop 78 (SQLite): a claim for some kinds reads only their
 * queues (migration 0027). Before, it walked the one queue index in claim
 * order and looked up every queued job of the other kinds ahead of its own
 * to read its kind: a `terminal_exec` worker behind a million queued
 * `doc_summarize` jobs took seconds per claim and per idle poll
 * (bench/claimOtherKinds.ts). Each claim statement the store runs for some
 * kinds (Jobs' claim, the store's claimNext) is explained with its own
 * parameters: every read of ai_jobs is a search by a kind or by key, none a
 * scan.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "../jobs/services.js"
import { newJob } from "./fixtures.js"
import { plansOf } from "./sqlite-recorder.js"
import { storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

describe("issue 16 stop 78: a claim for some kinds reads only their queues (SQLite)", () => {
  it.scoped("issue 16 stop 78 the claims for some kinds (Jobs' and the store's, a claim and an idle poll) search ai_jobs by kind through migration 0027's index and never scan the queue of every kind", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const layer = storeWithClient(filename)
      const context = yield* Layer.build(Layer.provideMerge(services(layer), layer))
      const jobs = yield* Effect.provide(Jobs, context)
      const db = yield* Effect.provide(JobStore, context)
      // Other kinds' jobs ahead in claim order, and one of the kind claimed.
      for (let i = 0; i < 3; i++) yield* db.createJob(newJob({ job_kind: "terminal_exec", priority: 1 }))
      yield* db.createJob(newJob())
      yield* db.createJob(newJob())
      const plans = [
        ...yield* plansOf(filename, jobs.claimNext({ kinds: ["doc_summarize"] })),
        ...yield* plansOf(filename, db.claimNext({ kinds: ["doc_summarize", "doc_edit"] })),
        ...yield* plansOf(filename, db.claimNext({ kinds: ["doc_summarize"] }))
      ]
      const claims = plans.filter(({ source }) => /ORDER BY priority DESC, run_after, created_at, id/.test(source))
      assert.isAtLeast(claims.length, 3, "the claims' statements ran")
      for (const { plan, source } of claims) {
        const label = `${plan.join("\n")}\n${source}`
        assert.isTrue(plan.some((line) => /^SEARCH \w+ USING (COVERING )?INDEX ai_jobs_by_kind_claim \(job_kind=\?/.test(line)), label)
        for (const line of plan) assert.notMatch(line, /^SCAN (ai_jobs|q)\b/, label)
      }
    }), 60_000)
})
