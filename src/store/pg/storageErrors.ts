/** How the PostgreSQL store reports failures that are not domain outcomes. */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import { DecodeFailure } from "../../domain/Errors.js"
import { StorageError } from "../StoreErrors.js"

type Unhandled = SqlError | ParseResult.ParseError

/**
 * The last step of every store method: a SqlError becomes the method's
 * `StorageError`, kept whole so its `cause` (the `pg` error with its SQLSTATE
 * `code`) stays reachable; a value that failed encoding on its way in (NaN in
 * a payload) becomes a `StorageError` carrying a `DecodeFailure`, because the
 * port's unions have no input-error member.
 */
export const storageErrors = (operation: string) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled> | StorageError, R> =>
  Effect.mapError(self, (error) => {
    if (error instanceof SqlError) return new StorageError({ operation, cause: error })
    if (ParseResult.isParseError(error)) {
      return new StorageError({ operation, cause: DecodeFailure.fromParseError("value written", error) })
    }
    // Everything else in E is neither of the two handled above.
    return error as Exclude<E, Unhandled>
  })

/**
 * `sql.withTransaction`, but a ROLLBACK or COMMIT that fails — the connection
 * died mid-transaction (`pg_terminate_backend`, a server restart) — is a typed
 * `SqlError` failure, as the statement's own failure would have been, not the
 * defect @effect/sql raises. Nothing was committed either way.
 */
export const inTransaction = (sql: SqlClient.SqlClient) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  sql.withTransaction(effect).pipe(
    Effect.catchAllDefect((defect) => defect instanceof SqlError ? Effect.fail(defect) : Effect.die(defect))
  )
