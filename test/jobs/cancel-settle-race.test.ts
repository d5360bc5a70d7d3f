/**
 * An operator's `Jobs.cancel` racing a worker pool's own end of the same job
 * — its settle as completed or failed, a failure the retry policy requeues,
 * a closing pool's release — from another store (another SQLite connection,
 * another PostgreSQL pool; on PostgreSQL also another OS process). Each
 * interleaving is forced: one side's write is held inside its open
 * transaction (a hook on its store) until the other side's write has begun
 * (on PostgreSQL: until it waits for the row lock), then let go.
 *
 * Whatever the order, the job makes exactly one legal move per event, its
 * run and nodes end with it, `Jobs.await` reads the same end from both
 * sides, and the loser gets a typed error it can catch (`IllegalTransition`
 * for a cancel that came too late, `RunNotActive` → `RunLost` for a settle
 * that came too late) — never a defect, never a second end.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { engineOn } from "../engine/engine.js"
import { audit } from "../reliability/invariants.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { type SharedBackend, type SharedDatabase, sharedBackends, untilLockWaiter } from "./shared-database.js"

/** A point one side stops at: `reached` once there; it goes on once `go` is done. */
interface Gate {
  readonly reached: Deferred.Deferred<void>
  readonly go: Deferred.Deferred<void>
}
const makeGate: Effect.Effect<Gate> = Effect.zipWith(Deferred.make<void>(), Deferred.make<void>(), (reached, go) => ({ reached, go }))
const pass = (gate: Gate) => Effect.zipRight(Deferred.succeed(gate.reached, undefined), Deferred.await(gate.go))
const open = (gate: Gate) => Deferred.succeed(gate.go, undefined)

/**
 * Per-job hooks on a store. A hold runs inside the write's open transaction,
 * after the write (the job's row written and locked, not committed); a start
 * signal fires as the write is called, before it waits for any lock.
 */
interface Hooks {
  /** A worker's settle (`settleRun`), written: its transaction held open. */
  readonly settleHeld: Map<string, Gate>
  /** A worker's failure written, its retry's requeue (`failed → queued`) not yet: held between the two. */
  readonly requeueHeld: Map<string, Gate>
  /** A worker's release (`releaseRun`), written: its transaction held open. */
  readonly releaseHeld: Map<string, Gate>
  /** An operator's one-write move of a running job (`finishRunningJob`), written: its transaction held open. */
  readonly finishHeld: Map<string, Gate>
  /** A worker's settle called. */
  readonly settleStarted: Map<string, Deferred.Deferred<void>>
  /** An operator's move of a running job called. */
  readonly finishStarted: Map<string, Deferred.Deferred<void>>
  /** The store's next transaction begun (a release locks its job in one). */
  transactionStarted: Deferred.Deferred<void> | undefined
  /** How each worker settle ended, by job. */
  readonly settleExits: Map<string, Exit.Exit<unknown, unknown>>
}

const makeHooks = (): Hooks => ({
  settleHeld: new Map(),
  requeueHeld: new Map(),
  releaseHeld: new Map(),
  finishHeld: new Map(),
  settleStarted: new Map(),
  finishStarted: new Map(),
  transactionStarted: undefined,
  settleExits: new Map()
})

const signal = (deferred: Deferred.Deferred<void> | undefined) => deferred === undefined ? Effect.void : Deferred.succeed(deferred, undefined)

