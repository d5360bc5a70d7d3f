/**
 * Keyset pagination cursors: the sort key of the last row of a page, with the
 * listing that gave the page and its order, as an opaque base64url string.
 * Opaque so callers don't build them by hand; keyset (not OFFSET) so a page
 * costs the same at row 10 and row 1,000,000.
 *
 * A cursor is tied to its listing (`jobs`, `events`) and its order: used with
 * another listing it is refused, and it continues in the order of the page that
 * gave it (an explicit `order` that says otherwise is refused, not obeyed). It
 * carries no filters: used with other filters it continues after its key within
 * the rows those filters select.
 *
 * Its instant is the row's as stored, to the microsecond: PostgreSQL's
 * `timestamptz` keeps microseconds (rows written by raw SQL or another
 * service, events stored before migration 0019), which the driver's `Date`
 * cuts to the millisecond; a key cut so sorts before its own row, and a page
 * of one such row would repeat it for ever. The microseconds past the
 * millisecond are a fifth element, present only when not zero, so every
 * cursor of a whole-millisecond row (all of SQLite's, and those handed out
 * before) reads as it always did.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"
import { Timestamp } from "../../domain/Timestamp.js"
import type { Page } from "../JobStore.js"

/** The store's paged listings: each cursor names the one that gave it. */
export type Listing = "jobs" | "events"

/** A listing's order. */
export type Order = "asc" | "desc"

/** Microseconds past the millisecond: 1 to 999 (zero is left out). */
const Micros = Schema.Int.pipe(Schema.between(1, 999))

const CursorKey = Schema.parseJson(
  Schema.Tuple(
    Schema.Literal("jobs", "events"),
    Schema.Literal("asc", "desc"),
    Timestamp,
    Schema.UUID,
    Schema.optionalElement(Micros)
  )
)

/** A cursor's text: its key as JSON, in base64url without padding. */
const encodeCursor = (key: typeof CursorKey.Type): string =>
  Buffer.from(Schema.encodeSync(CursorKey)(key), "utf8").toString("base64url")

/**
 * The key a page continues after: an instant in canonical RFC 3339 text (to
 * the millisecond) and the microseconds past it (0 to 999), and a row id; and
 * the order it continues in.
 */
export interface CursorKey {
  readonly at: string
  readonly micros: number
  readonly id: string
  readonly order: Order
}

/** The key's instant to the microsecond, as RFC 3339 text (`…T10:00:00.123400Z`; the millisecond text when none). */
export const exactInstant = (key: CursorKey): string =>
  key.micros === 0 ? key.at : `${key.at.slice(0, -1)}${String(key.micros).padStart(3, "0")}Z`

/**
 * A row's key from its instant in microseconds since the epoch, as PostgreSQL
 * gives them exactly (`int8`, as text), and its id: for `pageOf`.
 */
export const keyOfEpochMicros = (epochMicros: string, id: string): readonly [DateTime.Utc, string, number] => {
  const micros = BigInt(epochMicros)
  return [DateTime.unsafeMake(Number(micros / 1000n)), id, Number(micros % 1000n)]
}

const refused = (path: string, message: string) => new DecodeFailure({ subject: "cursor", issues: [{ path, message }] })

/**
 * Decodes a cursor a previous page of `listing` returned, for a listing asked
 * in `order` (absent: the cursor's own). Its id comes back lower-case, as the
 * stores keep ids: SQLite compares them as text, so an id spelt in upper case
 * would sort before its own row and repeat it. Anything but the text a page
 * gave (its id's case aside) — forged, truncated, with characters added, its
 * key respelt, of an older format, from another listing — is a
 * `DecodeFailure` before it reaches SQL; so is an `order` other than the cursor's.
 */
export const decodeCursor = (cursor: string, listing: Listing, order?: Order): Effect.Effect<CursorKey, DecodeFailure> =>
  Schema.decodeUnknown(CursorKey)(Buffer.from(cursor, "base64url").toString("utf8")).pipe(
    // Node's base64url decoder skips what it does not know (`!`, `=`, a space), and JSON and
    // RFC 3339 have other spellings of the same key: only the exact text a page gives is one.
    Effect.filterOrFail((key) => encodeCursor(key) === cursor, () => undefined),
    Effect.mapError(() => refused("", "Not a cursor returned by a previous page")),
    Effect.flatMap(([madeBy, madeIn, at, id, micros]) =>
      madeBy !== listing
        ? Effect.fail(refused("", `Not a cursor returned by a previous page of ${listing}: it continues a listing of ${madeBy}`))
        : order !== undefined && order !== madeIn
        ? Effect.fail(
          refused("order", `The cursor continues a listing in ${madeIn} order, not ${order}: leave order out, or give ${madeIn}`)
        )
        : Effect.succeed({ at: DateTime.formatIso(at), micros: micros ?? 0, id: id.toLowerCase(), order: madeIn })
    )
  )

/**
 * `decodeCursor` for a store whose instants are whole milliseconds (SQLite): a
 * cursor with microseconds (forged, or carried over from a PostgreSQL store)
 * is no cursor of its pages, refused rather than read without them — the
 * stores would otherwise page the same cursor differently.
 */
export const decodeMillisecondCursor = (cursor: string, listing: Listing, order?: Order): Effect.Effect<CursorKey, DecodeFailure> =>
  Effect.filterOrFail(
    decodeCursor(cursor, listing, order),
    (key) => key.micros === 0,
    () => refused("", "Not a cursor returned by a previous page: it holds microseconds, which this store's pages never give")
  )

/**
 * The page of `items` (already cut to the page size) of `listing` in `order`,
 * with the cursor after its last item when `hasMore`. `keyOf` is given the
 * item and its index: its instant, its id and, on PostgreSQL, the
 * microseconds past the instant's millisecond.
 */
export const pageOf = <A>(
  items: ReadonlyArray<A>,
  hasMore: boolean,
  keyOf: (item: A, index: number) => readonly [DateTime.Utc, string, number?],
  made: { readonly listing: Listing; readonly order: Order }
): Page<A> => {
  const last = items[items.length - 1]
  if (!hasMore || last === undefined) return { items, next_cursor: null }
  const [at, id, micros = 0] = keyOf(last, items.length - 1)
  return {
    items,
    next_cursor: encodeCursor(micros === 0 ? [made.listing, made.order, at, id] : [made.listing, made.order, at, id, micros])
  }
}

/** Clamps a requested page size to 1..1000, default 100. */
export const pageSize = (limit: number | undefined): number =>
  limit === undefined ? 100 : Math.max(1, Math.min(1000, Math.floor(limit)))
