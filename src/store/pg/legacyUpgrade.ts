/**
 * What migrate does around PostgreSQL's legacy upgrade, 0002, which changes
 * the three legacy tables in place (migrations/pg/0002_current_schema.sql;
 * shipped, so never edited: R17).
 *
 * Before it: a table of those names that is not the reference's (another
 * app's `workflow_runs`, say, empty) is refused, naming its columns, instead
 * of being taken over; a view, rule, trigger or SQL function reading a
 * column 0002 changes the type of is refused, all of them named, with the
 * next step (dependentObjects.ts); rows the domain could not read back are
 * refused (internal/legacyRowRules.ts); references that name no row are
 * settled (internal/legacyReferences.ts); and the
 * constraints the database's own people added to the three tables are set aside, because 0002 drops every CHECK, UNIQUE
 * and FOREIGN KEY it finds there; only those 0002 replaces with its own are
 * left to it. After it: those constraints are put back as
 * they were, or the upgrade fails naming the one that no longer fits.
 *
 * Only the tables of `current_schema()` are looked at: that is where 0001
 * created or found them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { JOBS_TABLE } from "../internal/bookkeepingRows.js"
import { strandedKinds, valueListVerdict } from "./legacyValueLists.js"

/** The legacy tables and the columns 0002 needs to find (it adds the others some reference versions lacked). */
export const legacyColumns: Record<string, ReadonlyArray<string>> = {
  ai_jobs: [
    "id", "trace_id", "workflow_run_id", "job_kind", "status", "protocol_id", "profile_id",
    "capability_profile_id", "access_mode", "safety_mode", "created_at", "updated_at"
  ],
  workflow_runs: ["id", "job_id", "status", "last_heartbeat", "created_at", "updated_at"],
  workflow_node_executions: [
    "id", "workflow_run_id", "node_id", "node_type", "status", "sequence", "input_payload",
    "output_payload", "error_message", "started_at", "finished_at"
  ]
}

/** The three legacy tables 0002 upgrades in place. */
export const legacyTables = Object.keys(legacyColumns)

/**
 * Whether `current_schema()` already holds `ai_jobs` as a table before 0001
 * runs: a reference database that migrate then upgrades in place, not a new
 * store it creates (storeElsewhere.ts words its warning by which).
 */
export const referenceTablesHere: Effect.Effect<boolean, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    Effect.map(
      sql<{ readonly here: boolean }>`SELECT EXISTS (
        SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relname = ${JOBS_TABLE} AND c.relkind IN ('r', 'p')
      ) AS here`,
      ([row]) => row?.here === true
    )
)

/** Why a table of ours is not the reference's; the upgrade stops with it and the database is left as it was. */
export class NotALegacyTable extends Error {}

/** A constraint the database's own people added to a legacy table, to put back after 0002. */
export interface OwnConstraint {
  readonly table: string
  readonly name: string
  readonly definition: string
  /** The ALTER TABLE that puts it back. */
  readonly statement: string
  /**
   * The same without its name, for when 0002's own took it: a DBA's unnamed
   * CHECK on `status` was named `ai_jobs_status_check` by PostgreSQL, as 0002
   * names its list of states. PostgreSQL picks a free name, as it did then.
   */
  readonly unnamed: string
}

/** The database's own constraint cannot be put back on the upgraded table; the upgrade stops with it. */
export class OwnConstraintBlocks extends Error {}

/**
 * Refuses a table named like a legacy one whose columns are not the
 * reference's: one the upgrade needs is missing, or one of its own is
 * NOT NULL without a default, so the store's inserts could never succeed.
 * Empty or not, such a table belongs to someone else.
 */
export const refuseForeignTables: Effect.Effect<void, SqlError | NotALegacyTable, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly table_name: string; readonly column_name: string; readonly required_elsewhere: boolean }>`
    SELECT t.relname AS table_name, a.attname AS column_name, (a.attnotnull AND NOT a.atthasdef) AS required_elsewhere
    FROM pg_attribute a
    JOIN pg_class t ON t.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema() AND t.relname IN ${sql.in(legacyTables)}
      AND a.attnum > 0 AND NOT a.attisdropped`
  const problems = legacyTables.flatMap((table) => {
    const columns = rows.filter((row) => row.table_name === table)
    if (columns.length === 0) return []
    const names = new Set(columns.map((column) => column.column_name))
    const expected = new Set(legacyColumns[table])
    const missing = legacyColumns[table]!.filter((name) => !names.has(name))
    const required = columns
      .filter((column) => !expected.has(column.column_name) && column.required_elsewhere)
      .map((column) => column.column_name)
    if (missing.length === 0 && required.length === 0) return []
    const why = [
      missing.length > 0 ? `it has no ${missing.join(", ")}` : "",
      required.length > 0 ? `its own ${required.join(", ")} ${required.length === 1 ? "is" : "are"} NOT NULL without a default` : ""
    ].filter((part) => part !== "").join("; ")
    return [`table ${table} is not a Handshake job table (${why})`]
  })
  if (problems.length > 0) {
    return yield* Effect.fail(
      new NotALegacyTable(
        `${problems.join("; ")}. Another application's table of that name is never taken over: ` +
          "give the store a schema of its own (?options=-c search_path=jobs in its URL). Nothing was changed"
      )
    )
  }
})

