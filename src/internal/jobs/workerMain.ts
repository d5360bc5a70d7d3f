/**
 * `Jobs.runWorkerMain`: `NodeRuntime.runMain` for a process that runs worker
 * pools. The first SIGINT or SIGTERM interrupts the program, as runMain does:
 * the pools stop claiming, drain, release what is still running, and the
 * process exits. runMain then stops listening, so a second signal (a group
 * signal under `npx tsx` delivers two) killed the process mid-drain and left
 * its jobs `running` until recovery stalled them. Here the listeners stay
 * until the program has ended; a later signal cuts the drain short (release
 * now) but never skips the release.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { Teardown } from "@effect/platform/Runtime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { guardSignals } from "../../util/signalGuard.js"
import { currentDrainCut } from "./drainCut.js"

/** What the process says on stderr at the first signal: the operator learns a stop is under way, and how to hurry it safely. */
export const stoppingNotice = (signal: NodeJS.Signals) =>
  `${signal}: stopping: no new jobs are claimed; running jobs may finish within their pool's drain time, then are released to the queue (${signal} again: release them now)`

/** What the process says on stderr, once, when a further signal comes during the stop. */
export const drainCutNotice = (signal: NodeJS.Signals) =>
  `${signal} again: releasing running jobs now instead of waiting for them to finish (SIGKILL would leave them running until recovery stalls them)`

/** runMain's options, passed on as given. */
export interface WorkerMainOptions {
  readonly disableErrorReporting?: boolean | undefined
  readonly disablePrettyLogger?: boolean | undefined
  readonly teardown?: Teardown | undefined
}

/**
 * Runs `program` (which runs `Jobs.worker` pools in its scope) as the
 * process's main program. SIGINT or SIGTERM: stop claiming, drain for up to
 * each pool's `drainTimeout`, release, exit; a further signal: release now.
 */
export const runWorkerMain = <E, A>(program: Effect.Effect<A, E>, options?: WorkerMainOptions): void => {
  const cut = Deferred.unsafeMake<void>(FiberId.none)
  let said = false
  const signals = guardSignals(
    (signal) => {
      if (!said) process.stderr.write(`${drainCutNotice(signal)}\n`)
      said = true
      Deferred.unsafeDone(cut, Exit.void)
    },
    (signal) => process.stderr.write(`${stoppingNotice(signal)}\n`)
  )
  NodeRuntime.runMain(
    program.pipe(Effect.locally(currentDrainCut, cut), Effect.ensuring(Effect.sync(signals.remove))),
    options
  )
}
