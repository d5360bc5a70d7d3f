/**
 * A worker pool's claims as its drain's end sees them (R8). A loop's claim
 * is uninterruptible — a claim that committed is run or released, never
 * stranded — so a claim waiting on the database (a lock another session
 * holds on the tables it writes) held the pool's shutdown past its drain
 * time and past a repeated signal, until the store's statement timeout
 * cancelled it (a regression probe: 74 s after the second SIGTERM).
 *
 * Each loop gives its claims a note of its own, made once when the loop
 * starts (claimAnswerLost.ts `ClaimNote`): every one-statement attempt writes
 * there the event ids its statement carries (claimTemplates.ts: one at least).
 * The pool reads the notes only when the drain ends: the statements in flight
 * that write them are cancelled on the server (`JobStore.cancelWritesOf`) —
 * a cancelled claim rolls back whole, no job taken — and again until the
 * loops have ended (cutAgain.ts), since a loop waiting in line behind the
 * cancelled statement (the store sends one claim statement at a time) then
 * sends its own. Nothing is added to a claim's way but the note's field
 * write. Only event ids are cut by: a note naming a run (the general claim's)
 * would name that run's later writes too, its release among them.
 *
 * On SQLite nothing is sent while a claim waits for the write lock another
 * connection holds: the store retries it, and asks between two tries whether
 * the wait is cut (store/internal/lockWaitCut.ts). It is once the drain has
 * ended and the loop is claiming — the loop says so around its claim, a
 * field write each way — so the claim, either path, ends before it began,
 * and a loop that waited in line behind it meets the same answer in its turn.
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { JobStore } from "../../store/JobStore.js"
import { type ClaimNote, newClaimNote } from "./claimAnswerLost.js"
import { cutAgain } from "./cutAgain.js"

/** A loop's claims as the drain's end sees them. */
export interface LoopClaims {
  /** Told the event ids each attempt's statement carries: what PostgreSQL's cut cancels by. */
  readonly note: ClaimNote
  /** Whether the loop is claiming now (set around its claim): only a claim's lock wait is cut, never its run's writes. */
  claiming: boolean
  /** The loop's `currentLockWaitCut`: whether its wait for SQLite's write lock is to end now. */
  readonly lockWaitCut: () => boolean
}

/** The pool's side: one note per loop, cut by at the drain's end. */
export const makeClaimCuts = () => {
  const notes: Array<ClaimNote> = []
  // Set once, when the drain ends: every claim's lock wait ends at its next try.
  let cut = false
  const cutOnce = (cancel: NonNullable<JobStore["Type"]["cancelWritesOf"]>) =>
    Effect.forEach(notes, (note) => {
      const last = note.last
      return typeof last === "string" || last === undefined || last.length === 0 ? Effect.void : cancel(last[0]!)
    }, { discard: true })
  return {
    /** A loop's claims: its note, given to each of its claims, and its lock waits' cut. */
    loop: (): LoopClaims => {
      const note = newClaimNote()
      notes.push(note)
      const loop: LoopClaims = { note, claiming: false, lockWaitCut: () => cut && loop.claiming }
      return loop
    },
    /** Whether the drain's end has cut the claims: a loop's failure since is told as the cut's. */
    cut: (): boolean => cut,
    /**
     * Cuts the claims still waiting: their lock waits (SQLite) end at their
     * next try, and their statements in flight (PostgreSQL) are cancelled, at
     * once and then again (cutAgain.ts) until interrupted (the pool's loops
     * have ended) — not when the store cannot cancel a statement.
     */
    cutClaims: (cancel: JobStore["Type"]["cancelWritesOf"]): Effect.Effect<void> =>
      Effect.suspend(() => {
        cut = true
        return cancel === undefined ? Effect.void : cutAgain(cutOnce(cancel))
      })
  }
}

/**
 * A loop's claim that failed once the drain's end had cut the claims: told
 * as the cut's, whatever the streak of failures (failureStreak.ts) — a cut
 * claim rolled back whole, no job taken — with its cause.
 */
export const claimCutSaid = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.logWarning(
    "worker pool: a claim failed once the drain had ended and cut the claims still waiting on the database " +
      "(a cut claim's wait for SQLite's write lock ends, or its statement is cancelled: it rolls back whole, no job taken); its loop ends",
    cause
  )
