/**
 * Keyset pages on SQLite: the cursor's timestamp back in the stored text form,
 * and the cursor after a page. Queries ask for one row more than the page to
 * know whether another page follows.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"
import { Timestamp } from "../../domain/Timestamp.js"
import { decodeCursor, encodeCursor } from "../internal/cursor.js"
import { StorageError } from "../StoreErrors.js"

/**
 * The (timestamp text, id) key of a cursor. A cursor no page returned is a
 * typed failure: `StorageError` carrying a `DecodeFailure`, because the
 * listing methods' error union has no input-error member (see the report).
 */
export const cursorKey = (operation: string, cursor: string): Effect.Effect<readonly [string, string], StorageError> =>
  decodeCursor(cursor).pipe(
    Effect.flatMap(([at, id]) =>
      Effect.mapBoth(Schema.decode(Timestamp)(at), {
        onFailure: (error) => DecodeFailure.fromParseError("cursor", error),
        onSuccess: (instant) => [DateTime.formatIso(instant), id] as const
      })
    ),
    Effect.mapError((cause) => new StorageError({ operation, cause }))
  )

/** The page of `items`, with the cursor after its last item when `hasMore` rows follow. */
export const pageOf = <A>(
  items: ReadonlyArray<A>,
  hasMore: boolean,
  keyOf: (item: A) => readonly [DateTime.Utc, string]
): { readonly items: ReadonlyArray<A>; readonly next_cursor: string | null } => {
  const last = items[items.length - 1]
  if (!hasMore || last === undefined) return { items, next_cursor: null }
  const [at, id] = keyOf(last)
  return { items, next_cursor: encodeCursor(DateTime.formatIso(at), id) }
}
