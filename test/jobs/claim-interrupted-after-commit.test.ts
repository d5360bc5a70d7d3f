/**
 * A claim whose caller is interrupted after the claim committed (found by an
 * outside probe that interrupted every call at every statement): the store
 * finished the write, the interrupt then took effect, and `jobs.claimNext`
 * (or `start`) ended "interrupted" with the job `running` under a run nobody
 * held — its caller never got the Claim, a retry took another job, and
 * recovery stalled it 30 s later. Now the interrupt either lands before the
 * claim was written (nothing changed) or the claim is released to `queued`
 * (`running → queued`, its reason saying so) before the interrupt goes on.
 * Forced here at each statement of the call in turn (test/support/statementTrap.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as Capabilities from "../../src/Capabilities.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs } from "../../src/Jobs.js"
import { type Claim, JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { interruptAtStatement } from "../support/statementTrap.js"
import { postgres, sqliteFile, sqliteMemory } from "../support/stores.js"
import { services, servicesUnder } from "./services.js"

const request = {
  job_kind: "doc_summarize",
  protocol_id: "claim-interrupted.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** More statements than any claim here takes: the loop ends when the call ends before its trap. */
const MOST_STATEMENTS = 40

type Outcome = "untouched" | "released" | "claimed"

/**
 * After `call` on `jobId` ended (`exit`): the job is queued and never left
 * it, or queued again with the release's `running → queued` event, or
 * running under the claim the call answered. Anything else — running under
 * a run its caller never got — fails.
 */
const outcomeOf = (jobs: Jobs["Type"], jobId: JobId, exit: Exit.Exit<Claim | null, unknown>, n: number) =>
  Effect.gen(function*() {
    const job: AiJob = yield* jobs.get(jobId)
    if (Exit.isSuccess(exit) && exit.value !== null && exit.value.job.job_id === jobId) {
      assert.strictEqual(job.state, "running", `statement ${n}: the claim answered is the job's`)
      assert.strictEqual(job.workflow_run_id, exit.value.run.id, `statement ${n}: running under the run its caller holds`)
      return "claimed" as Outcome
    }
    assert.strictEqual(job.state, "queued", `statement ${n}: interrupted, the job is queued (it was ${job.state})`)
    const moves = (yield* jobs.history(jobId)).events
      .filter((event) => event.body["to_state"] !== undefined)
      .map((event) => `${String(event.body["from_state"])}→${String(event.body["to_state"])}`)
    if (moves.length === 1) return "untouched" as Outcome
    assert.deepStrictEqual(moves, ["null→queued", "queued→running", "running→queued"], `statement ${n}: claimed, then released`)
    assert.include(job.status_reason, "was interrupted after its claim was written", `statement ${n}: the release says why`)
    return "released" as Outcome
  })

/** `jobs.claimNext` or `jobs.start` on a fresh job, interrupted at each statement in turn; the outcomes seen. */
const interruptedAtEach = (
  backend: Backend,
  claim: (jobs: Jobs["Type"], jobId: JobId) => Effect.Effect<Claim | null, unknown>,
  counted?: RegExp,
  policy?: Layer.Layer<Capabilities.Capabilities>
) =>
  Effect.gen(function*() {
    const store = Layer.succeedContext((yield* Layer.build(backend.makeStore())) as Context.Context<JobStore>)
    const jobs = Context.get(yield* Layer.build(policy === undefined ? services(store) : servicesUnder(policy, store)), Jobs)
    // One claim first: its policy's verdict remembered (admission.ts), every later claim takes the same statements.
    const first = yield* jobs.submit(request)
    yield* claim(jobs, first.job_id)
    yield* jobs.cancel(first.job_id)
    const seen = new Set<Outcome>()
    for (let n = 1; n <= MOST_STATEMENTS; n++) {
      const job = yield* jobs.submit(request)
      const { exit, firedAt } = yield* interruptAtStatement(claim(jobs, job.job_id), n, counted)
      seen.add(yield* outcomeOf(jobs, job.job_id, exit, n))
      if (firedAt === undefined) {
        assert.isTrue(Exit.isSuccess(exit), `not interrupted at ${n} statements: it claimed`)
        yield* jobs.cancel(job.job_id)
        return seen
      }
      // Left queued: a retry claims it (the only job queued), and the caller holds what it gets.
      const retried = yield* claim(jobs, job.job_id)
      assert.strictEqual(retried?.job.job_id, job.job_id, `statement ${n}: a retry claims the job`)
      yield* jobs.cancel(job.job_id)
    }
    return assert.fail(`the call took more than ${MOST_STATEMENTS} statements`)
  })

