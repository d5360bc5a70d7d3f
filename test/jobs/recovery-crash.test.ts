/**
 * Startup recovery (R9) under concurrency and crashes, on a SQLite file and
 * on PostgreSQL, each "process" a store of its own (its own connection or
 * pool) or a real child process (recovery-crash-process.ts) that is SIGKILLed
 * or frozen at a forced point:
 *
 * - two processes starting at once, each with `Recovery.layerStartup`, while
 *   a third completes one stale-looking job and holds another's row open
 *   with a metrics write (a change that does not decide the job's fate);
 * - a recovering process SIGKILLed inside its batch's transaction while the
 *   other's startup scan runs;
 * - a worker process SIGKILLed inside a node start's transaction, then a new
 *   process's startup recovery — past the threshold, or within it (then
 *   startup's second look, one threshold later);
 * - a worker frozen past the threshold and revived after recovery stalled its
 *   run (a zombie): its late writes are refused, typed;
 * - a heartbeat of the very run recovery is stalling, arriving between the
 *   scan's read and its write, both ways round.
 *
 * Must hold: every stale run stalled exactly once with one well-formed
 * `workflow_recovery` event, no job accepted by a process before its own scan
 * ended, no stale run left `running` once a scan has ended, nothing of a
 * killed transaction in the database, and the reliability audit clean.
 *
 * Found here (PostgreSQL): a scan skipped the stale runs whose job another
 * transaction held and ended as if none were left. When that transaction did
 * not end the run — a metrics write, a pin, a rolled-back move, another
 * process's recovery that died before its COMMIT — the run stayed `running`
 * and stale after the scan, and the process accepted jobs. SQLite's scan waits
 * for the write lock instead, and stalled it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { type Child, startChild } from "../reliability/children.js"
import { audit } from "../reliability/invariants.js"
import type { WorkerMessage } from "../reliability/protocol.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { holdingScan, realSleep, type SharedBackend, type SharedDatabase, sharedBackends, untilLockWaiter } from "./shared-database.js"

type Store = JobStore["Type"]

/** The child process of these tests, from test/reliability/children.ts's folder. */
const CHILD = "../jobs/recovery-crash-process.ts"

/** A message of recovery-crash-process.ts: its `t` and fields. */
type Said = { readonly t: string; readonly [field: string]: unknown }
const said = (t: string) => (m: WorkerMessage): m is WorkerMessage => (m as unknown as Said).t === t
const waitFor = (child: Child, t: string) => Effect.promise(() => child.waitFor(said(t), 60_000)).pipe(Effect.map((m) => m as unknown as Said))

/** Starts recovery-crash-process.ts with `argv`; killed, if still alive, when the scope closes. */
const spawnChild = (argv: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(() => startChild(CHILD, { HSK_CHILD_ARGV: JSON.stringify(argv) })),
    (child) => Effect.promise(() => child.kill())
  )

/** Sends a signal to a child process. */
const signal = (child: Child, name: NodeJS.Signals) => Effect.sync(() => process.kill(child.pid, name))

/** `store` with each new job's write checked: the process's own startup scan must have ended (R9). */
const intakeChecked = (store: Store, status: () => Effect.Effect<Recovery.RecoveryStatus>, early: Array<string>): Store => {
  const check = Effect.flatMap(Effect.suspend(status), (s) => Effect.sync(() => s !== "finished" && early.push(s)))
  return {
    ...store,
    createJob: (...args) => Effect.zipRight(check, store.createJob(...args)),
    createJobs: (...args) => Effect.zipRight(check, store.createJobs(...args)),
    // Eager dispatch's create-and-claim (a pool of the process idle), where the store has it.
    ...(store.createClaimed === undefined ? {} : { createClaimed: (...args: Parameters<NonNullable<Store["createClaimed"]>>) => Effect.zipRight(check, store.createClaimed!(...args)) })
  }
}

