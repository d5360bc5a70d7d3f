/**
 * Closing the store's pool cancels, on the server, the statements still
 * running on its connections (f119). Ending the pool or the process only
 * closes the sockets: a backend waiting on a lock does not notice, and once
 * the lock goes its statement runs on — a lone INSERT commits, a job its
 * caller was told failed (a cut `POST /jobs`'s 503) or never heard of.
 *
 * A cancel is PostgreSQL's own CancelRequest, as libpq's `PQcancel` sends
 * it: a fresh connection to the same server carrying the backend's process
 * id and secret key (from the connection's start). It needs no privilege
 * (no `pg_cancel_backend`, whose pid a transaction-mode PgBouncer would not
 * name: it answers cancels itself, for the server connection its client is
 * on), and the server closes that connection once the backend is signalled.
 * A cancelled statement fails and rolls back whole (a lone statement is its
 * own transaction), deferred checks in its COMMIT included; one that has
 * already committed, or finished, keeps what it did. Statements are only looked at here, at the close (or
 * a worker pool's drain cutting one write, `cancelWriting`): nothing is added to any statement's way.
 * At the close, those not sent yet are refused before (refuseOnClose.ts).
 */
import * as Net from "node:net"
import type * as Pg from "pg"

/** CancelRequest's code (PostgreSQL's protocol, "CancelRequest": 1234 in the high 16 bits, 5678 in the low). */
const CANCEL_REQUEST_CODE = 80877102

/** pg's statement in flight: its error reaches its caller through `handleError`; its parameters as given. */
interface ActiveQuery {
  handleError: (error: Error & { readonly code?: unknown }, connection: unknown) => unknown
  readonly values?: ReadonlyArray<unknown> | null
}

/** What the close reads of a `pg` client: its backend's key, where it connected, and the statement in flight. */
interface ClientState {
  readonly processID?: number | null
  readonly secretKey?: number | null
  readonly _activeQuery?: ActiveQuery | null
  readonly connectionParameters?: { readonly host?: string; readonly port?: number }
}

/** The pool's connections, idle or checked out (pg-pool keeps them in `_clients`). */
const clientsOf = (pool: Pg.Pool): ReadonlyArray<ClientState> =>
  (pool as unknown as { readonly _clients?: ReadonlyArray<ClientState> })._clients ?? []

/** SQLSTATE query_canceled: what the server answers a cancelled statement. */
const QUERY_CANCELED = "57014"

/**
 * Its cancel's error says why (`why`): the server's own words ("canceling
 * statement due to user request") name no user. The error is pg's, code and
 * all, so the store reads it as any cancel (faults.ts).
 */
const explainCancel = (query: ActiveQuery, why: string): void => {
  const handleError = query.handleError
  query.handleError = function(this: ActiveQuery, error, connection) {
    if (error.code === QUERY_CANCELED) error.message += why
    return handleError.call(this, error, connection)
  }
}

/**
 * Sends `client`'s CancelRequest: true once the server has closed that
 * connection (its backend signalled), false when it failed or `boundMs`
 * passed first (whether the backend was signalled, and when, is not known).
 */
const sendCancel = (client: ClientState, boundMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    const { host = "localhost", port = 5432 } = client.connectionParameters ?? {}
    const packet = Buffer.alloc(16)
    packet.writeInt32BE(16, 0)
    packet.writeInt32BE(CANCEL_REQUEST_CODE, 4)
    packet.writeInt32BE(client.processID!, 8)
    packet.writeInt32BE(client.secretKey!, 12)
    // A host starting with "/" is a directory holding the server's Unix socket, as for pg itself.
    const socket = host.startsWith("/") ? Net.connect(`${host}/.s.PGSQL.${port}`) : Net.connect(port, host)
    let unknown = false
    const timer = setTimeout(() => {
      unknown = true
      socket.destroy()
    }, boundMs)
    // Not half-closed after the packet: the peer closes once the cancel is passed on (as libpq waits for it), and
    // PgBouncer 1.18 dropped a cancel whose connection ended before it had a server connection to send it on.
    socket.on("connect", () => socket.write(packet))
    socket.on("error", () => {
      unknown = true
    })
    socket.on("close", () => {
      clearTimeout(timer)
      resolve(!unknown)
    })
  })

/**
 * Connections sent a cancel not yet known delivered: how many. A cancel is
 * a signal to the backend, not to a statement: one delivered after its
 * statement ended reaches the next statement sent on that connection before
 * the delivery (a regression probe: a just-claimed job's release, its job
 * stranded `running`); once delivered, the backend takes it before it reads
 * another statement (one idle between statements ignores it). So a
 * connection counted here is never lent to another checkout — its release
 * closes it (heldConnections.ts) — and one whose cancel was never known
 * delivered (no answer, an error) stays counted for good. Statements of the
 * same checkout sent before the delivery may still meet it: a transaction's
 * next statement then fails and the transaction rolls back whole.
 */
