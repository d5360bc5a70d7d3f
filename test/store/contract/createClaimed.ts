/**
 * Contract: eager dispatch (issue 16, pickup) — `createClaimed` creates a job
 * and, in the same write, claims it for a waiting worker, only where a claim
 * would take it anyway: outside any transaction, the job eligible and of the
 * worker's kinds, and no eligible queued job of those kinds before it in
 * `claimNext`'s order. Otherwise it is `createJob`, exactly.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import type { NewAiJobInput } from "../../../src/domain/AiJob.js"
import type { EventRecord } from "../../../src/domain/EventRecord.js"
import { EventId, type JobId, type WorkflowRunId } from "../../../src/domain/Ids.js"
import type { JobKind } from "../../../src/domain/JobKind.js"
import { uuidv7 } from "../../../src/domain/uuidv7.js"
import { JobStore } from "../../../src/store/JobStore.js"
import { at, encode, expectTag, failureOf, ids, jobEvent, millis, newJob, tagOf } from "../fixtures.js"
import { type Backend, type Store, storeTest, withTwoStores } from "../../support/backend.js"

/** Ids in the order they are minted (UUIDv7): a job's records list in the order built. */
const freshEventId = () => EventId.make(uuidv7())

/**
 * A new job with its ids given, and the records Jobs builds for it at `ms`:
 * the creation's (a capability decision, then the `queued` event) and the
 * claim's (the admission decision, then `queued → running` under the run).
 */
const submission = (ms: number, overrides: Partial<NewAiJobInput> = {}) => {
  const job = newJob({ job_id: ids.job(), trace_id: ids.trace(), ...overrides })
  const subject = { job_id: job.job_id!, trace_id: job.trace_id!, workflow_run_id: null }
  const runId = ids.run()
  const record = (type: EventRecord["type"], workflow_run_id: WorkflowRunId | null) =>
    jobEvent({ ...subject, workflow_run_id }, { event_id: freshEventId(), type, timestamp: at(ms) })
  const events = [record("capability_action", null), record("system", null)]
  const claim = { run_id: runId, records: [record("capability_action", null), record("system", runId)] }
  return { job, jobId: job.job_id!, runId, events, claim }
}

type Submission = ReturnType<typeof submission>

/** The store's `createClaimed`: both stores have it. */
const createClaimedOf = (store: Store) => {
  const createClaimed = store.createClaimed
  if (createClaimed === undefined) return assert.fail("the store has createClaimed")
  return createClaimed
}

/** `createClaimed` of `s`, for a worker waiting for `kinds` (any kind when absent). */
const submit = (store: Store, s: Submission, kinds?: ReadonlyArray<JobKind>) =>
  createClaimedOf(store)(s.job, { events: s.events, ...(kinds === undefined ? {} : { kinds }), claim: s.claim })

/** A job's history, oldest first. */
const historyOf = (store: Store, jobId: JobId) =>
  Effect.map(store.listEvents({ job_id: jobId, order: "asc", limit: 100 }), (page) => page.items)

/** What a createClaimed that did not claim leaves: the job queued as created, no run, only the creation's records. */
const onlyCreated = (store: Store, s: Submission) =>
  Effect.gen(function*() {
    const stored = yield* store.getJob(s.jobId)
    assert.strictEqual(stored.state, "queued")
    assert.isNull(stored.workflow_run_id)
    assert.deepStrictEqual(yield* store.listRuns(s.jobId), [])
    expectTag(yield* failureOf(store.getRun(s.runId)), "NotFound")
    assert.deepStrictEqual((yield* historyOf(store, s.jobId)).map(encode.event), s.events.map(encode.event))
    return stored
  })

/** What a failed createClaimed leaves: nothing of `s` at all. */
const nothingOf = (store: Store, s: Submission) =>
  Effect.gen(function*() {
    expectTag(yield* failureOf(store.getJob(s.jobId)), "NotFound")
    expectTag(yield* failureOf(store.getRun(s.runId)), "NotFound")
    assert.deepStrictEqual(yield* historyOf(store, s.jobId), [])
  })

/** A job id that sorts first (`low`) or last among ids: for ties on every other key of the claim order. */
const idSorting = (end: "low" | "high"): JobId =>
  (end === "low" ? "00000000-0000-4000-8000-000000000001" : "ffffffff-ffff-4fff-bfff-fffffffffffe") as JobId

