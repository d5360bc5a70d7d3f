/**
 * A change whose caller is interrupted after the write was sent (found by an
 * outside probe that interrupted every call at every statement): the store
 * finished the write, the interrupt then took effect, and the in-process
 * announcement after it was never made. With `WakeUp.layerInProcess` (the
 * documented SQLite setup) an idle pool found a committed submit only at its
 * next poll, and a committed cancel reached the running program only at its
 * next heartbeat, `jobs.await` not woken; a start handed to workers, or a
 * submitMany, waited for the poll too. Now such a change is announced all the same. Here the poll interval and the heartbeat are 60 s and each
 * test's own timeout 20 s: a change not announced is never seen in time.
 * No clock is asserted: each test waits for the event itself.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type { JobId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import * as WakeUp from "../../src/WakeUp.js"
import type { Backend } from "../support/backend.js"
import { interruptAtStatement } from "../support/statementTrap.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { services } from "./services.js"

const request = {
  job_kind: "doc_summarize",
  protocol_id: "announce-interrupted.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** Far beyond each test's timeout: what only a poll or a heartbeat would find is never found. */
const NEVER_IN_TIME = "60 seconds"
const TEST_TIMEOUT_MS = 20_000
const MOST_STATEMENTS = 20

/** Jobs with the in-process wake-up on a fresh store of `backend`. */
const jobsOn = (backend: Backend) =>
  Effect.gen(function*() {
    const store = yield* Layer.build(backend.makeStore())
    const layer = services(Layer.succeedContext(store as Context.Context<JobStore>), Recovery.layerNoStartupRecovery, WakeUp.layerInProcess)
    return Context.get(yield* Layer.build(layer), Jobs)
  })

/**
 * `submit` of `count` new jobs (ids given) interrupted at each statement in
 * turn while an idle pool waits: each job the write committed completes,
 * the test waiting on the job, not a clock.
 */
const submittedAtEach = (
  backend: Backend,
  count: number,
  submit: (jobs: Jobs["Type"], ids: ReadonlyArray<JobId>) => Effect.Effect<unknown, unknown>
) =>
  Effect.gen(function*() {
    const jobs = yield* jobsOn(backend)
    yield* jobs.worker({ concurrency: 1, eagerDispatch: false, pollInterval: NEVER_IN_TIME, handler: () => Effect.succeed({ ok: 1 }) })
    let committedUnanswered = 0
    for (let n = 1; n <= MOST_STATEMENTS; n++) {
      // The pool's loop has looked and found nothing: it waits for an announcement (or its poll, 60 s away).
      yield* sleepRealTime(200)
      const ids = Array.from({ length: count }, () => uuidv7() as JobId)
      const { exit, firedAt } = yield* interruptAtStatement(submit(jobs, ids), n)
      // The jobs of one write commit together.
      if ((yield* Effect.either(jobs.get(ids[0]!)))._tag === "Right") {
        if (Exit.isInterrupted(exit)) committedUnanswered++
        for (const jobId of ids) {
          // Woken by the run's end, which the pool announces: neither waits for a poll.
          const done = yield* jobs.await(jobId, { until: ["completed"], pollInterval: NEVER_IN_TIME })
          assert.strictEqual(done.state, "completed", `statement ${n}`)
        }
      }
      if (firedAt === undefined) break
    }
    assert.isAbove(committedUnanswered, 0, "a submit was interrupted after its write committed")
  })

const backends: ReadonlyArray<Backend> = [sqliteFile, postgres("announce interrupted")]

for (const backend of backends) {
  describe(`a change interrupted after its write, on ${backend.name} with the in-process wake-up`, () => {
    it.scopedLive("issue 15.3 a submit interrupted at any statement, once committed, is picked up by an idle pool at once, not at its next poll", () =>
      submittedAtEach(backend, 1, (jobs, ids) => jobs.submit({ ...request, job_id: ids[0]! })), TEST_TIMEOUT_MS)

    it.scopedLive("issue 15.3 a submitMany interrupted at any statement, once committed, has its jobs picked up by an idle pool at once", () =>
      submittedAtEach(backend, 2, (jobs, ids) => jobs.submitMany(ids.map((job_id) => ({ ...request, job_id })))), TEST_TIMEOUT_MS)

    it.scopedLive("issue 15.3 a start handed to workers interrupted at any statement, once committed, is taken by an idle pool at once", () =>
      Effect.gen(function*() {
        const jobs = yield* jobsOn(backend)
        yield* jobs.worker({ concurrency: 1, eagerDispatch: false, pollInterval: NEVER_IN_TIME, handler: () => Effect.succeed({ ok: 1 }) })
        let committedUnanswered = 0
        for (let n = 1; n <= MOST_STATEMENTS; n++) {
          // Eligible only far ahead: the pool never claims it from the queue, only the offer the start makes.
          const job = yield* jobs.submit({ ...request, run_after: "2999-01-01T00:00:00.000Z" })
          yield* sleepRealTime(200)
          const { exit, firedAt } = yield* interruptAtStatement(jobs.start(job.job_id, { handTo: "workers" }), n)
          if ((yield* jobs.get(job.job_id)).state === "queued") yield* jobs.start(job.job_id, { handTo: "workers" })
          else if (Exit.isInterrupted(exit)) committedUnanswered++
          const done = yield* jobs.await(job.job_id, { until: ["completed"], pollInterval: NEVER_IN_TIME })
          assert.strictEqual(done.state, "completed", `statement ${n}`)
          if (firedAt === undefined) break
        }
        assert.isAbove(committedUnanswered, 0, "a start was interrupted after its write committed")
      }), TEST_TIMEOUT_MS)

    it.scopedLive("issue 15.3 a cancel of a running job interrupted at any statement, once committed, reaches the program and jobs.await at once, not at the next heartbeat", () =>
      Effect.gen(function*() {
        const jobs = yield* jobsOn(backend)
        let committedUnanswered = 0
        for (let n = 1; n <= MOST_STATEMENTS; n++) {
          const job = yield* jobs.submit(request)
          yield* jobs.start(job.job_id)
          const started = yield* Deferred.make<void>()
          const stopped = yield* Deferred.make<void>()
          const program = () =>
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
              Effect.onInterrupt(() => Deferred.succeed(stopped, undefined))
            )
          const running = yield* Effect.fork(jobs.run(job.job_id, program, { heartbeatInterval: NEVER_IN_TIME }))
          yield* Deferred.await(started)
          const awaiting = yield* Effect.fork(jobs.await(job.job_id, { until: ["cancelled"], pollInterval: NEVER_IN_TIME }))
          const { exit, firedAt } = yield* interruptAtStatement(jobs.cancel(job.job_id), n)
          const after = yield* jobs.get(job.job_id)
          if (after.state === "cancelled") {
            if (Exit.isInterrupted(exit)) committedUnanswered++
          } else {
            assert.strictEqual(after.state, "running", `statement ${n}: not cancelled, still running`)
            yield* jobs.cancel(job.job_id)
          }
          yield* Deferred.await(stopped)
          assert.strictEqual((yield* Fiber.join(awaiting)).state, "cancelled", `statement ${n}`)
          yield* Fiber.await(running)
          if (firedAt === undefined) break
        }
        assert.isAbove(committedUnanswered, 0, "a cancel was interrupted after its write committed")
      }), TEST_TIMEOUT_MS)
  })
}
