/**
 * The connections the PostgreSQL store runs its statements on outside a
 * transaction (issue 16). @effect/sql-pg checks a connection out of the `pg`
 * pool for every such statement and releases it after: two timers, a
 * `process.nextTick` hop before the statement is even written, listeners
 * added and removed — ~20 µs of CPU a statement (bench/statementOverhead.ts,
 * `acquirer` vs `heldOnce`). Here a connection checked out once is kept:
 *
 * - a statement takes a free held connection synchronously when there is
 *   one, else checks one out of the pool (waiting there like anyone else)
 *   and keeps it afterwards, so concurrent statements still use as many
 *   connections as are busy, and never two share one;
 * - a held connection is the pool's, so the pool's size still bounds the
 *   store: whoever else asks the pool for one (a transaction, @effect/sql-pg's
 *   own statements) is lent a free held one synchronously — no checkout, and
 *   never kept waiting by connections held idle — and a statement that ends
 *   while the pool has waiters gives its connection back instead of keeping
 *   it;
 * - a connection that breaks (the server ended its session, the socket
 *   closed, a read timed out with the statement maybe still running) is
 *   dropped — released to the pool with the error, which closes it — and the
 *   next statement checks out a fresh one; the statement that met it fails
 *   with the `SqlError` @effect/sql-pg would have raised;
 * - a connection whose server said it ends the session (a FATAL or PANIC
 *   ErrorResponse: `pg_terminate_backend`, a shutdown, an idle-in-transaction
 *   timeout) counts as broken from that message on (`doomed`), not only once
 *   pg reads the socket's close: pg keeps it `_queryable` until then, and a
 *   borrower that releases it without an error — @effect/sql-pg does after
 *   any failed statement — would otherwise have it kept free here, or idle in
 *   the pool (pg-pool checks only `_queryable`), and the next statement sent
 *   on it fails ("Connection terminated unexpectedly", or "… is not
 *   queryable" once the close is read). Every checkout of the pool, held or
 *   not, is released with an error once doomed, so the pool closes it; and
 *   every statement sent on it after fails saying why the server ended the
 *   session (a transaction left idle past the idle-in-transaction timeout
 *   heard only "not queryable");
 * - a connection sent a cancel whose delivery is not known yet (a worker
 *   pool's drain cutting a job's writes, cancelOnClose.ts) is dropped when
 *   its statement, or its borrower, is done with it: a cancel that arrives
 *   after its statement ended reaches the connection's next statement, which
 *   would be another caller's;
 * - a checkout that waited out `connectTimeout` on a full pool says so
 *   (`checkoutError`), not pg-pool's "timeout exceeded when trying to connect";
 * - one left free for a whole idle period (the pool's `idleTimeoutMillis`)
 *   goes back to the pool, which closes it as it closes its own idle ones;
 * - closing the scope gives every held connection back (one still busy, as
 *   its statement ends), before the pool is ended.
 *
 * Inside a transaction the store keeps using the transaction's connection
 * (internal/execute.ts); a connection comes back from a transaction only
 * idle (no transaction left open on it), else it is dropped. Each held connection keeps its own named
 * statements and row shapes (preparedStatements.ts), like any pool client.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Pg from "pg"
import { markSentAfterSessionEnd } from "../internal/sentAfterSessionEnd.js"
import { mayStillBeCancelled } from "./cancelOnClose.js"
import { breaksSession, endsSession } from "./faults.js"

/** Runs statements outside a transaction on connections held from the pool. */
export interface HeldConnections {
  /** Runs one statement's text with its parameters on a held connection: its rows. */
  readonly execute: (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<unknown>, SqlError>
  /** `execute` as a plain callback, for a step that hands its caller one outcome (context.ts `thenOutside`). */
  readonly query: (text: string, params: ReadonlyArray<unknown>, done: Done) => void
  /** How many connections are held now, busy or free. */
  readonly held: () => number
}

/** The `pg.Client` state that says whether it can take another statement. */
interface ClientState {
  readonly _queryable?: boolean
  readonly _ending?: boolean
  readonly getTransactionStatus?: () => string | null
}

/**
 * Connections whose server announced the end of their session: a FATAL or
 * PANIC ErrorResponse was read. pg marks a connection unqueryable only when
 * the socket's close is read, a few callbacks later; in between, every
 * statement sent on it fails.
 */
const doomed = new WeakSet<object>()
const watched = new WeakSet<object>()

/** A server's ErrorResponse, as pg reads it. */
interface ErrorResponse {
  readonly severity?: unknown
  readonly code?: unknown
  readonly message?: unknown
}

interface ProtocolEvents {
  readonly connection?: {
    readonly prependListener?: (event: string, listener: (message: ErrorResponse) => void) => unknown
  }
  /** The connection's settings, as pg-pool gave them (the store's `idle_in_transaction_session_timeout` among them). */
  readonly connectionParameters?: { readonly idle_in_transaction_session_timeout?: unknown }
}

/** SQLSTATE of the server ending a session left idle inside a transaction too long. */
const IDLE_IN_TRANSACTION_TIMEOUT = "25P03"

/** Why the server ended `client`'s session, from its FATAL/PANIC message, said for the statements that fail after. */
const sessionEndReason = (client: ProtocolEvents, message: ErrorResponse): string => {
  const idleMs = client.connectionParameters?.idle_in_transaction_session_timeout
  if (message.code === IDLE_IN_TRANSACTION_TIMEOUT) {
    return `the server ended the transaction's session: idle in transaction longer than ${
      typeof idleMs === "number" ? `${idleMs} ms (statementTimeout)` : "idle_in_transaction_session_timeout"
    } (${IDLE_IN_TRANSACTION_TIMEOUT})`
  }
  return `the server had ended the session: ${String(message.message)} (${String(message.code)})`
}

type QueryCallback = (error: Error | null | undefined, result?: unknown) => void

/**
 * From now on, every statement sent on `client` that fails says why the
 * server ended its session (`reason`), the driver's error kept as the cause:
 * pg itself says only "Client has encountered a connection error and is not
 * queryable" (or "Connection terminated unexpectedly"), and a transaction
 * whose connection the server ended while it was idle (its
 * idle-in-transaction timeout) heard nothing of the reason. Set on the
 * connection once its FATAL is read: nothing changes for any other.
 */
const explainLaterFailures = (client: Pg.PoolClient, reason: string): void => {
  // Sent after the FATAL was read: the server ran nothing of it (sentAfterSessionEnd.ts).
  const explained = (error: Error): Error => markSentAfterSessionEnd(new Error(`${error.message}: ${reason}`, { cause: error }))
  const query = client.query as (...args: Array<unknown>) => unknown
  client.query = function(this: Pg.PoolClient, ...args: Array<unknown>) {
    const last = args.length - 1
    const done = args[last]
    if (typeof done === "function") {
      args[last] = (error: Error | null | undefined, result?: unknown) =>
        (done as QueryCallback)(error instanceof Error ? explained(error) : error, result)
      return query.apply(this, args)
    }
    const result = query.apply(this, args)
    return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(error instanceof Error ? explained(error) : error)) : result
  } as typeof client.query
}