const hooked = (hooks: Hooks) => (store: JobStore["Type"]): JobStore["Type"] => ({
  ...store,
  transaction: (effect) =>
    Effect.suspend(() => {
      const started = hooks.transactionStarted
      hooks.transactionStarted = undefined
      return Effect.zipRight(signal(started), store.transaction(effect))
    }),
  settleRun: (settle) =>
    Effect.suspend(() => {
      const held = hooks.settleHeld.get(settle.job_id)
      const write = held === undefined ? store.settleRun!(settle) : store.transaction(Effect.tap(store.settleRun!(settle), () => pass(held)))
      return Effect.zipRight(signal(hooks.settleStarted.get(settle.job_id)), write).pipe(
        Effect.onExit((exit) => Effect.sync(() => hooks.settleExits.set(settle.job_id, exit)))
      )
    }),
  transition: (input) =>
    Effect.suspend(() => {
      const held = input.from === "failed" && input.to === "queued" ? hooks.requeueHeld.get(input.job_id) : undefined
      return held === undefined ? store.transition(input) : Effect.zipRight(pass(held), store.transition(input))
    }),
  releaseRun: (runId, options) =>
    Effect.flatMap(store.releaseRun(runId, options), (job) => {
      const held = hooks.releaseHeld.get(job.job_id)
      return held === undefined ? Effect.succeed(job) : Effect.as(pass(held), job)
    }),
  finishRunningJob: (end) =>
    Effect.suspend(() => {
      const held = hooks.finishHeld.get(end.job_id)
      const write = held === undefined
        ? store.finishRunningJob!(end)
        : store.transaction(Effect.tap(store.finishRunningJob!(end), (job) => job === null ? Effect.void : pass(held)))
      return Effect.zipRight(signal(hooks.finishStarted.get(end.job_id)), write)
    })
})

/** One retry, an hour after a failure: a requeued job stays queued for the test. Submits record it, so both sides have it. */
const RETRY = { default: { maxAttempts: 2, backoff: { initial: "1 hour", jitter: 0 } } } as const

/** The operator: Jobs over a store of its own (another pool or connection), its writes hooked. */
const operatorOn = (database: SharedDatabase, hooks: Hooks) =>
  Effect.gen(function*() {
    const store = hooked(hooks)(yield* database.store())
    return Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store), undefined, undefined, { retry: RETRY })), Jobs)
  })

/** Once the other side's write has begun: called, and on PostgreSQL waiting for the row lock the held side has. */
const untilBlocked = (started: Deferred.Deferred<void>, database: SharedDatabase, backend: SharedBackend) =>
  Effect.zipRight(Deferred.await(started), backend.name === "PostgreSQL" ? untilLockWaiter(database, backend) : Effect.void)

/** A program that says it started and waits for `finish`; then fails, or succeeds with outputs. */
const programs = () => {
  const started = new Map<string, Deferred.Deferred<void>>()
  const finish = new Map<string, Deferred.Deferred<"succeed" | "fail">>()
  const slot = <A>(map: Map<string, Deferred.Deferred<A>>, jobId: string) => {
    let deferred = map.get(jobId)
    if (deferred === undefined) map.set(jobId, deferred = Deferred.unsafeMake<A>(FiberId.none))
    return deferred
  }
  const handler = (ctx: RunContext) =>
    Effect.gen(function*() {
      yield* Deferred.succeed(slot(started, ctx.job.job_id), undefined)
      const how = yield* Deferred.await(slot(finish, ctx.job.job_id))
      if (how === "fail") return yield* Effect.fail("the model gave up")
      return { summary: ctx.job.job_id }
    })
  return {
    handler,
    started: (jobId: string) => Deferred.await(slot(started, jobId)),
    finish: (jobId: string, how: "succeed" | "fail") => Deferred.succeed(slot(finish, jobId), how)
  }
}

/** The job's state moves, from its history's events, oldest first. */
const moves = (jobs: Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), (history) =>
    history.events
      .filter((event) => event.type === "system" && event.body["from_state"] !== event.body["to_state"])
      .map((event) => `${String(event.body["from_state"] ?? "")}→${String(event.body["to_state"])}`))

/** The failure of `exit` if it failed with one (a tag to check), else a defect's text. */
const failureOf = (exit: Exit.Exit<unknown, unknown>): { readonly _tag?: string; readonly status?: string; readonly from?: string } | string | null => {
  if (Exit.isSuccess(exit)) return null
  const failure = Cause.failureOption(exit.cause)
  return failure._tag === "Some" ? failure.value as { readonly _tag?: string } : `defect: ${Cause.pretty(exit.cause)}`
}

