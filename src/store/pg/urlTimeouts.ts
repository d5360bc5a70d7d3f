/**
 * The timeouts a PostgreSQL URL gives itself. `pg` merges a connection
 * string's query parameters over the pool's own settings, so a URL's
 * `statement_timeout` silently replaced the store's `statementTimeout`: past
 * its clamp (`3000000000`, which the server refuses: the store could not
 * open) or below any use (`1`: every statement cancelled), both a
 * `StorageError` a supervisor retries for ever (found by a regression
 * probe). A URL's `connect_timeout` was ignored instead.
 *
 * So the store reads them itself, as the options they stand for, and takes
 * them out of the URL it hands `pg`:
 *
 * - `statement_timeout`: whole milliseconds, as PostgreSQL reads a bare
 *   number (0: no limit) — `statementTimeout`;
 * - `connect_timeout`: whole seconds, as libpq reads it (0: wait for ever) —
 *   `connectTimeout`.
 *
 * An option given in code wins over the URL, the URL over the default; either
 * is clamped as the option is. `query_timeout` and
 * `idle_in_transaction_session_timeout` follow from `statementTimeout` and are
 * refused in the URL, as is a value above that is not a whole number: each
 * refusal names the parameter.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

/** What a URL's timeouts say (absent: the URL does not give it), and the URL without them. */
export interface UrlTimeouts {
  readonly url: string
  readonly statementTimeout?: Duration.Duration
  readonly connectTimeout?: Duration.Duration
}

/** A parameter read: the option it stands for, and the unit of its bare number. */
interface Reading {
  readonly option: "statementTimeout" | "connectTimeout"
  readonly unit: "milliseconds" | "seconds"
}

const READ: ReadonlyMap<string, Reading> = new Map([
  ["statement_timeout", { option: "statementTimeout", unit: "milliseconds" }],
  ["connect_timeout", { option: "connectTimeout", unit: "seconds" }]
])

/** The parameters the store derives from `statementTimeout`: a URL's own would override it. */
const DERIVED: ReadonlySet<string> = new Set(["query_timeout", "idle_in_transaction_session_timeout"])

/** A bare number of `unit`, 0 for no limit (PostgreSQL's and libpq's reading). */
const durationOf = (n: number, unit: Reading["unit"]): Duration.Duration =>
  n === 0 ? Duration.infinity : unit === "seconds" ? Duration.seconds(n) : Duration.millis(n)

/**
 * `url`'s own timeouts, and `url` without them (every other parameter as
 * written), or why one cannot be used. A URL without them is returned as
 * given.
 */
export const urlTimeouts = (url: string): Either.Either<UrlTimeouts, string> => {
  const hash = url.indexOf("#")
  const end = hash < 0 ? url.length : hash
  const at = url.indexOf("?")
  if (at < 0 || at > end) return Either.right({ url })
  const segments = url.slice(at + 1, end).split("&")
  const kept: Array<string> = []
  const read: { -readonly [K in Reading["option"]]?: Duration.Duration } = {}
  for (const segment of segments) {
    // Decoded as a URL's query is (pg reads it so): `%5Fs`, `+` and all.
    const [entry] = new URLSearchParams(segment)
    const [key, value] = entry ?? ["", ""]
    if (DERIVED.has(key)) {
      return Either.left(
        `${key} in the database URL is not read: the store sets it from statementTimeout; give statement_timeout or the statementTimeout option instead`
      )
    }
    const reading = READ.get(key)
    if (reading === undefined) {
      kept.push(segment)
    } else if (/^\d+$/.test(value)) {
      read[reading.option] = durationOf(Number(value), reading.unit)
    } else {
      return Either.left(`${key} in the database URL must be a whole number of ${reading.unit} (0 for no limit), got ${JSON.stringify(value)}`)
    }
  }
  if (kept.length === segments.length) return Either.right({ url })
  const query = kept.join("&")
  return Either.right({ url: `${url.slice(0, query === "" ? at : at + 1)}${query}${url.slice(end)}`, ...read })
}
