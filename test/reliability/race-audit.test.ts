/**
 * A race audit: each test forces one interleaving of two writers on one
 * database — two stores, as two processes would hold them — on purpose, never
 * by luck. One writer is stopped at a gate inside its transaction (after its
 * read, or after its write, with what it locked still held); the rival is
 * started and let run until it has finished or waits for a lock; then the gate
 * opens. The outcome must be one that some serial order of the two gives: no
 * lost update, no event without its change or change without its event, no
 * job in an impossible state, a typed error for the loser, and the same on
 * SQLite and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { randomUUID } from "node:crypto"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as JobsModule from "../../src/Jobs.js"
import { Jobs } from "../../src/Jobs.js"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { newJob } from "../store/fixtures.js"
import type { WorkflowRunId } from "../../src/domain/Ids.js"
import * as Recovery from "../../src/Recovery.js"
import * as WakeUp from "../../src/WakeUp.js"
import * as Capabilities from "../../src/Capabilities.js"
import * as Duration from "effect/Duration"
import * as DateTime from "effect/DateTime"
import { type Gate, holdingScan, interleave, makeGate, realSleep, type SharedDatabase, sharedBackends } from "../jobs/shared-database.js"
import { audit, auditAfterPrune } from "./invariants.js"

type Store = JobStore["Type"]

/** `store` with a gate after each of the methods named. */
const gated = (store: Store, gate: Gate, methods: ReadonlyArray<"getJob" | "lockJob" | "setPinned" | "createJobs">): Store => {
  const wrapped: Record<string, unknown> = { ...store }
  for (const name of methods) {
    const original = store[name] as (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
    wrapped[name] = (...args: ReadonlyArray<unknown>) => gate.after(original(...args))
  }
  return wrapped as unknown as Store
}

/**
 * `store` whose `pruneJobs` waits at `gate` inside its transaction, after its
 * DELETE (the rows it deleted still locked), before its summary is built.
 */
const gatedPrune = (store: Store, gate: Gate): Store => ({
  ...store,
  pruneJobs: (options) =>
    store.pruneJobs({
      ...options,
      events: (report) =>
        gate.after(Effect.suspend(() => {
          const records = options.events?.(report) ?? []
          return Effect.isEffect(records) ? records : Effect.succeed(records)
        }))
    })
})

/**
 * `store` whose `createJobs` runs in a transaction held open at `gate` after
 * its rows are written (PostgreSQL: their keys locked until it ends).
 */
const heldCreate = (store: Store, gate: Gate): Store => ({
  ...store,
  createJobs: (jobs, options) => store.transaction(gate.after(store.createJobs(jobs, options)))
})

/**
 * Jobs over `store` as test/jobs/services.ts composes it, but with a recorder
 * that keeps every event: a Janitor pass 31 days on (TestClock) would
 * otherwise purge the events these tests read, and the audit's chains with them.
 * A purge is asked for with its own cutoff (`purge`).
 */
const services = (store: Store) =>
  JobsModule.layer().pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    // Purges in batches of 2, so a purge racing another spans several batches.
    Layer.provideMerge(FlightRecorder.layer({ retention: Duration.infinity, purgeBatchSize: 2 })),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(Layer.succeed(JobStore, store))
  )

/**
 * Two processes on one database: `first` (whose store has the gate) and
 * `second`, each with its Jobs over its own store, and the recorder and store
 * of each for the Janitor.
 */
const twoProcesses = (database: SharedDatabase, wrap: (store: Store, gate: Gate) => Store) =>
  Effect.gen(function*() {
    const gate = yield* makeGate
    const firstContext = yield* Layer.build(services(wrap(yield* database.store(), gate)))
    const secondContext = yield* Layer.build(services(yield* database.store()))
    return {
      gate,
      first: Context.get(firstContext, Jobs),
      second: Context.get(secondContext, Jobs),
      store: Context.get(secondContext, JobStore),
      purge: (process: "first" | "second", cutoff: DateTime.Utc) =>
        Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.enforceRetention({ cutoff })).pipe(
          Effect.provide(process === "first" ? firstContext : secondContext)
        ),
      recover: (process: "first" | "second") =>
        Effect.provide(Recovery.recoverStalledRuns(), process === "first" ? firstContext : secondContext),
      janitor: (process: "first" | "second") =>
        Janitor.runOnce({ olderThan: "30 days", keepNewest: 0 }).pipe(
          Effect.provide(Context.pick(JobStore, FlightRecorder.FlightRecorder)(process === "first" ? firstContext : secondContext))
        )
    }
  })