const undelivered = new WeakMap<object, number>()

/** Whether a cancel sent to `client` may still reach a statement sent on it from now on. */
export const mayStillBeCancelled = (client: object): boolean => undelivered.has(client)

/** Counts a cancel for `client` until `delivered` says it was. */
const awaitDelivery = (client: object, delivered: Promise<boolean>): Promise<void> => {
  undelivered.set(client, (undelivered.get(client) ?? 0) + 1)
  return delivered.then((known) => {
    if (!known) return
    const left = undelivered.get(client)! - 1
    if (left === 0) undelivered.delete(client)
    else undelivered.set(client, left)
  })
}

/** The longest wait for one cancel's delivery: the pool's `connectTimeout` (a cancel is a connection opened), at most this. */
const LONGEST_CANCEL_MS = 5_000

/**
 * Cancels the statements in flight on `pool`'s connections that `pick`
 * chooses, each waited for until its cancel is delivered (at most the pool's
 * connect timeout, 5 s at most: a server that does not answer leaves that
 * statement as it was). With none in flight it does nothing.
 */
const cancelWhere = (pool: Pg.Pool, pick: (query: ActiveQuery) => boolean, why: string): Promise<void> => {
  const boundMs = Math.min(pool.options.connectionTimeoutMillis || LONGEST_CANCEL_MS, LONGEST_CANCEL_MS)
  const busy = clientsOf(pool).filter((client) =>
    client._activeQuery != null && typeof client.processID === "number" && typeof client.secretKey === "number" &&
    pick(client._activeQuery)
  )
  if (busy.length === 0) return Promise.resolve()
  for (const client of busy) explainCancel(client._activeQuery!, why)
  // Counted at the look, in the same turn: the statement's end, and its connection's release, come after.
  return Promise.all(busy.map((client) => awaitDelivery(client, sendCancel(client, boundMs)))).then(() => undefined)
}

/** Cancels every statement in flight on `pool`'s connections: the store's close. */
export const cancelInFlight = (pool: Pg.Pool): Promise<void> =>
  cancelWhere(pool, () => true, ": the store was closed while the statement ran (cancelled on the server, nothing of it kept)")

/** A group-commit statement's rows, sent as one JSON parameter (pg/finishBatch.ts's ends, pg/claim.ts's claimers), or none. */
const rowsOf = (given: unknown): ReadonlyArray<unknown> => {
  if (typeof given !== "string" || !given.startsWith("[{")) return []
  try {
    const rows: unknown = JSON.parse(given)
    return Array.isArray(rows) ? rows : []
  } catch {
    return []
  }
}

/** Whether a group-commit row writes record `eventId`: a settle's `event_id`, one of a claim's `event_ids`. */
const rowWrites = (row: unknown, eventId: string): boolean => {
  if (typeof row !== "object" || row === null) return false
  const { event_id, event_ids } = row as { readonly event_id?: unknown; readonly event_ids?: unknown }
  return event_id === eventId || (Array.isArray(event_ids) && event_ids.includes(eventId))
}

/**
 * Whether a statement writes the event record `eventId`: a parameter of its
 * own (a lone end's record id), or a group-commit row's record id. Equality,
 * never a part of a text: another caller's statement that mentions the id
 * (a job's inputs, a reason, a longer string) is not one.
 */
const writesEvent = (values: ReadonlyArray<unknown> | null | undefined, eventId: string): boolean =>
  values != null && values.some((given) => given === eventId || rowsOf(given).some((row) => rowWrites(row, eventId)))

/**
 * Cancels the statements in flight on `pool`'s connections that write the
 * event record `eventId` (`writesEvent`) — an id fresh to its writer, so no
 * other caller's statement carries it: a worker pool's drain cutting a run's
 * end by its end record (internal/jobs/settleCut.ts), or a claim still
 * waiting by one of its event ids (internal/jobs/claimCut.ts). A cancelled
 * group-commit statement rolls back every member's write; each member then
 * runs again alone (internal/coalesce.ts), the named one too — its writer
 * cancels again until its write has ended. A statement that ends between the
 * look and the cancel's delivery keeps what it did, and its connection is
 * closed on its release (`mayStillBeCancelled`): the cancel reaches no other
 * caller's statement.
 */
export const cancelWriting = (pool: Pg.Pool, eventId: string): Promise<void> =>
  cancelWhere(
    pool,
    (query) => writesEvent(query.values, eventId),
    ": the worker pool's drain ended (its time passed, or a repeated signal cut it short) while the statement waited (cancelled on the server, nothing of it kept)"
  )
