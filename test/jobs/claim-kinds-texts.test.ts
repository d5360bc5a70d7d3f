/**
 * Issue 16: the PostgreSQL store compiles its claim statement once per
 * (claimers' count, kinds asked for) and its batch end statement once per
 * shape (pg/claim.ts, pg/finishBatch.ts). One store must still claim, for
 * every kinds list in turn, only jobs of those kinds — a text kept for one
 * list never serves another — alone and with many claimers at once (the
 * group commit's batches of several claimers), and end every claimed job.
 * Run on both stores: SQLite's claim builds no text per list, and must say
 * the same.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../../src/Capabilities.js"
import type { JobKind } from "../../src/domain/JobKind.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { newJob } from "../store/fixtures.js"
import { servicesUnder } from "./services.js"
import { sharedBackends } from "./shared-database.js"

const KINDS: ReadonlyArray<JobKind> = ["doc_edit", "terminal_exec", "spec_router"]

/** The profile the default policy places each kind under (Capabilities.ts). */
const PROFILE: Partial<Record<JobKind, string>> = { doc_edit: "Coder", terminal_exec: "Coder", spec_router: "Analyst" }

/** The kinds lists asked for in turn, each twice: the second time its text is the one kept. */
const ASKED: ReadonlyArray<ReadonlyArray<JobKind> | undefined> = [
  ["doc_edit"],
  ["terminal_exec"],
  ["spec_router", "doc_edit"],
  ["doc_edit", "spec_router"],
  undefined,
  ["terminal_exec"],
  ["doc_edit"],
  ["spec_router", "doc_edit"],
  undefined
]

describe("issue 16 claim statements kept per kinds list", () => {
  for (const backend of sharedBackends) {
    it.scoped(`issue 16 ${backend.name}: one store claims, for each kinds list in turn, alone and eight at once, only jobs of those kinds, and ends each`, () =>
      Effect.gen(function*() {
        const store = yield* (yield* backend.fresh("claim kinds texts")).store({ maxConnections: 8 })
        const jobs = Context.get(yield* Layer.build(servicesUnder(Capabilities.layerDefault, Layer.succeed(JobStore, store))), Jobs)
        for (const [round, kinds] of ASKED.entries()) {
          // Nine jobs of each kind, so every claimer of the round finds one of its kinds.
          for (const kind of KINDS) {
            yield* Effect.forEach(Array.from({ length: 9 }), () => jobs.submit(newJob({ job_kind: kind, capability_profile_id: PROFILE[kind]! })), { discard: true })
          }
          const alone = yield* jobs.claimNext(kinds === undefined ? {} : { kinds })
          const together = yield* Effect.all(
            Array.from({ length: 8 }, () => jobs.claimNext(kinds === undefined ? {} : { kinds })),
            { concurrency: "unbounded" }
          )
          const claims = [alone, ...together]
          for (const claim of claims) {
            assert.isNotNull(claim, `round ${round}: every claimer finds a job`)
            if (kinds !== undefined) assert.include(kinds, claim!.job.job_kind, `round ${round}: a job of the kinds asked for`)
          }
          const ids = claims.map((claim) => claim!.job.job_id)
          assert.strictEqual(new Set(ids).size, ids.length, `round ${round}: each job to one claimer`)
          // Ended together too: the batch end's statement, settles and moves alike.
          const ended = yield* Effect.all(ids.map((id) => jobs.complete(id)), { concurrency: "unbounded" })
          assert.deepStrictEqual(ended.map((job) => job.state), ids.map(() => "completed"), `round ${round}: every claimed job ends`)
        }
      }), 240_000)
  }
})
