/**
 * R8/R6 a run handed back to the queue while the database fails (an outside
 * probe's lead): a pool's graceful shutdown, or a caller's interrupt of
 * `Jobs.run`, interrupts a program inside a node; the node's own end write
 * (`finishNode`, "cancelled: interrupted") and then the release (the run
 * ended `failed`, the job back to `queued`, its record) follow, each its own
 * write.
 *
 * - When the node's end write is refused (a dropped statement) and the
 *   release then goes through, the node was left `running` in a run that
 *   had ended `failed` — for good: nothing ever writes to an ended run's
 *   nodes. The release must end the run's open nodes with it, in its own
 *   transaction.
 * - When every write fails, the shutdown (or the interrupt) must still end
 *   promptly — not hang, not cancel — and leave the job `running` under its
 *   silent run for recovery, which, once the database is back, stalls each
 *   such run exactly once. Its log said "trying again in 100 ms" — a retry
 *   an interrupted run never makes — and nothing after: it now says the run
 *   is left to recovery.
 *
 * The outage is forced by wrapping the real store (test/support/outage.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { Jobs, RunContext } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { audit } from "../reliability/invariants.js"
import type { Snapshot } from "../reliability/snapshot.js"
import { summarize } from "../jobs/jobs.suite.js"
import { type SharedDatabase, sharedBackends } from "../jobs/shared-database.js"
import { capturingLog } from "../support/capturedLog.js"
import { droppingNodeEnds, makeOutage, type Outage } from "../support/outage.js"
import { engineOn } from "./engine.js"


/** `droppingNodeEnds`, and the release's own write (`releaseRun`, inside its transaction) refused while the outage lasts. */
const refusingReleases = (outage: Outage) => (store: JobStore["Type"]): JobStore["Type"] => {
  const dropping = droppingNodeEnds(outage)(store)
  return { ...dropping, releaseRun: (runId, options) => outage.during("JobStore.releaseRun", () => store.releaseRun(runId, options)) }
}

/** Every write a run's end or release makes is refused while the outage lasts. */
const refusingWrites = (outage: Outage) => (store: JobStore["Type"]): JobStore["Type"] => ({
  ...store,
  transaction: (effect) => outage.during("JobStore.transaction", () => store.transaction(effect)),
  heartbeat: (runId) => outage.during("JobStore.heartbeat", () => store.heartbeat(runId)),
  startNode: (node) => outage.during("JobStore.startNode", () => store.startNode(node)),
  finishNode: (nodeId, outcome) => outage.during("JobStore.finishNode", () => store.finishNode(nodeId, outcome)),
  releaseRun: (runId, options) => outage.during("JobStore.releaseRun", () => store.releaseRun(runId, options)),
  ...(store.settleRun === undefined ? {} : { settleRun: (settle) => outage.during("JobStore.settleRun", () => store.settleRun!(settle)) }),
  ...(store.finishRunningJob === undefined ? {} : { finishRunningJob: (end) => outage.during("JobStore.finishRunningJob", () => store.finishRunningJob!(end)) })
})

/** A program that opens a node and stays in it; `inNode` is told once the node's start is written. */
const inNodeForever = (inNode: (job: AiJob) => Effect.Effect<void>) => (ctx: RunContext) =>
  ctx.node({ node_id: "slow", node_type: "llm" }, Effect.zipRight(inNode(ctx.job), Effect.as(Effect.never, { done: "never" })))

/** A latch opened once `n` programs have reached their node. */
const latch = (n: number) =>
  Effect.map(Deferred.make<void>(), (all) => {
    let arrived = 0
    return {
      arrive: () => Effect.suspend(() => (++arrived === n ? Deferred.succeed(all, undefined) : Effect.void)),
      all: Deferred.await(all)
    }
  })

/** What the log says of runs whose end was refused while they were interrupted: left to recovery, never "trying again". */
const saysLeftToRecovery = (warnings: ReadonlyArray<string>, jobs: ReadonlyArray<AiJob>) => {
  assert.deepStrictEqual(warnings.filter((line) => line.includes("trying again")), [], "no retry is promised that will not happen")
  for (const job of jobs) {
    assert.lengthOf(warnings.filter((line) => line.includes(job.job_id) && line.includes("not tried again")), 1, "one warning a run: left to recovery")
  }
}

/** Two jobs running in a two-loop pool, each inside a node; returns the pool's scope and the jobs. */
const poolInNodes = (jobs: Jobs["Type"], provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = (effect) => effect) =>
  Effect.gen(function*() {
    const submitted = [yield* jobs.submit(summarize({ job_inputs: { n: 1 } })), yield* jobs.submit(summarize({ job_inputs: { n: 2 } }))]
    const started = yield* latch(2)
    const pool = yield* Scope.make()
    yield* Scope.extend(
      provide(jobs.worker({ concurrency: 2, pollInterval: "1 hour", drainTimeout: "50 millis", handler: inNodeForever(started.arrive) })),
      pool
    )
    yield* started.all
    return { pool, submitted }
  })

