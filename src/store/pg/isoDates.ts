/**
 * The store's connections speak ISO dates, whatever the server's or the
 * database's `DateStyle` (`ALTER DATABASE … SET DateStyle = 'SQL, DMY'` is a
 * legal setting): pg parses instants only from ISO text, and under another
 * style every instant read back was null ("Corrupt row … created_at").
 *
 * Run as pg-pool's `onConnect` hook: after the connection is made (its connect
 * timer cleared, the pool listening for its errors) and before it is handed
 * out. A SET that fails or times out (`query_timeout`) gets the connection
 * ended by the pool and its error to the caller, a `StorageError`. Earlier
 * tries were worse: from the pool's `connect` event the SET was still running
 * when the first statement was sent (pg queues it with a deprecation warning on
 * stderr); inside the client's own `connect` the pool's connect timer could end
 * the SET's socket while nobody listened for its error (a crash), and a failed
 * SET left the connection open. Not a startup option (`options=-c
 * DateStyle=ISO`): PgBouncer refuses unknown startup parameters, but keeps a
 * client's `DateStyle` once set, so the SET holds behind it too.
 */
import type * as Pg from "pg"

/** pg-pool's `onConnect`: `DateStyle = ISO` for the connection, before its first statement. */
export const isoDates = (client: Pg.ClientBase): Promise<void> =>
  client.query("SET DateStyle = ISO").then(() => undefined)
