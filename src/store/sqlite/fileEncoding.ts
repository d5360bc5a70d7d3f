/**
 * The text encoding of the file, which the store needs to be UTF-8.
 *
 * A file another tool created as UTF-16 keeps that encoding once it holds a
 * table, and SQLite cannot convert it. The CHECKs and triggers that refuse
 * U+0000 and lone surrogates read a text's UTF-8 bytes, so on such a file they
 * refused ordinary text (Hangul after an escape character) as if it held one.
 * Checked where the store opens a connection and where migrations run (a
 * caller may run them on a client of its own): once per call, never on the
 * store's hot paths.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

/** Fails, saying why, when the file's text encoding is not UTF-8. */
export const refuseNonUtf8: Effect.Effect<void, Error | SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ readonly encoding: string }>`PRAGMA encoding`
  if (row === undefined || row.encoding === "UTF-8") return
  return yield* Effect.fail(new Error(
    `the database file's text encoding is ${row.encoding}, and the store needs a UTF-8 file (SQLite cannot change the encoding of a file that holds tables): use another file, which the store creates as UTF-8`
  ))
})
