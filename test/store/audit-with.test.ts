/**
 * Issue 16: `auditWith` — records known before the change, which the
 * PostgreSQL store writes in the change's own statement (no transaction).
 * Whatever a store does with them, the guarantee stays: a change and its
 * records commit together or not at all. A taken event id (stored already,
 * or given twice) fails the change and writes nothing of it, alone or inside
 * a caller's transaction, on every store.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobStore, auditWith } from "../../src/store/JobStore.js"
import { type Backend, storeTest } from "../support/backend.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"
import { encode, eventRecord, expectTag, failureOf, ids, jobEvent, jobsIn, newJob, startedJob } from "./fixtures.js"

const auditWithContract = (backend: Backend) => {
  const test = storeTest(backend)
  describe(backend.name, () => {
    test("R10 auditWith: the change and its records are written together", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const traceId = ids.trace()
        const created = eventRecord({ job_id: jobId, trace_id: traceId })
        const job = yield* store.createJob(newJob({ job_id: jobId, trace_id: traceId }), { events: auditWith([created]) })
        const moved = jobEvent(job)
        yield* store.transition({ job_id: jobId, to: "cancelled", events: auditWith([moved]) })
        const stored = yield* store.listEvents({ job_id: jobId })
        assert.sameMembers(stored.items.map((event) => event.event_id), [created.event_id, moved.event_id])
        assert.strictEqual((yield* store.getJob(jobId)).state, "cancelled")
      }))

    test("R10 auditWith: a change whose guard misses writes none of its records", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const [done] = yield* jobsIn("completed", 1)
        if (done === undefined) return assert.fail("setup: a completed job")
        const event = jobEvent(done)
        expectTag(yield* failureOf(store.transition({ job_id: done.job_id, to: "running", events: auditWith([event]) })), "IllegalTransition")
        expectTag(yield* failureOf(store.setPinned(ids.job(), true, { events: auditWith([event]) })), "NotFound")
        assert.deepStrictEqual((yield* store.listEvents({ event_id: event.event_id })).items, [])
      }))

    test("R5 R10 createJob whose event id is already stored fails with AlreadyExists naming it, and stores no job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const stored = eventRecord()
        yield* store.appendEvents([stored])
        const jobId = ids.job()
        const fresh = eventRecord({ job_id: jobId })
        const error = expectTag(
          yield* failureOf(store.createJob(newJob({ job_id: jobId }), { events: auditWith([fresh, { ...stored, job_id: jobId, body: { ...stored.body, job_id: jobId } }]) })),
          "AlreadyExists"
        )
        assert.deepStrictEqual({ entity: error.entity, id: error.id }, { entity: "event", id: stored.event_id })
        expectTag(yield* failureOf(store.getJob(jobId)), "NotFound")
        assert.deepStrictEqual((yield* store.listEvents({ event_id: fresh.event_id })).items, [])
      }))

    test("R5 R10 createJob given one event id twice fails with AlreadyExists naming it, and stores nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const twice = eventRecord({ job_id: jobId })
        const error = expectTag(
          yield* failureOf(store.createJob(newJob({ job_id: jobId }), { events: auditWith([twice, { ...twice }]) })),
          "AlreadyExists"
        )
        assert.deepStrictEqual({ entity: error.entity, id: error.id, repeated: error.repeated }, {
          entity: "event",
          id: twice.event_id,
          repeated: true
        })
        assert.match(error.message, /given twice in one batch/)
        expectTag(yield* failureOf(store.getJob(jobId)), "NotFound")
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))

    test("R10 a move whose event id is taken fails and changes nothing, alone or inside a transaction", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const taken = eventRecord()
        yield* store.appendEvents([taken])
        const clash = { ...taken, job_id: job.job_id, trace_id: job.trace_id, body: { ...taken.body, job_id: job.job_id, trace_id: job.trace_id } }
        yield* failureOf(store.transition({ job_id: job.job_id, from: "running", to: "completed", events: auditWith([clash]) }))
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job), "alone: the job is unchanged")
        // In a caller's transaction: lock, move (refused by its event), end the run — none of it commits.
        yield* failureOf(store.transaction(Effect.gen(function*() {
          yield* store.lockJob(job.job_id)
          yield* store.transition({ job_id: job.job_id, from: "running", to: "completed", events: auditWith([clash]) })
          yield* store.finishRun(run.id, "completed")
        })))
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job), "in a transaction: the job is unchanged")
        assert.strictEqual((yield* store.getRun(run.id)).status, "running")
        assert.deepStrictEqual((yield* store.listEvents({ job_id: job.job_id })).items, [])
      }))
  })
}

describe("issue 16 auditWith: records known before the change", () => {
  auditWithContract(sqliteMemory)
  auditWithContract(sqliteFile)
  auditWithContract(postgres("audit with"))
})
