/**
 * An outside tester's finding (R8, HSK-WF-001): a job whose run recovery
 * stalled while a node was running, then moved on by an operator — cancelled,
 * failed, or resumed under a new run and completed — left that node `running`
 * (no `finished_at`) for ever, inside a job that had moved on: recovery's
 * stall leaves a stalled run's nodes as they were (its worker is presumed
 * dead), the worker can write nothing more into it (`RunLost`), and only
 * moves out of `running` ended a run's open nodes. Now every move out of
 * `stalled` ends them in its own transaction (internal/jobs/openNodes.ts):
 * `cancelled` for a cancel, `failed` for a fail or a resume the policy
 * refuses, `stalled` (its run's state) for a resume; the run stays `stalled`.
 *
 * The worker runs the job in one process's services, recovery and the
 * operator in another's, over one database, as in run-lost.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as Capabilities from "../../src/Capabilities.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { audit } from "../reliability/invariants.js"
import { summarize } from "./jobs.suite.js"
import { services, servicesUnder } from "./services.js"
import { countingHeartbeats, type SharedDatabase, sharedBackends } from "./shared-database.js"

/** A policy that admits what the default one admits, except that a resume is asked under Operator, which refuses a summary. */
const refusingResumes = Layer.effect(
  Capabilities.Capabilities,
  Effect.map(Effect.orDie(Capabilities.make(Capabilities.defaultConfig)), (base) =>
    Capabilities.Capabilities.of({ ...base, deterministic: false, check: (job) => base.check(job, "Operator") }))
)

/**
 * A worker runs a job whose node `n1` never ends, beating too rarely to keep
 * its run; another process's recovery stalls the run, and the worker gets
 * `RunLost`. Returns the stalled job with the operator's Jobs and store.
 */
const stalledMidNode = (database: SharedDatabase, operatorPolicy: Layer.Layer<Capabilities.Capabilities> = Capabilities.layerDefault) =>
  Effect.gen(function*() {
    const beating = countingHeartbeats(yield* database.store())
    const worker = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, beating.store))), Jobs)
    const operatorContext = yield* Layer.build(servicesUnder(operatorPolicy, Layer.succeed(JobStore, yield* database.store())))
    const operator = Context.get(operatorContext, Jobs)
    const store = Context.get(operatorContext, JobStore)
    const job = yield* worker.submit(summarize())
    const { run } = yield* worker.start(job.job_id)
    const nodeStarted = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(worker.run(job.job_id, (ctx) =>
      ctx.node({ node_id: "n1", node_type: "llm" }, Effect.zipRight(Deferred.succeed(nodeStarted, undefined), Effect.never)), {
        heartbeatInterval: "1 hour"
      }))
    yield* beating.atLeast(1)
    yield* Deferred.await(nodeStarted)
    yield* TestClock.adjust("31 seconds")
    const recovered = yield* Effect.provide(Recovery.recoverStalledRuns({ threshold: "30 seconds" }), operatorContext)
    assert.deepStrictEqual(recovered.recovered.map((r) => r.id), [run.id])
    // Recovery's stall leaves the node as it was (README, "A run taken away").
    const [open] = yield* store.listNodes(run.id)
    assert.deepStrictEqual([open?.node_id, open?.status, open?.finished_at], ["n1", "running", null], "the stall itself ends no node")
    yield* TestClock.adjust("1 hour")
    const lost = yield* Effect.flip(Fiber.join(fiber))
    assert.strictEqual(lost._tag, "RunLost")
    return { job, run, operator, store }
  })