/** Both sides' `await` read the same end, the one expected. */
const bothAwait = (a: Jobs["Type"], b: Jobs["Type"], jobId: JobId, state: JobState) =>
  Effect.gen(function*() {
    const [fromA, fromB] = yield* Effect.all([a.await(jobId, { timeout: "30 seconds" }), b.await(jobId, { timeout: "30 seconds" })], { concurrency: 2 })
    assert.deepStrictEqual([fromA.state, fromB.state], [state, state], "await in both processes")
  })

/** A worker pool on a store of its own (hooked), its scope to close, and an operator on another. */
const setUp = (backend: SharedBackend, label: string) =>
  Effect.gen(function*() {
    const database = yield* backend.fresh(label)
    const hooks = makeHooks()
    const desk = makeHooks()
    const worker = yield* engineOn(database, { retry: RETRY, wrapStore: hooked(hooks) })
    const operator = yield* operatorOn(database, desk)
    const program = programs()
    const pool = yield* Scope.make()
    yield* Scope.extend(
      worker.jobs.worker({ concurrency: 1, pollInterval: "50 millis", drainTimeout: "1 millis", handler: program.handler, run: { heartbeatInterval: "1 hour" } }),
      pool
    )
    return { database, hooks, desk, worker: worker.jobs, operator, program, pool }
  })

