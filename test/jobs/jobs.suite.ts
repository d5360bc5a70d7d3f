/**
 * The Jobs, Recovery and Capabilities behaviour of R6, R9 and R15, run
 * unchanged against each store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import { metricBounds, MetricNames } from "../../src/domain/JobMetrics.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import type { Backend } from "../support/backend.js"
import { services } from "./services.js"

/** A job request; it names no capability profile, so the policy places each kind. */
export const summarize = (overrides: Partial<JobRequestInput> = {}): JobRequestInput => ({
  job_kind: "doc_summarize",
  protocol_id: "hsk.demo.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal",
  ...overrides
})

/** Lets real I/O (a heartbeat write on another fiber) finish while the TestClock stands still. */
export const settleIo = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 15)))

/**
 * Until `done`, look after look: real I/O settles, then the TestClock moves `poll` (a worker pool's poll
 * interval), or `poll` runs when it is a step of the caller's own. As many looks as it takes: a fixed
 * number of them was a budget of real time (1-2 s) that a pool's programs and commits, slowed by a loaded
 * machine, could overrun.
 */
export const untilDone = <E, R>(
  done: Effect.Effect<boolean, E, R>,
  poll: Duration.DurationInput | Effect.Effect<void> = "1 second"
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const step = Effect.isEffect(poll) ? poll : TestClock.adjust(poll)
    while (!(yield* done)) {
      yield* settleIo
      yield* step
    }
  })

const encodeRun = Schema.encodeSync(WorkflowRun)

const allEvents = Effect.flatMap(JobStore, (store) =>
  Effect.map(store.listEvents({ limit: 1000 }), (page) => page.items))

const eventsOf = (type: EventRecord["type"]) =>
  Effect.map(allEvents, (events) => events.filter((event) => event.type === type))

/** A job submitted and claimed at 1,000,000 ms on the TestClock: the start of the R9 boundary tests. */
const claimedAtOneMillion = Effect.gen(function*() {
  const jobs = yield* Jobs
  yield* TestClock.setTime(1_000_000)
  const job = yield* jobs.submit(summarize())
  const claim = yield* jobs.claimNext()
  assert.isNotNull(claim)
  return { claim, job, jobs }
})

