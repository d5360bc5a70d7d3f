/**
 * Issue 11.2: a live worker whose run was taken away — stalled by recovery
 * (its heartbeat interval longer than the threshold), then perhaps resumed
 * by an operator under a new run — is told: every write it makes for its run
 * (heartbeat, node start and finish, settle) finds the run no longer its own,
 * `Jobs.run` fails with `RunLost`, the program is stopped, and nothing more is
 * written into the taken run. Before the fix the finishing worker got
 * `IllegalTransition stalled→completed` (or, after a resume, completed the
 * job under the operator's new run and then failed with `RunNotActive`), and
 * wrote node history into the stalled run.
 *
 * The recovery scan runs on a store of its own (its own connection or pool),
 * as another process's startup recovery would.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import { audit } from "../reliability/invariants.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { countingHeartbeats, type SharedDatabase, sharedBackends, untilLockWaiter } from "./shared-database.js"

/** A worker's Jobs and a second store (another process) that recovers. */
const setup = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const beating = countingHeartbeats(yield* database.store())
    const worker = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, beating.store))), Jobs)
    const operator = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store())))
    const recover = Effect.provide(Recovery.recoverStalledRuns(), operator)
    /** Waits until the worker's runs have written `n` heartbeats in all. */
    const beats = beating.atLeast
    return { worker, operator: Context.get(operator, Jobs), store: Context.get(operator, JobStore), recover, beats }
  })

/** Starts a job and runs `program` under `Jobs.run` with a heartbeat too rare to keep the run alive. */
const startSilentRun = <A, E>(
  { beats, worker }: { readonly worker: Jobs["Type"]; readonly beats: (n: number) => Effect.Effect<void> },
  program: Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const job = yield* worker.submit(summarize())
    const { run } = yield* worker.start(job.job_id)
    const fiber = yield* Effect.fork(worker.run(job.job_id, () => program as Effect.Effect<never, E>, { heartbeatInterval: "1 hour" }))
    // Its one beat written (at start), and past the 30 s threshold: the run is stale although its worker lives.
    yield* beats(1)
    yield* TestClock.adjust("31 seconds")
    return { job, run, fiber }
  })

/**
 * A worker runs a job whose one node never ends; once the node's start is
 * written, the operator's `move` takes the job (on purpose after it). The
 * worker's next heartbeat finds the run taken: what `Jobs.run` failed with.
 */
const takenMidNode = <E>(database: SharedDatabase, move: (operator: Jobs["Type"], jobId: JobId) => Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const { beats, operator, store, worker } = yield* setup(database)
    const job = yield* worker.submit(summarize())
    const { run } = yield* worker.start(job.job_id)
    const nodeStarted = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(worker.run(job.job_id, (ctx) =>
      ctx.node({ node_id: "long", node_type: "llm" }, Effect.zipRight(Deferred.succeed(nodeStarted, undefined), Effect.never)), {
        heartbeatInterval: "10 seconds"
      }))
    yield* beats(1)
    yield* Deferred.await(nodeStarted)
    yield* move(operator, job.job_id)
    yield* TestClock.adjust("10 seconds")
    const error = yield* Effect.flip(Fiber.join(fiber))
    return { error, job, run, store }
  })