/**
 * Marks `client` doomed as the server's FATAL/PANIC message is read — before
 * pg hands it to the statement's callback, whose borrower may release the
 * connection right there (hence prepended to pg's own listener).
 */
const watch = (client: Pg.PoolClient): void => {
  if (watched.has(client)) return
  watched.add(client)
  ;(client as unknown as ProtocolEvents).connection?.prependListener?.("errorMessage", (message) => {
    if (endsSession(message) && !doomed.has(client)) {
      doomed.add(client)
      explainLaterFailures(client, sessionEndReason(client as unknown as ProtocolEvents, message))
    }
  })
}

const brokenError = () => new Error("PgStore: held connection broken")
const cancelPendingError = () => new Error("PgStore: a cancel sent to the connection may still arrive")

/**
 * pg-pool's error for a caller that waited `connectionTimeoutMillis` for a
 * connection of a full pool (a server that does not answer a new connection
 * gives "Connection terminated due to connection timeout" instead).
 */
const POOL_WAIT_TIMEOUT = "timeout exceeded when trying to connect"

/**
 * `error` of a checkout of `pool`, said plainly when it is the pool's wait
 * timeout: pg-pool's words read as a server that did not answer, when every
 * connection the pool may open (`maxConnections`) was in use — held by
 * transactions or statements, or still connecting — for the whole `connectTimeout`. The pool's
 * error is kept as the cause.
 */
