/**
 * What every Jobs operation is built from: the store (with caller text
 * redacted), the one policy for an event build (`prepare`), and the
 * announcement that wakes this process's waiters after a commit.
 */
import type * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobStore } from "../../store/JobStore.js"
import type { Prepare } from "./auditEvents.js"

export interface Operations {
  readonly store: JobStore["Type"]
  readonly prepare: Prepare
  /**
   * Tells this process's waiters of a committed change. Absent where no one in
   * this process listens (`WakeUp.layerPollOnly`): then a change takes no Effect step for it.
   */
  readonly announce: ((job: AiJob) => Effect.Effect<void>) | undefined
  /** `announce` for a job whose new run was offered to worker pools (`handTo: "workers"`). */
  readonly announceOffer: ((job: AiJob) => Effect.Effect<void>) | undefined
  /** The recorder's redaction of caller text: what an operation's span ends with, when it fails (jobSpan.ts). */
  readonly redact: (text: string) => string
}

/** Options of a guarded transition. */
export interface TransitionOptions {
  /** Why, stored as the job's `status_reason` and in the event. */
  readonly reason?: string | undefined
  /** Who asked: `human` for operator actions. Default `system`. */
  readonly actor?: "human" | "agent" | "system" | undefined
}

/** Options of `start`, `resume` and `rework`: a transition's, and who runs the job under its new run. */
export interface BeginOptions extends TransitionOptions {
  /**
   * `"caller"` (the default): the caller runs the job, with `Jobs.run` and
   * the claim returned. `"workers"`: the new run is offered to worker pools
   * in the same transaction, and the first pool of the job's kind, in any
   * process, to look for offers (at once when the offer's announcement
   * reaches it, else at its next poll) takes it and runs it;
   * the claim returned is then only what was written — running it as well
   * would run the job twice. What an operator's resume (CLI, console) uses.
   */
  readonly handTo?: "caller" | "workers" | undefined
}