/** A process with its own store and startup recovery; `early` lists every job write made before its scan ended. */
const startingProcess = (store: Store, options: Recovery.StartupOptions = {}) =>
  Effect.gen(function*() {
    const early: Array<string> = []
    // The gate is known once the layer is built; a job written before then is early too.
    const built: { gate?: Context.Tag.Service<Recovery.RecoveryGate> } = {}
    const checked = intakeChecked(store, () => built.gate === undefined ? Effect.succeed("running" as const) : built.gate.status, early)
    const context = yield* Layer.build(services(Layer.succeed(JobStore, checked), Recovery.layerStartup(options)))
    const gate = Context.get(context, Recovery.RecoveryGate)
    built.gate = gate
    return { jobs: Context.get(context, Jobs), gate, early }
  })

/** Until `gate` has resolved, or some session waits for a lock: whichever comes first; then whether the gate had resolved. */
const resolvedOrWaiting = (database: SharedDatabase, backend: SharedBackend, gate: Context.Tag.Service<Recovery.RecoveryGate>) =>
  Effect.gen(function*() {
    const result = yield* Effect.fork(Effect.either(gate.result))
    yield* Effect.raceFirst(Effect.asVoid(Fiber.await(result)), untilLockWaiter(database, backend))
    return Option.isSome(yield* Fiber.poll(result))
  })

/** Every `workflow_recovery` event of `run`, each checked against the reference's shape (spec 11.5, WorkflowRecoveryEvent). */
const recoveryEventsOf = (store: Store, run: WorkflowRun) =>
  Effect.gen(function*() {
    const events = (yield* store.listEvents({ workflow_run_id: run.id, types: ["workflow_recovery"], limit: 100 })).items
    // The heartbeat the run was stalled on, as stored (its worker may have beaten after `run` was read).
    const stored = yield* store.getRun(run.id)
    for (const event of events) {
      const body = event.body as Record<string, unknown>
      assert.strictEqual(event.actor, "system")
      assert.strictEqual(body["actor"], "system")
      assert.strictEqual(body["type"], "workflow_recovery")
      assert.strictEqual(body["workflow_run_id"], run.id)
      assert.strictEqual(body["job_id"], run.job_id)
      assert.strictEqual(body["from_state"], "running")
      assert.strictEqual(body["to_state"], "stalled")
      assert.strictEqual(body["threshold_secs"], 30)
      assert.strictEqual(body["last_heartbeat_ts"], DateTime.formatIso(stored.last_heartbeat))
      assert.match(String(body["last_heartbeat_ts"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      assert.isString(body["reason"])
      assert.isAbove(String(body["reason"]).length, 0)
    }
    return events
  })

/** Asserts `run` (as it was running) is now stalled with its job, with exactly one well-formed recovery event. */
const stalledOnce = (store: Store, run: WorkflowRun) =>
  Effect.gen(function*() {
    assert.strictEqual((yield* store.getRun(run.id)).status, "stalled", `run ${run.id}`)
    assert.strictEqual((yield* store.getJob(run.job_id)).state, "stalled", `job ${run.job_id}`)
    assert.strictEqual((yield* recoveryEventsOf(store, run)).length, 1, `run ${run.id}: one workflow_recovery event`)
  })

/** `n` started jobs on `jobs`: their runs beat once, at the start. */
const startedJobs = (jobs: Jobs["Type"], n: number) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
    Effect.flatMap(jobs.submit(summarize({ job_inputs: { i } })), (job) => Effect.map(jobs.start(job.job_id), ({ run }) => ({ job, run }))))

/**
 * A fresh database, an operator's and a recoverer's store, and one job the operator started whose
 * run a child process (`mode` of recovery-crash-process.ts) has taken and said `ready` for.
 */
const runInChild = (backend: SharedBackend, name: string, mode: string, ready: string) =>
  Effect.gen(function*() {
    const database = yield* backend.fresh(name)
    const operatorStore = yield* database.store()
    const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, operatorStore))), Jobs)
    const recoverer = yield* database.store()
    yield* TestClock.setTime(Date.now())
    const job = yield* operator.submit(summarize())
    const { run } = yield* operator.start(job.job_id)
    const child = yield* spawnChild([mode, database.url, job.job_id])
    assert.strictEqual((yield* waitFor(child, ready))["run"], run.id)
    return { database, operatorStore, operator, recoverer, job, run, child }
  })