/** The `system` events of one job, oldest first, as stored. */
const systemEvents = (store: Store, jobId: JobId) =>
  Effect.map(store.listEvents({ job_id: jobId, types: ["system"], limit: 1000 }), (page) => page.items)

/** A failed job last changed 31 days ago (TestClock), old enough for a Janitor pass with `olderThan: 30 days`. */
const oldFailedJob = (jobs: Jobs["Type"]) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize())
    yield* jobs.fail(job.job_id, "gave up", { actor: "human" })
    yield* TestClock.adjust("31 days")
    return job
  })

/**
 * `store` whose `adoptOfferedRun` (a pool's look for offered runs) runs in a
 * transaction held open at `gate` once it has taken an offer: the job and run
 * it locked and the heartbeat it refreshed not yet committed.
 */
const heldAdopt = (store: Store, gate: Gate): Store => ({
  ...store,
  adoptOfferedRun: (options) => store.transaction(gate.after(store.adoptOfferedRun!(options)))
})

/** `store` whose every purge batch is held open at `gate` once it has deleted its rows (the first batch, once armed). */
const heldPurge = (store: Store, gate: Gate): Store => ({
  ...store,
  purgeEventsBatch: (options) => store.transaction(gate.after(store.purgeEventsBatch(options)))
})

/**
 * `store` whose one-statement end of a running job (`finishRunningJob`: an
 * operator's cancel, fail or complete of a running job) is held open at
 * `gate` once written, the job and its run locked.
 */
const heldFinish = (store: Store, gate: Gate): Store => ({
  ...store,
  finishRunningJob: (end) => store.transaction(gate.after(store.finishRunningJob!(end)))
})

/** Every stored event, oldest first. */
const allEvents = (store: Store) => Effect.map(store.listEvents({ limit: 1000 }), (page) => page.items)

/** A job stalled and resumed with `handTo: "workers"`: its new run offered, fresh. */
const offeredRun = (jobs: Jobs["Type"], store: Store) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize())
    yield* jobs.start(job.job_id)
    yield* TestClock.adjust("31 seconds")
    yield* store.stallStaleRuns({ heartbeatBefore: yield* DateTime.now, threshold: Duration.seconds(30), limit: 10, recordRecovery: true })
    const { run } = yield* jobs.resume(job.job_id, { actor: "human", reason: "worker replaced", handTo: "workers" })
    return { job, run }
  })

/**
 * A job resumed with `handTo: "workers"` that no pool has taken for 31 s
 * (TestClock): its offered run is past recovery's 30 s threshold.
 */
const staleOffer = (jobs: Jobs["Type"], store: Store) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize())
    const { run: first } = yield* jobs.start(job.job_id)
    yield* TestClock.adjust("31 seconds")
    const stalled = yield* store.stallStaleRuns({ heartbeatBefore: yield* DateTime.now, threshold: Duration.seconds(30), limit: 10, recordRecovery: true })
    assert.deepStrictEqual(stalled.map((s) => s.run.id), [first.id])
    const offered = yield* jobs.resume(job.job_id, { actor: "human", reason: "worker replaced", handTo: "workers" })
    yield* TestClock.adjust("31 seconds")
    return { job, run: offered.run }
  })

const tagOf = <A, E>(either: Either.Either<A, E>) => Either.isRight(either) ? "ok" : (either.left as { readonly _tag?: string })._tag