/**
 * Whether 0002 puts a constraint of its own in place of this one, so it is
 * not kept: a CHECK listing a column's values that allows every value
 * 0002's own list allows (legacyValueLists.ts), or the UNIQUE
 * (workflow_run_id, sequence) 0002 adds again. Judged by what the
 * constraint says, never by its name: the reference defines no CHECK or
 * UNIQUE at all (only primary keys and its foreign keys between the three
 * tables), so a name like PostgreSQL's default (`ai_jobs_profile_id_check`)
 * is a DBA's unnamed constraint.
 */
const replacedBy0002 = (table: string, definition: string): boolean =>
  (table === "workflow_node_executions" && definition === "UNIQUE (workflow_run_id, sequence)") ||
  valueListVerdict(table, definition) === "replaced"

/**
 * The CHECK, UNIQUE and FOREIGN KEY constraints of the legacy tables that
 * 0002 drops and does not put back: every foreign key to a table other than
 * the three (0002 restores those between them), and every CHECK and UNIQUE,
 * whatever its name, but those 0002 replaces with its own (`replacedBy0002`);
 * a DBA's list of kinds the upgrade would leave refusing the rewritten kinds
 * stops it, named (`strandedKinds`).
 */
export const ownConstraints: Effect.Effect<ReadonlyArray<OwnConstraint>, SqlError | OwnConstraintBlocks, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const found = yield* sql<OwnConstraint>`
    SELECT t.relname AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition,
      format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)) AS statement,
      format('ALTER TABLE %I.%I ADD %s', n.nspname, t.relname, pg_get_constraintdef(c.oid)) AS unnamed
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema() AND t.relname IN ${sql.in(legacyTables)}
      AND c.contype IN ('c', 'u', 'f')
      AND (c.contype <> 'f' OR c.confrelid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = n.oid AND relname IN ${sql.in(legacyTables)}))
    ORDER BY c.contype = 'f', t.relname, c.conname`
  const kept = found.filter((constraint) => !replacedBy0002(constraint.table, constraint.definition))
  const [stranded] = yield* strandedKinds(kept.filter((constraint) => constraint.table === "ai_jobs").map((constraint) => constraint.name))
  const blocking = stranded === undefined ? undefined : kept.find((constraint) => constraint.table === "ai_jobs" && constraint.name === stranded.name)
  if (stranded !== undefined && blocking !== undefined) {
    return yield* Effect.fail(
      new OwnConstraintBlocks(`the database's own constraint ${blocking.name} on ai_jobs (${blocking.definition}) cannot be kept: ${stranded.stops}`)
    )
  }
  return kept
})

/**
 * Puts each constraint back on its upgraded table, as it was (unnamed when
 * 0002's own took its name); one that no longer holds stops the upgrade, named.
 */
export const restoreOwnConstraints = (
  constraints: ReadonlyArray<OwnConstraint>
): Effect.Effect<void, OwnConstraintBlocks, SqlClient.SqlClient> =>
  Effect.forEach(constraints, (constraint) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // A UNIQUE's name is its index's too, which must be free in the whole schema.
      const [name] = yield* sql<{ readonly taken: boolean }>`SELECT
        EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(format('%I.%I', current_schema(), ${constraint.table}::text)) AND conname = ${constraint.name})
        OR (starts_with(${constraint.definition}, 'UNIQUE') AND to_regclass(format('%I.%I', current_schema(), ${constraint.name}::text)) IS NOT NULL) AS taken`
      yield* sql.unsafe(name?.taken === true ? constraint.unnamed : constraint.statement)
    }).pipe(
      Effect.mapError((error) => {
        const reason = (error.cause as { readonly message?: unknown } | undefined)?.message
        return new OwnConstraintBlocks(
          `the database's own constraint ${constraint.name} on ${constraint.table} (${constraint.definition}) ` +
            `does not hold on the upgraded table${typeof reason === "string" ? `: ${reason}` : ""}. ` +
            "Drop it, migrate, then add it back written for the new column types. Nothing was changed"
        )
      })
    ), { discard: true })
