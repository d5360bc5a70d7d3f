/**
 * A worker pool's look for runs offered to it (`JobStore.adoptOfferedRun`: a
 * resume, start or rework with `handTo: "workers"`). An offered job whose
 * stored row no longer decodes fails at once with its run, as a claimed one
 * does (unreadableClaim.ts), and the look goes on to the next offer; without
 * this every look of every pool would fail on it until recovery.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { JobKind } from "../../domain/JobKind.js"
import type { Claim, JobStore, ReadError } from "../../store/JobStore.js"
import type { Prepare } from "./auditEvents.js"
import { isUnreadableJob, makeFailUnreadable } from "./unreadableClaim.js"

/** How many unreadable offered jobs one look fails before it answers none (the next look goes on). */
const UNREADABLE_PER_LOOK = 8

/** A look's options: `adopted` as `JobStore.adoptOfferedRun`'s (called once the adoption committed). */
interface LookOptions {
  readonly kinds?: ReadonlyArray<JobKind> | undefined
  readonly adopted?: ((claim: Claim) => void) | undefined
}

type ClaimNext = (options?: LookOptions) => Effect.Effect<Claim | null, DecodeFailure | ReadError>

/**
 * `leaveUntaken`: the claims go to a caller who runs them with `Jobs.run`
 * (`Jobs.claimNext`), whose take marks the run; a pool's (the default) are
 * marked taken as they are adopted, since the pool runs them itself.
 */
export const makeAdoptOffered = (store: JobStore["Type"], prepare: Prepare, leaveUntaken = false) => {
  const adopt = store.adoptOfferedRun
  if (adopt === undefined) return undefined
  const failUnreadable = makeFailUnreadable(store, prepare)
  const look = (options: LookOptions, left: number): Effect.Effect<Claim | null, DecodeFailure | ReadError> =>
    adopt(leaveUntaken ? { ...options, leaveUntaken } : options).pipe(
      // Failed, its offer is stale: the next look deletes it and takes the next.
      Effect.catchIf(isUnreadableJob, (error) =>
        left > 0 ? Effect.zipRight(failUnreadable(error), look(options, left - 1)) : Effect.fail(error))
    )
  return (options: LookOptions = {}) => look(options, UNREADABLE_PER_LOOK)
}

/** How `Jobs.claimNext` takes offered runs: `adopt` when `due` says so (claim.ts). */
export interface OffersLook {
  readonly adopt: ClaimNext
  readonly due: () => boolean
}

/**
 * `Jobs.claimNext`'s looks for offered runs: at most once an interval (the
 * first claim included), an offered run of the caller's kinds comes first —
 * it is already running, and stalls again if nobody takes it — so an
 * application's own worker loop, not only a pool, runs a job resumed with
 * `handTo: "workers"`. Between looks a claim is the queue's alone: one read
 * an interval, whatever the rate of claims. (Pools look on their own
 * schedule, workerPool.ts.)
 */
export const offersLook = (adopt: ClaimNext | undefined, clock: Clock.Clock, intervalMs: number): OffersLook | undefined => {
  if (adopt === undefined) return undefined
  let lookedAt = Number.NEGATIVE_INFINITY
  return {
    adopt,
    due: () => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now - lookedAt < intervalMs) return false
      lookedAt = now
      return true
    }
  }
}