/** Nothing cancelled, the audit's invariants hold, and every node is ended unless its run is running or stalled. */
const consistent = (snapshot: Snapshot) => {
  assert.deepStrictEqual(snapshot.jobs.filter((job) => job.status === "cancelled"), [], "no job cancelled")
  assert.deepStrictEqual(snapshot.runs.filter((run) => run.status === "cancelled"), [], "no run cancelled")
  assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
}

/** The next startup: a store of its own on the database (the outage over), its recovery scan a minute on. */
const nextStartup = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const store = yield* database.store()
    yield* TestClock.adjust("1 minute")
    const scan = Effect.provideService(Recovery.recoverStalledRuns({ threshold: "30 seconds" }), JobStore, store)
    const first = yield* scan
    const second = yield* scan
    return { first: first.recovered, second: second.recovered }
  })

/** The `workflow_recovery` events of `snapshot`, by run. */
const recoveriesByRun = (snapshot: Snapshot) => {
  const counts = new Map<string, number>()
  for (const event of snapshot.events) {
    if (event.type === "workflow_recovery" && event.workflow_run_id !== null) counts.set(event.workflow_run_id, (counts.get(event.workflow_run_id) ?? 0) + 1)
  }
  return counts
}

for (const backend of sharedBackends) {
  describe(`a release during a database outage, on ${backend.name}`, () => {
    it.effect("R8 a pool shut down while its nodes' end writes are refused: the release ends each run's open node with it — none left running in a run that ended", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("release drops node ends")
        const outage = makeOutage()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: droppingNodeEnds(outage) })
        const { pool, submitted } = yield* poolInNodes(jobs)
        outage.down = true
        yield* Scope.close(pool, Exit.void)
        outage.down = false
        assert.strictEqual(outage.refused, 2, "both nodes' end writes were refused")
        for (const job of submitted) {
          const released = yield* store.getJob(job.job_id)
          assert.strictEqual(released.state, "queued", "released")
          const [run] = yield* store.listRuns(job.job_id)
          assert.strictEqual(run!.status, "failed")
          const nodes = yield* store.listNodes(run!.id)
          assert.deepStrictEqual(nodes.map((node) => node.status), ["cancelled"], "the node ended with its run")
          assert.isNotNull(nodes[0]!.finished_at)
        }
        consistent(yield* database.snapshot)
      }).pipe(Effect.scoped), 30_000)

    it.effect("R8 a release is one transaction: refused at its last write, the node ends it wrote are rolled back with it — job, run and node left running for recovery, stalled once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("release atomic")
        const outage = makeOutage()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: refusingReleases(outage) })
        const { pool, submitted } = yield* poolInNodes(jobs)
        outage.down = true
        yield* Scope.close(pool, Exit.void)
        outage.down = false
        // Each program's own node end (dropped), then each release's `releaseRun` (refused) after its node ends were written.
        assert.strictEqual(outage.refused, 4)
        for (const job of submitted) {
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "the job's move rolled back")
          const [run] = yield* store.listRuns(job.job_id)
          assert.strictEqual(run!.status, "running", "the run's end rolled back")
          assert.deepStrictEqual((yield* store.listNodes(run!.id)).map((node) => node.status), ["running"], "the node's end rolled back")
        }
        const { first, second } = yield* nextStartup(database)
        assert.sameMembers(first.map((run) => run.job_id), submitted.map((job) => job.job_id))
        assert.deepStrictEqual(second, [])
        const snapshot = yield* database.snapshot
        assert.deepStrictEqual([...recoveriesByRun(snapshot).values()], [1, 1])
        consistent(snapshot)
      }).pipe(Effect.scoped), 30_000)

    it.effect("R9 a pool shut down while every write fails ends promptly, releases and cancels nothing; the next startup's recovery stalls each run exactly once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("release refused")
        const outage = makeOutage()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: refusingWrites(outage) })
        const log = capturingLog(["WARN"])
        const { pool, submitted } = yield* poolInNodes(jobs, log.provide)
        outage.down = true
        // Under the TestClock a wait for the database would never end: the close returns only if nothing waits.
        yield* Scope.close(pool, Exit.void)
        assert.isAtLeast(outage.refused, 4, "each node's end and each release was tried")
        saysLeftToRecovery(log.lines, submitted)
        outage.down = false
        for (const job of submitted) {
          // Left as it was: running under a run that no longer beats, for recovery.
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
          const [run] = yield* store.listRuns(job.job_id)
          assert.strictEqual(run!.status, "running")
        }
        const { first, second } = yield* nextStartup(database)
        assert.sameMembers(first.map((run) => run.job_id), submitted.map((job) => job.job_id), "each run stalled")
        assert.deepStrictEqual(second, [], "and only once")
        const snapshot = yield* database.snapshot
        assert.deepStrictEqual([...recoveriesByRun(snapshot).values()], [1, 1], "one recovery event a run")
        assert.isFalse(snapshot.events.some((event) => event.from_state === "running" && event.to_state === "queued"), "no release recorded")
        consistent(snapshot)
      }).pipe(Effect.scoped), 30_000)

    it.effect("R9 a pool shut down while a finished run's end waits to be written again: the wait ends with the drain, the log says left to recovery, recovery stalls it once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("settle wait interrupted")
        const outage = makeOutage()
        const refusedOnce = yield* Deferred.make<void>()
        const { jobs, store } = yield* engineOn(database, {
          wake: "poll",
          wrapStore: (base) => {
            const refusing = refusingWrites(outage)(base)
            return { ...refusing, settleRun: (settle) => Effect.ensuring(refusing.settleRun!(settle), Deferred.succeed(refusedOnce, undefined)) }
          }
        })
        const job = yield* jobs.submit(summarize())
        const log = capturingLog(["WARN"])
        const pool = yield* Scope.make()
        yield* Scope.extend(
          log.provide(jobs.worker({
            concurrency: 1,
            pollInterval: "1 hour",
            drainTimeout: "50 millis",
            handler: () => Effect.sync(() => { outage.down = true }).pipe(Effect.as({ done: "while the database was down" }))
          })),
          pool
        )
        // The settle was refused; its retry waits on the TestClock, which nothing moves: only the drain's interrupt ends it.
        yield* Deferred.await(refusedOnce)
        yield* Scope.close(pool, Exit.void)
        outage.down = false
        assert.lengthOf(log.lines.filter((line) => line.includes(job.job_id) && line.includes("not tried again")), 1, "left to recovery, said once")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
        const { first, second } = yield* nextStartup(database)
        assert.deepStrictEqual(first.map((run) => run.job_id), [job.job_id])
        assert.deepStrictEqual(second, [])
        consistent(yield* database.snapshot)
      }).pipe(Effect.scoped), 30_000)

    it.effect("R8 Jobs.run interrupted from outside (Fiber.interrupt, a caller's timeout) while its node's end write is refused: the release ends the open node too", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run release drops node end")
        const outage = makeOutage()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: droppingNodeEnds(outage) })
        const interrupted = yield* jobs.submit(summarize({ job_inputs: { n: 1 } }))
        const timedOut = yield* jobs.submit(summarize({ job_inputs: { n: 2 } }))
        yield* jobs.start(interrupted.job_id)
        yield* jobs.start(timedOut.job_id)
        const started = yield* latch(2)
        const first = yield* Effect.fork(jobs.run(interrupted.job_id, inNodeForever(started.arrive)))
        const second = yield* Effect.fork(Effect.timeout(jobs.run(timedOut.job_id, inNodeForever(started.arrive)), "1 second"))
        yield* started.all
        outage.down = true
        yield* Fiber.interrupt(first)
        yield* TestClock.adjust("1 second")
        const timeout = yield* Fiber.await(second)
        outage.down = false
        assert.isTrue(Exit.isFailure(timeout), "the caller's timeout ended the run")
        assert.strictEqual(outage.refused, 2, "both nodes' end writes were refused")
        for (const job of [interrupted, timedOut]) {
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued", "released")
          const [run] = yield* store.listRuns(job.job_id)
          assert.strictEqual(run!.status, "failed")
          assert.deepStrictEqual((yield* store.listNodes(run!.id)).map((node) => node.status), ["cancelled"], "the node ended with its run")
        }
        consistent(yield* database.snapshot)
      }).pipe(Effect.scoped), 30_000)

    it.effect("R9 Jobs.run interrupted from outside while every write fails: the interrupt returns, the job is left to recovery, which stalls it once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run release refused")
        const outage = makeOutage()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: refusingWrites(outage) })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const started = yield* latch(1)
        const log = capturingLog(["WARN"])
        const running = yield* Effect.fork(log.provide(jobs.run(job.job_id, inNodeForever(started.arrive))))
        yield* started.all
        outage.down = true
        yield* Fiber.interrupt(running)
        assert.isAtLeast(outage.refused, 2, "the node's end and the release were tried")
        saysLeftToRecovery(log.lines, [job])
        outage.down = false
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "left for recovery, not cancelled")
        const { first, second } = yield* nextStartup(database)
        assert.deepStrictEqual(first.map((run) => run.job_id), [job.job_id])
        assert.deepStrictEqual(second, [])
        const snapshot = yield* database.snapshot
        assert.deepStrictEqual([...recoveriesByRun(snapshot).values()], [1])
        consistent(snapshot)
      }).pipe(Effect.scoped), 30_000)
  })
}
