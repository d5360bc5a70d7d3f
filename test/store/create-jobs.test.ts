/**
 * Issue 16: `JobStore.createJobs`, the batch create, on every store (SQLite in
 * memory, on a file, PostgreSQL). All or nothing: a taken or repeated id is
 * `AlreadyExists` naming it, a job that does not decode is `DecodeFailure`
 * naming its index, and either way no job and no event is written.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { AiJob, NewAiJob } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore, type Page } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { storeTest, withTwoStores } from "../support/backend.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"
import { encode, expectTag, failureOf, ids, jobEvent, millis, newJob } from "./fixtures.js"

/** Every job and every event in the store (the tests stay below a page). */
const everything = Effect.gen(function*() {
  const store = yield* JobStore
  const jobs = yield* store.listJobs({ limit: 1000 })
  const events = yield* store.listEvents({ limit: 1000 })
  return { jobs: jobs.items.length, events: events.items.length }
})

/** `size` new jobs, fresh ids but at the given indexes. */
const batchOf = (size: number, given: Readonly<Record<number, JobId>>): ReadonlyArray<NewAiJob> =>
  Array.from({ length: size }, (_, i) => given[i] === undefined ? newJob() : newJob({ job_id: given[i] }))

const batchContract = (backend: Backend) => {
  const test = storeTest(backend)

  describe(`createJobs on ${backend.name}`, () => {
    test("issue 16 createJobs stores each job as createJob does, in the order given, and reads back what it returned", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(5_000)
        const given = { job: ids.job(), trace: ids.trace() }
        const inputs: ReadonlyArray<NewAiJob> = [
          newJob({ job_inputs: { doc: "a", nested: [1, { b: null }] }, entity_refs: [{ entity_id: "d1", entity_kind: "document" }] }),
          newJob({ job_id: given.job, trace_id: given.trace, status_reason: "from a batch", is_pinned: true, priority: -3, max_attempts: 4, backoff: { initial: 1_500, factor: 3, max: 60_000, jitter: 0.25 } }),
          newJob({ job_kind: "term_exec", planned_operations: [{ op_type: "read", target: { entity_id: "f", entity_kind: "file" } }] }),
          newJob({ run_after: "1970-01-01T01:00:00.000Z" })
        ]
        const jobs = yield* store.createJobs(inputs)
        assert.strictEqual(jobs.length, 4)
        assert.strictEqual(jobs[1]?.job_id, given.job)
        assert.strictEqual(jobs[1]?.trace_id, given.trace)
        assert.strictEqual(new Set(jobs.map((job) => job.job_id)).size, 4, "fresh ids, one per job")
        for (const job of jobs) {
          assert.strictEqual(job.state, "queued")
          assert.strictEqual(millis(job.created_at), 5_000)
          assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job), "read back as returned")
        }
        assert.deepStrictEqual(jobs[1]?.backoff, { initial: 1_500, factor: 3, max: 60_000, jitter: 0.25 }, "its own backoff (issue 15.1)")
        assert.isNull(jobs[0]?.backoff, "none given: its kind's")
        assert.strictEqual(jobs[2]?.job_kind, "terminal_exec")
        assert.strictEqual(millis(jobs[3]!.run_after), 3_600_000)
        assert.isNull(jobs[3]?.job_inputs)
        // The same job through createJob is stored alike, field for field (ids and times aside).
        const single = yield* store.createJob(inputs[0]!)
        const { job_id: _a, trace_id: _b, ...one } = encode.job(single)
        const { job_id: _c, trace_id: _d, ...batched } = encode.job(jobs[0]!)
        assert.deepStrictEqual(batched, one)
      }))

    test("issue 16 createJobs writes the records events gives for the stored jobs, with them", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        let seen: ReadonlyArray<AiJob> = []
        const jobs = yield* store.createJobs([newJob(), newJob()], {
          events: (stored) => {
            seen = stored
            return stored.map((job) => jobEvent(job))
          }
        })
        assert.deepStrictEqual(seen.map((job) => job.job_id), jobs.map((job) => job.job_id))
        for (const job of jobs) {
          const events = yield* store.listEvents({ job_id: job.job_id })
          assert.strictEqual(events.items.length, 1, "one record per job")
        }
      }))

    // Without events a batch that fits one statement is that statement alone on SQLite (no transaction
    // around it): all or nothing holds either way.
    for (const [how, options] of [
      ["with events", { events: (jobs: ReadonlyArray<AiJob>) => jobs.map((job) => jobEvent(job)) }],
      ["without events", {}]
    ] as const) {
      test(`issue 16 createJobs ${how}, an id already stored in the middle of 50: AlreadyExists naming it, and no job or event written`, () =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const stored = yield* store.createJob(newJob())
          const error = expectTag(yield* failureOf(store.createJobs(batchOf(50, { 25: stored.job_id }), options)), "AlreadyExists")
          assert.strictEqual(error.id, stored.job_id)
          // Stored, given once: the message says it exists, not that the batch repeats it.
          assert.isUndefined(error.repeated)
          assert.strictEqual(error.message, `A job with id ${stored.job_id} already exists`)
          assert.deepStrictEqual(yield* everything, { jobs: 1, events: 0 })
        }))

      test(`issue 16 createJobs ${how}, one id given twice among 50 (once in upper case): AlreadyExists naming it, and nothing written`, () =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const twice = ids.job()
          const error = expectTag(
            yield* failureOf(store.createJobs(batchOf(50, { 10: twice, 40: twice.toUpperCase() as JobId }), options)),
            "AlreadyExists"
          )
          assert.strictEqual(error.id.toLowerCase(), twice)
          // Nothing is stored under that id: the message must not say it "already exists".
          assert.isTrue(error.repeated)
          assert.strictEqual(error.message, `The job id ${error.id} is given twice in one batch: nothing of the batch was written`)
          assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
        }))
    }

    test("issue 16 createJobs whose event id is taken fails with AlreadyExists, and writes no job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const taken = jobEvent({ job_id: ids.job(), trace_id: ids.trace(), workflow_run_id: null })
        yield* store.appendEvents([taken])
        const error = yield* failureOf(store.createJobs([newJob(), newJob()], {
          events: (jobs) => [jobEvent(jobs[0]!), jobEvent(jobs[1]!, { event_id: taken.event_id })]
        }))
        assert.strictEqual(expectTag(error, "AlreadyExists").id, taken.event_id)
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 1 })
      }))

    test("issue 16 createJobs with one job that does not decode fails with DecodeFailure naming its index, and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const bad = { ...newJob(), job_kind: "no_such_kind" } as unknown as NewAiJob
        const error = yield* failureOf(store.createJobs([newJob(), newJob(), bad], { events: (jobs) => jobs.map((job) => jobEvent(job)) }))
        const failure = expectTag(error, "DecodeFailure")
        assert.isTrue(failure.issues.some((issue) => issue.path.startsWith("2")), JSON.stringify(failure.issues))
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
        // Not a list at all (plain JavaScript): refused the same way.
        expectTag(yield* failureOf(store.createJobs("jobs" as unknown as ReadonlyArray<NewAiJob>)), "DecodeFailure")
      }))

    test("issue 16 createJobs of 1,000 jobs that do not decode lists at most 50 issues, as a single decode does, the rest counted in one last issue; nothing written", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const bad = { ...newJob(), job_kind: "no_such_kind", priority: 1.5 } as unknown as NewAiJob
        const failure = expectTag(yield* failureOf(store.createJobs(Array.from({ length: 1000 }, () => bad))), "DecodeFailure")
        assert.strictEqual(failure.issues.length, 51)
        assert.deepStrictEqual(failure.issues.slice(0, 4).map((issue) => issue.path), ["0.job_kind", "0.priority", "1.job_kind", "1.priority"])
        assert.deepStrictEqual(failure.issues[50], { path: "", message: "… and 1950 more issues" })
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
      }))

    test("issue 16 createJobs with an events builder that refuses fails with its DecodeFailure, and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const error = yield* failureOf(store.createJobs([newJob()], {
          events: (jobs) => [{ ...jobEvent(jobs[0]!), actor: "robot" } as never]
        }))
        expectTag(error, "DecodeFailure")
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
      }))

    test("issue 16 createJobs of no jobs writes nothing and calls no events builder", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        let called = false
        assert.deepStrictEqual(yield* store.createJobs([], { events: () => (called = true, []) }), [])
        assert.isFalse(called)
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
      }))

    test("issue 16 createJobs without events, with one job that does not decode: DecodeFailure naming its index, and nothing written", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const bad = { ...newJob(), priority: 1.5 } as unknown as NewAiJob
        const error = yield* failureOf(store.createJobs([newJob(), bad, newJob()]))
        const failure = expectTag(error, "DecodeFailure")
        assert.isTrue(failure.issues.some((issue) => issue.path.startsWith("1")), JSON.stringify(failure.issues))
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
      }))

    test("issue 16 createJobs without events inside a caller's transaction: a taken id fails it alone, naming it, and the caller's own writes commit", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const stored = yield* store.createJob(newJob())
        const [mine, failed] = yield* store.transaction(Effect.gen(function*() {
          const mine = yield* store.createJob(newJob())
          const failed = yield* failureOf(store.createJobs([newJob(), newJob(), newJob({ job_id: stored.job_id }), newJob()]))
          // The transaction carries on after the failure, and its later writes count.
          const later = yield* store.createJobs([newJob()])
          return [[mine, ...later], failed] as const
        }))
        assert.strictEqual(expectTag(failed, "AlreadyExists").id, stored.job_id)
        assert.deepStrictEqual(yield* everything, { jobs: 3, events: 0 })
        for (const job of mine) assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
      }))

    it.effect("issue 16 createJobs without events, 12 racers on two stores' own connections each writing 20 jobs around one shared id: exactly one batch is stored, every other fails AlreadyExists naming the id, and none leaves a row", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const shared = ids.job()
          const batches = Array.from({ length: 12 }, () => batchOf(20, { 10: shared }))
          const outcomes = yield* Effect.all(
            batches.map((batch, i) => Effect.either((i % 2 === 0 ? a : b).createJobs(batch))),
            { concurrency: "unbounded" }
          )
          const won = outcomes.flatMap((outcome, i) => Either.isRight(outcome) ? [i] : [])
          assert.strictEqual(won.length, 1, JSON.stringify(outcomes.map((outcome) => outcome._tag)))
          for (const outcome of outcomes) {
            if (Either.isLeft(outcome)) assert.strictEqual(expectTag(outcome.left, "AlreadyExists").id, shared)
          }
          const stored = yield* a.listJobs({ limit: 1000 })
          const winner = outcomes[won[0]!]!
          assert.deepStrictEqual(
            stored.items.map((job) => job.job_id).sort(),
            Either.isRight(winner) ? winner.right.map((job) => job.job_id).sort() : assert.fail("the winner's jobs")
          )
          assert.isTrue(stored.items.some((job) => job.job_id === shared))
        })), 60_000)

    test("issue 16 createJobs of 1,200 jobs stores them all, and a repeated id at the very end writes none of them", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const many = Array.from({ length: 1_200 }, () => newJob())
        const first = many[0]!
        const firstId = ids.job()
        const failed = yield* failureOf(store.createJobs([{ ...first, job_id: firstId }, ...many.slice(1), newJob({ job_id: firstId })]))
        // Across SQLite's statements of one batch too, the id is named as repeated, not as stored.
        assert.deepInclude(expectTag(failed, "AlreadyExists"), { id: firstId, repeated: true })
        assert.deepStrictEqual(yield* everything, { jobs: 0, events: 0 })
        const jobs = yield* store.createJobs(many)
        assert.strictEqual(jobs.length, 1_200)
        let count = 0
        let cursor: string | null | undefined = undefined
        do {
          const page: Page<AiJob> = yield* store.listJobs({ limit: 1000, ...(cursor ? { cursor } : {}) })
          count += page.items.length
          cursor = page.next_cursor
        } while (cursor !== null)
        assert.strictEqual(count, 1_200)
      }), 60_000)
  })
}

batchContract(sqliteMemory)
batchContract(sqliteFile)
batchContract({ ...postgres("create jobs"), concurrent: true })
