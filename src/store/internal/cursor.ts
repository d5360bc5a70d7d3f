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

const CursorKey = Schema.parseJson(
  Schema.Tuple(Schema.Literal("jobs", "events"), Schema.Literal("asc", "desc"), Timestamp, Schema.UUID)
)

/** A cursor's text: its key as JSON, in base64url without padding. */
const encodeCursor = (key: typeof CursorKey.Type): string =>
  Buffer.from(Schema.encodeSync(CursorKey)(key), "utf8").toString("base64url")

/** The key a page continues after: an instant in canonical RFC 3339 text, and a row id; and the order it continues in. */
export interface CursorKey {
  readonly at: string
  readonly id: string
  readonly order: Order
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
    Effect.flatMap(([madeBy, madeIn, at, id]) =>
      madeBy !== listing
        ? Effect.fail(refused("", `Not a cursor returned by a previous page of ${listing}: it continues a listing of ${madeBy}`))
        : order !== undefined && order !== madeIn
        ? Effect.fail(
          refused("order", `The cursor continues a listing in ${madeIn} order, not ${order}: leave order out, or give ${madeIn}`)
        )
        : Effect.succeed({ at: DateTime.formatIso(at), id: id.toLowerCase(), order: madeIn })
    )
  )

/**
 * The page of `items` (already cut to the page size) of `listing` in `order`,
 * with the cursor after its last item when `hasMore`.
 */
export const pageOf = <A>(
  items: ReadonlyArray<A>,
  hasMore: boolean,
  keyOf: (item: A) => readonly [DateTime.Utc, string],
  made: { readonly listing: Listing; readonly order: Order }
): Page<A> => {
  const last = items[items.length - 1]
  if (!hasMore || last === undefined) return { items, next_cursor: null }
  const [at, id] = keyOf(last)
  return { items, next_cursor: encodeCursor([made.listing, made.order, at, id]) }
}

/** Clamps a requested page size to 1..1000, default 100. */
export const pageSize = (limit: number | undefined): number =>
  limit === undefined ? 100 : Math.max(1, Math.min(1000, Math.floor(limit)))
