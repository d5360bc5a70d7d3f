/**
 * The job lifecycle (R6) as one explicit table.
 *
 * R6a by construction: `stalled` is not a `TransitionTarget`, so the general
 * transition API cannot even name `running → stalled`. The one edge into
 * `stalled` is `recoveryTransition`, used only by startup recovery.
 *
 * Two edges are reserved to the system and kept out of `table`, so no
 * general transition can take them: `recoveryTransition` (running → stalled)
 * and `releaseTransition` (running → queued). Each has its own store write
 * (`stallStaleRuns`, `releaseRun`) that also ends the run.
 */
import type { JobState } from "./JobState.js"
import { JobStates } from "./JobState.js"

/** A state the general transition API may move a job to: every state but `stalled`. */
export type TransitionTarget = Exclude<JobState, "stalled">

/** R6: from each state, where an ordinary transition may go. Terminal states go nowhere. */
export const table: { readonly [From in JobState]: ReadonlyArray<TransitionTarget> } = {
  queued: ["running", "cancelled", "failed"],
  running: ["awaiting_validation", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"],
  awaiting_validation: ["awaiting_user", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"],
  // running again here is rework after user input.
  awaiting_user: ["running", "completed", "completed_with_issues", "failed", "cancelled"],
  // Leaving stalled is an explicit operator action; resume starts a new workflow run.
  stalled: ["running", "failed", "cancelled"],
  // Retry goes back to queued; poisoned is final and never retried (R6b).
  failed: ["queued", "poisoned"],
  completed: [],
  completed_with_issues: [],
  cancelled: [],
  poisoned: []
}

/** The one transition reserved for startup recovery (R6a, R9). */
export const recoveryTransition = { from: "running", to: "stalled" } as const

/**
 * The transition reserved for handing a job back: a worker that shuts down
 * (or a `Jobs.run` that is interrupted) before its program finished releases
 * the job to `queued`, and the next claim runs it under a new workflow run.
 * Not an operator action, and never a cancel.
 */
export const releaseTransition = { from: "running", to: "queued" } as const

/** States a job never leaves. */
export const terminalStates: ReadonlySet<JobState> = new Set(
  JobStates.filter((state) => table[state].length === 0)
)

/**
 * States whose old jobs pruning may delete (R18): the terminal ones and
 * `failed`, as the reference's Janitor prunes failed jobs too (a failed job
 * can still be retried until it is pruned).
 */
export const prunableStates: ReadonlySet<JobState> = new Set([...terminalStates, "failed"])

/** Whether a job in this state is finished for good. */
export const isTerminal = (state: JobState): boolean => terminalStates.has(state)

/** Where an ordinary transition may take a job in `state`. */
export const transitionsFrom = (state: JobState): ReadonlyArray<TransitionTarget> => table[state]

/**
 * Whether the general transition API allows `from → to`. Always false for
 * `to = stalled`: that edge belongs to recovery alone.
 */
export const canTransition = (from: JobState, to: JobState): boolean =>
  to !== "stalled" && (table[from] as ReadonlyArray<JobState>).includes(to)

/** The states from which a job may move to `to`: the guard a store puts in its SQL. */
export const allowedFrom = (to: TransitionTarget): ReadonlyArray<JobState> =>
  JobStates.filter((from) => canTransition(from, to))