export const checkoutError = (pool: Pg.Pool, error: Error): Error => {
  if (error?.message !== POOL_WAIT_TIMEOUT) return error
  const { connectionTimeoutMillis, max } = pool.options
  const inUse = pool.totalCount - pool.idleCount
  return new Error(
    `no connection within connectTimeout (${connectionTimeoutMillis} ms): the pool's ${max} connections (maxConnections) ` +
      `were all in use by this process's transactions and statements, or still connecting ` +
      `(${inUse} not idle${pool.waitingCount > 0 ? `, ${pool.waitingCount} more callers waiting` : ""})`,
    { cause: error }
  )
}

interface Held {
  readonly client: Pg.PoolClient
  /** The pool's release of this checkout (`client.release` is replaced while the connection is lent). */
  readonly poolRelease: (error?: Error) => void
  readonly onError: (error: Error) => void
  broken: boolean
  /** Taken since the last idle sweep. */
  used: boolean
}

/** The rows of a result (one per statement for a multi-statement text, as @effect/sql-pg gives them). */
const rowsOf = (result: unknown): ReadonlyArray<unknown> =>
  Array.isArray(result)
    ? result.map((r: { readonly rows?: ReadonlyArray<unknown> }) => r.rows ?? [])
    : (result as { readonly rows?: ReadonlyArray<unknown> } | undefined)?.rows ?? []

type Taken = (error: Error | undefined, held: Held | undefined) => void

/** A statement's end: its `SqlError` (as @effect/sql-pg would raise it), or its rows. */
export type Done = (error: SqlError | undefined, rows: ReadonlyArray<unknown>) => void