/** createClaimed contract tests. */
export const createClaimedContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("createClaimed (issue 16, eager dispatch)", () => {
    test("issue 16, eager dispatch: on an empty queue the job is created and claimed in one write — created queued, claimed running under the given run, its history the creation's records then the claim's, one instant for all", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const s = submission(1_000)
        const { claim, created } = yield* submit(store, s, ["doc_summarize"])
        assert.strictEqual(created.job_id, s.jobId)
        assert.strictEqual(created.state, "queued")
        assert.isNull(created.workflow_run_id)
        assert.strictEqual(millis(created.created_at), 1_000)
        assert.strictEqual(millis(created.updated_at), 1_000)
        if (claim === null) return assert.fail("claimed")
        assert.strictEqual(claim.job.state, "running")
        assert.strictEqual(claim.job.workflow_run_id, s.runId)
        assert.strictEqual(claim.job.status_reason, "")
        assert.deepStrictEqual(claim.run, {
          id: s.runId,
          job_id: s.jobId,
          status: "running",
          last_heartbeat: at(1_000),
          error_message: null,
          created_at: at(1_000),
          updated_at: at(1_000)
        })
        // What is stored is what it returned; the job as created but for the claim's columns.
        const stored = yield* store.getJob(s.jobId)
        assert.deepStrictEqual(encode.job(stored), encode.job(claim.job))
        assert.deepStrictEqual(
          encode.job(stored),
          encode.job({ ...created, state: "running", workflow_run_id: s.runId, status_reason: "" })
        )
        assert.deepStrictEqual((yield* store.listRuns(s.jobId)).map(encode.run), [encode.run(claim.run)])
        assert.strictEqual(millis(stored.created_at), millis(claim.run.created_at))
        assert.strictEqual(millis(stored.updated_at), millis(claim.run.created_at))
        assert.deepStrictEqual(
          (yield* historyOf(store, s.jobId)).map(encode.event),
          [...s.events, ...s.claim.records].map(encode.event)
        )
        // Nothing is left for a claimer.
        assert.isNull(yield* store.claimNext())
      }))

    test("issue 16, eager dispatch: without kinds a job of any kind is claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const s = submission(0, { job_kind: "terminal_exec" })
        const { claim } = yield* submit(store, s)
        assert.strictEqual(claim?.job.job_id, s.jobId)
        assert.strictEqual((yield* store.getJob(s.jobId)).state, "running")
      }))

    test("issue 16, eager dispatch: an older queued eligible job of the kinds (same priority) comes first — not claimed, the new job queued with no run and only its creation's records, the older job untouched", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const older = yield* store.createJob(newJob())
        yield* TestClock.setTime(2_000)
        const s = submission(2_000)
        const { claim, created } = yield* submit(store, s, ["doc_summarize"])
        assert.isNull(claim)
        assert.deepStrictEqual(encode.job(yield* onlyCreated(store, s)), encode.job(created))
        assert.deepStrictEqual(encode.job(yield* store.getJob(older.job_id)), encode.job(older))
        assert.deepStrictEqual(yield* store.listRuns(older.job_id), [])
        // The queue is claimed in order: the older job first.
        assert.strictEqual((yield* store.claimNext())?.job.job_id, older.job_id)
        assert.strictEqual((yield* store.claimNext())?.job.job_id, s.jobId)
      }))

    test("issue 16, eager dispatch: an older queued job of another kind than the worker's does not come first — claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const other = yield* store.createJob(newJob({ job_kind: "doc_edit" }))
        yield* TestClock.setTime(2_000)
        const s = submission(2_000)
        assert.strictEqual((yield* submit(store, s, ["doc_summarize", "terminal_exec"])).claim?.job.job_id, s.jobId)
        assert.strictEqual((yield* store.getJob(other.job_id)).state, "queued")
      }))

    test("issue 16, eager dispatch: one store, workers of other kinds in turn — each write looks at the queue of its own worker's kinds, never at another's it served before", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const olderEdit = yield* store.createJob(newJob({ job_kind: "doc_edit" }))
        // A summarize worker: the queued doc_edit job is not its to take first.
        yield* TestClock.setTime(2_000)
        const summarize = submission(2_000)
        assert.strictEqual((yield* submit(store, summarize, ["doc_summarize"])).claim?.job.job_id, summarize.jobId)
        // An edit worker: the older doc_edit job comes first.
        yield* TestClock.setTime(3_000)
        const edit = submission(3_000, { job_kind: "doc_edit" })
        assert.isNull((yield* submit(store, edit, ["doc_edit"])).claim)
        yield* onlyCreated(store, edit)
        // The summarize worker again, then a worker of both kinds: the doc_edit jobs queued come first.
        yield* TestClock.setTime(4_000)
        const again = submission(4_000)
        assert.strictEqual((yield* submit(store, again, ["doc_summarize"])).claim?.job.job_id, again.jobId)
        yield* TestClock.setTime(5_000)
        const both = submission(5_000)
        assert.isNull((yield* submit(store, both, ["doc_summarize", "doc_edit"])).claim)
        assert.strictEqual((yield* store.getJob(olderEdit.job_id)).state, "queued")
      }))

    test("issue 16, eager dispatch: a queued job of higher priority comes first even when it comes after the new job on every other key — not claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(2_000)
        const urgent = yield* store.createJob(newJob({ job_id: idSorting("high"), priority: 5 }))
        const s = submission(2_000, { job_id: idSorting("low") })
        assert.isNull((yield* submit(store, s, ["doc_summarize"])).claim)
        yield* onlyCreated(store, s)
        assert.strictEqual((yield* store.getJob(urgent.job_id)).state, "queued")
      }))

    test("issue 16, eager dispatch: an older queued job of lower priority does not come first — claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const low = yield* store.createJob(newJob({ priority: -1 }))
        yield* TestClock.setTime(2_000)
        const s = submission(2_000)
        assert.strictEqual((yield* submit(store, s, ["doc_summarize"])).claim?.job.job_id, s.jobId)
        assert.strictEqual((yield* store.getJob(low.job_id)).state, "queued")
      }))

    test("issue 16, eager dispatch: an older job scheduled after the write's instant is not eligible and does not come first — claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const later = yield* store.createJob(newJob({ run_after: at(5_000) }))
        yield* TestClock.setTime(2_000)
        const s = submission(2_000)
        assert.strictEqual((yield* submit(store, s, ["doc_summarize"])).claim?.job.job_id, s.jobId)
        assert.strictEqual((yield* store.getJob(later.job_id)).state, "queued")
      }))

    test("issue 16, eager dispatch: an older running job is no queued job and does not come first — claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        yield* store.createJob(newJob())
        const running = yield* store.claimNext()
        assert.isNotNull(running)
        yield* TestClock.setTime(2_000)
        const s = submission(2_000)
        assert.strictEqual((yield* submit(store, s, ["doc_summarize"])).claim?.job.job_id, s.jobId)
      }))

    test("issue 16, eager dispatch: created in the same millisecond, priority equal, the lower id comes first (the claim order's last key)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(2_000)
        yield* store.createJob(newJob({ job_id: idSorting("low") }))
        const behind = submission(2_000, { job_id: idSorting("high") })
        assert.isNull((yield* submit(store, behind, ["doc_summarize"])).claim, "a lower id of the same instant is ahead")
        yield* onlyCreated(store, behind)
      }))

    test("issue 16, eager dispatch: created in the same millisecond, priority equal, a queued job of a higher id does not come first — claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(2_000)
        const after = yield* store.createJob(newJob({ job_id: idSorting("high") }))
        const s = submission(2_000, { job_id: idSorting("low") })
        assert.strictEqual((yield* submit(store, s, ["doc_summarize"])).claim?.job.job_id, s.jobId)
        assert.strictEqual((yield* store.getJob(after.job_id)).state, "queued")
      }))

    test("issue 16, eager dispatch: a job of a kind the worker does not wait for is created, not claimed", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const s = submission(0, { job_kind: "doc_edit" })
        const { claim, created } = yield* submit(store, s, ["doc_summarize"])
        assert.isNull(claim)
        assert.deepStrictEqual(encode.job(yield* onlyCreated(store, s)), encode.job(created))
      }))

    test("issue 16, eager dispatch: a job scheduled after its creation is created queued, not claimed, and eligible at its time", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(1_000)
        const s = submission(1_000, { run_after: at(1_001) })
        const { claim, created } = yield* submit(store, s, ["doc_summarize"])
        assert.isNull(claim)
        assert.strictEqual(millis(created.run_after), 1_001)
        yield* onlyCreated(store, s)
        assert.isNull(yield* store.claimNext())
        yield* TestClock.setTime(1_001)
        assert.strictEqual((yield* store.claimNext())?.job.job_id, s.jobId)
      }))

    test("issue 16, eager dispatch: inside a transaction it is createJob — not claimed, joined to the transaction", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const s = submission(0)
        const { claim, created } = yield* store.transaction(submit(store, s, ["doc_summarize"]))
        assert.isNull(claim)
        assert.deepStrictEqual(encode.job(yield* onlyCreated(store, s)), encode.job(created))
      }))

    test("issue 16, eager dispatch: inside a transaction that fails it is rolled back with it — nothing written", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const s = submission(0)
        const error = yield* failureOf(store.transaction(Effect.gen(function*() {
          assert.isNull((yield* submit(store, s, ["doc_summarize"])).claim)
          return yield* Effect.fail("abandoned" as const)
        })))
        assert.strictEqual(error, "abandoned")
        yield* nothingOf(store, s)
      }))

    test("issue 16, eager dispatch: a taken job id is AlreadyExists, and nothing of the call is written (no run, no records)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const first = yield* store.createJob(newJob())
        const s = submission(0, { job_id: first.job_id })
        const error = expectTag(yield* failureOf(submit(store, s, ["doc_summarize"])), "AlreadyExists")
        assert.deepStrictEqual([error.entity, error.id], ["job", first.job_id])
        assert.deepStrictEqual(encode.job(yield* store.getJob(first.job_id)), encode.job(first))
        expectTag(yield* failureOf(store.getRun(s.runId)), "NotFound")
        assert.deepStrictEqual(yield* historyOf(store, first.job_id), [])
      }))

    test("issue 16, eager dispatch: a taken event id among the claim's records is AlreadyExists naming it, and nothing is written, not even the job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const s = submission(0)
        const taken = s.claim.records[1]!
        yield* store.appendEvents([taken])
        const error = expectTag(yield* failureOf(submit(store, s, ["doc_summarize"])), "AlreadyExists")
        assert.deepStrictEqual([error.entity, error.id], ["event", taken.event_id])
        expectTag(yield* failureOf(store.getJob(s.jobId)), "NotFound")
        expectTag(yield* failureOf(store.getRun(s.runId)), "NotFound")
        // Only the record stored before.
        assert.deepStrictEqual((yield* historyOf(store, s.jobId)).map(encode.event), [encode.event(taken)])
      }))

    test("issue 16, eager dispatch: a taken run id is AlreadyExists naming the run, and nothing is written — not the job, its records or the claim's; the run keeps its job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        // The run of an earlier eager claim, and a second call given the same run id.
        const earlier = submission(0)
        assert.isNotNull((yield* submit(store, earlier, ["doc_summarize"])).claim)
        const s = submission(1)
        const again = { ...s, claim: { ...s.claim, run_id: earlier.runId } }
        yield* store.transition({ job_id: earlier.jobId, to: "completed" })
        const error = expectTag(yield* failureOf(submit(store, again, ["doc_summarize"])), "AlreadyExists")
        assert.deepStrictEqual([error.entity, error.id], ["workflow_run", earlier.runId])
        expectTag(yield* failureOf(store.getJob(s.jobId)), "NotFound")
        assert.deepStrictEqual(yield* historyOf(store, s.jobId), [])
        assert.strictEqual((yield* store.getRun(earlier.runId)).job_id, earlier.jobId)
      }))

    test("issue 16, eager dispatch: a run id that is no UUID, a record that does not decode, an unknown kind or no claim at all is a DecodeFailure, and nothing is written", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const createClaimed = createClaimedOf(store)
        type Options = Parameters<typeof createClaimed>[1]
        const s = submission(0)
        const refused = (options: unknown) =>
          Effect.map(failureOf(createClaimed(s.job, options as Options)), (error) => tagOf(error))
        assert.strictEqual(yield* refused({ events: s.events, claim: { ...s.claim, run_id: "run-1" } }), "DecodeFailure")
        assert.strictEqual(
          yield* refused({ events: s.events, claim: { ...s.claim, records: [{ ...s.claim.records[0]!, actor: "robot" }] } }),
          "DecodeFailure"
        )
        assert.strictEqual(yield* refused({ events: [{ ...s.events[0]!, event_id: "e-1" }], claim: s.claim }), "DecodeFailure")
        assert.strictEqual(yield* refused({ events: s.events, kinds: ["no_such_kind"], claim: s.claim }), "DecodeFailure")
        assert.strictEqual(yield* refused({ events: s.events }), "DecodeFailure")
        assert.strictEqual(
          tagOf(yield* failureOf(createClaimed({ ...s.job, job_kind: "no_such_kind" } as never, { events: s.events, claim: s.claim }))),
          "DecodeFailure"
        )
        yield* nothingOf(store, s)
      }))

    test("issue 16, eager dispatch: a run id in upper case is taken in its canonical lower-case form, as every id at the port", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const s = submission(0)
        const { claim } = yield* submit(store, { ...s, claim: { ...s.claim, run_id: s.runId.toUpperCase() as WorkflowRunId } })
        assert.strictEqual(claim?.run.id, s.runId)
        assert.strictEqual((yield* store.getJob(s.jobId)).workflow_run_id, s.runId)
      }))

    test("issue 16, eager dispatch: 8 concurrent calls on an empty queue each claim their own job — each write saw no queued job before its own (the others' were running or not yet committed), so taking all is in order", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          const racers = Array.from({ length: 8 }, () => submission(0))
          const outcomes = yield* Effect.all(
            racers.map((s, i) => submit(i % 2 === 0 ? a : b, s, ["doc_summarize"])),
            { concurrency: "unbounded" }
          )
          for (const [i, s] of racers.entries()) {
            const claim = outcomes[i]!.claim
            assert.strictEqual(claim?.run.id, s.runId)
            const job = yield* a.getJob(s.jobId)
            assert.deepStrictEqual([job.state, job.workflow_run_id], ["running", s.runId])
            assert.deepStrictEqual((yield* a.listRuns(s.jobId)).map((run) => [run.id, run.status]), [[s.runId, "running"]])
            assert.strictEqual((yield* historyOf(a, s.jobId)).length, 4)
          }
          assert.strictEqual((yield* a.listEvents({ limit: 1000 })).items.length, 8 * 4)
        })))

    test("issue 16, eager dispatch: 8 concurrent calls behind an older queued job of their kind claim nothing — no job is taken out of turn", () =>
      withTwoStores(backend, (a, b) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(1_000)
          const older = yield* a.createJob(newJob())
          yield* TestClock.setTime(2_000)
          const racers = Array.from({ length: 8 }, () => submission(2_000))
          const outcomes = yield* Effect.all(
            racers.map((s, i) => submit(i % 2 === 0 ? a : b, s, ["doc_summarize"])),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(outcomes.map(({ claim }) => claim), racers.map(() => null))
          for (const s of racers) yield* onlyCreated(a, s)
          assert.deepStrictEqual(encode.job(yield* a.getJob(older.job_id)), encode.job(older))
          assert.strictEqual((yield* a.listEvents({ limit: 1000 })).items.length, 8 * 2)
        })))

    if (backend.dialect === "pg") {
      it.effect(
        "issue 16, eager dispatch: an older queued job another connection holds locked (a claimer's FOR UPDATE, not yet committed) still comes first — not claimed",
        () =>
          Effect.provide(
            Effect.gen(function*() {
              const store = yield* JobStore
              const sql = yield* SqlClient.SqlClient
              yield* TestClock.setTime(1_000)
              const older = yield* store.createJob(newJob())
              const locked = yield* Deferred.make<void>()
              const release = yield* Deferred.make<void>()
              // Another connection's open transaction holding the job as a claimer does, until released.
              const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
                yield* sql`SELECT id FROM ai_jobs WHERE id = ${older.job_id} FOR UPDATE`
                yield* Deferred.succeed(locked, undefined)
                yield* Deferred.await(release)
              })))
              yield* Deferred.await(locked)
              yield* TestClock.setTime(2_000)
              const s = submission(2_000)
              const { claim } = yield* submit(store, s, ["doc_summarize"])
              yield* Deferred.succeed(release, undefined)
              yield* Fiber.join(holder)
              assert.isNull(claim, "a locked queued job is ahead all the same")
              yield* onlyCreated(store, s)
              assert.strictEqual((yield* store.getJob(older.job_id)).state, "queued")
            }),
            backend.makeStoreWithSql()
          )
      )
    }
  })
}
