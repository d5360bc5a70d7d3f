/**
 * A program's cleanup that calls its run context while the program is being
 * stopped (`Effect.ensuring(work, ctx.node(...))`, `onInterrupt`, a release)
 * gets its answer at once, on SQLite and PostgreSQL. Before the fix such a
 * call waited for the run's end to be written, and the run wrote its end only
 * once that very cleanup was over: an operator's cancel left `Jobs.run`
 * waiting for ever (and a one-loop pool's slot lost for good), a pool's
 * shutdown never closed and never released its job (found by an outside
 * probe). A node asked for then gets `RunNotActive` and writes nothing; a
 * security violation is handled as one reported while the run is active.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type RunContext, RunLost, SecurityViolation } from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

type Cleanup = "node" | "violation"

/** What the cleanup's context call answered: its error's tag and the status it names. */
interface Answer {
  readonly tag: string
  readonly status?: string | undefined
  readonly poisoned?: boolean | undefined
}

/**
 * A program that signals `started` and never ends by itself; stopped, its
 * cleanup records a node (or reports a violation) and tells `answered` what
 * the call gave back.
 */
const stoppedProgram = (cleanup: Cleanup, started: Deferred.Deferred<void>, answered: Deferred.Deferred<Answer>) => (ctx: RunContext) => {
  const call: Effect.Effect<unknown, unknown> = cleanup === "node"
    ? ctx.node({ node_id: "cleanup", node_type: "cleanup" }, Effect.succeed({ cleaned: true }))
    : ctx.securityViolation({ violation: "found_while_cleaning_up" })
  return Effect.ensuring(
    Effect.zipRight(Deferred.succeed(started, undefined), Effect.never),
    Effect.catchAll(call, (error) =>
      Deferred.succeed(answered, {
        tag: (error as { _tag: string })._tag,
        status: (error as { status?: string }).status,
        poisoned: (error as { poisoned?: boolean }).poisoned
      }))
  )
}

/** The job's node executions over all its runs, and its recorded violations. */
const written = (store: JobStore["Type"], jobId: string) =>
  Effect.gen(function*() {
    const nodes = []
    for (const run of yield* store.listRuns(jobId as never)) nodes.push(...(yield* store.listNodes(run.id)))
    const violations = (yield* store.listEvents({ job_id: jobId as never, types: ["security_violation"] })).items
    const cancels = (yield* store.listEvents({ job_id: jobId as never, types: ["system"] })).items
      .filter((event) => event.body["to_state"] === "cancelled")
    return { nodes: nodes.map((node) => node.node_id), violations: violations.length, cancels: cancels.length }
  })

