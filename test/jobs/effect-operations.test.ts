/**
 * Issue 16: the Jobs layer's own parts of a lifecycle step in Effect
 * operations — a deterministic count (the runtime asks its scheduler
 * `shouldYield` once per operation), where CPU time on a shared machine is
 * not. Each budget is the part's count now; the code before issue 16's h36
 * took more (in brackets), so a change that brings the steps back fails here.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { JobId, TraceId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { withJobSpan } from "../../src/internal/flight/jobSpan.js"
import { makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { DEFAULT_MAX_EVENT_BYTES } from "../../src/internal/flight/Privacy.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import * as Coalesce from "../../src/store/internal/coalesce.js"
import { countOperations } from "../support/effectOperations.js"

/** Operations `effect` takes beyond a bare `Effect.void`, counted the way bench/effectOps.ts counts a step. */
const operations = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.zipWith(countOperations(Effect.exit(effect)), countOperations(Effect.exit(Effect.void)), ([, ops], [, bare]) => ops - bare)

describe("issue 16 Effect operations of the Jobs layer's own parts", () => {
  it.effect("issue 16 a Jobs span (made, parent of the operation, ended) costs at most 11 Effect operations [24, then 13]", () =>
    Effect.gen(function*() {
      const ops = yield* operations(withJobSpan("Jobs.op", () => Effect.void))
      assert.isAtMost(ops, 11)
    }).pipe(Effect.withSpan("caller")))

  it.effect("issue 16 a library record build, its Clock read included, costs at most 1 Effect operation [6–14]", () =>
    Effect.gen(function*() {
      const build = makeBuild({ redactor: Redactor.make(), maxEventBytes: DEFAULT_MAX_EVENT_BYTES })
      const ids = { job_id: uuidv7() as JobId, trace_id: uuidv7() as TraceId }
      const event = { kind: "lifecycle", actor: "system", ...ids, from_state: null, to_state: "queued", attempt: 1 } as const
      // The first build sanitizes and checks; the next re-addresses it (the common case): both at the budget.
      assert.isAtMost(yield* operations(build(event)), 1)
      assert.isAtMost(yield* operations(build(event)), 1)
    }))

  it.effect("issue 16 a group-commit call served alone costs at most 5 Effect operations, its (one-operation) statement included [12, then 7]", () =>
    Effect.gen(function*() {
      const alone = Coalesce.make<number, number, never>({ slots: 1, maxBatch: 64, one: Effect.succeed, many: Effect.succeed })
      assert.isAtMost(yield* operations(alone(1)), 5)
    }))
})
