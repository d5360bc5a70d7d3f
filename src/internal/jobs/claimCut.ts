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
 */
import * as Effect from "effect/Effect"
import type { JobStore } from "../../store/JobStore.js"
import { type ClaimNote, newClaimNote } from "./claimAnswerLost.js"
import { cutAgain } from "./cutAgain.js"

/** The pool's side: one note per loop, cut by at the drain's end. */
export const makeClaimCuts = () => {
  const notes: Array<ClaimNote> = []
  const cutOnce = (cancel: NonNullable<JobStore["Type"]["cancelWritesOf"]>) =>
    Effect.forEach(notes, (note) => {
      const last = note.last
      return typeof last === "string" || last === undefined || last.length === 0 ? Effect.void : cancel(last[0]!)
    }, { discard: true })
  return {
    /** A loop's note, given to each of its claims. */
    note: (): ClaimNote => {
      const note = newClaimNote()
      notes.push(note)
      return note
    },
    /**
     * Cancels the claims still in flight, at once and then again (cutAgain.ts)
     * until interrupted (the pool's loops have ended); nothing when the store
     * cannot cancel a statement.
     */
    cutClaims: (cancel: JobStore["Type"]["cancelWritesOf"]): Effect.Effect<void> =>
      cancel === undefined ? Effect.void : cutAgain(cutOnce(cancel))
  }
}
