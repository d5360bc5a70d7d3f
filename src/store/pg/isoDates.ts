/**
 * The store's connections speak ISO dates, whatever the server's or the
 * database's `DateStyle` (`ALTER DATABASE … SET DateStyle = 'SQL, DMY'` is a
 * legal setting): pg parses instants only from ISO text, and under another
 * style every instant read back was null ("Corrupt row … created_at").
 *
 * Set as part of connecting, before the pool hands the connection out: a
 * `SET` issued from the pool's `connect` event would still be running when
 * the first statement is sent, which pg queues with a deprecation warning
 * on stderr. Not a startup option (`options=-c DateStyle=ISO`): PgBouncer
 * refuses unknown startup parameters, but keeps a client's `DateStyle` once
 * set, so the `SET` holds behind it too.
 */
import type * as Pg from "pg"

type Connect = (callback?: (error: Error | undefined) => void) => Promise<void> | undefined

/** `Base` whose `connect` also sets `DateStyle = ISO` before it reports the connection ready. */
export const isoDates = (Base: typeof Pg.Client): typeof Pg.Client => {
  class IsoDates extends Base {}
  const connect = Base.prototype.connect as unknown as Connect
  const query = Base.prototype.query as unknown as (this: Pg.Client, text: string) => Promise<unknown>
  ;(IsoDates.prototype as unknown as { connect: Connect }).connect = function(this: Pg.Client, callback) {
    const ready = (connect.call(this) as Promise<void>).then(() => query.call(this, "SET DateStyle = ISO")).then(() => undefined)
    if (callback === undefined) return ready
    ready.then(() => callback(undefined), (error: Error) => callback(error))
    return undefined
  }
  return IsoDates
}
