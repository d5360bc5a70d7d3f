/**
 * SQLite's complaint about a statement, as text: what the migration checks of
 * a DBA's objects (rebuildCarry.ts, fullTextCarry.ts) name in a refusal.
 */
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"

/** What SQLite said, from a SqlError (its cause) or the driver's own error. */
export const reason = (cause: unknown): string => {
  const error = cause as { readonly cause?: { readonly message?: unknown }; readonly message?: unknown }
  return String(error.cause?.message ?? error.message)
}

/**
 * SQLite's complaint when `statement` runs, or undefined when it succeeds:
 * for a statement that matches no row (LIMIT 0, WHERE 0), whether it
 * compiles. Unprepared: the client's prepare cache would keep a failure for
 * minutes, and its unprepared path throws a prepare error as a defect.
 */
export const compileError = (statement: Statement.Statement<unknown>): Effect.Effect<string | undefined> =>
  statement.unprepared.pipe(
    Effect.as(undefined),
    Effect.catchAll((error) => Effect.succeed(reason(error))),
    Effect.catchAllDefect((defect) => Effect.succeed(reason(defect)))
  )