for (const backend of sharedBackends) {
  describe(`race audit on ${backend.name}`, () => {
    it.effect("R4 two addMetrics on one job at once, in two processes: both deltas are summed, neither is lost", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race add metrics")
        // The first process stops right after it read the job (lockJob or getJob), before its write.
        const { first, gate, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["getJob", "lockJob"]))
        const job = yield* second.submit(summarize())
        const { first: a, second: b } = yield* interleave(
          database,
          backend,
          gate,
          first.addMetrics(job.job_id, { input_tokens: 100 }),
          second.addMetrics(job.job_id, { input_tokens: 5 })
        )
        assert.deepStrictEqual([tagOf(a), tagOf(b)], ["ok", "ok"])
        assert.strictEqual((yield* store.getJob(job.job_id)).metrics.input_tokens, 105, "both deltas in the sum")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R4 R8 an addMetrics holding its job while the job's worker in another process settles: the settle's duration and the delta are both kept", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race add metrics settle")
        const { first, gate, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["getJob", "lockJob"]))
        const job = yield* second.submit(summarize())
        yield* second.start(job.job_id)
        const { first: added, second: settled } = yield* interleave(
          database,
          backend,
          gate,
          first.addMetrics(job.job_id, { input_tokens: 7 }),
          // The program takes 2 s of job time (TestClock), the duration its settle adds.
          second.run(job.job_id, () => Effect.as(TestClock.adjust("2 seconds"), { done: true }))
        )
        assert.deepStrictEqual([tagOf(added), tagOf(settled)], ["ok", "ok"])
        const after = yield* store.getJob(job.job_id)
        assert.strictEqual(after.state, "completed")
        assert.deepStrictEqual([after.metrics.input_tokens, after.metrics.duration_ms], [7, 2000], "neither write lost the other's")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 a pin racing an operator's completion in another process: its event names the state the job was pinned in, so the events chain", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race pin complete")
        const { first, gate, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["getJob", "lockJob"]))
        const job = yield* second.submit(summarize())
        yield* second.start(job.job_id)
        const { first: pinned, rivalFirst, second: completed } = yield* interleave(
          database,
          backend,
          gate,
          first.pin(job.job_id, { actor: "human" }),
          second.complete(job.job_id, { actor: "human", reason: "done by hand" })
        )
        assert.deepStrictEqual([tagOf(pinned), tagOf(completed)], ["ok", "ok"])
        const after = yield* store.getJob(job.job_id)
        assert.deepStrictEqual([after.state, after.is_pinned], ["completed", true])
        const pinEvent = (yield* systemEvents(store, job.job_id)).find((e) => String(e.body["reason"] ?? "").startsWith("pinned"))
        // The pin read the job running. If the completion committed while the pin waited, the pin
        // came after it and its event must say completed; if it waited for the pin, running.
        const pinnedIn = rivalFirst ? "completed" : "running"
        assert.deepStrictEqual([pinEvent?.body["from_state"], pinEvent?.body["to_state"]], [pinnedIn, pinnedIn])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 R6 a retry holding its job when the Janitor prunes: the job is retried and kept (queued), the pass prunes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race retry then prune")
        // The first process stops right after it locked the job, before it moves it.
        const { first, gate, janitor, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["lockJob"]))
        const job = yield* oldFailedJob(second)
        const { first: retried, second: pass } = yield* interleave(
          database,
          backend,
          gate,
          first.retry(job.job_id, { actor: "human" }),
          janitor("second")
        )
        assert.strictEqual(tagOf(retried), "ok")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
        if (Either.isLeft(pass)) return assert.fail(`the pass failed: ${String(pass.left)}`)
        // As the serial order (the retry, then the pass) reports it: the job is queued, not scanned.
        const { pruned, scanned, spared_pinned, spared_window } = pass.right
        assert.deepStrictEqual({ scanned, pruned, spared_pinned, spared_window }, { scanned: 0, pruned: 0, spared_pinned: 0, spared_window: 0 })
        assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 R6 a retry of a job the Janitor is pruning fails with NotFound and records nothing; the job, runs and all are gone", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race prune then retry")
        // The first process's pass stops after its DELETE, inside its transaction.
        const { gate, janitor, second, store } = yield* twoProcesses(database, gatedPrune)
        const job = yield* oldFailedJob(second)
        const eventsBefore = (yield* systemEvents(store, job.job_id)).length
        const { first: pass, second: retried } = yield* interleave(
          database,
          backend,
          gate,
          janitor("first"),
          second.retry(job.job_id, { actor: "human" })
        )
        if (Either.isLeft(pass)) return assert.fail(`the pass failed: ${String(pass.left)}`)
        assert.strictEqual(pass.right.pruned, 1)
        assert.strictEqual(tagOf(retried), "NotFound")
        assert.strictEqual(tagOf(yield* Effect.either(store.getJob(job.job_id))), "NotFound")
        assert.strictEqual((yield* systemEvents(store, job.job_id)).length, eventsBefore, "no retry event without its change")
        assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 a pin holding its job when the Janitor prunes: the job is kept, and the pass reports what the serial order does (nothing scanned), never spared by a window of 0", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race pin then prune")
        // The first process stops after its pin's UPDATE, inside its transaction.
        const { first, gate, janitor, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["setPinned"]))
        const job = yield* oldFailedJob(second)
        const { first: pinned, second: pass } = yield* interleave(database, backend, gate, first.pin(job.job_id), janitor("second"))
        assert.strictEqual(tagOf(pinned), "ok")
        const after = yield* store.getJob(job.job_id)
        assert.deepStrictEqual([after.state, after.is_pinned], ["failed", true])
        if (Either.isLeft(pass)) return assert.fail(`the pass failed: ${String(pass.left)}`)
        // As the serial order (the pin, then the pass) reports it: the pin made the job new, so it
        // is not scanned — never "spared by the window", which keepNewest 0 cannot spare.
        const { pruned, scanned, spared_pinned, spared_window } = pass.right
        assert.deepStrictEqual({ scanned, pruned, spared_pinned, spared_window }, { scanned: 0, pruned: 0, spared_pinned: 0, spared_window: 0 })
        assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R18 a pin of a job the Janitor is pruning fails with NotFound and records no pin event", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race prune then pin")
        const { gate, janitor, second, store } = yield* twoProcesses(database, gatedPrune)
        const job = yield* oldFailedJob(second)
        const eventsBefore = (yield* systemEvents(store, job.job_id)).length
        const { first: pass, second: pinned } = yield* interleave(database, backend, gate, janitor("first"), second.pin(job.job_id))
        if (Either.isLeft(pass)) return assert.fail(`the pass failed: ${String(pass.left)}`)
        assert.strictEqual(pass.right.pruned, 1)
        assert.strictEqual(tagOf(pinned), "NotFound")
        assert.strictEqual((yield* systemEvents(store, job.job_id)).length, eventsBefore, "no pin event without its change")
        assert.deepStrictEqual(auditAfterPrune(yield* database.snapshot), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a retry holding a failed job when a cancel comes: retried, then cancelled from queued; both succeed and the events chain", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race retry then cancel")
        const { first, gate, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["lockJob"]))
        const job = yield* second.submit(summarize())
        yield* second.fail(job.job_id, "boom", { actor: "human" })
        const { first: retried, second: cancelled } = yield* interleave(
          database,
          backend,
          gate,
          first.retry(job.job_id, { actor: "human" }),
          second.cancel(job.job_id, { actor: "human", reason: "stop" })
        )
        assert.deepStrictEqual([tagOf(retried), tagOf(cancelled)], ["ok", "ok"])
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "cancelled")
        const moves = (yield* systemEvents(store, job.job_id)).map((e) => `${e.body["from_state"]}→${e.body["to_state"]}`)
        assert.deepStrictEqual(moves, ["null→queued", "queued→failed", "failed→queued", "queued→cancelled"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a cancel holding a failed job when a retry comes: the cancel fails with IllegalTransition failed→cancelled and records nothing; the retry queues it", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race cancel then retry")
        const { first, gate, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["lockJob"]))
        const job = yield* second.submit(summarize())
        yield* second.fail(job.job_id, "boom", { actor: "human" })
        const { first: cancelled, second: retried } = yield* interleave(
          database,
          backend,
          gate,
          first.cancel(job.job_id, { actor: "human", reason: "stop" }),
          second.retry(job.job_id, { actor: "human" })
        )
        assert.deepStrictEqual([tagOf(cancelled), tagOf(retried)], ["IllegalTransition", "ok"])
        if (Either.isLeft(cancelled) && cancelled.left._tag === "IllegalTransition") {
          assert.deepStrictEqual([cancelled.left.from, cancelled.left.to], ["failed", "cancelled"])
        }
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
        const moves = (yield* systemEvents(store, job.job_id)).map((e) => `${e.body["from_state"]}→${e.body["to_state"]}`)
        assert.deepStrictEqual(moves, ["null→queued", "queued→failed", "failed→queued"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 16 two submitMany sharing a job id, in two processes, the first holding its uncommitted rows: one queues all, the other gets AlreadyExists and queues none", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race submit many")
        const { first, gate, second, store } = yield* twoProcesses(database, heldCreate)
        const [a, shared, c] = [randomUUID(), randomUUID(), randomUUID()] as unknown as [JobId, JobId, JobId]
        const { first: one, rivalFirst, second: other } = yield* interleave(
          database,
          backend,
          gate,
          first.submitMany([summarize({ job_id: a }), summarize({ job_id: shared })]),
          second.submitMany([summarize({ job_id: shared }), summarize({ job_id: c })])
        )
        assert.isFalse(rivalFirst, "the second batch waited for the first's uncommitted rows")
        assert.deepStrictEqual([tagOf(one), tagOf(other)], ["ok", "AlreadyExists"])
        assert.strictEqual((yield* store.getJob(a)).state, "queued")
        assert.strictEqual((yield* store.getJob(shared)).state, "queued")
        assert.strictEqual(tagOf(yield* Effect.either(store.getJob(c))), "NotFound", "the losing batch queued nothing")
        assert.strictEqual((yield* systemEvents(store, c)).length, 0, "nor recorded its events")
        assert.strictEqual((yield* systemEvents(store, shared)).length, 1, "the shared id's submit recorded once")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 R6c recovery holding a stale offered run when a pool in another process looks for offers: the run is stalled and the pool takes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race recovery then adopt")
        // The first process's recovery scan waits inside its transaction, its rows locked.
        const { first, gate, recover, second, store } = yield* twoProcesses(database, (s, g) => holdingScan(s, g.after(Effect.void)))
        const { job, run } = yield* staleOffer(first, store)
        const { first: recovered, second: claimed } = yield* interleave(database, backend, gate, recover("first"), second.claimNext())
        if (Either.isLeft(recovered)) return assert.fail(`recovery failed: ${String(recovered.left)}`)
        assert.deepStrictEqual(recovered.right.recovered.map((r) => r.id), [run.id])
        if (Either.isLeft(claimed)) return assert.fail(`the look failed: ${String(claimed.left)}`)
        assert.isNull(claimed.right, "no pool runs a stalled run")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        assert.isNull(yield* store.adoptOfferedRun!({}), "the stale offer is never taken later either")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 R6c a pool in another process holding the offered run it took when recovery scans: recovery leaves it, the pool runs it to completion", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race adopt then recovery")
        // The first process's look for offers waits inside its transaction once it took one.
        const { first, gate, recover, second, store } = yield* twoProcesses(database, heldAdopt)
        const { job, run } = yield* staleOffer(second, store)
        const { first: claimed, rivalFirst, second: recovered } = yield* interleave(database, backend, gate, first.claimNext(), recover("second"))
        // The scan waits for the look that holds the run's job (SQLite: for the write lock). PostgreSQL's
        // skipped it and ended at once: right here, but a holder that left the run running (a metrics
        // write, a recoverer that died) left it stale after the scan (test/jobs/recovery-crash.test.ts).
        assert.isFalse(rivalFirst)
        if (Either.isLeft(claimed)) return assert.fail(`the look failed: ${String(claimed.left)}`)
        assert.deepStrictEqual([claimed.right?.job.job_id, claimed.right?.run.id], [job.job_id, run.id], "the pool took the offered run")
        if (Either.isLeft(recovered)) return assert.fail(`recovery failed: ${String(recovered.left)}`)
        assert.deepStrictEqual(recovered.right.recovered, [], "a run its pool holds is not stalled")
        assert.strictEqual((yield* store.getRun(run.id)).status, "running")
        assert.deepStrictEqual(yield* first.run(job.job_id, () => Effect.succeed({ adopted: true })), { adopted: true })
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.6 R18 await in one process on a job the Janitor of another prunes meanwhile fails with NotFound, not a timeout or a defect", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race await prune")
        const { first, janitor, second } = yield* twoProcesses(database, (s) => s)
        const job = yield* oldFailedJob(second)
        const waiting = yield* Effect.fork(Effect.either(first.await(job.job_id, { until: ["completed"], timeout: "1 hour", pollInterval: "1 second" })))
        // Its first read made (the job failed, not wanted), it sleeps on the TestClock until its next.
        while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* realSleep(5)
        const pass = yield* janitor("second")
        assert.strictEqual(pass.pruned, 1)
        yield* TestClock.adjust("1 second")
        const outcome = yield* Fiber.join(waiting)
        assert.strictEqual(tagOf(outcome), "NotFound")
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6c two pools in two processes look for the one offered run at once, the first holding it: exactly one takes it, the other takes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race two pools adopt")
        const { first, gate, second, store } = yield* twoProcesses(database, heldAdopt)
        const job = yield* second.submit(summarize())
        const { run: lost } = yield* second.start(job.job_id)
        yield* TestClock.adjust("31 seconds")
        yield* store.stallStaleRuns({ heartbeatBefore: yield* DateTime.now, threshold: Duration.seconds(30), limit: 10, recordRecovery: true })
        const { run } = yield* second.resume(job.job_id, { actor: "human", reason: "worker replaced", handTo: "workers" })
        assert.notStrictEqual(run.id, lost.id)
        const { first: one, second: other } = yield* interleave(database, backend, gate, first.claimNext(), second.claimNext())
        if (Either.isLeft(one) || Either.isLeft(other)) return assert.fail("a look failed")
        assert.deepStrictEqual([one.right?.run.id, other.right], [run.id, null], "taken once, by the pool that held it")
        assert.isNull(yield* store.adoptOfferedRun!({}), "and never again")
        assert.deepStrictEqual(yield* first.run(job.job_id, () => Effect.succeed({ once: true })), { once: true })
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R13 two retention purges in two processes at once, one holding its batch: every expired event purged once, the counts add up, no recent event touched", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race two purges")
        const { gate, purge, second, store } = yield* twoProcesses(database, heldPurge)
        for (let i = 0; i < 4; i++) yield* second.submit(summarize())
        const expired = (yield* allEvents(store)).length
        yield* TestClock.adjust("8 days")
        const cutoff = DateTime.subtract(yield* DateTime.now, { days: 7 })
        const recent = yield* second.submit(summarize())
        const kept = (yield* allEvents(store)).filter((e) => e.job_id === recent.job_id).map((e) => e.event_id)
        assert.isAbove(expired, 4)
        const { first: a, second: b } = yield* interleave(database, backend, gate, purge("first", cutoff), purge("second", cutoff))
        if (Either.isLeft(a) || Either.isLeft(b)) return assert.fail("a purge failed")
        assert.strictEqual(a.right + b.right, expired, "each expired event counted by one purge")
        assert.isAtLeast(a.right, 2, "the held purge kept its first batch")
        assert.deepStrictEqual((yield* allEvents(store)).map((e) => e.event_id), kept, "only the recent events are left")
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 R6c an operator's cancel in another process while a pool holds the offered run it took: the cancel waits for it, then cancels the job and ends that run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race adopt then cancel")
        const { first, gate, second, store } = yield* twoProcesses(database, heldAdopt)
        const { job, run } = yield* offeredRun(second, store)
        const { first: claimed, rivalFirst, second: cancelled } = yield* interleave(
          database,
          backend,
          gate,
          first.claimNext(),
          second.cancel(job.job_id, { actor: "human", reason: "not needed" })
        )
        assert.isFalse(rivalFirst, "the cancel waited for the pool's look")
        if (Either.isLeft(claimed)) return assert.fail(`the look failed: ${String(claimed.left)}`)
        assert.strictEqual(claimed.right?.run.id, run.id)
        assert.strictEqual(tagOf(cancelled), "ok")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "cancelled")
        assert.strictEqual((yield* store.getRun(run.id)).status, "cancelled")
        assert.isNull(yield* store.adoptOfferedRun!({}))
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 R6c a pool in another process looking while an operator's cancel holds the offered job: the pool takes nothing, the job is cancelled with its run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race cancel then adopt")
        // The operator's cancel of the running job: one statement (finishRunningJob), held once written.
        const { first, gate, second, store } = yield* twoProcesses(database, heldFinish)
        const { job, run } = yield* offeredRun(second, store)
        const { first: cancelled, rivalFirst, second: claimed } = yield* interleave(
          database,
          backend,
          gate,
          first.cancel(job.job_id, { actor: "human", reason: "not needed" }),
          second.claimNext()
        )
        assert.isFalse(rivalFirst, "the pool's look waited for the cancel")
        assert.strictEqual(tagOf(cancelled), "ok")
        if (Either.isLeft(claimed)) return assert.fail(`the look failed: ${String(claimed.left)}`)
        assert.isNull(claimed.right, "no pool runs a cancelled job")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "cancelled")
        assert.strictEqual((yield* store.getRun(run.id)).status, "cancelled")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6c two operators in two processes resume one stalled job for workers at once: one new run, offered once; the other gets IllegalTransition and writes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race two resumes")
        const { first, gate, second, store } = yield* twoProcesses(database, (s, g) => gated(s, g, ["lockJob"]))
        const job = yield* second.submit(summarize())
        const { run: lost } = yield* second.start(job.job_id)
        yield* TestClock.adjust("31 seconds")
        yield* store.stallStaleRuns({ heartbeatBefore: yield* DateTime.now, threshold: Duration.seconds(30), limit: 10, recordRecovery: true })
        const { first: one, second: other } = yield* interleave(
          database,
          backend,
          gate,
          first.resume(job.job_id, { actor: "human", reason: "first operator", handTo: "workers" }),
          second.resume(job.job_id, { actor: "human", reason: "second operator", handTo: "workers" })
        )
        if (Either.isLeft(one)) return assert.fail(`the first resume failed: ${String(one.left)}`)
        assert.strictEqual(tagOf(other), "IllegalTransition")
        if (Either.isLeft(other) && other.left._tag === "IllegalTransition") {
          assert.deepStrictEqual([other.left.from, other.left.to], ["running", "running"], "it names the state the job is in")
        }
        const runs = yield* store.listRuns(job.job_id)
        assert.deepStrictEqual(runs.map((r) => r.id).sort(), [lost.id, one.right.run.id].sort(), "no run of the losing resume")
        const after = yield* store.getJob(job.job_id)
        assert.deepStrictEqual([after.state, after.workflow_run_id, after.status_reason], ["running", one.right.run.id, "first operator"])
        const claimed = yield* second.claimNext()
        assert.strictEqual(claimed?.run.id, one.right.run.id, "the resumed run is offered")
        assert.isNull(yield* store.adoptOfferedRun!({}), "once")
        assert.deepStrictEqual(yield* second.run(job.job_id, () => Effect.succeed({ resumed: 1 })), { resumed: 1 })
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 16 an eager submit's create-and-claim (createClaimed) of an id another process's batch holds uncommitted fails with AlreadyExists, writing no run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("race create claimed")
        const gate = yield* makeGate
        const holder = heldCreate(yield* database.store(), gate)
        const eager = yield* database.store()
        const id = randomUUID() as JobId
        const runId = randomUUID() as WorkflowRunId
        const { first: batch, rivalFirst, second: created } = yield* interleave(
          database,
          backend,
          gate,
          holder.createJobs([newJob({ job_id: id })]),
          eager.createClaimed!(newJob({ job_id: id }), { events: [], claim: { run_id: runId, records: [] } })
        )
        assert.isFalse(rivalFirst, "the create-and-claim waited for the batch's uncommitted row")
        assert.strictEqual(tagOf(batch), "ok")
        assert.strictEqual(tagOf(created), "AlreadyExists")
        if (Either.isLeft(created) && created.left._tag === "AlreadyExists") assert.strictEqual(created.left.id, id)
        assert.strictEqual((yield* eager.getJob(id)).state, "queued")
        assert.deepStrictEqual(yield* eager.listRuns(id), [], "no run written for the losing claim")
        assert.strictEqual(tagOf(yield* Effect.either(eager.getRun(runId))), "NotFound")
      }).pipe(Effect.scoped), 60_000)
  })
}
