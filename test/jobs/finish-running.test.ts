/**
 * Issue 16: a running job's move out of `running` (complete, fail, cancel, …)
 * as one statement on PostgreSQL and one transaction on SQLite (`JobStore.finishRunningJob`): the job
 * moved, its active run ended with the same status, and its lifecycle
 * record written — the record built from a template whose trace id, run id
 * and attempt the database fills from the row. It must write exactly what
 * the general path writes (lock, transition, finishRun) and exactly the
 * event `lifecycleEvent` builds, caller text redacted; and on both stores
 * the same scenario gives the same rows and records.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { EventId, JobId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { DEFAULT_MAX_EVENT_BYTES } from "../../src/internal/flight/Privacy.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { lifecycleEvent } from "../../src/internal/jobs/auditEvents.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { newJob } from "../store/fixtures.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

const build = makeBuild({ redactor: Redactor.make(), maxEventBytes: DEFAULT_MAX_EVENT_BYTES })
const decodeEvent = Schema.decodeUnknown(FlightEvent)

/** `record` under another event id, its body's too (the port refuses a body naming another id). */
const withId = (record: EventRecord, event_id: EventId): EventRecord => ({ ...record, event_id, body: { ...record.body, event_id } })

const SECRET = "Bearer abcdefghijklmnop1234"

/** Each move that leaves `running` and ends the run, with caller text where the move takes it. */
const MOVES = [
  { name: "complete", call: (jobs: Jobs["Type"], id: Parameters<Jobs["Type"]["complete"]>[0]) => jobs.complete(id) },
  {
    name: "completeWithIssues",
    call: (jobs: Jobs["Type"], id: Parameters<Jobs["Type"]["complete"]>[0]) => jobs.completeWithIssues(id, { reason: `issues: ${SECRET}` })
  },
  { name: "fail", call: (jobs: Jobs["Type"], id: Parameters<Jobs["Type"]["complete"]>[0]) => jobs.fail(id, `boom ${SECRET}`, { reason: "handler" }) },
  {
    name: "cancel",
    call: (jobs: Jobs["Type"], id: Parameters<Jobs["Type"]["complete"]>[0]) => jobs.cancel(id, { reason: `operator ${SECRET}`, actor: "human" })
  },
  { name: "awaitValidation", call: (jobs: Jobs["Type"], id: Parameters<Jobs["Type"]["complete"]>[0]) => jobs.awaitValidation(id) },
  { name: "poison", call: (jobs: Jobs["Type"], id: Parameters<Jobs["Type"]["complete"]>[0]) => jobs.poison(id, { reason: "" }) }
] as const

/** The store without its one-statement path: Jobs takes the general one (lock, transition, finishRun). */
const generalOnly = (store: JobStore["Type"]): JobStore["Type"] => {
  const { finishRunningJob: _, ...rest } = store
  return rest
}

/**
 * Each move on a job in its second attempt (claimed, failed, retried,
 * claimed again), through `store`: what it wrote, with ids and times left
 * out, and each record checked against the builder.
 */
const scenario = (store: JobStore["Type"]) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(services(Layer.succeed(JobStore, store)))
    const jobs = Context.get(context, Jobs)
    const outcomes: Array<unknown> = []
    for (const move of MOVES) {
      const job = yield* jobs.submit(newJob())
      assert.isNotNull(yield* jobs.claimNext())
      yield* jobs.fail(job.job_id, "first attempt")
      yield* jobs.retry(job.job_id)
      const claim = yield* jobs.claimNext()
      if (claim === null) return assert.fail("setup: a second claim")
      assert.strictEqual(claim.job.attempt, 2)
      const moved = yield* move.call(jobs, job.job_id)
      const run = yield* store.getRun(claim.run.id)
      const records = (yield* store.listEvents({ workflow_run_id: claim.run.id, types: ["system"] })).items
      // The claim's `running` record, then the move's.
      assert.strictEqual(records.length, 2, move.name)
      const record = records[1]!
      const body = record.body as Record<string, unknown>
      const built = yield* build(lifecycleEvent({
        job: claim.job,
        from: "running",
        to: moved.state,
        workflow_run_id: claim.run.id,
        attempt: claim.job.attempt,
        ...reasonOf(move.name),
        ...(move.name === "cancel" ? { actor: "human" as const } : {})
      }))
      assert.deepStrictEqual(body, { ...built.body, event_id: record.event_id, timestamp: body["timestamp"] }, move.name)
      assert.deepStrictEqual(
        [record.trace_id, record.job_id, record.workflow_run_id, record.actor, record.type],
        [built.trace_id, built.job_id, built.workflow_run_id, built.actor, built.type],
        move.name
      )
      assert.strictEqual((yield* decodeEvent(body)).type, "system")
      assert.notInclude(JSON.stringify([moved, run, body]), "abcdefghijklmnop1234", "caller text redacted")
      outcomes.push({
        move: move.name,
        job: [moved.state, moved.status_reason, moved.error_message, moved.attempt, moved.workflow_run_id === claim.run.id],
        stored: (yield* store.getJob(job.job_id)).state,
        run: [run.status, run.error_message],
        body: Object.fromEntries(Object.entries(body).filter(([key]) => !["event_id", "timestamp", "trace_id", "job_id", "workflow_run_id"].includes(key)))
      })
    }
    return outcomes
  })