for (const backend of sharedBackends) {
  describe(`RunLost on ${backend.name}`, () => {
    it.effect("R9 a live worker whose run was recovered gets RunLost when its program finishes, and writes nothing more", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run lost settle")
        const context = yield* setup(database)
        const { store, recover } = context
        const finish = yield* Deferred.make<void>()
        const { job, run, fiber } = yield* startSilentRun(context, Effect.as(Deferred.await(finish), { answer: 42 }))
        assert.deepStrictEqual((yield* recover).recovered.map((r) => r.id), [run.id])
        yield* Deferred.succeed(finish, undefined)
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "RunLost")
        if (error._tag === "RunLost") assert.deepStrictEqual([error.workflow_run_id, error.status], [run.id, "stalled"])
        const after = yield* store.getJob(job.job_id)
        assert.strictEqual(after.state, "stalled")
        assert.isNull(after.job_outputs, "the finished program's outputs were not written")
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a node started after recovery took the run writes nothing: the program is stopped there and Jobs.run fails with RunLost", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run lost node")
        const { worker, store, recover, beats } = yield* setup(database)
        const next = yield* Deferred.make<void>()
        const before = yield* Deferred.make<void>()
        let carriedOn = false
        const job = yield* worker.submit(summarize())
        const { run } = yield* worker.start(job.job_id)
        const fiber = yield* Effect.fork(worker.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* ctx.node({ node_id: "before", node_type: "step" }, Effect.succeed(1))
            yield* Deferred.succeed(before, undefined)
            yield* Deferred.await(next)
            // A program that swallows the failure is stopped all the same.
            yield* Effect.ignore(ctx.node({ node_id: "after", node_type: "step", input: { n: 2 } }, Effect.succeed(2)))
            carriedOn = true
            return yield* Effect.never
          }), { heartbeatInterval: "1 hour" }))
        yield* Deferred.await(before)
        yield* beats(1)
        yield* TestClock.adjust("31 seconds")
        assert.deepStrictEqual((yield* recover).recovered.map((r) => r.id), [run.id])
        yield* Deferred.succeed(next, undefined)
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "RunLost")
        assert.isFalse(carriedOn, "the program was stopped when its node found the run lost")
        const nodes = yield* store.listNodes(run.id)
        assert.deepStrictEqual(nodes.map((n) => [n.node_id, n.status]), [["before", "completed"]], "no node written into the stalled run")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a worker whose stalled run an operator resumed gets RunLost and never touches the job under its new run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run lost resumed")
        const context = yield* setup(database)
        const { operator, store, recover } = context
        const finish = yield* Deferred.make<void>()
        const { job, run, fiber } = yield* startSilentRun(context, Effect.as(Deferred.await(finish), { stale: true }))
        yield* recover
        const resumed = yield* operator.resume(job.job_id, { actor: "human", reason: "operator resumed" })
        yield* Deferred.succeed(finish, undefined)
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "RunLost")
        if (error._tag === "RunLost") assert.deepStrictEqual([error.workflow_run_id, error.status], [run.id, "stalled"])
        const after = yield* store.getJob(job.job_id)
        assert.strictEqual(after.state, "running", "the old worker did not complete the job under the operator's run")
        assert.strictEqual(after.workflow_run_id, resumed.run.id)
        assert.isNull(after.job_outputs)
        assert.strictEqual((yield* store.getRun(resumed.run.id)).status, "running")
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        // The resumed run is the job's own: its worker can finish it.
        assert.deepStrictEqual(yield* operator.run(job.job_id, () => Effect.succeed({ fresh: true })), { fresh: true })
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 an operator's cancel of a job mid-node ends the open node cancelled in the move's transaction; the worker gets RunLost at its next heartbeat", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run lost cancelled")
        const { error, job, run, store } = yield* takenMidNode(database, (operator, jobId) =>
          operator.cancel(jobId, { actor: "human", reason: "not needed" }))
        assert.strictEqual(error._tag, "RunLost")
        if (error._tag === "RunLost") assert.strictEqual(error.status, "cancelled")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "cancelled")
        const ended = yield* store.getRun(run.id)
        assert.strictEqual(ended.status, "cancelled")
        const [node] = yield* store.listNodes(run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["cancelled", "not needed"], "ended with its run, saying why")
        assert.isNotNull(node?.finished_at ?? null)
        assert.strictEqual(DateTime.toEpochMillis(node!.finished_at!), DateTime.toEpochMillis(ended.updated_at), "at the run's end")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 an operator's fail of a job mid-node ends the open node failed with the error; an operator's complete, with the run's end state", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run lost failed by an operator")
        const failed = yield* takenMidNode(database, (operator, jobId) => operator.fail(jobId, "tool hung", { actor: "human" }))
        assert.strictEqual(failed.error._tag, "RunLost")
        assert.strictEqual((yield* failed.store.getRun(failed.run.id)).status, "failed")
        const [node] = yield* failed.store.listNodes(failed.run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["failed", "tool hung"])
        assert.isNotNull(node?.finished_at ?? null)
        // running → completed_with_issues is in the lifecycle table: an operator may end a job its worker still runs.
        const completed = yield* takenMidNode(database, (operator, jobId) =>
          operator.completeWithIssues(jobId, { actor: "human", reason: "good enough" }))
        assert.strictEqual(completed.error._tag, "RunLost")
        if (completed.error._tag === "RunLost") assert.strictEqual(completed.error.status, "completed_with_issues")
        const [other] = yield* completed.store.listNodes(completed.run.id)
        assert.deepStrictEqual([other?.status, other?.error_message], ["completed_with_issues", "good enough"])
        assert.isNotNull(other?.finished_at ?? null)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 a cancel that meets a node start in flight waits for it and ends that node too, in its own transaction", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("cancel meets node start")
        const writer = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const job = yield* operator.submit(summarize())
        const { run } = yield* operator.start(job.job_id)
        // A worker's node start, held open with the run locked (as startNode holds it until it commits).
        const started = yield* Deferred.make<void>()
        const commit = yield* Deferred.make<void>()
        const starting = yield* Effect.fork(writer.transaction(Effect.gen(function*() {
          yield* writer.lockRun(run.id)
          yield* writer.startNode({ workflow_run_id: run.id, node_id: "n1", node_type: "llm" })
          yield* Deferred.succeed(started, undefined)
          yield* Deferred.await(commit)
        })))
        yield* Deferred.await(started)
        const cancel = yield* Effect.fork(operator.cancel(job.job_id, { actor: "human", reason: "operator stop" }))
        yield* untilLockWaiter(database, backend)
        yield* Deferred.succeed(commit, undefined)
        yield* Fiber.join(starting)
        assert.strictEqual((yield* Fiber.join(cancel)).state, "cancelled")
        const [node] = yield* writer.listNodes(run.id)
        assert.deepStrictEqual([node?.node_id, node?.status, node?.error_message], ["n1", "cancelled", "operator stop"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 a node start that commits after a cancel's statement began (the cancel waiting on its job's lock) is ended with the run, not left running", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("cancel older than node")
        const writer = yield* database.store()
        const holder = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const job = yield* operator.submit(summarize())
        const { run } = yield* operator.start(job.job_id)
        // A third party holds the job's lock: the cancel's statement starts (PostgreSQL: its
        // snapshot taken) and waits for it.
        const held = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holding = yield* Effect.fork(holder.transaction(Effect.gen(function*() {
          yield* holder.lockJob(job.job_id)
          yield* Deferred.succeed(held, undefined)
          yield* Deferred.await(release)
        })))
        yield* Deferred.await(held)
        const cancel = yield* Effect.fork(operator.cancel(job.job_id, { actor: "human", reason: "operator stop" }))
        yield* untilLockWaiter(database, backend)
        // Meanwhile the worker starts a node. PostgreSQL: it needs no lock the holder has, and
        // commits now, after the cancel's snapshot; SQLite: it waits for the writer's lock too.
        const starting = yield* Effect.fork(Effect.either(writer.startNode({ workflow_run_id: run.id, node_id: "n1", node_type: "llm" })))
        if (backend.name.includes("PostgreSQL")) assert.isTrue(Either.isRight(yield* Fiber.join(starting)), "the node start committed")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holding)
        assert.strictEqual((yield* Fiber.join(cancel)).state, "cancelled")
        const started = yield* Fiber.join(starting)
        const nodes = yield* writer.listNodes(run.id)
        if (Either.isRight(started)) {
          // The node was written before the cancel moved the run: it ends with the run.
          assert.deepStrictEqual(nodes.map((node) => [node.node_id, node.status, node.error_message]), [["n1", "cancelled", "operator stop"]])
        } else {
          // Only SQLite may order it after the cancel: then it is refused and nothing is written.
          assert.strictEqual(started.left._tag, "RunNotActive")
          assert.deepStrictEqual(nodes, [])
        }
        assert.strictEqual((yield* writer.getRun(run.id)).status, "cancelled")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)
  })
}
