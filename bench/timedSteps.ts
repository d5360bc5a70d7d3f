/**
 * A PostgreSQL or SQLite lifecycle one job at a time, each step timed in
 * process (µs): what profileLifecycle.ts and preparedStatements.ts report.
 */
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { Jobs } from "../src/Jobs.js"
import { type Claim, JobStore } from "../src/store/JobStore.js"
import { NEW_JOB } from "./fixtures.js"

export const STEPS = ["submit", "claim", "heartbeat", "complete"] as const
export type Step = typeof STEPS[number]
export type StepTimes = Record<Step, Array<number>>

export const emptyStepTimes = (): StepTimes => ({ submit: [], claim: [], heartbeat: [], complete: [] })

/** Runs `effect`, adding its wall time (µs) to `into`. */
export const timed = <A, E, R>(into: Array<number>, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const value = yield* effect
    into.push((performance.now() - start) * 1000)
    return value
  })

/** `jobs` lifecycles one after another (submit → claim → heartbeat → complete), each step timed into `times`. */
export const timedLifecycles = (jobs: number, times: StepTimes = emptyStepTimes()) =>
  Effect.gen(function*() {
    const service = yield* Jobs
    const store = yield* JobStore
    for (let i = 0; i < jobs; i++) {
      yield* timed(times.submit, service.submit(NEW_JOB))
      let claim: Claim | null = null
      while (claim === null) claim = yield* timed(times.claim, service.claimNext())
      yield* timed(times.heartbeat, store.heartbeat(claim.run.id))
      yield* timed(times.complete, service.complete(claim.job.job_id))
    }
    return times
  })
