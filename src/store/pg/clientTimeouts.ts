/**
 * The timeouts every `pg` connection of this library is made with — the
 * store's pool and the wake-up's listener alike — read one way: an option
 * given in code wins, then the URL's own parameter (urlTimeouts.ts), then
 * the default; each clamped to what Node's timers and PostgreSQL's settings
 * take (2^31 − 1 ms). The listener read its URL raw: `pg` sent a URL's
 * `statement_timeout=3000000000` to the server, which refused the
 * connection, and ignored its `connect_timeout`.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { LONGEST_TIMER_MS } from "../../util/clockSleep.js"
import { urlTimeouts } from "./urlTimeouts.js"

/** Default `connectTimeout`. */
export const DEFAULT_CONNECT_TIMEOUT: Duration.Duration = Duration.seconds(10)
/** Default `statementTimeout`. */
export const DEFAULT_STATEMENT_TIMEOUT: Duration.Duration = Duration.seconds(60)

/** The timeouts given in code (absent: the URL's, else the default). */
export interface GivenTimeouts {
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly statementTimeout?: Duration.DurationInput | undefined
}

/** What `pg` is given: the URL without its timeouts, and the timeouts as `pg`'s settings. */
export interface ClientTimeouts {
  readonly url: string
  /** The connect timeout, for a bound of one's own around the first connection. */
  readonly connect: Duration.Duration
  /** Settings of `pg`'s `ClientConfig` (and `PoolConfig`). */
  readonly settings: {
    readonly connectionTimeoutMillis: number
    readonly statement_timeout?: number
    readonly query_timeout?: number
    readonly idle_in_transaction_session_timeout?: number
  }
}

/** A positive whole number of milliseconds for `pg`, or undefined for "no limit". */
const millisOrOff = (duration: Duration.Duration): number | undefined =>
  // At most Node's longest timer, which is also PostgreSQL's largest timeout setting (about 24.8 days):
  // past it Node fires a timer after 1 ms and the server refuses the setting, so a "30 days" timed out at once.
  Duration.isFinite(duration) ? Math.min(LONGEST_TIMER_MS, Math.max(1, Math.ceil(Duration.toMillis(duration)))) : undefined

/** The timeouts of a connection to `url`, `given` over the URL's over the defaults; or why the URL's cannot be used (naming the parameter). */
export const clientTimeouts = (url: string, given: GivenTimeouts = {}): Either.Either<ClientTimeouts, string> =>
  Either.map(urlTimeouts(url), (fromUrl) => {
    const connect = Duration.decode(given.connectTimeout ?? fromUrl.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const statementMs = millisOrOff(Duration.decode(given.statementTimeout ?? fromUrl.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT))
    return {
      url: fromUrl.url,
      connect,
      settings: {
        // pg reads 0 as "wait forever": an unreachable or mute server must end in an error.
        connectionTimeoutMillis: millisOrOff(connect) ?? 0,
        ...(statementMs === undefined ? {} : {
          statement_timeout: statementMs,
          query_timeout: Math.min(LONGEST_TIMER_MS, statementMs + Math.min(5_000, Math.ceil(statementMs / 2))),
          // A transaction whose client went silent must not hold its row locks until TCP gives up (hours).
          idle_in_transaction_session_timeout: statementMs
        })
      }
    }
  })