/** The reason each move gives (as `lifecycleEvent` is given it by the general path). */
const reasonOf = (name: string): { readonly reason?: string } => {
  switch (name) {
    case "completeWithIssues":
      return { reason: `issues: ${SECRET}` }
    case "fail":
      return { reason: "handler" }
    case "cancel":
      return { reason: `operator ${SECRET}` }
    default:
      return {}
  }
}

describe("issue 16 a running job's move ends its run in one statement", () => {
  for (const backend of sharedBackends) {
    it.scoped(
      `issue 16 ${backend.name}: every move out of running writes what the general path writes — the job, its run ended alike, and the very record lifecycleEvent builds (attempt, run and trace from the row), caller text redacted`,
      () =>
        Effect.gen(function*() {
          const one = yield* backend.fresh("finish running")
          const two = yield* backend.fresh("finish running general")
          const store = yield* one.store()
          assert.isDefined(store.finishRunningJob, `${backend.name} has the one-step path`)
          const fast = yield* scenario(store)
          const general = yield* scenario(generalOnly(yield* two.store()))
          assert.deepStrictEqual(fast, general)
        }),
      180_000
    )
  }

  for (const backend of sharedBackends) {
  it.scoped(`issue 16 ${backend.name}: finishRunningJob on a job not running under a run writes nothing and answers null; Jobs then reports as before`, () =>
    Effect.gen(function*() {
      const database = yield* backend.fresh("finish running null")
      const store = yield* database.store()
      const context = yield* Layer.build(services(Layer.succeed(JobStore, store)))
      const jobs = Context.get(context, Jobs)
      const queued = yield* jobs.submit(newJob())
      const before = (yield* store.listEvents({ job_id: queued.job_id })).items.length
      const complete = yield* Effect.flip(jobs.complete(queued.job_id))
      assert.strictEqual(complete._tag, "IllegalTransition")
      const missing = yield* Effect.flip(jobs.complete(JobId.make(uuidv7())))
      assert.strictEqual(missing._tag, "NotFound")
      assert.strictEqual((yield* store.listEvents({ job_id: queued.job_id })).items.length, before, "nothing written")
      assert.strictEqual((yield* store.getJob(queued.job_id)).state, "queued")
      // `stalled` is recovery's alone: the store refuses to take it here.
      const claim = yield* jobs.claimNext()
      if (claim === null) return assert.fail("setup: a claim")
      const event = (yield* store.listEvents({ workflow_run_id: claim.run.id })).items[0]!
      const stalled = yield* store.finishRunningJob!({ job_id: claim.job.job_id, to: "stalled" as "failed", event: withId(event, EventId.make(uuidv7())) })
      assert.isNull(stalled)
      assert.strictEqual((yield* store.getJob(claim.job.job_id)).state, "running")
      // Ends the hand check does not vouch for go to the Schema: hostile ones are refused, typed, and write nothing.
      const recorded = (yield* store.listEvents({ job_id: claim.job.job_id })).items.length
      const fresh = () => withId(event, EventId.make(uuidv7()))
      const hostile: ReadonlyArray<unknown> = [
        { job_id: claim.job.job_id, to: "exploded", event: fresh() },
        { job_id: "not-a-uuid", to: "completed", event: fresh() },
        { job_id: claim.job.job_id, to: "completed", status_reason: 42, event: fresh() },
        { job_id: claim.job.job_id, to: "completed", event: { ...fresh(), type: "no_such_type" } },
        { job_id: claim.job.job_id, to: "completed" }
      ]
      for (const end of hostile) {
        const error = yield* Effect.flip(store.finishRunningJob!(end as Parameters<NonNullable<typeof store.finishRunningJob>>[0]))
        assert.strictEqual(error._tag, "DecodeFailure", JSON.stringify(end))
      }
      assert.strictEqual((yield* store.listEvents({ job_id: claim.job.job_id })).items.length, recorded, "nothing written")
      assert.strictEqual((yield* store.getJob(claim.job.job_id)).state, "running")
      // A caller's own record (not the library's) with an end in the common shape still ends the job.
      const own = fresh()
      const done = yield* store.finishRunningJob!({ job_id: claim.job.job_id, to: "completed", event: { ...own, body: { ...own.body } } })
      assert.strictEqual(done?.state, "completed")
    }), 120_000)
  }
})
