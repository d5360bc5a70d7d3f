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
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import { execFile, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import type { RunContext, SuccessState } from "../../src/Jobs.js"
import { engineOn } from "../engine/engine.js"
import { audit } from "../reliability/invariants.js"
import { summarize } from "./jobs.suite.js"
import { allAwait, failureOf, type Gate, hooked, makeGate, makeHooks, moves, open, operatorOn, RETRY, untilBlocked } from "./endRaceHooks.js"
import { type SharedBackend, sharedBackends, untilLockWaiter } from "./shared-database.js"

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

/** A worker pool on a store of its own (hooked), its scope to close, and an operator on another. */
const setUp = (backend: SharedBackend, label: string, onSuccess: SuccessState = "completed") =>
  Effect.gen(function*() {
    const database = yield* backend.fresh(label)
    const hooks = makeHooks()
    const desk = makeHooks()
    const worker = yield* engineOn(database, { retry: RETRY, wrapStore: hooked(hooks) })
    const operator = yield* operatorOn(database, desk)
    const program = programs()
    const pool = yield* Scope.make()
    yield* Scope.extend(
      worker.jobs.worker({ concurrency: 1, pollInterval: "50 millis", drainTimeout: "1 millis", handler: program.handler, run: { heartbeatInterval: "1 hour", onSuccess } }),
      pool
    )
    return { backend, database, hooks, desk, worker: worker.jobs, operator, program, pool }
  })

type Race = Effect.Effect.Success<ReturnType<typeof setUp>>

/**
 * The worker's write reached `held` (held open in its transaction) once `reach`
 * ran; the operator's cancel begun and waiting behind it; then the write let
 * go. The cancel's exit.
 */
const cancelWhileWorkerHolds = (race: Race, jobId: JobId, held: Gate, reach: Effect.Effect<unknown>, reason: string) =>
  Effect.gen(function*() {
    const cancelStarted = yield* Deferred.make<void>()
    race.desk.finishStarted.set(jobId, cancelStarted)
    yield* reach
    yield* Deferred.await(held.reached)
    const cancelling = yield* Effect.fork(Effect.exit(race.operator.cancel(jobId, { actor: "human", reason })))
    yield* untilBlocked(cancelStarted, race.database, race.backend)
    yield* open(held)
    return yield* Fiber.join(cancelling)
  })

/**
 * The operator's cancel written and held open in its transaction; then
 * `write` makes the worker write (its start signalled on `started`), which
 * waits behind it; then the cancel let go. The cancel's exit.
 */
const workerWhileCancelHolds = (race: Race, jobId: JobId, write: Effect.Effect<unknown>, started: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const held = yield* makeGate
    race.desk.finishHeld.set(jobId, held)
    const cancelling = yield* Effect.fork(Effect.exit(race.operator.cancel(jobId, { actor: "human", reason: "stop" })))
    yield* Deferred.await(held.reached)
    yield* write
    yield* untilBlocked(started, race.database, race.backend)
    yield* open(held)
    return yield* Fiber.join(cancelling)
  })

/**
 * How the job ended, as each side reads it: every process's `await` gives
 * `state`, its runs ended as `runs`, its moves after creation were `moves`;
 * then, the pool closed, the database passes the audit. The job's history.
 */
const endedAs = (race: Race, jobId: JobId, state: JobState, runs: ReadonlyArray<string>, movesAfterCreate: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* allAwait([race.worker, race.operator], jobId, state)
    const history = yield* race.operator.history(jobId)
    assert.deepStrictEqual(history.runs.map(({ run }) => run.status), runs)
    assert.notInclude(history.runs.flatMap(({ nodes }) => nodes.map((node) => node.status)), "running")
    assert.deepStrictEqual(yield* moves(race.operator, jobId), ["→queued", ...movesAfterCreate])
    yield* Scope.close(race.pool, Exit.void)
    assert.deepStrictEqual(audit(yield* race.database.snapshot, { quiescent: true }), [])
    return history
  })

/** A cancel that won: it succeeded. */
const succeeded = (cancel: Exit.Exit<unknown, unknown>) => assert.isTrue(Exit.isSuccess(cancel), String(failureOf(cancel)))

