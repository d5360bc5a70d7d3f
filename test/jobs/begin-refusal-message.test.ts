/**
 * R6: each edge into `running` is one operation's — queued → running is
 * start's (and a claim's), stalled → running resume's, awaiting_user →
 * running rework's. A start, resume or rework refused because the job is in
 * another state says the states THAT operation accepts: "resume" on a queued
 * job said "only a job that is queued, stalled or awaiting_user can go to
 * running", naming the very state it refused (found by an outside probe).
 * Through Jobs, on SQLite and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { IllegalTransition } from "../../src/domain/Errors.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { postgres, sqliteMemory } from "../support/stores.js"
import { services } from "./services.js"

const request = {
  job_kind: "doc_summarize",
  protocol_id: "begin-message.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** The refusal `begin` gets on `jobId`, and the job's state before it (unchanged by it). */
const refusal = (jobs: Jobs["Type"], op: "start" | "resume" | "rework", jobId: JobId, state: JobState) =>
  Effect.gen(function*() {
    assert.strictEqual((yield* jobs.get(jobId)).state, state)
    const error = yield* Effect.flip(jobs[op](jobId))
    assert.instanceOf(error, IllegalTransition, `${op} on a ${state} job: ${String(error)}`)
    assert.strictEqual((yield* jobs.get(jobId)).state, state, `${op} left the ${state} job as it was`)
    return (error as IllegalTransition).message
  })

for (const backend of [sqliteMemory, postgres("begin refusal message")]) {
  describe(`R6 a refused start, resume or rework names its own edge, on ${backend.name}`, () => {
    it.scoped("R6 resume and rework refused on a job in another state name the one state each accepts; start the queued it accepts", () =>
      Effect.gen(function*() {
        const storeContext = (yield* Layer.build(backend.makeStore())) as Context.Context<JobStore>
        const store = Context.get(storeContext, JobStore)
        const jobs = Context.get(yield* Layer.build(services(Layer.succeedContext(storeContext))), Jobs)

        const queued = (yield* jobs.submit(request)).job_id
        assert.strictEqual(
          yield* refusal(jobs, "resume", queued, "queued"),
          `Job ${queued} cannot go from queued to running (resume moves only a job that is stalled to running)`
        )
        assert.strictEqual(
          yield* refusal(jobs, "rework", queued, "queued"),
          `Job ${queued} cannot go from queued to running (rework moves only a job that is awaiting_user to running)`
        )

        const awaitingUser = (yield* jobs.submit(request)).job_id
        yield* jobs.start(awaitingUser)
        yield* jobs.awaitValidation(awaitingUser)
        yield* jobs.awaitUser(awaitingUser)
        assert.strictEqual(
          yield* refusal(jobs, "resume", awaitingUser, "awaiting_user"),
          `Job ${awaitingUser} cannot go from awaiting_user to running (resume moves only a job that is stalled to running)`
        )
        assert.strictEqual(
          yield* refusal(jobs, "start", awaitingUser, "awaiting_user"),
          `Job ${awaitingUser} cannot go from awaiting_user to running (start moves only a job that is queued to running)`
        )

        // Stalled by recovery: its run counted stale (the bound ahead of now).
        const stalled = (yield* jobs.submit(request)).job_id
        yield* jobs.start(stalled)
        const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
        yield* store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
        assert.strictEqual(
          yield* refusal(jobs, "rework", stalled, "stalled"),
          `Job ${stalled} cannot go from stalled to running (rework moves only a job that is awaiting_user to running)`
        )
        assert.strictEqual(
          yield* refusal(jobs, "start", stalled, "stalled"),
          `Job ${stalled} cannot go from stalled to running (start moves only a job that is queued to running)`
        )
        // The refusal's fields, for a caller that acts on them.
        const error = yield* Effect.flip(jobs.resume(queued))
        assert.deepInclude(error, { job_id: queued, from: "queued", to: "running", operation: "resume", accepts: ["stalled"] })
        // The job each accepts still moves.
        assert.strictEqual((yield* jobs.resume(stalled)).job.state, "running")
        assert.strictEqual((yield* jobs.rework(awaitingUser)).job.state, "running")
      }), 60_000)
  })
}
