/**
 * Issue 16: what a Jobs operation does when it ends interrupted — a start's,
 * resume's, rework's or claimNext's release of the claim whose answer the
 * interrupt lost, a submit's or a move's announcement — is part of the
 * operation: its store calls run inside the operation's `Jobs.<op>` span, as
 * the body's do. (They ran after the span had ended, under the caller's span,
 * for all of them since the wrapper that runs them, withJobSpanNoted, took
 * over start, resume and rework: found by an outside probe.) Each operation is
 * interrupted at each of its statements in turn (test/support/statementTrap.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import type { Backend } from "../support/backend.js"
import { recordingTracer } from "../support/recordingTracer.js"
import { interruptAtStatement } from "../support/statementTrap.js"
import { postgres, sqliteMemory } from "../support/stores.js"
import { services } from "./services.js"

const request = {
  job_kind: "doc_summarize",
  protocol_id: "release-span.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** More statements than any operation here takes. */
const MOST_STATEMENTS = 40

type Service = Jobs["Type"]

/** An operation on a job made ready for it (`ready`, its id), and that operation's span name. */
interface Operation {
  readonly span: string
  readonly ready: (jobs: Service, store: JobStore["Type"]) => Effect.Effect<JobId, unknown>
  readonly call: (jobs: Service, jobId: JobId) => Effect.Effect<unknown, unknown>
}

const submitted = (jobs: Service) => Effect.map(jobs.submit(request), (job) => job.job_id)

const operations: ReadonlyArray<Operation> = [
  { span: "Jobs.submit", ready: () => Effect.succeed("" as JobId), call: (jobs) => jobs.submit(request) },
  { span: "Jobs.start", ready: submitted, call: (jobs, jobId) => jobs.start(jobId) },
  {
    span: "Jobs.resume",
    // Claimed, then stalled by recovery (every running run counted stale).
    ready: (jobs, store) =>
      Effect.gen(function*() {
        const jobId = yield* submitted(jobs)
        yield* jobs.claimNext()
        const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
        yield* store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
        return jobId
      }),
    call: (jobs, jobId) => jobs.resume(jobId)
  },
  {
    span: "Jobs.rework",
    ready: (jobs) =>
      Effect.gen(function*() {
        const jobId = yield* submitted(jobs)
        yield* jobs.start(jobId)
        yield* jobs.awaitValidation(jobId)
        yield* jobs.awaitUser(jobId)
        return jobId
      }),
    call: (jobs, jobId) => jobs.rework(jobId)
  },
  { span: "Jobs.claimNext", ready: submitted, call: (jobs) => jobs.claimNext() },
  { span: "Jobs.cancel", ready: submitted, call: (jobs, jobId) => jobs.cancel(jobId) }
]

/** The span current at each read the store serves while `recording` says so: its name, or "none". */
const spanOfReads = (store: JobStore["Type"], seen: Array<string>, recording: () => boolean): JobStore["Type"] => {
  const current = Effect.map(Effect.option(Effect.currentSpan), (span) => Option.match(span, { onNone: () => "none", onSome: (s) => s.name }))
  const noted = <A extends ReadonlyArray<unknown>, B, E>(read: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
    recording() ? Effect.zipRight(Effect.map(current, (name) => void seen.push(name)), read(...args)) : read(...args)
  return { ...store, getJob: noted(store.getJob), getRun: noted(store.getRun), listEvents: noted(store.listEvents) }
}

const interruptedInsideItsSpan = (backend: Backend, operation: Operation) =>
  Effect.gen(function*() {
    const { tracer } = yield* recordingTracer
    const real = Context.get((yield* Layer.build(backend.makeStore())) as Context.Context<JobStore>, JobStore)
    const seen: Array<string> = []
    let recording = false
    const store = spanOfReads(real, seen, () => recording)
    // Announcing in this process (a submit's or a move's interrupt's path announces the job as it is).
    const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store), Recovery.layerNoStartupRecovery, WakeUp.layerInProcess)), Jobs)
    yield* TestClock.setTime(Date.UTC(2026, 0, 1))
    let interruptedReads = 0
    for (let n = 1; n <= MOST_STATEMENTS; n++) {
      const jobId = yield* operation.ready(jobs, real)
      seen.length = 0
      recording = true
      const { exit, firedAt } = yield* interruptAtStatement(Effect.withTracer(operation.call(jobs, jobId), tracer), n)
      recording = false
      for (const name of seen) assert.strictEqual(name, operation.span, `statement ${n}: a read the call made, its interrupt's path's too, is inside its span`)
      if (Exit.isInterrupted(exit)) interruptedReads += seen.length
      // Whatever it left, none of it is left for the next statement's call.
      for (const job of (yield* jobs.list({})).items) {
        if (job.state !== "cancelled") yield* Effect.ignore(jobs.cancel(job.job_id))
      }
      if (firedAt === undefined) {
        assert.isTrue(Exit.isSuccess(exit), `${operation.span} not interrupted at ${n} statements: it ended`)
        return interruptedReads
      }
    }
    return assert.fail(`${operation.span} took more than ${MOST_STATEMENTS} statements`)
  })

for (const backend of [sqliteMemory, postgres("interrupted release span")]) {
  describe(`issue 16 an interrupted Jobs operation's own path, on ${backend.name}`, () => {
    for (const operation of operations) {
      it.scoped(`issue 16 ${operation.span} interrupted at any statement: what its interrupt's path reads is read inside its span`, () =>
        Effect.gen(function*() {
          const reads = yield* interruptedInsideItsSpan(backend, operation)
          assert.isAbove(reads, 0, "an interrupted call read the store on its interrupt's path")
        }), 60_000)
    }
  })
}