for (const backend of sharedBackends) {
  describe(`a cleanup calling its run context while its program is stopped, on ${backend.name}`, () => {
    for (const cleanup of ["node", "violation"] as const) {
      it.live(`R11 cancelled under Jobs.run, a cleanup's ${cleanup} call answers at once and Jobs.run ends`, () =>
        Effect.gen(function*() {
          const { jobs, store } = yield* engineOn(yield* backend.fresh(`cleanup ${cleanup} run`))
          const job = yield* jobs.submit(summarize())
          yield* jobs.start(job.job_id)
          const started = yield* Deferred.make<void>()
          const answered = yield* Deferred.make<Answer>()
          const running = yield* Effect.fork(jobs.run(job.job_id, stoppedProgram(cleanup, started, answered)))
          yield* Deferred.await(started)
          assert.strictEqual((yield* jobs.cancel(job.job_id)).state, "cancelled")
          const error = yield* Effect.flip(running.await.pipe(Effect.flatten))
          const answer = yield* Deferred.await(answered)
          const after = yield* written(store, job.job_id)
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "cancelled")
          assert.strictEqual(after.cancels, 1, "cancelled once, with one event")
          assert.deepStrictEqual(after.nodes, [], "the cleanup's node wrote nothing")
          if (cleanup === "node") {
            assert.instanceOf(error, RunLost)
            assert.strictEqual((error as RunLost).status, "cancelled")
            assert.deepStrictEqual(answer, { tag: "RunNotActive", status: "cancelled", poisoned: undefined })
            assert.strictEqual(after.violations, 0)
          } else {
            // A violation reported while the run is active, after it was taken: recorded, nothing poisoned.
            assert.instanceOf(error, SecurityViolation)
            assert.isFalse((error as SecurityViolation).poisoned)
            assert.deepStrictEqual(answer, { tag: "SecurityViolation", status: undefined, poisoned: false })
            assert.strictEqual(after.violations, 1, "the violation is recorded")
          }
        }).pipe(Effect.scoped), 30_000)

      it.live(`R11 cancelled in a one-loop pool, a cleanup's ${cleanup} call answers at once and the pool runs the next job`, () =>
        Effect.gen(function*() {
          const { jobs, store } = yield* engineOn(yield* backend.fresh(`cleanup ${cleanup} pool cancel`))
          const started = yield* Deferred.make<void>()
          const answered = yield* Deferred.make<Answer>()
          const stopped = stoppedProgram(cleanup, started, answered)
          yield* jobs.worker({
            concurrency: 1,
            pollInterval: "100 millis",
            handlers: { doc_summarize: stopped, doc_edit: () => Effect.succeed({ next: true }) }
          })
          const job = yield* jobs.submit(summarize())
          yield* Deferred.await(started)
          yield* jobs.cancel(job.job_id)
          const answer = yield* Deferred.await(answered)
          const next = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
          const done = yield* jobs.await(next.job_id, { timeout: "30 seconds" })
          assert.strictEqual(done.state, "completed", "the pool's one loop came back")
          assert.deepStrictEqual(done.job_outputs, { next: true })
          const after = yield* written(store, job.job_id)
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "cancelled")
          assert.strictEqual(after.cancels, 1)
          assert.deepStrictEqual(after.nodes, [])
          assert.strictEqual(answer.tag, cleanup === "node" ? "RunNotActive" : "SecurityViolation")
          assert.strictEqual(after.violations, cleanup === "node" ? 0 : 1)
        }).pipe(Effect.scoped), 30_000)

      it.live(`R6 a pool shutting down stops a program whose cleanup makes a ${cleanup} call: the pool closes, the job released or poisoned`, () =>
        Effect.gen(function*() {
          const { jobs, store } = yield* engineOn(yield* backend.fresh(`cleanup ${cleanup} shutdown`))
          const started = yield* Deferred.make<void>()
          const answered = yield* Deferred.make<Answer>()
          const pool = yield* Scope.make()
          yield* Scope.extend(
            jobs.worker({ concurrency: 1, pollInterval: "100 millis", drainTimeout: "100 millis", handler: stoppedProgram(cleanup, started, answered) }),
            pool
          )
          const job = yield* jobs.submit(summarize())
          yield* Deferred.await(started)
          yield* Scope.close(pool, Exit.void)
          const answer = yield* Deferred.await(answered)
          const after = yield* written(store, job.job_id)
          const ended = yield* store.getJob(job.job_id)
          assert.deepStrictEqual(after.nodes, [])
          if (cleanup === "node") {
            // Asked while its run was still being stopped: its end (the release) not yet written.
            assert.deepStrictEqual(answer, { tag: "RunNotActive", status: "running", poisoned: undefined })
            assert.strictEqual(ended.state, "queued", "released to the queue")
            assert.include(ended.status_reason, "shut down")
            assert.strictEqual(after.violations, 0)
          } else {
            // Reported while the run was still its job's: the job is poisoned, not released.
            assert.deepStrictEqual(answer, { tag: "SecurityViolation", status: undefined, poisoned: true })
            assert.strictEqual(ended.state, "poisoned")
            assert.strictEqual(after.violations, 1)
          }
        }).pipe(Effect.scoped), 30_000)
    }
  })
}
