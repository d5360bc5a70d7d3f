/**
 * Keyset pagination cursors: the sort key of the last row of a page, as an
 * opaque base64url string. Opaque so callers don't build them by hand; keyset
 * (not OFFSET) so a page costs the same at row 10 and row 1,000,000.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"
import { Timestamp } from "../../domain/Timestamp.js"
import type { Page } from "../JobStore.js"

const CursorKey = Schema.parseJson(Schema.Tuple(Timestamp, Schema.UUID))

/** The key a page continues after: an instant in canonical RFC 3339 text, and a row id. */
export interface CursorKey {
  readonly at: string
  readonly id: string
}

/**
 * Decodes a cursor a previous page returned. Anything else — forged,
 * truncated, from another listing — is a `DecodeFailure` before it reaches SQL.
 */
export const decodeCursor = (cursor: string): Effect.Effect<CursorKey, DecodeFailure> =>
  Schema.decodeUnknown(CursorKey)(Buffer.from(cursor, "base64url").toString("utf8")).pipe(
    Effect.map(([at, id]) => ({ at: DateTime.formatIso(at), id })),
    Effect.mapError(() =>
      new DecodeFailure({ subject: "cursor", issues: [{ path: "", message: "Not a cursor returned by a previous page" }] })
    )
  )

/** The page of `items` (already cut to the page size), with the cursor after its last item when `hasMore`. */
export const pageOf = <A>(
  items: ReadonlyArray<A>,
  hasMore: boolean,
  keyOf: (item: A) => readonly [DateTime.Utc, string]
): Page<A> => {
  const last = items[items.length - 1]
  if (!hasMore || last === undefined) return { items, next_cursor: null }
  const [at, id] = keyOf(last)
  return {
    items,
    next_cursor: Buffer.from(JSON.stringify([DateTime.formatIso(at), id]), "utf8").toString("base64url")
  }
}

/** Clamps a requested page size to 1..1000, default 100. */
export const pageSize = (limit: number | undefined): number =>
  limit === undefined ? 100 : Math.max(1, Math.min(1000, Math.floor(limit)))