for (const backend of sharedBackends) {
  describe(`startup recovery under concurrency and crashes on ${backend.name}`, () => {
    it.effect("R9 a stale run whose job another process holds without ending it (a metrics write held open) is still stalled by the startup scan, before the process accepts a job", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery held job")
        const holder = yield* database.store()
        const recoverer = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const { job, run } = (yield* startedJobs(operator, 1))[0]!
        yield* TestClock.adjust("1 minute")
        // Another process adds to the job's metrics in a transaction it keeps open: the job's row held.
        const held = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // Its write is made once the scan has come to the held job, a second later by the clock.
        const holding = yield* Effect.fork(holder.transaction(Effect.gen(function*() {
          const locked = yield* holder.lockJob(job.job_id)
          yield* Deferred.succeed(held, undefined)
          yield* Deferred.await(release)
          return yield* holder.updateJob(job.job_id, { metrics: { ...locked.metrics, total_tokens: 7 } })
        })))
        yield* Deferred.await(held)
        const starting = yield* startingProcess(recoverer)
        const submitted = yield* Effect.fork(starting.jobs.submit(summarize({ job_kind: "doc_edit" })))
        // The scan either ends (it skipped the held job) or waits for the holder.
        const endedWhileHeld = yield* resolvedOrWaiting(database, backend, starting.gate)
        yield* TestClock.adjust("1 second")
        yield* Deferred.succeed(release, undefined)
        const heldChange = yield* Fiber.join(holding)
        const report = yield* starting.gate.result
        assert.isFalse(endedWhileHeld, "the scan ended while a stale run's job was held: it never saw that run")
        assert.deepStrictEqual(report.recovered.map((r) => r.id), [run.id])
        yield* stalledOnce(recoverer, run)
        // The stall, and its event, are dated no earlier than the change the scan waited for (R10: the log's order is the changes' order).
        const heldAt = DateTime.toEpochMillis(heldChange.updated_at)
        assert.isAtLeast(DateTime.toEpochMillis((yield* recoverer.getJob(job.job_id)).updated_at), heldAt, "the stalled job's updated_at")
        const [recovery] = yield* recoveryEventsOf(recoverer, run)
        assert.isAtLeast(DateTime.toEpochMillis(recovery!.timestamp), heldAt, "the workflow_recovery event's timestamp")
        assert.strictEqual((yield* recoverer.getJob(job.job_id)).metrics.total_tokens, 7, "the holder's write kept")
        assert.strictEqual((yield* Fiber.join(submitted)).state, "queued")
        assert.deepStrictEqual(starting.early, [], "no job accepted before the scan ended")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: false }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 two processes start at once while a third completes one stale-looking job (held mid-transaction): every other stale run stalled exactly once with one event, no deadlock, each accepts jobs only after its own scan", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery two starters")
        const operatorStore = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, operatorStore))), Jobs)
        const storeA = yield* database.store()
        const storeB = yield* database.store()
        const started = yield* startedJobs(operator, 24)
        yield* TestClock.adjust("1 minute")
        // The third process's completion of job 0: its job and run written, then held before its COMMIT.
        const completing = started[0]!
        const held = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const completion = yield* Effect.fork(Effect.either(operatorStore.transaction(Effect.zipRight(
          operator.complete(completing.job.job_id),
          Effect.zipRight(Deferred.succeed(held, undefined), Deferred.await(release))
        ))))
        yield* Deferred.await(held)
        // Both start at once; small batches so they interleave.
        const [a, b] = yield* Effect.all([startingProcess(storeA, { batchSize: 3 }), startingProcess(storeB, { batchSize: 3 })], { concurrency: 2 })
        const submits = yield* Effect.fork(Effect.all([a.jobs.submit(summarize()), b.jobs.submit(summarize())], { concurrency: 2 }))
        yield* resolvedOrWaiting(database, backend, a.gate)
        yield* resolvedOrWaiting(database, backend, b.gate)
        yield* Deferred.succeed(release, undefined)
        assert.isTrue(Either.isRight(yield* Fiber.join(completion)), "the completion committed")
        const [reportA, reportB] = [yield* a.gate.result, yield* b.gate.result]
        const recovered = [...reportA.recovered, ...reportB.recovered].map((r) => r.id).sort()
        assert.deepStrictEqual(recovered, started.slice(1).map(({ run }) => run.id).sort(), "each stale run recovered by exactly one of them")
        for (const { run } of started.slice(1)) yield* stalledOnce(operatorStore, run)
        assert.strictEqual((yield* operatorStore.getJob(completing.job.job_id)).state, "completed")
        assert.strictEqual((yield* recoveryEventsOf(operatorStore, completing.run)).length, 0)
        for (const job of yield* Fiber.join(submits)) assert.strictEqual(job.state, "queued")
        assert.deepStrictEqual([a.early, b.early], [[], []], "no job accepted before the process's own scan ended")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: false }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a process SIGKILLed inside its recovery batch's transaction (rows moved, not committed): the other process's startup scan still stalls every stale run exactly once, and accepts jobs only after", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery killed mid-batch")
        const operatorStore = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, operatorStore))), Jobs)
        const recoverer = yield* database.store()
        // Stale to the child's real clock (their heartbeats are at the TestClock's 1970) and to ours, a minute on.
        const started = yield* startedJobs(operator, 5)
        yield* TestClock.adjust("1 minute")
        const dying = yield* spawnChild(["recover-hold", database.url])
        yield* waitFor(dying, "holding")
        const starting = yield* startingProcess(recoverer)
        const submitted = yield* Effect.fork(starting.jobs.submit(summarize({ job_kind: "doc_edit" })))
        const endedFirst = yield* resolvedOrWaiting(database, backend, starting.gate)
        yield* Effect.promise(() => dying.kill())
        const report = yield* starting.gate.result
        assert.isFalse(endedFirst, "the scan ended while the dying process held the stale runs: it never saw them")
        assert.deepStrictEqual(report.recovered.map((r) => r.id).sort(), started.map(({ run }) => run.id).sort())
        for (const { run } of started) yield* stalledOnce(operatorStore, run)
        assert.strictEqual((yield* Fiber.join(submitted)).state, "queued")
        assert.deepStrictEqual(starting.early, [])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: false }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 R8 a worker process SIGKILLed inside a node start's transaction: nothing of that transaction is stored; the next process's startup recovery stalls the run once, its nodes left as they were; the job can be resumed (which ends the node left running) and finished", () =>
      Effect.gen(function*() {
        const { child: worker, database, job, operator, operatorStore, recoverer, run } = yield* runInChild(
          backend,
          "recovery worker killed mid-node",
          "node-hold",
          "in-transaction"
        )
        yield* Effect.promise(() => worker.kill())
        // Past the threshold for every beat the worker wrote (its clock read before we read ours).
        yield* TestClock.setTime(Date.now() + 31_000)
        const starting = yield* startingProcess(recoverer)
        const report = yield* starting.gate.result
        assert.deepStrictEqual(report.recovered.map((r) => r.id), [run.id])
        yield* stalledOnce(operatorStore, run)
        const nodes = yield* operatorStore.listNodes(run.id)
        // The killed transaction's node start left no row; the node that was running is left as it was
        // (a stalled run's worker is presumed dead, not known to be: README, "A run taken away").
        assert.deepStrictEqual(nodes.map((n) => [n.node_id, n.status, n.sequence]), [["first", "completed", 0], ["open", "running", 1]])
        assert.isNull(nodes[1]!.finished_at)
        assert.strictEqual((yield* operatorStore.getRun(run.id)).status, "stalled")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
        // stalled → running (resume, a new run): the job's next state is a legal one, and it finishes there.
        const resumed = yield* operator.resume(job.job_id, { actor: "human", reason: "worker died" })
        assert.notStrictEqual(resumed.run.id, run.id)
        assert.deepStrictEqual(yield* operator.run(job.job_id, () => Effect.succeed({ again: true })), { again: true })
        assert.strictEqual((yield* operatorStore.getJob(job.job_id)).state, "completed")
        assert.strictEqual((yield* operatorStore.getRun(run.id)).status, "stalled", "the dead run stays as recovery left it")
        // The resume ended the node the dead run left running, with its run's state, in its own transaction (openNodes.ts).
        assert.deepStrictEqual((yield* operatorStore.listNodes(run.id)).map((n) => [n.status, n.error_message]), [["completed", null], ["stalled", "worker died"]])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a worker process SIGKILLed and its process restarted 5 s later (within the threshold): startup leaves the run, not stale yet; its second look one threshold later stalls it once, with one event", () =>
      Effect.gen(function*() {
        const { child: worker, database, operatorStore, recoverer, run } = yield* runInChild(backend, "recovery quick restart", "node-hold", "in-transaction")
        yield* Effect.promise(() => worker.kill())
        // The restart, 5 s after every beat the worker wrote.
        yield* TestClock.setTime(Date.now() + 5_000)
        const starting = yield* startingProcess(recoverer)
        assert.deepStrictEqual((yield* starting.gate.result).recovered, [], "not stale at startup")
        assert.strictEqual((yield* operatorStore.getRun(run.id)).status, "running")
        // One threshold after startup: the run has not been heard from since, so it is stale.
        for (let tries = 0; tries < 2_500 && Chunk.isEmpty(yield* TestClock.sleeps()); tries++) yield* realSleep(2)
        yield* TestClock.adjust("30 seconds")
        for (let tries = 0; tries < 2_500 && (yield* operatorStore.getRun(run.id)).status === "running"; tries++) yield* realSleep(2)
        yield* stalledOnce(operatorStore, run)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a worker process frozen (SIGSTOP) past the threshold and revived after recovery stalled its run: its late heartbeat is refused (RunNotActive stalled), Jobs.run fails with RunLost, and nothing more is written", () =>
      Effect.gen(function*() {
        const { child: zombie, database, job, operatorStore, recoverer, run } = yield* runInChild(backend, "recovery zombie", "zombie", "running")
        yield* signal(zombie, "SIGSTOP")
        yield* TestClock.setTime(Date.now() + 31_000)
        const starting = yield* startingProcess(recoverer)
        const [recovered] = (yield* starting.gate.result).recovered
        assert.strictEqual(recovered?.id, run.id)
        yield* signal(zombie, "SIGCONT")
        zombie.send("go")
        const beat = yield* waitFor(zombie, "beat")
        assert.deepStrictEqual([beat["tag"], beat["status"]], ["RunNotActive", "stalled"])
        const ended = yield* waitFor(zombie, "ended")
        assert.deepStrictEqual([ended["tag"], ended["status"]], ["RunLost", "stalled"])
        yield* stalledOnce(operatorStore, run)
        assert.deepStrictEqual((yield* operatorStore.listNodes(run.id)).map((n) => n.node_id), ["first"], "the zombie wrote no node")
        const after = yield* operatorStore.getJob(job.job_id)
        assert.isNull(after.job_outputs)
        const dead = yield* operatorStore.getRun(run.id)
        assert.strictEqual(DateTime.toEpochMillis(dead.last_heartbeat), DateTime.toEpochMillis(recovered!.last_heartbeat), "the late heartbeat was not written")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a late heartbeat of the very run being stalled, committing between the scan's read and its write (the scan waiting for the run), keeps the run running: no stall, no event; the next scan stalls it once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery meets a late beat")
        const workerStore = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, workerStore))), Jobs)
        const recoverer = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), JobStore)
        const recover = Effect.provide(Recovery.recoverStalledRuns(), Layer.succeed(JobStore, recoverer))
        const { run } = (yield* startedJobs(operator, 1))[0]!
        yield* TestClock.adjust("1 minute")
        // The worker's beat written (its run row locked; SQLite: the write lock), not yet committed.
        const beaten = yield* Deferred.make<void>()
        const commit = yield* Deferred.make<void>()
        const beat = yield* Effect.fork(workerStore.transaction(Effect.zipLeft(workerStore.heartbeat(run.id), Effect.zipRight(Deferred.succeed(beaten, undefined), Deferred.await(commit)))))
        yield* Deferred.await(beaten)
        const scan = yield* Effect.fork(recover)
        // PostgreSQL: the scan has read the run as stale and waits for its row; SQLite: for the write lock.
        yield* untilLockWaiter(database, backend)
        assert.isTrue(Option.isNone(yield* Fiber.poll(scan)), "the scan waits for the beat")
        yield* Deferred.succeed(commit, undefined)
        const fresh = yield* Fiber.join(beat)
        assert.deepStrictEqual((yield* Fiber.join(scan)).recovered, [], "the run that beat is not stalled")
        const after = yield* recoverer.getRun(run.id)
        assert.strictEqual(after.status, "running")
        assert.strictEqual(DateTime.toEpochMillis(after.last_heartbeat), DateTime.toEpochMillis(fresh.last_heartbeat))
        assert.strictEqual((yield* recoveryEventsOf(recoverer, run)).length, 0)
        // Silent again past the threshold: the next scan stalls it, once.
        yield* TestClock.adjust("31 seconds")
        assert.deepStrictEqual((yield* recover).recovered.map((r) => r.id), [run.id])
        assert.deepStrictEqual((yield* recover).recovered, [])
        yield* stalledOnce(recoverer, run)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 a late heartbeat arriving while the scan holds the run it has stalled (before its COMMIT) waits, then is refused with RunNotActive stalled and writes nothing", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("late beat meets recovery")
        const workerStore = yield* database.store()
        const operator = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, workerStore))), Jobs)
        const holding = yield* Deferred.make<void>()
        const commit = yield* Deferred.make<void>()
        const recoverer = holdingScan(yield* database.store(), Effect.zipRight(Deferred.succeed(holding, undefined), Deferred.await(commit)))
        const { run } = (yield* startedJobs(operator, 1))[0]!
        yield* TestClock.adjust("1 minute")
        const scan = yield* Effect.fork(Effect.provide(Recovery.recoverStalledRuns(), Layer.succeed(JobStore, recoverer)))
        yield* Deferred.await(holding)
        const beat = yield* Effect.fork(Effect.either(workerStore.heartbeat(run.id)))
        yield* untilLockWaiter(database, backend)
        assert.isTrue(Option.isNone(yield* Fiber.poll(beat)), "the beat waits for the scan")
        yield* Deferred.succeed(commit, undefined)
        assert.deepStrictEqual((yield* Fiber.join(scan)).recovered.map((r) => r.id), [run.id])
        const refused = yield* Fiber.join(beat)
        if (Either.isRight(refused)) return assert.fail("the late heartbeat of a stalled run was written")
        assert.deepStrictEqual([refused.left._tag, (refused.left as { readonly status?: string }).status], ["RunNotActive", "stalled"])
        assert.strictEqual(DateTime.toEpochMillis((yield* workerStore.getRun(run.id)).last_heartbeat), DateTime.toEpochMillis(run.last_heartbeat))
        yield* stalledOnce(workerStore, run)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)
  })
}
