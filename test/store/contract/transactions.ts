/**
 * Contract: caller transactions (a change and its events commit together or
 * not at all) and the shape of errors (every failure tagged; StorageError
 * only for database failures).
 */
import { assert, describe } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { JobStore } from "../../../src/store/JobStore.js"
import { eventRecord, failureOf, ids, jobEvent, jobsIn, newJob, startedJob, tagOf } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

/** A caller's own failure, to abort a transaction with. */
class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

/** transaction and error-shape contract tests. */
export const transactionContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("transaction", () => {
    test("R10 transaction: a failure inside rolls back a createJob and its events", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const traceId = ids.trace()
        const event = eventRecord({ job_id: jobId, trace_id: traceId })
        const error = yield* failureOf(store.transaction(Effect.gen(function*() {
          yield* store.createJob(newJob({ job_id: jobId, trace_id: traceId }), { events: () => [event] })
          return yield* new Boom()
        })))
        assert.strictEqual(tagOf(error), "Boom", "the caller's own error comes out unchanged")
        assert.strictEqual(tagOf(yield* failureOf(store.getJob(jobId))), "NotFound")
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))

    test("R10 transaction: a defect inside rolls back too", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const exit = yield* Effect.exit(store.transaction(Effect.gen(function*() {
          yield* store.createJob(newJob({ job_id: jobId }))
          return yield* Effect.die("crash")
        })))
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        assert.strictEqual(tagOf(yield* failureOf(store.getJob(jobId))), "NotFound")
      }))

    test("R6c transaction: createRun paired with a transition commits together or not at all", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        yield* failureOf(store.transaction(Effect.gen(function*() {
          const run = yield* store.createRun(job.job_id)
          yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: run.id, events: () => [jobEvent(job)] })
          return yield* new Boom()
        })))
        const after = yield* store.getJob(job.job_id)
        assert.strictEqual(after.state, "queued")
        assert.isNull(after.workflow_run_id)
        assert.deepStrictEqual(yield* store.listRuns(job.job_id), [])
        assert.deepStrictEqual((yield* store.listEvents()).items, [])

        const started = yield* store.transaction(Effect.gen(function*() {
          const run = yield* store.createRun(job.job_id)
          return yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: run.id })
        }))
        assert.strictEqual((yield* store.getJob(job.job_id)).workflow_run_id, started.workflow_run_id)
        assert.strictEqual((yield* store.listRuns(job.job_id)).length, 1)
      }))

    test("R10 transaction: a nested transaction that fails rolls back alone (savepoint)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const outerId = ids.job()
        const innerId = ids.job()
        yield* store.transaction(Effect.gen(function*() {
          yield* store.createJob(newJob({ job_id: outerId }))
          const inner = yield* Effect.either(store.transaction(Effect.gen(function*() {
            yield* store.createJob(newJob({ job_id: innerId }))
            return yield* new Boom()
          })))
          assert.strictEqual(inner._tag, "Left")
        }))
        assert.strictEqual((yield* store.getJob(outerId)).job_id, outerId)
        assert.strictEqual(tagOf(yield* failureOf(store.getJob(innerId))), "NotFound")
      }))

    test("R10 readConsistent is for reads: a write inside it is a StorageError and changes nothing, on both stores", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const created = ids.job()
        const writes: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          store.transition({ job_id: job.job_id, to: "cancelled", events: () => [jobEvent(job)] }),
          store.createJob(newJob({ job_id: created })),
          store.transaction(store.createJob(newJob({ job_id: created })))
        ]
        for (const write of writes) {
          const error = yield* failureOf(store.readConsistent(Effect.flatMap(store.getJob(job.job_id), () => write)))
          assert.strictEqual(tagOf(error), "StorageError")
        }
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
        assert.strictEqual(tagOf(yield* failureOf(store.getJob(created))), "NotFound")
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
        // The connection is left as it was: reads inside work, and so does the next write outside.
        assert.strictEqual((yield* store.readConsistent(store.getJob(job.job_id))).job_id, job.job_id)
        yield* store.createJob(newJob({ job_id: created }))
        // Inside a caller's write transaction it is that transaction's view, writes and all (as PostgreSQL's).
        const inner = ids.job()
        yield* store.transaction(store.readConsistent(store.createJob(newJob({ job_id: inner }))))
        assert.strictEqual((yield* store.getJob(inner)).job_id, inner)
      }))
  })

  describe("errors", () => {
    test("R10 domain failures are tagged errors, never StorageError", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const [terminal] = yield* jobsIn("completed", 1)
        const { run } = yield* startedJob()
        yield* store.finishRun(run.id, "completed")
        const event = eventRecord()
        yield* store.appendEvents([event])
        const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
          ["NotFound", store.getJob(ids.job())],
          ["NotFound", store.getRun(ids.run())],
          ["NotFound", store.finishNode(ids.node(), { status: "completed" })],
          ["NotFound", store.createRun(ids.job())],
          ["NotFound", store.startNode({ workflow_run_id: ids.run(), node_id: "n", node_type: "t" })],
          ["AlreadyExists", store.createJob(newJob({ job_id: job.job_id }))],
          ["AlreadyExists", store.appendEvents([event])],
          ["IllegalTransition", store.transition({ job_id: terminal?.job_id ?? job.job_id, to: "running" })],
          ["RunNotActive", store.heartbeat(run.id)],
          ["RunNotActive", store.finishRun(run.id, "failed")]
        ]
        for (const [expected, effect] of cases) {
          const error = yield* failureOf(effect)
          assert.strictEqual(tagOf(error), expected, `expected ${expected}, got ${tagOf(error)}: ${String(error)}`)
          assert.instanceOf(error, Error)
          assert.isAbove((error as Error).message.length, 0, "a readable message")
        }
      }))

    test("R17 the store reports its dialect", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        assert.strictEqual(store.dialect, backend.dialect)
      }))
  })
}