/** The default policy, declared to decide each claim anew: no claim in one statement, the general path's transaction. */
const undeterminedPolicy = Layer.effect(
  Capabilities.Capabilities,
  Effect.map(Effect.orDie(Capabilities.make(Capabilities.defaultConfig)), (policy) => ({ ...policy, deterministic: false }))
)

const backends: ReadonlyArray<Backend> = [sqliteMemory, sqliteFile, postgres("claim interrupted")]

for (const backend of backends) {
  describe(`a claim interrupted after it committed, on ${backend.name}`, () => {
    it.scopedLive("R6 jobs.claimNext interrupted at any statement leaves its job untouched or released to queued, never running unheld", () =>
      Effect.gen(function*() {
        // claimNext looks for offered runs once a second (adoptOffered.ts): those looks are not counted.
        const seen = yield* interruptedAtEach(backend, (jobs) => jobs.claimNext(), /^(?![\s\S]*run_offers)/)
        // The statement that commits the claim was among those interrupted: the release was exercised.
        assert.isTrue(seen.has("released"), `a committed claim was interrupted and released (seen: ${[...seen].join(", ")})`)
      }), 60_000)

    it.scopedLive("R6 jobs.claimNext on its general path (a policy that decides each claim) interrupted at any statement leaves its job untouched or released", () =>
      Effect.gen(function*() {
        const seen = yield* interruptedAtEach(backend, (jobs) => jobs.claimNext(), /^(?![\s\S]*run_offers)/, undeterminedPolicy)
        assert.isTrue(seen.has("released"), `a committed claim was interrupted and released (seen: ${[...seen].join(", ")})`)
      }), 60_000)

    it.scopedLive("R6 jobs.start interrupted at any statement leaves its job untouched or released to queued, never running unheld", () =>
      Effect.gen(function*() {
        const seen = yield* interruptedAtEach(backend, (jobs, jobId) => jobs.start(jobId))
        assert.isTrue(seen.has("released"), `a committed start was interrupted and released (seen: ${[...seen].join(", ")})`)
      }), 60_000)
  })
}

/** A job started with `handTo: "workers"`: running under a run offered to workers, which `jobs.claimNext` adopts. */
const offeredJob = (jobs: Jobs["Type"]) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(request)
    const claim = yield* jobs.start(job.job_id, { handTo: "workers" })
    return claim.run.id
  })

/**
 * `jobs.claimNext` adopting an offered run, interrupted at each statement in
 * turn: the run stays offered (the adoption rolled back), or the job is
 * released to `queued`, or the caller holds the claim — never running under
 * a run nobody holds, left for recovery. Each claim looks for offers (the
 * TestClock moved past `claimNext`'s interval first).
 */
const adoptionInterruptedAtEach = (backend: Backend) =>
  Effect.gen(function*() {
    const storeContext = (yield* Layer.build(backend.makeStore())) as Context.Context<JobStore>
    const store = Context.get(storeContext, JobStore)
    const jobs = Context.get(yield* Layer.build(services(Layer.succeedContext(storeContext))), Jobs)
    const claim = Effect.zipRight(TestClock.adjust("2 seconds"), jobs.claimNext())
    // One adoption first: every later one takes the same statements.
    const first = yield* offeredJob(jobs)
    assert.strictEqual((yield* claim)?.run.id, first, "an offered run is adopted by claimNext")
    yield* jobs.cancel((yield* store.getRun(first)).job_id)
    const seen = new Set<Outcome>()
    for (let n = 1; n <= MOST_STATEMENTS; n++) {
      const runId = yield* offeredJob(jobs)
      const jobId = (yield* store.getRun(runId)).job_id
      const { exit, firedAt } = yield* interruptAtStatement(claim, n)
      const job = yield* jobs.get(jobId)
      const moves = (yield* jobs.history(jobId)).events
        .filter((event) => event.body["to_state"] !== undefined)
        .map((event) => `${String(event.body["from_state"])}→${String(event.body["to_state"])}`)
      if (Exit.isSuccess(exit) && exit.value?.run.id === runId) {
        assert.strictEqual(job.workflow_run_id, runId, `statement ${n}: running under the run its caller holds`)
        seen.add("claimed")
      } else if (job.state === "running") {
        assert.strictEqual(job.workflow_run_id, runId, `statement ${n}: still under the offered run`)
        assert.isTrue(yield* store.isOffered!(runId), `statement ${n}: running, its run is still offered (nobody holds it otherwise)`)
        assert.deepStrictEqual(moves, ["null→queued", "queued→running"], `statement ${n}: untouched`)
        seen.add("untouched")
      } else {
        assert.strictEqual(job.state, "queued", `statement ${n}: interrupted, the job is queued (it was ${job.state})`)
        assert.deepStrictEqual(moves, ["null→queued", "queued→running", "running→queued"], `statement ${n}: adopted, then released`)
        assert.include(job.status_reason, "was interrupted after its claim was written", `statement ${n}: the release says why`)
        assert.strictEqual((yield* store.getRun(runId)).status, "failed", `statement ${n}: the adopted run ended`)
        seen.add("released")
      }
      if (firedAt === undefined) {
        assert.isTrue(Exit.isSuccess(exit), `not interrupted at ${n} statements: it claimed`)
        yield* jobs.cancel(jobId)
        return seen
      }
      // Offered or queued again: a retry claims it (the only job there), and the caller holds what it gets.
      const retried = yield* claim
      assert.strictEqual(retried?.job.job_id, jobId, `statement ${n}: a retry claims the job`)
      yield* jobs.cancel(jobId)
    }
    return assert.fail(`the call took more than ${MOST_STATEMENTS} statements`)
  })

