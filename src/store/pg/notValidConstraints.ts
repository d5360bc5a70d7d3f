/**
 * A DBA's NOT VALID constraint that a migration trips on the rows it writes.
 *
 * `ADD CONSTRAINT ... NOT VALID` leaves the rows already there unchecked,
 * but PostgreSQL checks the constraint on every row written afterwards,
 * whatever column the write changes. Some migrations write every old row
 * (0007 fills the new `run_after` of each job from its `created_at`; 0017
 * and 0018 set columns of every run), and the legacy upgrade puts a DBA's
 * constraint back NOT VALID as it found it. A row that violated it all
 * along then fails the migration with PostgreSQL's bare "violates check
 * constraint". The write cannot be narrowed to spare those rows (each needs
 * its new value), and skipping the constraint for it would write rows the
 * store's own next update of them (a claim, a cancel) fails on anyway:
 * the migration stops, naming the constraint, saying why, and what to do.
 * Those rows may also pass it before migrate and violate it only once the
 * legacy upgrade (0002) has rewritten them (a kind renamed) in the same
 * transaction: validating it, as the advice said for old rows alone, then
 * succeeded and migrate failed again (found by a regression probe). Which
 * of the two it is cannot be told once 0002 has run, so the advice names
 * both, with the step for each.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

/** A NOT VALID constraint that rows this migration writes violate stopped it; nothing was changed. */
export class NotValidConstraintBlocks extends Error {
  constructor(message: string, readonly detail: string | undefined) {
    super(message)
  }
}

/** What PostgreSQL says of a violated constraint. */
interface Violation {
  readonly code?: unknown
  readonly constraint?: unknown
  readonly table?: unknown
  readonly schema?: unknown
  readonly detail?: unknown
}

/**
 * Runs `migration` in a savepoint of its own, so that when it fails on a
 * CHECK or FOREIGN KEY violation the catalog can still be asked whether the
 * constraint is NOT VALID; when it is, the failure is a
 * `NotValidConstraintBlocks` naming it with what to do. Any other failure is
 * the migration's own, unchanged. Only the failure path reads the catalog.
 */
export const adviseOnNotValid = <A, E, R>(
  migration: Effect.Effect<A, E, R>
): Effect.Effect<A, E | NotValidConstraintBlocks | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.catchAll(sql.withTransaction(migration), (error): Effect.Effect<never, E | NotValidConstraintBlocks | SqlError> => {
      if (!(error instanceof SqlError)) return Effect.fail(error)
      const violation = (error.cause ?? {}) as Violation
      if (
        (violation.code !== "23514" && violation.code !== "23503") ||
        typeof violation.constraint !== "string" || typeof violation.table !== "string" || typeof violation.schema !== "string"
      ) return Effect.fail(error)
      const { constraint, schema, table } = violation
      return Effect.flatMap(
        sql<{ readonly table: string; readonly definition: string; readonly validate: string }>`
          SELECT c.conrelid::regclass::text AS table, pg_get_constraintdef(c.oid) AS definition,
            format('ALTER TABLE %s VALIDATE CONSTRAINT %I', c.conrelid::regclass, c.conname) AS validate
          FROM pg_constraint c
          WHERE c.conname = ${constraint} AND NOT c.convalidated
            AND to_regclass(format('%I.%I', ${schema}::text, ${table}::text)) IN (c.conrelid, c.confrelid)`,
        ([found]): Effect.Effect<never, SqlError | NotValidConstraintBlocks> =>
          found === undefined ? Effect.fail(error) : Effect.fail(
            new NotValidConstraintBlocks(
              `rows of ${found.table} violate its constraint ${constraint} (${found.definition}) as this migration writes them: ` +
                "added NOT VALID, it never checked the rows already there, but PostgreSQL checks every constraint on a row it writes. " +
                `Either rows older than the constraint violate it: fix them and validate it (${found.validate}); ` +
                "or the upgrade itself changed them so that they do (the legacy upgrade renames the job kinds term_exec, doc_test " +
                "and governance_pack_export and converts the columns' types): drop it, migrate, and add it again written for the " +
                "upgraded rows. Then migrate again. Nothing was changed",
              typeof violation.detail === "string" ? violation.detail : undefined
            )
          )
      )
    }))