export const runJobsSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`Jobs on ${backend.name}`, () => {
    // Found by an outside mutation audit: R9 says "more than 30 seconds"; `<=` for `<` went unseen.
    it.effect("R9 at the default threshold a run whose heartbeat is exactly 30.000 s old is not recovered; one 30.001 s old is", () =>
      provide(Effect.gen(function*() {
        const { claim, job, jobs } = yield* claimedAtOneMillion
        yield* TestClock.adjust("30 seconds")
        assert.deepStrictEqual((yield* Recovery.recoverStalledRuns()).recovered, [])
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "running")
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual((yield* Recovery.recoverStalledRuns()).recovered.map((run) => run.id), [claim!.run.id])
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
      })))

    // Found by an outside mutation audit: the claim order's run_after and created_at keys could be swapped unseen.
    it.effect("R6 Jobs.claimNext takes the highest priority, then the job eligible longest, before a job created earlier but scheduled later", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* TestClock.setTime(1_000_000)
        const scheduled = yield* jobs.submit(summarize({ run_after: DateTime.unsafeMake(1_010_000) }))
        yield* TestClock.setTime(1_001_000)
        const immediate = yield* jobs.submit(summarize())
        yield* TestClock.setTime(1_002_000)
        const urgent = yield* jobs.submit(summarize({ run_after: DateTime.unsafeMake(1_015_000), priority: 5 }))
        yield* TestClock.setTime(1_020_000)
        const claimed: Array<string | undefined> = []
        for (let i = 0; i < 3; i++) claimed.push((yield* jobs.claimNext())?.job.job_id)
        assert.deepStrictEqual(claimed, [urgent.job_id, immediate.job_id, scheduled.job_id])
      })))

    it.effect("R9 a run whose heartbeat is 29 s old is not recovered; one 31 s old is", () =>
      provide(Effect.gen(function*() {
        const { claim, job, jobs } = yield* claimedAtOneMillion
        yield* TestClock.adjust("29 seconds")
        const early = yield* Recovery.recoverStalledRuns()
        assert.strictEqual(early.recovered.length, 0)
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "running")

        yield* TestClock.adjust("2 seconds")
        const late = yield* Recovery.recoverStalledRuns()
        assert.deepStrictEqual(late.recovered.map((run) => run.id), [claim!.run.id])
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
        const store = yield* JobStore
        assert.strictEqual((yield* store.getRun(claim!.run.id)).status, "stalled")

        const recoveries = yield* eventsOf("workflow_recovery")
        assert.strictEqual(recoveries.length, 1)
        const body = recoveries[0]!.body
        assert.strictEqual(body.actor, "system")
        assert.strictEqual(body.job_id, job.job_id)
        assert.strictEqual(body.workflow_run_id, claim!.run.id)
        assert.strictEqual(body.trace_id, job.trace_id)
        assert.strictEqual(body.from_state, "running")
        assert.strictEqual(body.to_state, "stalled")
        assert.strictEqual(body.threshold_secs, 30)
        assert.strictEqual(body.last_heartbeat_ts, DateTime.formatIso(DateTime.unsafeMake(1_000_000)))
        // Issue 12.5: the job, its run and the event say why, in the reference's words but for the pass
        // (a scan on demand, not the startup gate's).
        const why = `stalled (on-demand recovery: heartbeat timeout): last heartbeat ${body.last_heartbeat_ts}, threshold 30s`
        assert.strictEqual(body.reason, why)
        const stalled = yield* jobs.get(job.job_id)
        assert.deepStrictEqual([stalled.status_reason, stalled.error_message], ["stalled", why])
        assert.strictEqual((yield* store.getRun(claim!.run.id)).error_message, why)

        const again = yield* Recovery.recoverStalledRuns()
        assert.strictEqual(again.recovered.length, 0, "R9 exactly once: a second scan moves nothing")
        assert.strictEqual((yield* eventsOf("workflow_recovery")).length, 1)
      })))

    it.effect("R9 audit: the recovery report lists the runs as stored after the move (stalled, their stall message and updated_at), oldest heartbeat first", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(1_000_000)
        const older = yield* jobs.submit(summarize())
        yield* jobs.start(older.job_id)
        yield* TestClock.adjust("2 seconds")
        const newer = yield* jobs.submit(summarize())
        yield* jobs.start(newer.job_id)
        yield* TestClock.adjust("1 minute")
        const report = yield* Recovery.recoverStalledRuns()
        const runIds = [(yield* jobs.get(older.job_id)).workflow_run_id!, (yield* jobs.get(newer.job_id)).workflow_run_id!]
        assert.deepStrictEqual(report.recovered.map((run) => run.id), runIds, "oldest heartbeat first")
        for (const run of report.recovered) {
          assert.strictEqual(run.status, "stalled")
          assert.match(run.error_message ?? "", /^stalled \(on-demand recovery: heartbeat timeout\): last heartbeat /)
          assert.deepStrictEqual(encodeRun(run), encodeRun(yield* store.getRun(run.id)), "the report holds what the store holds")
        }
      })))

    it.effect("R9 a threshold that is not a whole number of seconds, or a concurrency not from 1 to 64, is refused before anything moves", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* TestClock.adjust("1 minute")
        for (const thresholdSecs of [0, -1, 1.5, Number.NaN]) {
          const error = yield* Effect.flip(Recovery.recoverStalledRuns({ threshold: Duration.seconds(thresholdSecs) }))
          assert.strictEqual(error._tag, "DecodeFailure")
        }
        for (const concurrency of [0, -1, 1.5, 65, Number.NaN]) {
          const error = yield* Effect.flip(Recovery.recoverStalledRuns({ concurrency }))
          assert.strictEqual(error._tag, "DecodeFailure", String(concurrency))
        }
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "running")
        const recovered = yield* Recovery.recoverStalledRuns({ concurrency: 3, batchSize: 1 })
        assert.strictEqual(recovered.recovered.length, 1, "three scans at once still move the run once")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
      })))

    it.effect("R9 the recovery report lists the runs oldest heartbeat first, then by id, however its batches interleave", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(2_000_000)
        // Three runs share each second, so the id decides between them; the first three then beat
        // last, so heartbeat order is not start order.
        const runs: Array<string> = []
        for (let second = 0; second < 4; second++) {
          for (let i = 0; i < 3; i++) {
            const job = yield* jobs.submit(summarize())
            runs.push((yield* jobs.start(job.job_id)).run.id)
          }
          yield* TestClock.adjust("1 second")
        }
        for (const runId of runs.slice(0, 3).reverse()) yield* store.heartbeat(runId as never)
        yield* TestClock.adjust("1 minute")
        const expected = yield* Effect.forEach(runs, (id) => store.getRun(id as never))
        const order = [...expected]
          .sort((a, b) =>
            DateTime.toEpochMillis(a.last_heartbeat) - DateTime.toEpochMillis(b.last_heartbeat) || (a.id < b.id ? -1 : 1))
          .map((run) => run.id)
        assert.deepStrictEqual(order.slice(-3), [...runs.slice(0, 3)].sort(), "the three that beat last come last")
        // Forced interleaving: the first batch's answer (the oldest run, committed) comes back
        // 100 ms late, so the other scan reports every later run before it.
        let batches = 0
        const lateFirstBatch = JobStore.of({
          ...store,
          stallStaleRuns: (options) =>
            Effect.tap(store.stallStaleRuns(options), () =>
              batches++ === 0 ? Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 100))) : Effect.void)
        })
        const report = yield* Recovery.recoverStalledRuns({ concurrency: 2, batchSize: 1 }).pipe(
          Effect.provideService(JobStore, lateFirstBatch)
        )
        assert.deepStrictEqual(report.recovered.map((run) => run.id), order)
      })))

    it.effect("R9 a run that keeps beating for 5 simulated minutes is never recovered", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(jobs.run(job.job_id, () =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Effect.sleep("5 minutes"), { done: true }))))
        // The clock moves only once the program's 5 minutes have begun (Jobs.run reads the job first, in real time).
        yield* Deferred.await(started)
        for (let second = 10; second <= 300; second += 10) {
          yield* TestClock.adjust("10 seconds")
          yield* settleIo
          const report = yield* Recovery.recoverStalledRuns()
          assert.strictEqual(report.recovered.length, 0, `recovered at ${second}s`)
        }
        const result = yield* Fiber.join(fiber)
        assert.deepStrictEqual(result, { done: true })
        const done = yield* jobs.get(job.job_id)
        assert.strictEqual(done.state, "completed")
        assert.deepStrictEqual(done.job_outputs, { done: true })
        assert.strictEqual(done.metrics.duration_ms, 300_000)
        assert.strictEqual((yield* eventsOf("workflow_recovery")).length, 0)
      })), 120_000)

    it.effect("R9 a submit issued while startup recovery runs completes only after it", () =>
      Effect.gen(function*() {
        const latch = yield* Deferred.make<void>()
        const storeContext = yield* Layer.build(backend.makeStore())
        const real = Context.get(storeContext, JobStore)
        // A stale run left behind by a crashed worker.
        yield* Effect.provide(Effect.gen(function*() {
          const jobs = yield* Jobs
          const job = yield* jobs.submit(summarize())
          yield* jobs.start(job.job_id)
        }), services(Layer.succeedContext(storeContext)))
        yield* TestClock.adjust("1 minute")
        // The storage layer swapped for one whose recovery scan waits for the latch.
        const slowStore = Layer.succeed(JobStore, {
          ...real,
          stallStaleRuns: (options) => Effect.zipRight(Deferred.await(latch), real.stallStaleRuns(options))
        })
        yield* Effect.provide(Effect.gen(function*() {
          const jobs = yield* Jobs
          const submitted = yield* Effect.fork(jobs.submit(summarize({ job_kind: "doc_edit" })))
          yield* settleIo
          assert.isTrue(Option.isNone(yield* Fiber.poll(submitted)), "submit finished before recovery")
          // (No read of the store here: recovery holds its transaction open, and a
          // single-connection SQLite store serialises every other call behind it.)
          yield* Deferred.succeed(latch, undefined)
          const job = yield* Fiber.join(submitted)
          assert.strictEqual(job.state, "queued")
          const recoveries = (yield* real.listEvents({ types: ["workflow_recovery"] })).items
          assert.strictEqual(recoveries.length, 1, "the crashed worker's run was recovered before the submit went through")
          assert.strictEqual((yield* real.listJobs({ states: ["stalled"] })).items.length, 1)
        }), services(slowStore, Recovery.layerStartup()))
      }).pipe(Effect.scoped))

    it.effect("R9 when startup recovery fails, submit fails with RecoveryFailed and stores nothing", () =>
      Effect.gen(function*() {
        const storeContext = yield* Layer.build(backend.makeStore())
        const real = Context.get(storeContext, JobStore)
        const broken = Layer.succeed(JobStore, {
          ...real,
          stallStaleRuns: () => Effect.fail(new StorageError({ operation: "JobStore.stallStaleRuns", cause: new Error("disk on fire") }))
        })
        const error = yield* Effect.provide(
          Effect.flip(Effect.flatMap(Jobs, (jobs) => jobs.submit(summarize()))),
          services(broken, Recovery.layerStartup())
        )
        assert.strictEqual(error._tag, "RecoveryFailed")
        assert.include(error.message, "disk on fire")
        assert.strictEqual((yield* real.listJobs()).items.length, 0)
      }).pipe(Effect.scoped))

    it.effect("R15 a denied submit stores no job and one deny event per capability it tried to escalate to", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        // terminal_exec runs under Coder; Analyst is not narrower (it grants the export and read ids Coder lacks).
        const error = yield* Effect.flip(jobs.submit(summarize({ job_kind: "terminal_exec", capability_profile_id: "Analyst" })))
        assert.strictEqual(error._tag, "EscalationDenied")
        if (error._tag === "EscalationDenied") {
          assert.deepStrictEqual(error.excess, ["export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read", "export.include_payloads"])
        }
        assert.strictEqual((yield* jobs.list()).items.length, 0)
        const decisions = yield* eventsOf("capability_action")
        assert.deepStrictEqual(decisions.map((e) => e.body.capability_id), ["export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read", "export.include_payloads"])
        for (const decision of decisions) {
          assert.strictEqual(decision.body.decision_outcome, "deny")
          // R12: the reference's four fields; the profile refused is the error's, not the event's.
          assert.strictEqual(decision.body.actor_id, "tester")
          assert.notProperty(decision.body, "profile_id")
        }
        assert.strictEqual((yield* eventsOf("system")).length, 0)
      })))

    it.effect("R15 an allowed submit records each allow decision with the job's trace id", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize({ job_kind: "debug_bundle_export", capability_profile_id: "Analyst" }))
        assert.strictEqual(job.state, "queued")
        assert.strictEqual(job.metrics.total_tokens, 0)
        const decisions = yield* eventsOf("capability_action")
        assert.deepStrictEqual(decisions.map((e) => e.body.capability_id).sort(), ["diagnostics.read", "export.debug_bundle", "fr.read", "jobs.read"])
        for (const event of decisions) {
          assert.strictEqual(event.body.decision_outcome, "allow")
          assert.strictEqual(event.trace_id, job.trace_id)
          assert.strictEqual(event.job_id, job.job_id)
        }
        const lifecycle = yield* eventsOf("system")
        assert.strictEqual(lifecycle.length, 1)
        assert.strictEqual(lifecycle[0]!.body.to_state, "queued")
      })))

    // Found by an outside mutation audit: a begin that dropped its re-check's records went unseen.
    it.effect("R15 a start, a rework and a resume each record the policy's re-check (capability_action, one allow per capability)", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const capabilities = ["diagnostics.read", "export.debug_bundle", "fr.read", "jobs.read"]
        const job = yield* jobs.submit(summarize({ job_kind: "debug_bundle_export", capability_profile_id: "Analyst" }))
        // The decisions written since `seen`: each an allow of one of the job's capabilities, with its trace id.
        let seen = (yield* eventsOf("capability_action")).length
        const newDecisions = Effect.gen(function*() {
          const decisions = (yield* eventsOf("capability_action")).slice(seen)
          seen += decisions.length
          for (const event of decisions) {
            assert.strictEqual(event.body.decision_outcome, "allow")
            assert.strictEqual(event.job_id, job.job_id)
            assert.strictEqual(event.trace_id, job.trace_id)
          }
          return decisions.map((event) => event.body.capability_id).sort()
        })
        assert.strictEqual(seen, capabilities.length, "the submit's decisions")
        yield* jobs.start(job.job_id)
        assert.deepStrictEqual(yield* newDecisions, capabilities, "the start's")
        yield* jobs.awaitValidation(job.job_id)
        yield* jobs.awaitUser(job.job_id)
        assert.deepStrictEqual(yield* newDecisions, [], "moves without a new run decide nothing")
        yield* jobs.rework(job.job_id, { reason: "second pass" })
        assert.deepStrictEqual(yield* newDecisions, capabilities, "the rework's")
        yield* TestClock.adjust("31 seconds")
        yield* Recovery.recoverStalledRuns()
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
        yield* jobs.resume(job.job_id, { actor: "human", reason: "operator resumed" })
        assert.deepStrictEqual(yield* newDecisions, capabilities, "the resume's")
      })))

    // Found by an outside mutation audit: a queued event without its attempt went unseen.
    it.effect("R6 a submit's queued event belongs to attempt 1 (submit and submitMany)", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const one = yield* jobs.submit(summarize())
        const many = yield* jobs.submitMany([summarize(), summarize({ run_after: DateTime.unsafeMake(Date.UTC(2030, 0, 1)) })])
        const queued = (yield* eventsOf("system")).filter((event) => event.body.to_state === "queued")
        assert.deepStrictEqual(queued.map((event) => event.job_id).sort(), [one, ...many].map((job) => job.job_id).sort())
        for (const event of queued) assert.strictEqual(event.body.attempt, 1)
      })))

    it.effect("R15 an unknown profile or bad input is a typed error and stores nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const unknown = yield* Effect.flip(jobs.submit(summarize({ capability_profile_id: "SuperUser" })))
        assert.strictEqual(unknown._tag, "UnknownProfile")
        // The refused request is audited: its requirement denied, for the caller that asked (R12's four fields).
        const [denied, ...others] = yield* allEvents
        assert.strictEqual(others.length, 0)
        assert.strictEqual(denied!.type, "capability_action")
        assert.strictEqual(denied!.body.decision_outcome, "deny")
        assert.strictEqual(denied!.body.actor_id, "tester")
        assert.notProperty(denied!.body, "profile_id")
        const bad = yield* Effect.flip(jobs.submitUntrusted({ ...summarize(), job_kind: "doc_test" }))
        assert.strictEqual(bad._tag, "DecodeFailure")
        assert.strictEqual((yield* jobs.list()).items.length, 0)
        assert.strictEqual((yield* allEvents).length, 1)
      })))

    it.effect("HSK-WF-001 Jobs.run persists each node's input, output, error and sequence", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        const error = yield* Effect.flip(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            const text = yield* ctx.node({ node_id: "fetch", node_type: "io", input: { doc: "d1" } }, Effect.succeed("hello"))
            yield* ctx.node({ node_id: "summarize", node_type: "llm", input: { text } }, Effect.succeed({ summary: "hi" }))
            yield* ctx.node({ node_id: "publish", node_type: "io" }, Effect.fail(new Error("quota exceeded")))
          })))
        assert.strictEqual((error as Error).message, "quota exceeded")
        const nodes = yield* store.listNodes(run.id)
        assert.deepStrictEqual(nodes.map((n) => [n.sequence, n.node_id, n.status]), [
          [0, "fetch", "completed"], [1, "summarize", "completed"], [2, "publish", "failed"]
        ])
        assert.deepStrictEqual(nodes[0]!.input_payload, { doc: "d1" })
        assert.deepStrictEqual(nodes[1]!.output_payload, { summary: "hi" })
        assert.include(nodes[2]!.error_message ?? "", "quota exceeded")
        const failed = yield* jobs.get(job.job_id)
        assert.strictEqual(failed.state, "failed")
        assert.include(failed.error_message ?? "", "quota exceeded")
        const finished = yield* store.getRun(run.id)
        assert.strictEqual(finished.status, "failed")
        const lifecycle = (yield* eventsOf("system")).map((e) => e.body.to_state)
        assert.deepStrictEqual(lifecycle, ["queued", "running", "failed"])
      })))

    it.effect("R6 a job's status_reason says why it is in its current state: each change sets it (the reason given, else empty) — a released job run again no longer says released, a resumed one no longer says stalled", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const reasons = (jobId: typeof job.job_id) => Effect.map(jobs.get(jobId), (j) => [j.state, j.status_reason])
        const job = yield* jobs.submit(summarize({ status_reason: "nightly digest" }))
        assert.deepStrictEqual(yield* reasons(job.job_id), ["queued", "nightly digest"])
        // Released by an interrupt: the release says so...
        yield* jobs.start(job.job_id)
        assert.deepStrictEqual(yield* reasons(job.job_id), ["running", ""], "a start without a reason clears the submit's")
        const fiber = yield* Effect.fork(jobs.run(job.job_id, () => Effect.never))
        yield* settleIo
        yield* Fiber.interrupt(fiber)
        const released = yield* jobs.get(job.job_id)
        assert.include(released.status_reason, "released")
        // ...and the claim that takes it again, and its end, leave no trace of it.
        const claim = yield* jobs.claimNext()
        assert.strictEqual(claim?.job.status_reason, "", "the claim's answer")
        assert.deepStrictEqual(yield* reasons(job.job_id), ["running", ""])
        yield* jobs.run(job.job_id, () => Effect.succeed({ ok: true }))
        assert.deepStrictEqual(yield* reasons(job.job_id), ["completed", ""])

        // Stalled by recovery, then resumed: running again, no longer "stalled".
        const lost = yield* jobs.submit(summarize())
        yield* jobs.start(lost.job_id)
        yield* TestClock.adjust("31 seconds")
        yield* Recovery.recoverStalledRuns()
        const stalled = yield* jobs.get(lost.job_id)
        assert.strictEqual(stalled.state, "stalled")
        assert.include(stalled.status_reason, "stalled")
        yield* jobs.resume(lost.job_id)
        assert.deepStrictEqual(yield* reasons(lost.job_id), ["running", ""])
        // A reason given is kept until the next change, and only then replaced.
        yield* jobs.awaitValidation(lost.job_id, { reason: "needs a reviewer" })
        assert.deepStrictEqual(yield* reasons(lost.job_id), ["awaiting_validation", "needs a reviewer"])
        yield* jobs.pin(lost.job_id)
        assert.deepStrictEqual(yield* reasons(lost.job_id), ["awaiting_validation", "needs a reviewer"], "a pin is not a state change")
        yield* jobs.cancel(lost.job_id)
        assert.deepStrictEqual(yield* reasons(lost.job_id), ["cancelled", ""])
      })))

    it.effect("R6 a job resumed or reworked with a reason, then ended by its run or by an operator, no longer says that reason", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const reasons = (jobId: typeof job.job_id) => Effect.map(jobs.get(jobId), (j) => [j.state, j.status_reason])
        const stalledJob = Effect.gen(function*() {
          const stalled = yield* jobs.submit(summarize())
          yield* jobs.start(stalled.job_id)
          yield* TestClock.adjust("31 seconds")
          yield* Recovery.recoverStalledRuns()
          return stalled
        })
        // Resumed for its caller, then completed by Jobs.run (the run's own settle).
        const job = yield* stalledJob
        yield* jobs.resume(job.job_id, { actor: "human", reason: "worker replaced" })
        assert.deepStrictEqual(yield* reasons(job.job_id), ["running", "worker replaced"])
        yield* jobs.run(job.job_id, () => Effect.succeed({ ok: true }))
        assert.deepStrictEqual(yield* reasons(job.job_id), ["completed", ""])
        // Handed to workers, taken by a claim (an offered run), failed by its program.
        const offered = yield* stalledJob
        yield* jobs.resume(offered.job_id, { actor: "human", reason: "worker replaced", handTo: "workers" })
        const claim = yield* jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, offered.job_id, "the offered run, taken by the claim")
        yield* Effect.exit(jobs.run(offered.job_id, () => Effect.fail("tool broke")))
        assert.deepStrictEqual(yield* reasons(offered.job_id), ["failed", ""])
        // Reworked with a reason, then completed by an operator.
        const reworked = yield* jobs.submit(summarize())
        yield* jobs.start(reworked.job_id)
        yield* jobs.awaitValidation(reworked.job_id)
        yield* jobs.awaitUser(reworked.job_id)
        yield* jobs.rework(reworked.job_id, { actor: "human", reason: "fix the summary" })
        assert.deepStrictEqual(yield* reasons(reworked.job_id), ["running", "fix the summary"])
        yield* jobs.complete(reworked.job_id, { actor: "human" })
        assert.deepStrictEqual(yield* reasons(reworked.job_id), ["completed", ""])
        // Reworked, then completed by Jobs.run.
        const again = yield* jobs.submit(summarize())
        yield* jobs.start(again.job_id)
        yield* jobs.awaitValidation(again.job_id)
        yield* jobs.awaitUser(again.job_id)
        yield* jobs.rework(again.job_id, { reason: "second pass" })
        yield* jobs.run(again.job_id, () => Effect.succeed({ ok: true }), { onSuccess: "completed_with_issues" })
        assert.deepStrictEqual(yield* reasons(again.job_id), ["completed_with_issues", ""])
      })))

    it.effect("R6 a defect in Jobs.run leaves the job failed with the error recorded", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* Effect.exit(jobs.run(job.job_id, () => Effect.die(new Error("segfault in tool"))))
        const failed = yield* jobs.get(job.job_id)
        assert.strictEqual(failed.state, "failed")
        assert.include(failed.error_message ?? "", "segfault in tool")
      })))

    it.effect("R6 interrupting Jobs.run releases the job back to queued with its event: an interrupt is not a cancel", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        const fiber = yield* Effect.fork(jobs.run(job.job_id, () => Effect.never))
        yield* settleIo
        yield* Fiber.interrupt(fiber)
        const released = yield* jobs.get(job.job_id)
        assert.strictEqual(released.state, "queued")
        assert.include(released.status_reason, "released")
        const ended = yield* store.getRun(run.id)
        assert.strictEqual(ended.status, "failed", "the interrupted run ended; it was not cancelled")
        assert.include(ended.error_message ?? "", "released")
        const last = (yield* eventsOf("system")).at(-1)!
        assert.deepStrictEqual([last.body.from_state, last.body.to_state], ["running", "queued"])
        assert.include(String(last.body.reason), "interrupted")
        // The next claim runs it again, under a new run (R6c).
        const again = yield* jobs.claimNext()
        assert.strictEqual(again?.job.job_id, job.job_id)
        assert.notStrictEqual(again?.run.id, run.id)
      })))

    it.effect("R6c a retry goes back to queued and the next claim creates a new workflow run; poisoned never retries", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(summarize())
        const first = yield* jobs.claimNext()
        yield* jobs.fail(job.job_id, "model timeout")
        assert.strictEqual((yield* store.getRun(first!.run.id)).status, "failed")
        yield* jobs.retry(job.job_id, { reason: "operator retry", actor: "human" })
        const second = yield* jobs.claimNext()
        assert.strictEqual(second!.job.job_id, job.job_id)
        assert.notStrictEqual(second!.run.id, first!.run.id)
        assert.strictEqual((yield* store.listRuns(job.job_id)).length, 2)
        yield* jobs.fail(job.job_id, "again")
        yield* jobs.poison(job.job_id, { reason: "gave up" })
        const error = yield* Effect.flip(jobs.retry(job.job_id))
        assert.strictEqual(error._tag, "IllegalTransition")
        const states = (yield* eventsOf("system")).map((e) => `${e.body.from_state}->${e.body.to_state}`)
        assert.deepStrictEqual(states, [
          "null->queued", "queued->running", "running->failed", "failed->queued", "queued->running", "running->failed", "failed->poisoned"
        ])
      })))

    it.effect("R6 resume of a stalled job is an operator action under a new run", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const first = yield* jobs.claimNext()
        yield* TestClock.adjust("31 seconds")
        yield* Recovery.recoverStalledRuns()
        const resumed = yield* jobs.resume(job.job_id, { actor: "human", reason: "operator resumed" })
        assert.strictEqual(resumed.job.state, "running")
        assert.notStrictEqual(resumed.run.id, first!.run.id)
        assert.strictEqual(resumed.job.workflow_run_id, resumed.run.id)
        const last = (yield* eventsOf("system")).at(-1)!
        assert.strictEqual(last.actor, "human")
        assert.strictEqual(last.body.from_state, "stalled")
      })))

    it.effect("R18 pin and unpin are audited operator actions: one system event each, state unchanged; a repeat writes nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.cancel(job.job_id)
        const pinned = yield* jobs.pin(job.job_id, { actor: "human", reason: "kept for the incident review" })
        assert.isTrue(pinned.is_pinned)
        assert.strictEqual(pinned.state, "cancelled")
        const again = yield* jobs.pin(job.job_id, { actor: "human" })
        assert.isTrue(again.is_pinned)
        const unpinned = yield* jobs.unpin(job.job_id, { actor: "human" })
        assert.isFalse(unpinned.is_pinned)
        yield* jobs.unpin(job.job_id)
        const audit = (yield* eventsOf("system")).slice(-2)
        assert.deepStrictEqual(
          audit.map((event) => [event.actor, event.body.from_state, event.body.to_state, event.body.reason]),
          [
            ["human", "cancelled", "cancelled", "pinned: kept for the incident review"],
            ["human", "cancelled", "cancelled", "unpinned"]
          ]
        )
        assert.strictEqual((yield* eventsOf("system")).length, 4, "queued, cancelled, pinned, unpinned: the repeats wrote nothing")
        assert.strictEqual((yield* jobs.get(job.job_id)).status_reason, "", "a pin is not a state change")
        const missing = yield* Effect.flip(jobs.pin(job.job_id.replace(/^.{8}/, "00000000") as typeof job.job_id))
        assert.strictEqual(missing._tag, "NotFound")
      })))

    it.effect("R6 every guarded transition writes its event; an illegal one writes none", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* jobs.awaitValidation(job.job_id)
        yield* jobs.awaitUser(job.job_id)
        yield* jobs.rework(job.job_id)
        yield* jobs.completeWithIssues(job.job_id, { reason: "two warnings" })
        const before = (yield* eventsOf("system")).length
        const error = yield* Effect.flip(jobs.cancel(job.job_id))
        assert.strictEqual(error._tag, "IllegalTransition")
        assert.strictEqual((yield* eventsOf("system")).length, before)
        const done = yield* jobs.get(job.job_id)
        assert.strictEqual(done.state, "completed_with_issues")
        assert.strictEqual(done.status_reason, "two warnings")
        assert.strictEqual(before, 6)
      })))

    it.effect("R5 outputs no database can store fail the job with a DecodeFailure instead of stranding it running", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const error = yield* Effect.flip(jobs.run(job.job_id, () => Effect.succeed({ text: "nul\u0000byte" })))
        assert.strictEqual(error._tag, "DecodeFailure")
        const failed = yield* jobs.get(job.job_id)
        assert.strictEqual(failed.state, "failed")
        assert.include(failed.error_message ?? "", "job outputs")
        assert.isNull(failed.job_outputs)
      })))

    it.effect("R14 a transition whose event would be too large is a DecodeFailure and changes nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const error = yield* Effect.flip(jobs.cancel(job.job_id, { reason: "x".repeat(100_000) }))
        assert.strictEqual(error._tag, "DecodeFailure")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")
        assert.strictEqual((yield* eventsOf("system")).length, 1)
      })))

    it.effect("R14 a reason over 4,000 characters is refused by cancel, fail and pin as reason's own DecodeFailure naming the bound, not as an event of so many bytes; 4,000 emoji are taken", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const queued = yield* jobs.submit(summarize())
        const running = yield* jobs.submit(summarize())
        yield* jobs.start(running.job_id)
        const before = (yield* allEvents).length
        for (const length of [4_001, 72_000]) {
          const reason = "r".repeat(length)
          const refusals = [
            yield* Effect.flip(jobs.cancel(queued.job_id, { reason })),
            yield* Effect.flip(jobs.fail(running.job_id, "boom", { reason })),
            yield* Effect.flip(jobs.pin(queued.job_id, { reason }))
          ]
          for (const error of refusals) {
            // Compared small: a long reason in a diff of whole values stalls the reporter.
            assert.deepStrictEqual(
              error._tag === "DecodeFailure" ? error.issues : `not a DecodeFailure: ${String(error._tag)}`,
              [{ path: "reason", message: `Expected at most 4000 characters, actual ${length}` }]
            )
          }
        }
        assert.deepStrictEqual(
          [(yield* jobs.get(queued.job_id)).state, (yield* jobs.get(queued.job_id)).is_pinned, (yield* jobs.get(running.job_id)).state],
          ["queued", false, "running"]
        )
        assert.strictEqual((yield* allEvents).length, before, "nothing recorded")
        // The bound counts characters, not UTF-16 units: 4,000 emoji (8,000 units) are a reason.
        const cancelled = yield* jobs.cancel(queued.job_id, { reason: "\u{1F600}".repeat(4_000) })
        assert.strictEqual([...cancelled.status_reason].length, 4_000)
      })))

    it.effect("R15 an empty or oversized profile id is refused as input, not a crash", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        for (const profile_id of ["", "p".repeat(70_000)]) {
          const error = yield* Effect.flip(jobs.submit(summarize({ profile_id })))
          assert.strictEqual(error._tag, "DecodeFailure")
        }
        assert.strictEqual((yield* jobs.list()).items.length, 0)
        assert.strictEqual((yield* allEvents).length, 0)
      })))

    it.effect("R4 addMetrics sums counters and refuses an out-of-range result", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.addMetrics(job.job_id, { input_tokens: 100, output_tokens: 20 })
        const updated = yield* jobs.addMetrics(job.job_id, { input_tokens: 5 })
        assert.strictEqual(updated.metrics.input_tokens, 105)
        assert.strictEqual(updated.metrics.output_tokens, 20)
        const error = yield* Effect.flip(jobs.addMetrics(job.job_id, { total_tokens: -1 }))
        assert.strictEqual(error._tag, "DecodeFailure")
        assert.strictEqual((yield* jobs.get(job.job_id)).metrics.input_tokens, 105)
      })))

    it.effect("R4 R6 addMetrics on a job in each terminal state is refused with JobFinished naming the state, its metrics, updated_at and events unchanged (it wrote them with no event)", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const ended = [
          ["completed", (id: JobId) => jobs.complete(id)],
          ["completed_with_issues", (id: JobId) => jobs.completeWithIssues(id)],
          ["poisoned", (id: JobId) => jobs.poison(id)],
          ["cancelled", (id: JobId) => jobs.cancel(id)]
        ] as const
        for (const [state, end] of ended) {
          const job = yield* jobs.submit(summarize())
          yield* jobs.addMetrics(job.job_id, { input_tokens: 3 })
          if (state !== "cancelled") yield* jobs.start(job.job_id)
          const before = yield* end(job.job_id)
          assert.strictEqual(before.state, state)
          const events = yield* allEvents
          const error = yield* Effect.flip(jobs.addMetrics(job.job_id, { input_tokens: 5, total_tokens: 5 }))
          assert.deepStrictEqual(
            error._tag === "JobFinished" ? { job_id: error.job_id, state: error.state, change: error.change } : error,
            { job_id: job.job_id, state, change: "addMetrics" },
            state
          )
          assert.strictEqual(error.message, `Job ${job.job_id} is ${state}, a terminal state: its record is final, so addMetrics changes nothing`)
          assert.deepStrictEqual(yield* jobs.get(job.job_id), before, `${state}: nothing changed`)
          assert.deepStrictEqual(yield* allEvents, events, `${state}: no event`)
        }
      })))

    it.effect("R4 R6 addMetrics on a failed job, which a retry may run again, still adds: failed is not terminal", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        assert.strictEqual((yield* jobs.fail(job.job_id, "tool crashed")).state, "failed")
        assert.strictEqual((yield* jobs.addMetrics(job.job_id, { input_tokens: 5 })).metrics.input_tokens, 5)
      })))

    it.effect("R4 addMetrics holds each metric's sum at its bound, as a settle's duration is; an amount itself out of range is refused naming the metric, nothing added", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const atBounds = Object.fromEntries(MetricNames.map((name) => [name, metricBounds[name]]))
        assert.deepStrictEqual({ ...(yield* jobs.addMetrics(job.job_id, atBounds)).metrics }, atBounds)
        // Each metric at its bound takes more: held there, the others unchanged.
        for (const name of MetricNames) {
          const added = yield* jobs.addMetrics(job.job_id, { [name]: name === "duration_ms" ? 5 : 1 })
          assert.deepStrictEqual({ ...added.metrics }, atBounds, name)
        }
        assert.deepStrictEqual({ ...(yield* jobs.get(job.job_id)).metrics }, atBounds, "as stored")
        const below = yield* jobs.submit(summarize())
        const before = yield* jobs.addMetrics(below.job_id, { total_tokens: 10, duration_ms: 10 })
        for (const [name, amount] of [["total_tokens", -1], ["duration_ms", -5], ["entities_read", metricBounds.entities_read + 1], ["output_tokens", 1.5]] as const) {
          const error = yield* Effect.flip(jobs.addMetrics(below.job_id, { input_tokens: 1, [name]: amount }))
          assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues : error, [{ path: name, message: `Expected an integer between 0 and ${metricBounds[name]}` }], `${name} ${amount}`)
        }
        assert.deepStrictEqual(yield* jobs.get(below.job_id), before, "nothing added")
      })))

    it.effect("R4 addMetrics refuses an integer past 2^53 with the metric's range, not as no integer; nothing is added", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const cases: ReadonlyArray<readonly [string, number, string]> = [
          ["total_tokens", 2 ** 53 - 1, "Expected an integer between 0 and 4294967295"],
          ["total_tokens", 2 ** 53, "Expected an integer between 0 and 4294967295"],
          ["total_tokens", 2 ** 63, "Expected an integer between 0 and 4294967295"],
          ["duration_ms", 2 ** 53, `Expected an integer between 0 and ${Number.MAX_SAFE_INTEGER}`],
          ["duration_ms", 1e308, `Expected an integer between 0 and ${Number.MAX_SAFE_INTEGER}`]
        ]
        for (const [name, amount, message] of cases) {
          const error = yield* Effect.flip(jobs.addMetrics(job.job_id, { [name]: amount }))
          assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues : error, [{ path: name, message }], `${name} ${amount}`)
        }
        assert.deepStrictEqual((yield* jobs.get(job.job_id)).metrics, job.metrics, "nothing added")
      })))

    it.effect("R17 a refused run_after is one issue for the form it was given in, not one per member of the union; nothing is stored", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          ["next tuesday", "Expected an RFC 3339 timestamp such as 2026-01-19T23:59:37.328Z"],
          ["2026-02-30T00:00:00Z", "Not a valid instant (a date that exists, no later than 9999-12-31T23:59:59.999Z): 2026-02-30T00:00:00Z"],
          [5, "Expected an RFC 3339 timestamp (or a DateTime), actual number"],
          [DateTime.unsafeMake(Date.UTC(10001, 0, 1)), "Expected an instant no later than 9999-12-31T23:59:59.999Z"],
          // A past instant means now whatever its year (run-after-any-past.test.ts); a day that does not exist, or a time past 9999, is still refused.
          ["0001-02-29T00:00:00Z", "Not a valid instant (a date that exists, no later than 9999-12-31T23:59:59.999Z): 0001-02-29T00:00:00Z"],
          ["9999-12-31T23:59:59.999-01:00", "Not a valid instant (a date that exists, no later than 9999-12-31T23:59:59.999Z): 9999-12-31T23:59:59.999-01:00"],
          [DateTime.unsafeMakeZoned(Date.UTC(10000, 0, 1), { timeZone: "Europe/Berlin" }), "Expected an instant no later than 9999-12-31T23:59:59.999Z"]
        ]
        for (const [run_after, message] of cases) {
          const error = yield* Effect.flip(jobs.submit(summarize({ run_after: run_after as never })))
          assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues : error, [{ path: "run_after", message }], String(run_after))
        }
        assert.strictEqual((yield* jobs.list()).items.length, 0)
      })))

    it.effect("R4 R17 addMetrics refuses a delta past its type — a name that is no metric, an amount that is no finite number — whole, adding nothing", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.addMetrics(job.job_id, { input_tokens: 7 })
        const before = yield* jobs.get(job.job_id)
        const bad: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
          // A typo beside a good name: the good one is not added either (was: the typo dropped, the rest added).
          [{ input_tokens: 1, inptu_tokens: 5 }, ["inptu_tokens"]],
          [{ input_tokens: null }, ["input_tokens"]], // was added as 0
          [{ output_tokens: "3" }, ["output_tokens"]],
          [null, [""]],
          [[1, 2], [""]]
        ]
        for (const [delta, paths] of bad) {
          const error = yield* Effect.flip(jobs.addMetrics(job.job_id, delta as never))
          assert.strictEqual(error._tag, "DecodeFailure", JSON.stringify(delta))
          assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues.map((issue) => issue.path) : [], paths, JSON.stringify(delta))
        }
        assert.deepStrictEqual(yield* jobs.get(job.job_id), before, "nothing changed")
        // An amount left undefined is a metric left out, as the type allows.
        const added = yield* jobs.addMetrics(job.job_id, { input_tokens: 1, output_tokens: undefined } as never)
        assert.strictEqual(added.metrics.input_tokens, 8)
      })))

    it.effect("a worker pool claims and runs queued jobs", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const submitted = yield* Effect.forEach([1, 2, 3, 4, 5], (n) => jobs.submit(summarize({ job_inputs: { n } })))
        yield* Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({
            concurrency: 2,
            pollInterval: "1 second",
            handler: (ctx) => Effect.succeed({ doubled: (ctx.job.job_inputs as { n: number }).n * 2 })
          })
          yield* untilDone(Effect.map(jobs.list({ states: ["completed"] }), (page) => page.items.length === submitted.length))
        }))
        const done = yield* jobs.list({ states: ["completed"] })
        assert.strictEqual(done.items.length, 5)
        for (const job of done.items) {
          assert.deepStrictEqual(job.job_outputs, { doubled: (job.job_inputs as { n: number }).n * 2 })
        }
      })))
  })
}