for (const backend of sharedBackends) {
  const pg = backend.name === "PostgreSQL"

  describe(`cancel racing a worker's end of the same job on ${backend.name}`, () => {
    it.live("R6 a cancel that starts while a pool's completion is written but not committed loses with IllegalTransition completed→cancelled; the job ends completed once", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "cancel after settle")
        const job = yield* race.operator.submit(summarize())
        const held = yield* makeGate
        race.hooks.settleHeld.set(job.job_id, held)
        yield* race.program.started(job.job_id)
        const cancel = yield* cancelWhileWorkerHolds(race, job.job_id, held, race.program.finish(job.job_id, "succeed"), "too late")
        // The loser's error is typed and catchable by its tag.
        const caught = yield* Effect.either(Effect.catchTag(cancel, "IllegalTransition", (e) => Effect.fail(`${e.from}→${e.to}`)))
        assert.deepStrictEqual(caught, Either.left("completed→cancelled"), String(failureOf(cancel)))

        const history = yield* endedAs(race, job.job_id, "completed", ["completed"], ["queued→running", "running→completed"])
        assert.isTrue(Exit.isSuccess(race.hooks.settleExits.get(job.job_id)!), "the settle committed")
        assert.deepStrictEqual(history.job.job_outputs, { summary: job.job_id })
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a cancel that starts while a pool's success to awaiting_validation is written but not committed cancels the job from there: a move the lifecycle allows, never IllegalTransition", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "cancel after validation settle", "awaiting_validation")
        const job = yield* race.operator.submit(summarize())
        const held = yield* makeGate
        race.hooks.settleHeld.set(job.job_id, held)
        yield* race.program.started(job.job_id)
        succeeded(yield* cancelWhileWorkerHolds(race, job.job_id, held, race.program.finish(job.job_id, "succeed"), "rejected"))

        const history = yield* endedAs(race, job.job_id, "cancelled", ["awaiting_validation"], ["queued→running", "running→awaiting_validation", "awaiting_validation→cancelled"])
        assert.deepStrictEqual(history.job.job_outputs, { summary: job.job_id }, "the run's outputs, written before the cancel")
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a pool's completion that starts while a cancel is written but not committed finds its run taken (RunNotActive → RunLost): the job ends cancelled once, nothing of the run's written", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "settle after cancel")
        const job = yield* race.operator.submit(summarize())
        const settleStarted = yield* Deferred.make<void>()
        race.hooks.settleStarted.set(job.job_id, settleStarted)
        yield* race.program.started(job.job_id)
        succeeded(yield* workerWhileCancelHolds(race, job.job_id, race.program.finish(job.job_id, "succeed"), settleStarted))

        const history = yield* endedAs(race, job.job_id, "cancelled", ["cancelled"], ["queued→running", "running→cancelled"])
        assert.deepInclude(failureOf(race.hooks.settleExits.get(job.job_id)!), { _tag: "RunNotActive", status: "cancelled" })
        assert.strictEqual(history.job.job_outputs, null, "no outputs of the taken run")
        assert.strictEqual(history.job.metrics.duration_ms, 0)
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a cancel that starts between a failed attempt and its retry's requeue (one transaction) cancels the requeued job: queued→cancelled, never run again", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "cancel in requeue")
        const job = yield* race.operator.submit(summarize())
        const held = yield* makeGate
        race.hooks.requeueHeld.set(job.job_id, held)
        yield* race.program.started(job.job_id)
        succeeded(yield* cancelWhileWorkerHolds(race, job.job_id, held, race.program.finish(job.job_id, "fail"), "no retry"))

        const history = yield* endedAs(race, job.job_id, "cancelled", ["failed"], ["queued→running", "running→failed", "failed→queued", "queued→cancelled"])
        assert.strictEqual(history.job.attempt, 2, "the retry was recorded before the cancel")
        assert.strictEqual(history.job.status_reason, "no retry")
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a failed attempt's settle (with a retry due) that starts while a cancel is written but not committed writes nothing: cancelled once, attempt 1, no requeue", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "fail after cancel")
        const job = yield* race.operator.submit(summarize())
        const settleStarted = yield* Deferred.make<void>()
        race.hooks.settleStarted.set(job.job_id, settleStarted)
        yield* race.program.started(job.job_id)
        // A failure with a retry due is settled in a transaction of its own (the failure, then the
        // requeue): on SQLite its BEGIN waits for the held cancel's write lock, before the settle is called.
        const fail = Effect.zipRight(Effect.sync(() => race.hooks.transactionStarted = settleStarted), race.program.finish(job.job_id, "fail"))
        succeeded(yield* workerWhileCancelHolds(race, job.job_id, fail, settleStarted))

        const history = yield* endedAs(race, job.job_id, "cancelled", ["cancelled"], ["queued→running", "running→cancelled"])
        assert.deepInclude(failureOf(race.hooks.settleExits.get(job.job_id)!), { _tag: "RunNotActive", status: "cancelled" })
        assert.strictEqual(history.job.attempt, 1)
        assert.strictEqual(history.job.error_message, null, "the lost attempt's error is not written")
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a cancel that starts while a closing pool's release is written but not committed cancels the released job: running→queued→cancelled, its run failed (released)", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "cancel in release")
        const job = yield* race.operator.submit(summarize())
        const held = yield* makeGate
        race.hooks.releaseHeld.set(job.job_id, held)
        yield* race.program.started(job.job_id)
        // The program never finishes: the pool's drain time (1 ms) passes and it releases the job.
        const closing = yield* Effect.fork(Scope.close(race.pool, Exit.void))
        succeeded(yield* cancelWhileWorkerHolds(race, job.job_id, held, Effect.void, "not again"))
        yield* Fiber.join(closing)

        const history = yield* endedAs(race, job.job_id, "cancelled", ["failed"], ["queued→running", "running→queued", "queued→cancelled"])
        assert.include(history.runs[0]!.run.error_message ?? "", "shut down")
      }).pipe(Effect.scoped), 90_000)

    it.live("R6 a closing pool's release that starts while a cancel is written but not committed finds the job cancelled and writes nothing: cancelled once, its run cancelled", () =>
      Effect.gen(function*() {
        const race = yield* setUp(backend, "release after cancel")
        const job = yield* race.operator.submit(summarize())
        yield* race.program.started(job.job_id)
        // The release locks its job in a transaction: its start is that transaction's.
        const releaseStarted = yield* Deferred.make<void>()
        let closing: Fiber.RuntimeFiber<void> | undefined
        const close = Effect.gen(function*() {
          race.hooks.transactionStarted = releaseStarted
          closing = yield* Effect.fork(Scope.close(race.pool, Exit.void))
        })
        succeeded(yield* workerWhileCancelHolds(race, job.job_id, close, releaseStarted))
        yield* Fiber.join(closing!)

        yield* endedAs(race, job.job_id, "cancelled", ["cancelled"], ["queued→running", "running→cancelled"])
      }).pipe(Effect.scoped), 90_000)

    if (pg) {
      const script = fileURLToPath(new URL("../engine/cancel-process.ts", import.meta.url))
      it.live("R6 a cancel from another OS process, waiting on a pool's uncommitted completion, fails with IllegalTransition completed→cancelled there; the job ends completed once", () =>
        Effect.gen(function*() {
          const race = yield* setUp(backend, "cancel process after settle")
          const job = yield* race.operator.submit(summarize())
          const held = yield* makeGate
          race.hooks.settleHeld.set(job.job_id, held)
          yield* race.program.started(job.job_id)
          yield* race.program.finish(job.job_id, "succeed")
          yield* Deferred.await(held.reached)
          const cancelling = yield* Effect.fork(Effect.promise(() =>
            promisify(execFile)(process.execPath, ["--import", "tsx", script, race.database.url, job.job_id], { timeout: 60_000 }).then(
              ({ stdout }) => ({ ok: true, out: stdout }),
              (error: { readonly stderr?: string }) => ({ ok: false, out: error.stderr ?? String(error) })
            )
          ))
          yield* untilLockWaiter(race.database, backend)
          yield* open(held)
          const other = yield* Fiber.join(cancelling)
          assert.isFalse(other.ok, other.out)
          assert.include(other.out, "IllegalTransition")
          assert.include(other.out, "cannot go from completed to cancelled")

          yield* endedAs(race, job.job_id, "completed", ["completed"], ["queued→running", "running→completed"])
        }).pipe(Effect.scoped), 90_000)

      const poolScript = fileURLToPath(new URL("./pool-process.ts", import.meta.url))
      it.live("R6 a pool in another OS process whose completion starts while a cancel is written but not committed finds its run taken: cancelled once, that pool's log says so", () =>
        Effect.gen(function*() {
          const database = yield* backend.fresh("settle process after cancel")
          const desk = makeHooks()
          const operator = yield* operatorOn(database, desk)
          const job = yield* operator.submit(summarize())
          let out = ""
          const child = yield* Effect.acquireRelease(
            Effect.sync(() => spawn(process.execPath, ["--import", "tsx", poolScript, database.url], { stdio: ["pipe", "pipe", "pipe"] })),
            (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
          )
          child.stdout.on("data", (chunk) => out += String(chunk))
          child.stderr.on("data", (chunk) => out += String(chunk))
          const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
          /** Until the pool process has printed `line` (it exits on its own; the test's timeout bounds a hang). */
          const untilPrinted = (line: string): Effect.Effect<void> =>
            Effect.suspend(() => out.includes(line) ? Effect.void : Effect.zipRight(Effect.sleep("20 millis"), untilPrinted(line)))

          yield* untilPrinted(`@@started ${job.job_id}`)
          const held = yield* makeGate
          desk.finishHeld.set(job.job_id, held)
          const cancelling = yield* Effect.fork(Effect.exit(operator.cancel(job.job_id, { actor: "human", reason: "stop" })))
          yield* Deferred.await(held.reached)
          child.stdin.write("finish\n")
          // The other process's settle waits for the job's row, which the cancel holds.
          yield* untilLockWaiter(database, backend)
          yield* open(held)
          succeeded(yield* Fiber.join(cancelling))
          assert.strictEqual(yield* Effect.promise(() => exited), 0, out)
          assert.include(out, "@@end cancelled")
          assert.include(out, `job ${job.job_id}'s run was taken away (now cancelled)`)

          yield* allAwait([operator], job.job_id, "cancelled")
          const history = yield* operator.history(job.job_id)
          assert.strictEqual(history.job.job_outputs, null)
          assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["cancelled"])
          assert.deepStrictEqual(yield* moves(operator, job.job_id), ["→queued", "queued→running", "running→cancelled"])
          assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
        }).pipe(Effect.scoped), 90_000)
    }
  })
}
