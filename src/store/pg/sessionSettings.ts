/**
 * What the store's connections need of their session, whatever the server's,
 * the database's or the role's defaults, set on each new connection:
 *
 * - ISO dates (`ALTER DATABASE … SET DateStyle = 'SQL, DMY'` is a legal
 *   setting): pg parses instants only from ISO text, and under another style
 *   every instant read back was null ("Corrupt row … created_at").
 * - READ COMMITTED transactions. Claims skip locked rows and each statement
 *   sees what committed before it; under a database default of SERIALIZABLE or
 *   REPEATABLE READ (`ALTER DATABASE … SET default_transaction_isolation`) two
 *   workers' ordinary writes failed "could not serialize access" and jobs
 *   whose handlers succeeded ended failed. Set only where the default is
 *   another (so a session already at READ COMMITTED is not changed), and not
 *   where the store's own URL asks for a level. A caller's transaction the
 *   store joins keeps the level its owner chose.
 *
 * - No idle-session timeout. The pool keeps idle connections (about 10 s)
 *   and the store holds some for good (heldConnections.ts); a role or
 *   database with `idle_session_timeout` (PostgreSQL 14 and later, a common
 *   hardening) had the server end them while idle, and the next statement
 *   on one failed (57P05): under load jobs failed with it (found by a
 *   fault-injection probe). Set to 0 only where the setting exists and is
 *   not 0 (an older server has none: no error), and not where the store's
 *   own URL asks for one.
 *
 * All in one simple query: one round trip, as for the DateStyle alone.
 *
 * Run as pg-pool's `onConnect` hook: after the connection is made (its connect
 * timer cleared, the pool listening for its errors) and before it is handed
 * out. A SET that fails or times out (`query_timeout`) gets the connection
 * ended by the pool and its error to the caller, a `StorageError`. Earlier
 * tries were worse: from the pool's `connect` event the SET was still running
 * when the first statement was sent (pg queues it with a deprecation warning on
 * stderr); inside the client's own `connect` the pool's connect timer could end
 * the SET's socket while nobody listened for its error (a crash), and a failed
 * SET left the connection open. Not startup options (`options=-c
 * DateStyle=ISO`): PgBouncer refuses unknown startup parameters. It keeps a
 * client's `DateStyle` once set, so that SET holds behind it too; it does not
 * carry `default_transaction_isolation` from one server connection to the next,
 * so behind a transaction-mode pooler the role's or database's default must be
 * READ COMMITTED (PostgreSQL's own default).
 */
import type * as Pg from "pg"

// The isolation only where the server, the database or the role chose another default: a level
// the store's own URL asks for (`options=-c default_transaction_isolation=…`, source "client")
// is its writer's choice, kept.
const SESSION = "SET DateStyle = ISO; " +
  "SELECT set_config(name, 'read committed', false) FROM pg_settings " +
  "WHERE name = 'default_transaction_isolation' AND setting <> 'read committed' AND source <> 'client'; "

/**
 * No idle-session timeout for this session, where the server has the
 * setting (PostgreSQL 14 and later) and the connection's own startup
 * options do not give one: the statement to send with a connection's first.
 */
export const NO_IDLE_SESSION_TIMEOUT = "SELECT set_config(name, '0', false) FROM pg_settings " +
  "WHERE name = 'idle_session_timeout' AND setting <> '0' AND source <> 'client'"

/** pg-pool's `onConnect`: ISO dates, READ COMMITTED and no idle-session timeout for the connection, before its first statement. */
export const sessionSettings = (client: Pg.ClientBase): Promise<void> =>
  client.query(SESSION + NO_IDLE_SESSION_TIMEOUT).then(() => undefined)
