/**
 * Once the store's close begins, no statement of its pool is sent any more
 * (f128): cancelling the statements running (cancelOnClose.ts) left two ways
 * to commit after the close. A statement still waiting for a connection
 * (more callers than `maxConnections`) was handed the connection the
 * cancelled one gave back, and ran — its caller told the store was closed, or
 * never told; and a caller's transaction between two statements sent its
 * next one, and its COMMIT.
 *
 * So the close, before it cancels anything: ends the pool (a checkout from
 * now on is refused, pg-pool's own "Cannot use a pool after calling end on
 * the pool"), refuses the callers already waiting for a connection with that
 * same error, and sets every connection of the pool — idle, checked out or
 * still connecting — to refuse its next statement with it. A ROLLBACK still
 * goes through (a failed transaction ends as ever), and a COMMIT is sent as
 * ROLLBACK: its caller hears the store was closed, and nothing of the
 * transaction is kept. The error is the one every statement gets on a closed
 * store, so `isStoreClosed` (src/internal/storeClosed.ts) reads it as such.
 * Connections are only changed here, at the close: nothing is added to any
 * statement's way before it.
 */
import type * as Pg from "pg"
import { textOf } from "./readOnlyClient.js"

/** pg-pool's error for a checkout of an ended pool: the store's "closed" error (src/internal/storeClosed.ts). */
const POOL_ENDED = "Cannot use a pool after calling end on the pool"

type Callback = (error: Error | null, result?: unknown) => void

/** A transaction's end that keeps nothing (`ROLLBACK`, `ROLLBACK TO SAVEPOINT …`, `ABORT`): still sent. */
const ROLLS_BACK = /^\s*(?:ROLLBACK|ABORT)\b/i
/** A transaction's COMMIT (or END): sent as ROLLBACK. */
const COMMITS = /^\s*(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?\s*;?\s*$/i

/** What pg-pool keeps that the close changes: its connections, and the callers waiting for one. */
interface PoolState {
  readonly _clients?: ReadonlyArray<Pg.Client>
  readonly _pendingQueue?: Array<{ readonly callback: (error: Error) => void }>
}

const closedError = (why: string) => new Error(`${POOL_ENDED}: the store was closed ${why}`)

/** Answers a refused query as pg would: its callback a turn later, else a rejected promise. */
const answer = (callback: Callback | undefined, error: Error): unknown => {
  if (callback === undefined) return Promise.reject(error)
  process.nextTick(() => callback(error))
  return undefined
}

/** From now on `client` sends only rollbacks; any other statement is refused, a COMMIT sent as ROLLBACK. */
const refuseStatements = (client: Pg.Client): void => {
  const query = client.query as (...args: Array<unknown>) => unknown
  client.query = function(this: Pg.Client, ...args: Array<unknown>) {
    const text = textOf(args[0])
    if (text !== undefined && ROLLS_BACK.test(text)) return query.apply(this, args)
    const last = args[args.length - 1]
    const callback = typeof last === "function" ? last as Callback : undefined
    if (text === undefined || !COMMITS.test(text)) {
      return answer(callback, closedError("before the statement was sent (nothing of it ran)"))
    }
    const error = closedError("before the transaction committed (rolled back: nothing of it kept)")
    const rolledBack = query.call(this, "ROLLBACK") as Promise<unknown>
    const answered = rolledBack.then(() => Promise.reject(error), () => Promise.reject(error))
    if (callback === undefined) return answered
    answered.catch(callback)
    return undefined
  } as typeof client.query
}

/**
 * Closes `pool` to statements not yet sent: ended (no checkout from now on),
 * its waiting callers refused, its connections refusing their next statement
 * (see above). Statements already running are left to `cancelInFlight`. The
 * pool's end: resolved once every connection is given back and closed.
 */
export const refuseFromNow = (pool: Pg.Pool): Promise<void> => {
  const state = pool as unknown as PoolState
  for (const client of state._clients ?? []) refuseStatements(client)
  const ended = pool.end()
  for (const waiting of state._pendingQueue?.splice(0) ?? []) waiting.callback(closedError("before a connection was free for the statement (nothing of it ran)"))
  return ended
}
