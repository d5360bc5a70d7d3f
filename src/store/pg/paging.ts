/** Keyset pages over (instant, id), shared by job and event listings. */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"
import { Timestamp } from "../../domain/Timestamp.js"
import { decodeCursor, encodeCursor } from "../internal/cursor.js"
import type { Page } from "../JobStore.js"
import { StorageError } from "../StoreErrors.js"

const CursorKey = Schema.Tuple(Timestamp, Schema.UUID)

/**
 * The (instant, id) a page continues after, checked before it reaches SQL.
 * A cursor no page returned is a typed failure: a `StorageError` of
 * `operation` carrying a `DecodeFailure`, because the list methods' error
 * union has no input-error member (the SQLite store does the same).
 */
export const cursorKey = (
  operation: string,
  cursor: string
): Effect.Effect<{ readonly at: string; readonly id: string }, StorageError> =>
  decodeCursor(cursor).pipe(
    Effect.flatMap((key) =>
      Effect.mapError(Schema.decodeUnknown(CursorKey)(key), (error) => DecodeFailure.fromParseError("cursor", error))
    ),
    Effect.map(([at, id]) => ({ at: DateTime.formatIso(at), id })),
    Effect.mapError((cause) => new StorageError({ operation, cause }))
  )

/**
 * A page from `size + 1` fetched rows: the extra row only proves there is a
 * next page, whose cursor is the key of the last row kept.
 */
export const toPage = <A>(
  fetched: ReadonlyArray<A>,
  size: number,
  key: (item: A) => readonly [DateTime.Utc, string]
): Page<A> => {
  const items = fetched.slice(0, size)
  const last = items[items.length - 1]
  if (fetched.length <= size || last === undefined) return { items, next_cursor: null }
  const [at, id] = key(last)
  return { items, next_cursor: encodeCursor(DateTime.formatIso(at), id) }
}