/** Held connections of `pool`, for as long as the scope is open. */
export const holdConnections = (pool: Pg.Pool): Effect.Effect<HeldConnections, never, Scope.Scope> =>
  Effect.gen(function*() {
    const free: Array<Held> = []
    const all = new Set<Held>()
    let closed = false

    /** Back to the pool: with an error it closes the connection, without one it may lend it to the next caller. */
    const release = (held: Held, error?: Error) => {
      all.delete(held)
      held.client.off("error", held.onError)
      held.poolRelease(error)
    }

    /** Lends `held` to a caller of `pool.connect`: its release (once) holds it again, or drops it on an error. */
    const lend = (held: Held) => {
      held.used = true
      let returned = false
      const giveBack = (error?: Error) => {
        if (returned) return
        returned = true
        if (error instanceof Error) held.broken = true
        put(held)
      }
      held.client.release = giveBack
      return giveBack
    }

    const isFit = (held: Held) => {
      const state = held.client as unknown as ClientState
      // A connection left inside a transaction (a lender that never ended it) is not reused either.
      const status = state.getTransactionStatus?.() ?? "I"
      return !held.broken && !doomed.has(held.client) && state._queryable !== false && state._ending !== true && status === "I" &&
        !mayStillBeCancelled(held.client)
    }

    /** `client`'s release by whoever checked it out of the pool: with an error once doomed or sent a cancel, so the pool closes it. */
    const dropWhenDoomed = (client: Pg.PoolClient, release: (error?: Error) => void) => {
      watch(client)
      const dropping = (error?: Error) =>
        release(error ?? (doomed.has(client) ? brokenError() : mayStillBeCancelled(client) ? cancelPendingError() : undefined))
      client.release = dropping
      return dropping
    }

    /** After a statement: kept free, given back to a waiting pool, or dropped when broken. */
    const put = (held: Held) => {
      if (!isFit(held)) return release(held, brokenError())
      if (closed || pool.waitingCount > 0) return release(held)
      free.push(held)
    }

    const take = (taken: Taken) => {
      const held = free.pop()
      if (held !== undefined) {
        held.used = true
        return taken(undefined, held)
      }
      poolConnect.call(pool, (error: Error | undefined, client: Pg.PoolClient | undefined) => {
        if (error !== undefined || client === undefined) {
          return taken(error === undefined ? new Error("No client returned") : checkoutError(pool, error), undefined)
        }
        watch(client)
        const held: Held = {
          client,
          poolRelease: client.release,
          broken: false,
          used: true,
          onError: () => {
            held.broken = true
            const at = free.indexOf(held)
            if (at !== -1) {
              free.splice(at, 1)
              release(held, brokenError())
            }
          }
        }
        client.on("error", held.onError)
        all.add(held)
        taken(undefined, held)
      })
    }

    // Whoever else asks the pool for a connection (a transaction, @effect/sql-pg's own
    // statements and cancels) is lent a free held one, synchronously, before the pool is
    // asked: held connections never keep a transaction waiting on a full pool, and a
    // transaction skips the pool's checkout too. Released, it is held again.
    //
    // A connection the pool itself checks out (no held one free) is watched too, and its
    // release drops it once doomed: pg-pool would keep it idle, or hand it to the next
    // waiter, as long as pg still calls it queryable.
    const poolConnect = pool.connect
    const checkout = (self: Pg.Pool, args: Array<unknown>): unknown => {
      const [callback] = args
      const connect = poolConnect as (...args: Array<unknown>) => unknown
      if (typeof callback !== "function") {
        return (connect.call(self) as Promise<Pg.PoolClient>).then((client) => {
          dropWhenDoomed(client, client.release)
          return client
        }, (error: Error) => Promise.reject(checkoutError(self, error)))
      }
      return connect.call(self, (error: Error | undefined, client: Pg.PoolClient | undefined, release: (error?: Error) => void) => {
        if (error !== undefined || client === undefined) return callback(error === undefined ? error : checkoutError(self, error), client, release)
        callback(undefined, client, dropWhenDoomed(client, release))
      })
    }
    pool.connect = function(this: Pg.Pool, ...args: Array<unknown>) {
      const held = closed ? undefined : free.pop()
      if (held === undefined) return checkout(this, args)
      const giveBack = lend(held)
      const [callback] = args
      if (typeof callback === "function") return void callback(undefined, held.client, giveBack)
      return Promise.resolve(held.client)
    } as typeof pool.connect

    // A held connection left free for a whole idle period goes back to the pool, whose
    // own idle timeout then closes it: after a burst the store does not keep its peak.
    const idleMillis = pool.options.idleTimeoutMillis ?? 10_000
    const sweep = idleMillis > 0
      ? setInterval(() => {
        for (const held of free.splice(0)) {
          if (held.used) {
            held.used = false
            free.push(held)
          } else {
            release(held)
          }
        }
      }, idleMillis).unref()
      : undefined

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        clearInterval(sweep)
        closed = true
        pool.connect = poolConnect
        for (const held of free.splice(0)) release(held)
      })
    )

    const query = (text: string, params: ReadonlyArray<unknown>, done: Done) =>
      take((error, held) => {
        if (held === undefined) return done(new SqlError({ cause: error, message: "Failed to acquire connection" }), [])
        held.client.query(text, params as Array<unknown>, (error: Error | null, result: unknown) => {
          if (error !== null && error !== undefined) {
            if (breaksSession(error)) held.broken = true
            put(held)
            return done(new SqlError({ cause: error, message: "Failed to execute statement" }), [])
          }
          put(held)
          done(undefined, rowsOf(result))
        })
      })

    // Uninterruptible: an interrupt waits for the statement's end (no cancel sent: it could land
    // on the connection's next statement), as the store's calls are uninterruptible anyway. A
    // plain async without a canceler, marked uninterruptible, is that for ~half the Effect
    // operations of an async whose canceler waits (an `onInterrupt` around every statement).
    const execute = (text: string, params: ReadonlyArray<unknown>) =>
      Effect.uninterruptible(Effect.async<ReadonlyArray<unknown>, SqlError>((resume) => {
        query(text, params, (error, rows) => resume(error === undefined ? Effect.succeed(rows) : Effect.fail(error)))
      }))

    return { execute, query, held: () => all.size }
  })
