/**
 * What both stores' `findJobIds` share: checking the abbreviation and the
 * limit before any SQL, and decoding the ids found.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DecodeFailure } from "../../domain/Errors.js"
import { readOptions } from "../../domain/knownOptions.js"
import * as IdAbbreviation from "../../domain/IdAbbreviation.js"
import { JobId } from "../../domain/Ids.js"
import type { CorruptRow } from "../StoreErrors.js"
import { decodeRows, rowDecoder } from "./decodeRow.js"

/** The options `findJobIds` names. */
const SEARCH_OPTIONS: ReadonlyArray<string> = ["limit"]

/**
 * A checked search: the abbreviation spelled out, and how many ids to return
 * (a whole number ≥ 1, at most 1000 returned; default 10). Options read once, as every port option is: a
 * misspelt key or one that throws when read is a `DecodeFailure`.
 */
export const jobIdSearch = (
  abbreviation: string,
  options?: { readonly limit?: number | undefined }
): Effect.Effect<{ readonly abbreviation: IdAbbreviation.IdAbbreviation; readonly limit: number }, DecodeFailure> => {
  const read = readOptions(options, SEARCH_OPTIONS, "FindJobIdsOptions")
  if (read instanceof DecodeFailure) return Effect.fail(read)
  const limit = read.limit
  // As a page limit: NaN (an unset environment variable through Number) quietly became 10.
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    return Effect.fail(new DecodeFailure({
      subject: "FindJobIdsOptions",
      issues: [{ path: "limit", message: "Expected a page size: a whole number of at least 1" }]
    }))
  }
  return Effect.map(IdAbbreviation.parse(abbreviation), (parsed) => ({ abbreviation: parsed, limit: Math.min(1000, limit ?? 10) }))
}

const decodeIdRows = decodeRows(rowDecoder(Schema.Struct({ id: JobId }), "ai_jobs"))

/** The ids of `SELECT id FROM ai_jobs ...` rows. */
export const decodeJobIds = (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<JobId>, CorruptRow> =>
  Effect.map(decodeIdRows(rows), (decoded) => decoded.map((row) => row.id))
