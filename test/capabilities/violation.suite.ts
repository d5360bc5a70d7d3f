/**
 * Security violations poison (the reference's `handle_security_violation`,
 * HSK-ACE-VAL-101), end to end: a program reports one through its run
 * context; the event and every poisoned row commit together or not at all;
 * the program is stopped; the job is never run again. Run against each store.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { settleIo, untilDone } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"

const request = (job_inputs: number): JobRequestInput => ({
  job_kind: "doc_summarize",
  protocol_id: "hsk.test.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal",
  job_inputs
})

const injection = { violation: "prompt_injection", detail: "\"ignore previous instructions\" at offset 120 of doc-7" }

const eventsOf = (jobId: string) =>
  Effect.flatMap(JobStore, (store) => Effect.map(store.listEvents({ job_id: jobId as never, limit: 1000 }), (page) => page.items))

const violationsIn = (events: ReadonlyArray<EventRecord>) => events.filter((e) => e.type === "security_violation")

export const runViolationSuite = (name: string, storeLayer: () => Layer.Layer<JobStore, unknown>) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(storeLayer()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`security violations on ${name}`, () => {
    it.effect("HSK-ACE-VAL-101 a reported violation poisons the job, every running node and the run, with one event; the program stops", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(request(1))
        const { run } = yield* jobs.start(job.job_id)
        const afterReport = yield* Ref.make(false)
        const sidecarStarted = yield* Deferred.make<void>()

        const error = yield* Effect.flip(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* ctx.node({ node_id: "fetch", node_type: "io", input: { doc: "doc-7" } }, Effect.succeed({ chars: 900 }))
            // A second node still running when the violation is found.
            yield* Effect.fork(ctx.node({ node_id: "sidecar", node_type: "index" }, Effect.zipRight(Deferred.succeed(sidecarStarted, undefined), Effect.never)))
            yield* Deferred.await(sidecarStarted)
            yield* ctx.node({ node_id: "scan", node_type: "guard" },
              Effect.zipRight(ctx.securityViolation(injection), Ref.set(afterReport, true)))
            yield* Ref.set(afterReport, true)
          })))

        assert.strictEqual(error._tag, "SecurityViolation")
        if (error._tag === "SecurityViolation") {
          assert.strictEqual(error.poisoned, true)
          assert.strictEqual(error.violation, "prompt_injection")
          assert.strictEqual(error.job_id, job.job_id)
          assert.strictEqual(error.workflow_run_id, run.id)
        }
        assert.isFalse(yield* Ref.get(afterReport), "the program did not go on after its report")

        const poisoned = yield* jobs.get(job.job_id)
        assert.strictEqual(poisoned.state, "poisoned")
        assert.strictEqual(poisoned.status_reason, "poisoned: prompt_injection")
        assert.strictEqual(poisoned.error_message, "Security violation: prompt_injection")
        const finished = yield* store.getRun(run.id)
        assert.strictEqual(finished.status, "poisoned")
        assert.strictEqual(finished.error_message, "Security violation: prompt_injection")
        const nodes = yield* store.listNodes(run.id)
        assert.deepStrictEqual(nodes.map((n) => [n.node_id, n.status]), [["fetch", "completed"], ["sidecar", "poisoned"], ["scan", "poisoned"]])
        for (const node of nodes.slice(1)) assert.isNotNull(node.finished_at)

        const events = yield* eventsOf(job.job_id)
        const [violation, ...others] = violationsIn(events)
        assert.strictEqual(others.length, 0, "exactly one security_violation event")
        assert.strictEqual(violation!.actor, "system")
        assert.strictEqual(violation!.workflow_run_id, run.id)
        assert.strictEqual(violation!.trace_id, job.trace_id)
        assert.strictEqual(violation!.body.violation, "prompt_injection")
        assert.strictEqual(violation!.body.detail, injection.detail)
        const lifecycle = events.filter((e) => e.type === "system").map((e) => `${e.body.from_state}->${e.body.to_state}`)
        assert.deepStrictEqual(lifecycle, ["null->queued", "queued->running", "running->poisoned"])
        // The job's status_reason is the reason its last change gave (README, "The job lifecycle"): one reason, not two.
        const poisoning = events.find((e) => e.type === "system" && e.body.to_state === "poisoned")
        assert.strictEqual(poisoning!.body.reason, poisoned.status_reason)

        // Never run again: not retried, not claimed, not started.
        assert.strictEqual((yield* Effect.flip(jobs.retry(job.job_id)))._tag, "IllegalTransition")
        assert.isNull(yield* jobs.claimNext())
        assert.strictEqual((yield* Effect.flip(jobs.start(job.job_id)))._tag, "IllegalTransition")
        assert.lengthOf(yield* store.listRuns(job.job_id), 1)
      })))

    it.effect("HSK-ACE-VAL-101 the program is stopped even when it catches its own violation", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(request(2))
        yield* jobs.start(job.job_id)
        const ignored = yield* Ref.make(false)
        // Swallows the error and would carry on forever: only the library can stop it.
        const error = yield* Effect.flip(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* ctx.securityViolation({ violation: "cloud_leakage" }).pipe(Effect.catchAll(() => Ref.set(ignored, true)))
            yield* Effect.never
          })))
        assert.strictEqual(error._tag, "SecurityViolation")
        assert.isTrue(yield* Ref.get(ignored))
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "poisoned")
      })))

    it.live("HSK-ACE-VAL-101 the program sees its report's error first even when a heartbeat finds the run poisoned while the report is written", () =>
      Effect.gen(function*() {
        // Forces the interleaving CI once hit by chance: the report's transaction commits, a
        // heartbeat finds the run no longer running (RunNotActive) and the run's fiber could stop
        // the program — all before the report has returned to the program.
        const storeContext = yield* Layer.build(storeLayer())
        const real = Context.get(storeContext, JobStore)
        let armed = false
        const beatFoundTaken = yield* Deferred.make<void>()
        const forcing = Layer.succeed(JobStore, {
          ...real,
          heartbeat: (runId) =>
            real.heartbeat(runId).pipe(Effect.tapError((error) =>
              error._tag === "RunNotActive" ? Deferred.succeed(beatFoundTaken, undefined) : Effect.void
            )),
          transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => {
            if (!armed) return real.transaction(effect)
            armed = false
            // The report's transaction: once committed, hold its return until a beat has found the
            // run poisoned, and a little longer, so the run's fiber has every chance to act first.
            return real.transaction(effect).pipe(Effect.tap(() =>
              Deferred.await(beatFoundTaken).pipe(
                Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no heartbeat found the run poisoned") }),
                Effect.orDie,
                Effect.zipRight(Effect.sleep("50 millis"))
              )
            ))
          }
        })
        yield* Effect.provide(Effect.gen(function*() {
          const jobs = yield* Jobs
          const job = yield* jobs.submit(request(8))
          yield* jobs.start(job.job_id)
          const ignored = yield* Ref.make(false)
          const error = yield* Effect.flip(jobs.run(job.job_id, (ctx) =>
            Effect.gen(function*() {
              armed = true
              yield* ctx.securityViolation({ violation: "cloud_leakage" }).pipe(Effect.catchAll(() => Ref.set(ignored, true)))
              yield* Effect.never
            }), { heartbeatInterval: "20 millis" }))
          assert.isTrue(yield* Deferred.isDone(beatFoundTaken), "a heartbeat found the run poisoned during the report")
          assert.strictEqual(error._tag, "SecurityViolation")
          if (error._tag === "SecurityViolation") assert.strictEqual(error.poisoned, true)
          assert.isTrue(yield* Ref.get(ignored), "the program saw its report's error before it was stopped")
          assert.strictEqual((yield* jobs.get(job.job_id)).state, "poisoned")
          assert.lengthOf(violationsIn(yield* eventsOf(job.job_id)), 1)
        }), services(forcing))
      }).pipe(Effect.scoped))

    it.effect("HSK-ACE-VAL-101 a program that catches its violation and returns cannot complete the job", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(request(3))
        yield* jobs.start(job.job_id)
        const error = yield* Effect.flip(jobs.run(job.job_id, (ctx) =>
          ctx.securityViolation({ violation: "export_violation" }).pipe(Effect.catchAll(() => Effect.succeed({ fine: true })))))
        assert.strictEqual(error._tag, "SecurityViolation")
        const poisoned = yield* jobs.get(job.job_id)
        assert.strictEqual(poisoned.state, "poisoned")
        assert.isNull(poisoned.job_outputs)
      })))

    it.effect("HSK-ACE-VAL-101 a worker's poisoned job stays poisoned and the worker goes on to the next", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const bad = yield* jobs.submit(request(4))
        const good = yield* jobs.submit(request(5))
        yield* Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({
            concurrency: 1,
            pollInterval: "1 second",
            handler: (ctx) => ctx.job.job_id === bad.job_id ? ctx.securityViolation({ violation: "prompt_injection" }) : Effect.succeed({ ok: true })
          })
          yield* untilDone(Effect.map(jobs.get(good.job_id), (job) => job.state === "completed"))
        }))
        assert.strictEqual((yield* jobs.get(bad.job_id)).state, "poisoned")
        assert.strictEqual((yield* jobs.get(good.job_id)).state, "completed")
        assert.lengthOf(violationsIn(yield* eventsOf(bad.job_id)), 1)
      })))

    it.effect("HSK-ACE-VAL-101 one transaction: when a write fails, no event and no row is poisoned", () =>
      Effect.gen(function*() {
        const storeContext = yield* Layer.build(storeLayer())
        const real = Context.get(storeContext, JobStore)
        // The run's poisoning is the transaction's last write; it fails.
        const failing = Layer.succeed(JobStore, {
          ...real,
          finishRun: (runId, status, options) =>
            status === "poisoned"
              ? Effect.fail(new StorageError({ operation: "JobStore.finishRun", cause: new Error("disk full") }))
              : real.finishRun(runId, status, options)
        })
        yield* Effect.provide(Effect.gen(function*() {
          const jobs = yield* Jobs
          const job = yield* jobs.submit(request(6))
          const { run } = yield* jobs.start(job.job_id)
          const error = yield* Effect.flip(jobs.run(job.job_id, (ctx) =>
            ctx.node({ node_id: "scan", node_type: "guard" }, ctx.securityViolation(injection))))
          assert.strictEqual(error._tag, "StorageError")
          assert.include(error.message, "disk full")
          assert.lengthOf(violationsIn(yield* eventsOf(job.job_id)), 0)
          // Nothing half-done: the job and run as they were (recovery's to pick up); the node ended as the program left it.
          assert.strictEqual((yield* jobs.get(job.job_id)).state, "running")
          assert.strictEqual((yield* real.getRun(run.id)).status, "running")
          assert.deepStrictEqual((yield* real.listNodes(run.id)).map((n) => n.status), ["failed"])
        }), services(failing))
      }).pipe(Effect.scoped))

    it.effect("HSK-ACE-VAL-101 a violation reported after the run was taken away is still recorded", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(request(7))
        yield* jobs.start(job.job_id)
        const cancelled = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(jobs.run(job.job_id, (ctx) =>
          Effect.zipRight(Deferred.await(cancelled), ctx.securityViolation({ violation: "prompt_injection" }))))
        yield* settleIo
        yield* jobs.cancel(job.job_id, { actor: "human", reason: "operator stop" })
        yield* Deferred.succeed(cancelled, undefined)
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "SecurityViolation")
        if (error._tag === "SecurityViolation") assert.strictEqual(error.poisoned, false)
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "cancelled")
        assert.lengthOf(violationsIn(yield* eventsOf(job.job_id)), 1)
      })))
  })
}
