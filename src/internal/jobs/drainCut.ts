/**
 * A worker pool's drain cut short: the program that runs the pools (its fiber
 * and every fiber forked from it) may carry a `Deferred` that, once done, ends
 * each pool's drain at once — the running programs are interrupted and their
 * jobs released, as when the drain time passes. `Jobs.runWorkerMain` sets it
 * and completes it on a repeated SIGINT or SIGTERM: the operator asked twice,
 * so the stop goes faster, yet never skips the release.
 */
import type * as Deferred from "effect/Deferred"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"

/** The cut a pool started on this fiber obeys; none by default (the drain runs its full time). */
export const currentDrainCut: FiberRef.FiberRef<Deferred.Deferred<void> | undefined> = globalValue(
  Symbol.for("@handshake/ai-job-model/currentDrainCut"),
  () => FiberRef.unsafeMake<Deferred.Deferred<void> | undefined>(undefined)
)