for (const backend of sharedBackends) {
  const pg = backend.name === "PostgreSQL"

  describe(`cancel racing a worker's end of the same job on ${backend.name}`, () => {
    it.live("R6 a cancel that starts while a pool's completion is written but not committed loses with IllegalTransition completed→cancelled; the job ends completed once", () =>
      Effect.gen(function*() {
        const { database, desk, hooks, worker, operator, program, pool } = yield* setUp(backend, "cancel after settle")
        const job = yield* operator.submit(summarize())
        const held = yield* makeGate
        hooks.settleHeld.set(job.job_id, held)
        const cancelStarted = yield* Deferred.make<void>()
        desk.finishStarted.set(job.job_id, cancelStarted)
        yield* program.started(job.job_id)
        yield* program.finish(job.job_id, "succeed")
        yield* Deferred.await(held.reached)
        const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "too late" })))
        yield* untilBlocked(cancelStarted, database, backend)
        yield* open(held)
        const cancel = yield* Fiber.join(cancelling)
        // The loser's error is typed and catchable by its tag.
        const caught = yield* Effect.either(Effect.catchTag(cancel, "IllegalTransition", (e) => Effect.fail(`${e.from}→${e.to}`)))
        assert.deepStrictEqual(caught, Either.left("completed→cancelled"), String(failureOf(cancel)))

        yield* bothAwait(worker, operator, job.job_id, "completed")
        assert.isTrue(Exit.isSuccess(hooks.settleExits.get(job.job_id)!), "the settle committed")
        const history = yield* operator.history(job.job_id)
        assert.deepStrictEqual(history.job.job_outputs, { summary: job.job_id })
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["completed"])
        assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→completed"])
        yield* Scope.close(pool, Exit.void)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a pool's completion that starts while a cancel is written but not committed finds its run taken (RunNotActive → RunLost): the job ends cancelled once, nothing of the run's written", () =>
      Effect.gen(function*() {
        const { database, desk, hooks, worker, operator, program, pool } = yield* setUp(backend, "settle after cancel")
        const job = yield* operator.submit(summarize())
        const held = yield* makeGate
        desk.finishHeld.set(job.job_id, held)
        const settleStarted = yield* Deferred.make<void>()
        hooks.settleStarted.set(job.job_id, settleStarted)
        yield* program.started(job.job_id)
        const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "stop" })))
        yield* Deferred.await(held.reached)
        yield* program.finish(job.job_id, "succeed")
        yield* untilBlocked(settleStarted, database, backend)
        yield* open(held)
        const cancel = yield* Fiber.join(cancelling)
        assert.isTrue(Exit.isSuccess(cancel), String(failureOf(cancel)))

        yield* bothAwait(worker, operator, job.job_id, "cancelled")
        const settled = hooks.settleExits.get(job.job_id)
        assert.isDefined(settled, "the settle was written after the cancel")
        assert.deepInclude(failureOf(settled!), { _tag: "RunNotActive", status: "cancelled" })
        const history = yield* operator.history(job.job_id)
        assert.strictEqual(history.job.job_outputs, null, "no outputs of the taken run")
        assert.strictEqual(history.job.metrics.duration_ms, 0)
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["cancelled"])
        assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→cancelled"])
        yield* Scope.close(pool, Exit.void)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a cancel that starts between a failed attempt and its retry's requeue (one transaction) cancels the requeued job: queued→cancelled, never run again", () =>
      Effect.gen(function*() {
        const { database, desk, hooks, worker, operator, program, pool } = yield* setUp(backend, "cancel in requeue")
        const job = yield* operator.submit(summarize())
        const held = yield* makeGate
        hooks.requeueHeld.set(job.job_id, held)
        const cancelStarted = yield* Deferred.make<void>()
        desk.finishStarted.set(job.job_id, cancelStarted)
        yield* program.started(job.job_id)
        yield* program.finish(job.job_id, "fail")
        yield* Deferred.await(held.reached)
        const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "no retry" })))
        yield* untilBlocked(cancelStarted, database, backend)
        yield* open(held)
        const cancel = yield* Fiber.join(cancelling)
        assert.isTrue(Exit.isSuccess(cancel), String(failureOf(cancel)))

        yield* bothAwait(worker, operator, job.job_id, "cancelled")
        const history = yield* operator.history(job.job_id)
        assert.strictEqual(history.job.attempt, 2, "the retry was recorded before the cancel")
        assert.strictEqual(history.job.status_reason, "no retry")
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["failed"])
        assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→failed", "failed→queued", "queued→cancelled"])
        yield* Scope.close(pool, Exit.void)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a failed attempt's settle (with a retry due) that starts while a cancel is written but not committed writes nothing: cancelled once, attempt 1, no requeue", () =>
      Effect.gen(function*() {
        const { database, desk, hooks, worker, operator, program, pool } = yield* setUp(backend, "fail after cancel")
        const job = yield* operator.submit(summarize())
        const held = yield* makeGate
        desk.finishHeld.set(job.job_id, held)
        const settleStarted = yield* Deferred.make<void>()
        hooks.settleStarted.set(job.job_id, settleStarted)
        yield* program.started(job.job_id)
        const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "stop" })))
        yield* Deferred.await(held.reached)
        // A failure with a retry due is settled in a transaction of its own (the failure, then the
        // requeue): on SQLite its BEGIN waits for the held cancel's write lock, before the settle is called.
        hooks.transactionStarted = settleStarted
        yield* program.finish(job.job_id, "fail")
        yield* untilBlocked(settleStarted, database, backend)
        yield* open(held)
        const cancel = yield* Fiber.join(cancelling)
        assert.isTrue(Exit.isSuccess(cancel), String(failureOf(cancel)))

        yield* bothAwait(worker, operator, job.job_id, "cancelled")
        assert.deepInclude(failureOf(hooks.settleExits.get(job.job_id)!), { _tag: "RunNotActive", status: "cancelled" })
        const history = yield* operator.history(job.job_id)
        assert.strictEqual(history.job.attempt, 1)
        assert.strictEqual(history.job.error_message, null, "the lost attempt's error is not written")
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["cancelled"])
        assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→cancelled"])
        yield* Scope.close(pool, Exit.void)
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a cancel that starts while a closing pool's release is written but not committed cancels the released job: running→queued→cancelled, its run failed (released)", () =>
      Effect.gen(function*() {
        const { database, desk, hooks, worker, operator, program, pool } = yield* setUp(backend, "cancel in release")
        const job = yield* operator.submit(summarize())
        const held = yield* makeGate
        hooks.releaseHeld.set(job.job_id, held)
        const cancelStarted = yield* Deferred.make<void>()
        desk.finishStarted.set(job.job_id, cancelStarted)
        yield* program.started(job.job_id)
        // The program never finishes: the pool's drain time (1 ms) passes and it releases the job.
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        yield* Deferred.await(held.reached)
        const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "not again" })))
        yield* untilBlocked(cancelStarted, database, backend)
        yield* open(held)
        yield* Fiber.join(closing)
        const cancel = yield* Fiber.join(cancelling)
        assert.isTrue(Exit.isSuccess(cancel), String(failureOf(cancel)))

        yield* bothAwait(worker, operator, job.job_id, "cancelled")
        const history = yield* operator.history(job.job_id)
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["failed"])
        assert.include(history.runs[0]!.run.error_message ?? "", "shut down")
        assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→queued", "queued→cancelled"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a closing pool's release that starts while a cancel is written but not committed finds the job cancelled and writes nothing: cancelled once, its run cancelled", () =>
      Effect.gen(function*() {
        const { database, desk, hooks, worker, operator, program, pool } = yield* setUp(backend, "release after cancel")
        const job = yield* operator.submit(summarize())
        const held = yield* makeGate
        desk.finishHeld.set(job.job_id, held)
        yield* program.started(job.job_id)
        const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "stop" })))
        yield* Deferred.await(held.reached)
        const releaseStarted = yield* Deferred.make<void>()
        hooks.transactionStarted = releaseStarted
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        yield* untilBlocked(releaseStarted, database, backend)
        yield* open(held)
        yield* Fiber.join(closing)
        const cancel = yield* Fiber.join(cancelling)
        assert.isTrue(Exit.isSuccess(cancel), String(failureOf(cancel)))

        yield* bothAwait(worker, operator, job.job_id, "cancelled")
        const history = yield* operator.history(job.job_id)
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["cancelled"])
        assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→cancelled"])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 90_000)

    if (pg) {
      const script = fileURLToPath(new URL("../engine/cancel-process.ts", import.meta.url))
      it.live("R6 a cancel from another OS process, waiting on a pool's uncommitted completion, fails with IllegalTransition completed→cancelled there; the job ends completed once", () =>
        Effect.gen(function*() {
          const { database, hooks, worker, operator, program, pool } = yield* setUp(backend, "cancel process after settle")
          const job = yield* operator.submit(summarize())
          const held = yield* makeGate
          hooks.settleHeld.set(job.job_id, held)
          yield* program.started(job.job_id)
          yield* program.finish(job.job_id, "succeed")
          yield* Deferred.await(held.reached)
          const cancelling = yield* Effect.fork(Effect.promise(() =>
            promisify(execFile)(process.execPath, ["--import", "tsx", script, database.url, job.job_id], { timeout: 60_000 }).then(
              ({ stdout }) => ({ ok: true, out: stdout }),
              (error: { readonly stderr?: string }) => ({ ok: false, out: error.stderr ?? String(error) })
            )
          ))
          yield* untilLockWaiter(database, backend)
          yield* open(held)
          const other = yield* Fiber.join(cancelling)
          assert.isFalse(other.ok, other.out)
          assert.include(other.out, "IllegalTransition")
          assert.include(other.out, "cannot go from completed to cancelled")

          yield* bothAwait(worker, operator, job.job_id, "completed")
          assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→completed"])
          yield* Scope.close(pool, Exit.void)
          assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
        }).pipe(Effect.scoped), 90_000)
    }
  })
}
