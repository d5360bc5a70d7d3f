/**
 * Keyset pagination cursors: the sort key of the last row of a page, as an
 * opaque base64url string. Opaque so callers don't build them by hand; keyset
 * (not OFFSET) so a page costs the same at row 10 and row 1,000,000.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"

const CursorKey = Schema.parseJson(Schema.Tuple(Schema.String, Schema.String))

/** Encodes the last row's (timestamp as RFC 3339 text, id) pair. */
export const encodeCursor = (at: string, id: string): string =>
  Buffer.from(Schema.encodeSync(CursorKey)([at, id]), "utf8").toString("base64url")

/** Decodes a cursor back to its (timestamp, id) pair, or fails with `DecodeFailure`. */
export const decodeCursor = (cursor: string): Effect.Effect<readonly [string, string], DecodeFailure> =>
  Schema.decodeUnknown(CursorKey)(Buffer.from(cursor, "base64url").toString("utf8")).pipe(
    Effect.mapError(() => new DecodeFailure({ subject: "cursor", issues: [{ path: "", message: "Not a cursor returned by a previous page" }] }))
  )

/** Clamps a requested page size to 1..1000, default 100. */
export const pageSize = (limit: number | undefined): number =>
  limit === undefined ? 100 : Math.max(1, Math.min(1000, Math.floor(limit)))