for (const backend of sharedBackends) {
  describe(`a stalled run's open nodes on ${backend.name}`, () => {
    it.effect("R8 HSK-WF-001 cancelling a stalled job ends the node its stalled run left running, cancelled with the reason at the move's time; the run stays stalled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled cancel nodes")
        const { job, operator, run, store } = yield* stalledMidNode(database)
        const cancelled = yield* operator.cancel(job.job_id, { actor: "human", reason: "not needed" })
        assert.strictEqual(cancelled.state, "cancelled")
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled", "the run keeps recovery's status")
        const [node] = yield* store.listNodes(run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["cancelled", "not needed"])
        assert.isNotNull(node?.finished_at ?? null)
        assert.strictEqual(DateTime.toEpochMillis(node!.finished_at!), DateTime.toEpochMillis(cancelled.updated_at), "at the move's time")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    // Found in review: the new port method was not behind Jobs' redaction of caller text (redactCallerText.ts).
    it.effect("R14 a stalled run's node ended by a move holds the move's reason redacted, as the job's row and its event do", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled nodes redacted")
        const { job, operator, run, store } = yield* stalledMidNode(database)
        const cancelled = yield* operator.cancel(job.job_id, { actor: "human", reason: "leaked Bearer abc.def.ghi" })
        assert.strictEqual(cancelled.status_reason, "leaked Bearer [REDACTED]")
        const [node] = yield* store.listNodes(run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["cancelled", "leaked Bearer [REDACTED]"])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 failing a stalled job ends its stalled run's open node failed with the error; without a reason a cancel says what happened", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled fail nodes")
        const failed = yield* stalledMidNode(database)
        assert.strictEqual((yield* failed.operator.fail(failed.job.job_id, "tool hung", { actor: "human" })).state, "failed")
        assert.strictEqual((yield* failed.store.getRun(failed.run.id)).status, "stalled")
        const [node] = yield* failed.store.listNodes(failed.run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["failed", "tool hung"])
        assert.isNotNull(node?.finished_at ?? null)
        const cancelled = yield* stalledMidNode(database)
        yield* cancelled.operator.cancel(cancelled.job.job_id)
        const [other] = yield* cancelled.store.listNodes(cancelled.run.id)
        assert.deepStrictEqual([other?.status, other?.error_message], ["cancelled", "run stalled, job cancelled"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 resuming a stalled job ends its stalled run's open node stalled, in the resume's transaction; the new run completes and no node is left running", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled resume nodes")
        const { job, operator, run, store } = yield* stalledMidNode(database)
        const resumed = yield* operator.resume(job.job_id, { actor: "human", reason: "operator resumed" })
        assert.notStrictEqual(resumed.run.id, run.id)
        const [node] = yield* store.listNodes(run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["stalled", "operator resumed"])
        assert.strictEqual(DateTime.toEpochMillis(node!.finished_at!), DateTime.toEpochMillis(resumed.job.updated_at), "at the resume's time")
        assert.strictEqual((yield* operator.complete(job.job_id, { actor: "human" })).state, "completed")
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        assert.strictEqual((yield* store.listNodes(run.id))[0]?.status, "stalled", "the old run's node is not touched again")
        // Without a reason, the node says what happened.
        const again = yield* stalledMidNode(database)
        yield* again.operator.resume(again.job.job_id)
        const [other] = yield* again.store.listNodes(again.run.id)
        assert.deepStrictEqual([other?.status, other?.error_message], ["stalled", "run stalled, job resumed under a new run"])
        yield* again.operator.cancel(again.job.job_id)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 HSK-WF-001 a resume the policy refuses fails the stalled job and ends its stalled run's open node failed with the refusal", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled refused resume nodes")
        const { job, operator, run, store } = yield* stalledMidNode(database, refusingResumes)
        const refusal = yield* Effect.flip(operator.resume(job.job_id, { actor: "human" }))
        const after = yield* store.getJob(job.job_id)
        assert.strictEqual(after.state, "failed")
        const [node] = yield* store.listNodes(run.id)
        assert.deepStrictEqual([node?.status, node?.error_message], ["failed", refusal.message])
        assert.isNotNull(node?.finished_at ?? null)
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        // No campaign audit here: it expects a job's capability decisions all allow or all deny, and this
        // job was admitted at its start, then refused at its resume.
        const nodes = (yield* database.snapshot).nodes
        assert.deepStrictEqual(nodes.filter((n) => n.status === "running"), [], "no node left running")
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 a move a stalled job may not make (complete) ends no node: refused, and the node stays as recovery left it", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled refused move nodes")
        const { job, operator, run, store } = yield* stalledMidNode(database)
        const refused = yield* Effect.flip(operator.complete(job.job_id, { actor: "human" }))
        assert.strictEqual(refused._tag, "IllegalTransition")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled")
        const [node] = yield* store.listNodes(run.id)
        assert.deepStrictEqual([node?.status, node?.finished_at], ["running", null])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R8 JobStore.endStalledRunNodes ends only a stalled run's running nodes: a running run's node is left to its worker", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("stalled nodes port")
        const store = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* operator.submit(summarize())
        const { run } = yield* operator.start(job.job_id)
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n1", node_type: "llm" })
        assert.deepStrictEqual(yield* store.endStalledRunNodes(run.id, { status: "cancelled", error_message: "no" }), [])
        assert.strictEqual((yield* store.listNodes(run.id))[0]?.status, "running")
        const paused = yield* Effect.flip(store.endStalledRunNodes(run.id, { status: "awaiting_user" as "failed", error_message: "no" }))
        assert.strictEqual(paused._tag, "DecodeFailure")
        assert.strictEqual((yield* store.finishNode(node.id, { status: "completed" })).status, "completed")
      }).pipe(Effect.scoped), 60_000)
  })
}
