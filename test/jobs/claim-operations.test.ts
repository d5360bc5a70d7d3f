/**
 * Issue 16: `Jobs.claimNext`'s whole step in Effect operations, on a real
 * store of each kind — a deterministic count (test/support/effectOperations.ts),
 * where CPU time on a shared machine is not. The budget is the count now;
 * the code before h60 took more (in brackets), so a change that brings the
 * steps back fails here. And the job a claim returns is the job as stored,
 * field for field: the claim statement's own columns (the head job's subject,
 * its place in the batch) never reach it, now that the row is decoded as
 * the driver gave it rather than from a copy without them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { newJob } from "../store/fixtures.js"
import { countOperations } from "../support/effectOperations.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

/** Operations `effect` takes beyond a bare `Effect.void` (as test/jobs/effect-operations.test.ts counts). */
const operations = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.zipWith(countOperations(effect), countOperations(Effect.void), ([value, ops], [, bare]) => [value, ops - bare] as const)

/**
 * Budgets per store: the one-statement claim's (PostgreSQL), the one transaction's (SQLite).
 * PostgreSQL's was 30 until every store method began by looking at the fiber's transaction
 * (store/internal/foreignTransaction.ts: one operation a call); SQLite's had room for it.
 */
const BUDGET: Record<string, { readonly now: number; readonly before: number }> = {
  "PostgreSQL": { now: 31, before: 34 },
  "SQLite file": { now: 76, before: 78 }
}

describe("issue 16 Jobs.claimNext's Effect operations", () => {
  for (const backend of sharedBackends) {
    const budget = BUDGET[backend.name]!
    it.scoped(
      `issue 16 ${backend.name}: a claim of a remembered subject costs at most ${budget.now} Effect operations [${budget.before}], and returns the job field for field as stored`,
      () =>
        Effect.gen(function*() {
          const store = yield* (yield* backend.fresh("claim operations")).store()
          const context = yield* Layer.build(services(Layer.succeed(JobStore, store)))
          const jobs = Context.get(context, Jobs)
          // The subject's first claim decides it (not counted); the next ones are the common case.
          const counts: Array<number> = []
          for (let i = 0; i < 6; i++) {
            yield* jobs.submit(newJob())
            const [claim, ops] = yield* operations(jobs.claimNext())
            assert.isNotNull(claim)
            if (i > 0) counts.push(ops)
            const stored = yield* store.getJob(claim!.job.job_id)
            assert.deepStrictEqual(claim!.job, stored)
            assert.deepStrictEqual(Object.keys(claim!.job).sort(), Object.keys(AiJob.fields).sort())
          }
          assert.isAtMost(Math.max(...counts), budget.now, `counts ${counts.join(", ")}`)
        }),
      60_000
    )
  }
})
