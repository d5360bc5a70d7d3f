/**
 * Hooks for the race tests of a job's end (cancel-settle-race.test.ts,
 * cancel-many-race.test.ts): a store whose writes can be held inside their
 * open transaction, per job, or announce that they began, and what the tests
 * check after each race.
 */
import { assert } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "./services.js"
import { type SharedBackend, type SharedDatabase, untilLockWaiter } from "./shared-database.js"

/** A point one side stops at: `reached` once there; it goes on once `go` is done. */
export interface Gate {
  readonly reached: Deferred.Deferred<void>
  readonly go: Deferred.Deferred<void>
}
/** A new gate, closed. */
export const makeGate: Effect.Effect<Gate> = Effect.zipWith(Deferred.make<void>(), Deferred.make<void>(), (reached, go) => ({ reached, go }))
/** Says `gate` is reached and waits there until it is opened. */
export const pass = (gate: Gate) => Effect.zipRight(Deferred.succeed(gate.reached, undefined), Deferred.await(gate.go))
/** Lets whoever waits at `gate` (now or later) go on. */
export const open = (gate: Gate) => Deferred.succeed(gate.go, undefined)

/**
 * Per-job hooks on a store. A hold runs inside the write's open transaction,
 * after the write (the job's row written and locked, not committed); a start
 * signal fires as the write is called, before it waits for any lock.
 */
export interface Hooks {
  /** A worker's settle (`settleRun`), written: its transaction held open. */
  readonly settleHeld: Map<string, Gate>
  /** A worker's failure written, its retry's requeue (`failed → queued`) not yet: held between the two. */
  readonly requeueHeld: Map<string, Gate>
  /** A worker's release (`releaseRun`), written: its transaction held open. */
  readonly releaseHeld: Map<string, Gate>
  /** An operator's one-write move of a running job (`finishRunningJob`), written: its transaction held open. */
  readonly finishHeld: Map<string, Gate>
  /** A worker's end of a node of the job's run (`finishNode`), written: its transaction held open. */
  readonly nodeEndHeld: Map<string, Gate>
  /** The job of each node started while a node end is to be held. */
  readonly nodeJobs: Map<string, string>
  /** A worker's settle called. */
  readonly settleStarted: Map<string, Deferred.Deferred<void>>
  /** An operator's move of a running job called. */
  readonly finishStarted: Map<string, Deferred.Deferred<void>>
  /** The store's next transaction begun (a release locks its job in one). */
  transactionStarted: Deferred.Deferred<void> | undefined
  /** How each worker settle ended, by job. */
  readonly settleExits: Map<string, Exit.Exit<unknown, unknown>>
}

/** Hooks with nothing armed: the store they wrap behaves as itself. */
export const makeHooks = (): Hooks => ({
  settleHeld: new Map(),
  requeueHeld: new Map(),
  releaseHeld: new Map(),
  finishHeld: new Map(),
  nodeEndHeld: new Map(),
  nodeJobs: new Map(),
  settleStarted: new Map(),
  finishStarted: new Map(),
  transactionStarted: undefined,
  settleExits: new Map()
})

const signal = (deferred: Deferred.Deferred<void> | undefined) => deferred === undefined ? Effect.void : Deferred.succeed(deferred, undefined)

/** `store` with `hooks` applied to the writes they name (the job of each found from the write itself). */
export const hooked = (hooks: Hooks) => (store: JobStore["Type"]): JobStore["Type"] => ({
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
  startNode: (input) =>
    Effect.tap(store.startNode(input), (node) =>
      hooks.nodeEndHeld.size === 0
        ? Effect.void
        : Effect.map(store.getRun(node.workflow_run_id), (run) => hooks.nodeJobs.set(node.id, run.job_id))),
  finishNode: (nodeId, outcome) =>
    Effect.suspend(() => {
      const job = hooks.nodeJobs.get(nodeId)
      const held = job === undefined ? undefined : hooks.nodeEndHeld.get(job)
      return held === undefined ? store.finishNode(nodeId, outcome) : store.transaction(Effect.tap(store.finishNode(nodeId, outcome), () => pass(held)))
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
export const RETRY = { default: { maxAttempts: 2, backoff: { initial: "1 hour", jitter: 0 } } } as const

/** The operator: Jobs over a store of its own (another pool or connection), its writes hooked. */
export const operatorOn = (database: SharedDatabase, hooks: Hooks) =>
  Effect.gen(function*() {
    const store = hooked(hooks)(yield* database.store())
    return Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store), undefined, undefined, { retry: RETRY })), Jobs)
  })

/** Once the other side's write has begun: called, and on PostgreSQL waiting for the row lock the held side has. */
export const untilBlocked = (started: Deferred.Deferred<void>, database: SharedDatabase, backend: SharedBackend) =>
  Effect.zipRight(Deferred.await(started), backend.name === "PostgreSQL" ? untilLockWaiter(database, backend) : Effect.void)

/** The job's state moves, from its history's events, oldest first. */
export const moves = (jobs: Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), (history) =>
    history.events
      .filter((event) => event.type === "system" && event.body["from_state"] !== event.body["to_state"])
      .map((event) => `${String(event.body["from_state"] ?? "")}→${String(event.body["to_state"])}`))

/** The failure of `exit` if it failed with one (a tag to check), else a defect's text. */
export const failureOf = (exit: Exit.Exit<unknown, unknown>): { readonly _tag?: string; readonly status?: string; readonly from?: string } | string | null => {
  if (exit._tag === "Success") return null
  const failure = Cause.failureOption(exit.cause)
  return failure._tag === "Some" ? failure.value as { readonly _tag?: string } : `defect: ${Cause.pretty(exit.cause)}`
}

/** Every side's `await` (each process's Jobs) reads the same end, the one expected. */
export const allAwait = (sides: ReadonlyArray<Jobs["Type"]>, jobId: JobId, state: JobState) =>
  Effect.gen(function*() {
    const ends = yield* Effect.forEach(sides, (jobs) => jobs.await(jobId, { timeout: "30 seconds" }), { concurrency: "unbounded" })
    assert.deepStrictEqual(ends.map((job) => job.state), sides.map(() => state), `job ${jobId}: await in every process`)
  })
