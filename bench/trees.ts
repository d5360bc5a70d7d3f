/**
 * Two checkouts in one process (issue 16): each tree's own modules, loaded
 * from its root, so a script can run a base tree and this one side by side
 * (compareSteps.ts, effectOps.ts, createCpu.ts), and the figures those
 * scripts take.
 */
import * as Effect from "effect/Effect"
import * as path from "node:path"
import type * as App from "./app.js"
import type * as Create from "./create.js"
import type * as Fixtures from "./fixtures.js"
import type * as JobsModule from "../src/Jobs.js"
import type * as JobStoreModule from "../src/store/JobStore.js"
import type * as RecoveryModule from "../src/Recovery.js"
import { MODULE_EXTENSION } from "./paths.js"

/** A checkout's modules a comparison runs through. */
export interface Tree {
  readonly name: string
  readonly app: typeof App
  readonly jobs: typeof JobsModule
  readonly store: typeof JobStoreModule
  readonly fixtures: typeof Fixtures
  readonly create: typeof Create
}

/** The tree checked out at `root`, named `name`. */
export const loadTree = async (name: string, root: string): Promise<Tree> => ({
  name,
  app: await import(path.join(root, `bench/app${MODULE_EXTENSION}`)) as typeof App,
  jobs: await import(path.join(root, `src/Jobs${MODULE_EXTENSION}`)) as typeof JobsModule,
  store: await import(path.join(root, `src/store/JobStore${MODULE_EXTENSION}`)) as typeof JobStoreModule,
  fixtures: await import(path.join(root, `bench/fixtures${MODULE_EXTENSION}`)) as typeof Fixtures,
  create: await import(path.join(root, `bench/create${MODULE_EXTENSION}`)) as typeof Create
})

/** A checkout's modules a recovery comparison runs through (compareRecovery.ts, staleSweep.ts). */
export interface RecoveryTree {
  readonly name: string
  readonly app: typeof App
  readonly recovery: typeof RecoveryModule
}

/** The recovery modules of the tree checked out at `root`, named `name`. */
export const loadRecoveryTree = async (name: string, root: string): Promise<RecoveryTree> => ({
  name,
  app: await import(path.join(root, `bench/app${MODULE_EXTENSION}`)) as typeof App,
  recovery: await import(path.join(root, `src/Recovery${MODULE_EXTENSION}`)) as typeof RecoveryModule
})

/**
 * One job's whole life through a tree's API, as the lifecycle benchmark runs it: submit, claim (again
 * while another worker took the job just queued), one heartbeat, complete.
 */
export const treeLifecycle = (tree: Tree) =>
  Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    const store = yield* tree.store.JobStore
    yield* service.submit(tree.fixtures.NEW_JOB)
    for (;;) {
      const claim = yield* service.claimNext()
      if (claim === null) continue
      yield* store.heartbeat(claim.run.id)
      yield* service.complete(claim.job.job_id)
      return
    }
  })

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** This process's CPU time so far (user + system), µs. */
export const cpuMicros = (): number => {
  const { system, user } = process.cpuUsage()
  return user + system
}

/** The steps of one lifecycle. */
export const LIFECYCLE_STEPS = ["submit", "claim", "heartbeat", "complete"] as const
export type LifecycleStep = typeof LIFECYCLE_STEPS[number]

/**
 * `count` lifecycles one at a time through `tree`'s Jobs and store (submit →
 * claim → heartbeat → complete, every audit event written), each step run
 * through `step`, which measures it.
 */
export const lifecyclesOneAtATime = (
  tree: Tree,
  count: number,
  step: <A, E, R>(name: LifecycleStep, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    const store = yield* tree.store.JobStore
    for (let i = 0; i < count; i++) {
      yield* step("submit", service.submit(tree.fixtures.NEW_JOB))
      let claim = null
      while (claim === null) claim = yield* step("claim", service.claimNext())
      yield* step("heartbeat", store.heartbeat(claim.run.id))
      yield* step("complete", service.complete(claim.job.job_id))
    }
  })

/**
 * `jobs` of one lifecycle step through `tree`'s Jobs and store, one at a time,
 * with what it needs done first (claims need queued jobs, completes running
 * ones) done here, outside: the Effect that runs the step alone
 * (profileStep.ts, allocations.ts).
 */
export const stepAlone = (tree: Tree, step: LifecycleStep, jobs: number) =>
  Effect.gen(function*() {
    const service = yield* tree.jobs.Jobs
    const store = yield* tree.store.JobStore
    const submitAll = Effect.forEach(Array.from({ length: jobs }), () => service.submit(tree.fixtures.NEW_JOB), { discard: true })
    // Each claim retried until it takes a job: one is always queued.
    const claimAll = Effect.gen(function*() {
      const claims = []
      while (claims.length < jobs) {
        const claim = yield* service.claimNext()
        if (claim !== null) claims.push(claim)
      }
      return claims
    })
    if (step === "submit") return submitAll
    yield* submitAll
    if (step === "claim") return Effect.asVoid(claimAll)
    const claims = yield* claimAll
    if (step === "heartbeat") return Effect.forEach(claims, (claim) => store.heartbeat(claim.run.id), { discard: true })
    return Effect.forEach(claims, (claim) => service.complete(claim.job.job_id), { discard: true })
  })
