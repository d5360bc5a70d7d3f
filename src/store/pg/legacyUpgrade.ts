/**
 * What migrate does around PostgreSQL's legacy upgrade, 0002, which changes
 * the three legacy tables in place (migrations/pg/0002_current_schema.sql;
 * shipped, so never edited: R17).
 *
 * Before it, the constraints the database's own people added to the three
 * tables are set aside, because 0002 drops every CHECK, UNIQUE
 * and FOREIGN KEY it finds there. After it: those constraints are put back as
 * they were, or the upgrade fails naming the one that no longer fits.
 *
 * Only the tables of `current_schema()` are looked at: that is where 0001
 * created or found them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

/** The tables 0002 upgrades in place. */
const legacyTables = ["ai_jobs", "workflow_runs", "workflow_node_executions"]

/** A constraint the database's own people added to a legacy table, to put back after 0002. */
export interface OwnConstraint {
  readonly table: string
  readonly name: string
  readonly definition: string
  /** The ALTER TABLE that puts it back. */
  readonly statement: string
}

/** The database's own constraint cannot be put back on the upgraded table; the upgrade stops with it. */
export class OwnConstraintBlocks extends Error {}

/**
 * The CHECK, UNIQUE and FOREIGN KEY constraints of the legacy tables that the
 * reference did not define: a foreign key to a table other than the three,
 * or a CHECK or UNIQUE not named as PostgreSQL names them by default
 * (`<table>_<column>_check`, `<table>_<columns>_key`), which is how the
 * reference's are named. A DBA's constraint named that way is dropped as
 * the reference's is.
 */
export const ownConstraints: Effect.Effect<ReadonlyArray<OwnConstraint>, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<OwnConstraint>`
    SELECT t.relname AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition,
      format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)) AS statement
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema() AND t.relname IN ${sql.in(legacyTables)}
      AND c.contype IN ('c', 'u', 'f')
      AND CASE c.contype
        WHEN 'f' THEN c.confrelid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = n.oid AND relname IN ${sql.in(legacyTables)})
        ELSE NOT (starts_with(c.conname, t.relname || '_') AND (c.conname LIKE '%\\_check' OR c.conname LIKE '%\\_key'))
      END
    ORDER BY c.contype = 'f', t.relname, c.conname`
})

/** Puts each constraint back on its upgraded table, as it was; one that no longer holds stops the upgrade, named. */
export const restoreOwnConstraints = (
  constraints: ReadonlyArray<OwnConstraint>
): Effect.Effect<void, OwnConstraintBlocks, SqlClient.SqlClient> =>
  Effect.forEach(constraints, (constraint) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(constraint.statement)).pipe(
      Effect.mapError((error) => {
        const reason = (error.cause as { readonly message?: unknown } | undefined)?.message
        return new OwnConstraintBlocks(
          `the database's own constraint ${constraint.name} on ${constraint.table} (${constraint.definition}) ` +
            `does not hold on the upgraded table${typeof reason === "string" ? `: ${reason}` : ""}. ` +
            "Drop it, migrate, then add it back written for the new column types. Nothing was changed"
        )
      })
    ), { discard: true })
