/**
 * A statement sent on a connection whose server had already ended the
 * session (a FATAL read before the statement left: `pg_ctl stop`,
 * `pg_terminate_backend`): the server ran nothing of it, and any transaction
 * open on that session was rolled back. The PostgreSQL store marks the
 * driver's error of such a statement (pg/heldConnections.ts); a caller that
 * would otherwise ask whether its failed write committed (a claim's lost
 * answer, claimAnswerLost.ts) knows it did not.
 */

const sentAfterEnd = Symbol.for("@handshake/ai-job-model/sentAfterSessionEnd")

/** Marks `error` as a statement's failure on a session the server had already ended. */
export const markSentAfterSessionEnd = <E extends Error>(error: E): E => {
  Object.defineProperty(error, sentAfterEnd, { value: true })
  return error
}

/** Whether `error` (or an error in its `cause` chain, a few levels down) is a statement's failure on a session already ended: nothing of it ran. */
export const isSentAfterSessionEnd = (error: unknown): boolean => {
  let current = error
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    if ((current as { readonly [sentAfterEnd]?: boolean })[sentAfterEnd] === true) return true
    current = (current as { readonly cause?: unknown }).cause
  }
  return false
}
