/**
 * The database's encoding, checked once when the store is built (migrating or
 * not) and before it migrates. In a LATIN1 (or any other single-language)
 * database migrate failed on a character of the library's own migration text
 * ("character with byte sequence 0xe2 0x80 0x94 in encoding \"UTF8\" has no
 * equivalent in encoding \"LATIN1\""), and a schema restored there by hand
 * refused jobs whose text that encoding cannot hold. Either way the cause is
 * the encoding, so that is what the refusal says.
 *
 * UTF8 and SQL_ASCII are taken. SQL_ASCII stores the bytes a client sends as
 * they are, and the store's client always sends and reads UTF-8, so every
 * text round-trips unchanged; the store has no rule that counts characters,
 * where SQL_ASCII would count bytes. Refusing it would break databases that
 * work.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { MigrationFailed, StorageError } from "../StoreErrors.js"

const TAKEN: ReadonlyArray<string> = ["UTF8", "SQL_ASCII"]

/**
 * Fails with `MigrationFailed` naming the encoding when the database is neither
 * UTF8 nor SQL_ASCII: `during` says what was refused, so a read (a store built
 * without migrating) says the store was not opened, not that migrations failed.
 * The encoding not read (a connection dropped, a server restarting) is a
 * `StorageError`: the database failed, nothing was refused — a supervisor
 * that treats `MigrationFailed` as permanent gave up on a blip.
 */
export const refuseEncoding = (
  during: "migrate" | "open"
): Effect.Effect<void, MigrationFailed | StorageError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly encoding: string }>`SELECT current_setting('server_encoding') AS encoding`
    const encoding = row?.encoding ?? ""
    if (TAKEN.includes(encoding.toUpperCase())) return
    return yield* Effect.fail(
      new MigrationFailed({
        dialect: "pg",
        during,
        migration_id: null,
        migration_name: null,
        statement: null,
        cause: new Error(
          `the database's encoding is ${encoding}; the store needs a UTF8 database ` +
            "(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)"
        )
      })
    )
  }).pipe(
    Effect.catchTag("SqlError", (cause) =>
      Effect.fail(new StorageError({ operation: `PgStore.layer, reading the database's encoding (${during === "migrate" ? "before migrating" : "to open the store"})`, cause })))
  )