for (const backend of backends) {
  describe(`an adoption of an offered run interrupted after it committed, on ${backend.name}`, () => {
    it.scoped("R6 jobs.claimNext adopting a run offered to workers, interrupted at any statement: the run still offered, or its job released to queued, never running unheld", () =>
      Effect.gen(function*() {
        const seen = yield* adoptionInterruptedAtEach(backend)
        assert.isTrue(seen.has("released"), `a committed adoption was interrupted and released (seen: ${[...seen].join(", ")})`)
      }), 60_000)
  })
}

/**
 * The store, its adoptions interrupted as soon as they noted their run — before
 * their commit. Where a store call is interruptible (SQLite) the adoption then
 * rolls back: its run is still offered, and the note must not release it; where
 * it is not (PostgreSQL's calls run whole), it commits and is released.
 */
const interruptedOnNote = (store: JobStore["Type"]): JobStore["Type"] => ({
  ...store,
  adoptOfferedRun: (options = {}) =>
    Effect.withFiberRuntime((fiber) =>
      store.adoptOfferedRun!({
        ...options,
        adopting: (claim) => {
          options.adopting?.(claim)
          fiber.unsafeInterruptAsFork(FiberId.none)
        }
      })
    )
})

for (const backend of backends) {
  describe(`an adoption interrupted after it noted its run, on ${backend.name}`, () => {
    it.scoped("R6 jobs.claimNext adopting an offered run, interrupted before its commit at the instant of the start: the run is still offered or the job released, never both", () =>
      Effect.gen(function*() {
        const real = Context.get((yield* Layer.build(backend.makeStore())) as Context.Context<JobStore>, JobStore)
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, interruptedOnNote(real)))), Jobs)
        // The start and the adoption at one instant: the run's heartbeat alone cannot tell them apart.
        yield* TestClock.adjust("2 seconds")
        const runId = yield* offeredJob(jobs)
        // On a fiber of its own: the store interrupts the fiber that adopts.
        const exit = yield* Fiber.await(yield* Effect.fork(jobs.claimNext()))
        assert.isTrue(Exit.isInterrupted(exit), "the claim was interrupted")
        const jobId = (yield* real.getRun(runId)).job_id
        const job = yield* jobs.get(jobId)
        const offered = yield* real.isOffered!(runId)
        const moves = (yield* jobs.history(jobId)).events
          .filter((event) => event.body["to_state"] !== undefined)
          .map((event) => `${String(event.body["from_state"])}→${String(event.body["to_state"])}`)
        if (offered) {
          // Rolled back: the run is still offered, its job running under it, untouched.
          assert.strictEqual(job.state, "running", "the offered run's job is still running")
          assert.strictEqual(job.workflow_run_id, runId)
          assert.deepStrictEqual(moves, ["null→queued", "queued→running"], "nothing released")
        } else {
          assert.strictEqual(job.state, "queued", `committed, the adoption is released (the job was ${job.state})`)
          assert.deepStrictEqual(moves, ["null→queued", "queued→running", "running→queued"])
        }
        if (backend.name.startsWith("SQLite")) assert.isTrue(offered, "on SQLite the interrupted adoption rolled back")
      }), 60_000)
  })
}
