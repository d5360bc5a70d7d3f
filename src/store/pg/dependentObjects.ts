/**
 * The database's own objects that stand in the way of the column type
 * changes of PostgreSQL's legacy upgrade (0002), named with the next step
 * instead of PostgreSQL's bare refusal of the first one it meets.
 *
 * 0002 changes the type of the legacy columns (text to uuid, timestamptz,
 * jsonb, boolean) and of every other table's foreign key to the three
 * tables (the reference's `ai_job_mcp_fields.job_id`, a DBA's
 * `notes.job_id`), to the type of the column it references after 0002
 * (uuid for the ids; the integer part of a key to `sequence` stays). PostgreSQL cannot do that under a view, rule,
 * trigger or SQL function reading the column: those are refused before
 * 0002 runs, all of them named. An index on such a column is rebuilt by
 * PostgreSQL, and only fails when its expression or predicate does not
 * hold on the new type (`(created_at::date)` is not immutable on
 * timestamptz): which one fails is asked of PostgreSQL only when 0002
 * failed, so the upgrade itself does no extra work.
 *
 * None is carried through (dropped and re-created around 0002, as SQLite's
 * rebuilds carry theirs, where the types stay): only their owner may drop
 * them, their grants, options and the objects built on them would have to
 * come back too, and a definition written for TEXT columns
 * (`created_at LIKE '2024%'`) may not compile on the new types — a choice
 * for the DBA, not a guess of ours.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { legacyColumns, legacyTables } from "./legacyUpgrade.js"

/**
 * The columns 0002 changes the type of (`ALTER COLUMN ... TYPE`), table by
 * table: the legacy columns and those it adds where a reference version
 * lacked them. A DBA's own columns are left as they are.
 */
const retypedBy0002: Record<string, ReadonlyArray<string>> = {
  ai_jobs: [
    ...legacyColumns["ai_jobs"]!, "status_reason", "error_message", "entity_refs", "planned_operations", "metrics",
    "job_inputs", "job_outputs", "is_pinned"
  ],
  workflow_runs: [...legacyColumns["workflow_runs"]!, "error_message"],
  workflow_node_executions: legacyColumns["workflow_node_executions"]!
}

/** The type 0002 gives each column it retypes, by name (the same name has the same type in all three tables); text for the others. */
const typeAfter0002: Record<string, string> = {
  ...Object.fromEntries(["id", "trace_id", "workflow_run_id", "job_id"].map((column) => [column, "uuid"])),
  ...Object.fromEntries(
    ["entity_refs", "planned_operations", "metrics", "job_inputs", "job_outputs", "input_payload", "output_payload"].map((column) => [column, "jsonb"])
  ),
  ...Object.fromEntries(["created_at", "updated_at", "last_heartbeat", "started_at", "finished_at"].map((column) => [column, "timestamptz"])),
  is_pinned: "boolean",
  sequence: "integer"
}

/** Views, rules, triggers, SQL functions or indexes of the database's own stand in the way of 0002's type changes; the upgrade stops with them. */
export class DependentObjectsBlock extends Error {}

/**
 * Refuses the upgrade while a view, materialized view, rule, trigger
 * (`WHEN (OLD.status ...)`, `UPDATE OF status`) or SQL function with a
 * `BEGIN ATOMIC` body reads a column 0002 changes the type of: PostgreSQL
 * cannot change a column's type under one, and named only the first it
 * met, with no next step (found by outside and regression probes, a view
 * over another table's foreign key to ai_jobs among them). They are named,
 * all of them, with the next step.
 */
export const refuseDependentObjects: Effect.Effect<void, SqlError | DependentObjectsBlock, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const retyped = Object.entries(retypedBy0002).flatMap(([table, columns]) => columns.map((column) => `${table}.${column}`))
  // Beside the legacy columns, 0002 converts every other table's column holding a foreign key to
  // one of the three to the type the column it references has after 0002, when its own type is
  // another (format_type against format_type, as 0002 compares them): a text job_id becomes uuid,
  // while the integer part of a composite key to (workflow_run_id, sequence) stays as it is.
  const newTypes = JSON.stringify(Object.fromEntries(retyped.map((column) => [column, typeAfter0002[column.split(".")[1]!] ?? "text"])))
  const blocking = yield* sql<{ readonly what: string; readonly columns: string }>`
    WITH legacy AS (
      SELECT t.oid FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = current_schema() AND t.relname IN ${sql.in(legacyTables)}
    ), retyped AS (
      SELECT a.attrelid AS relid, a.attnum FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
      WHERE a.attrelid IN (SELECT oid FROM legacy) AND (t.relname || '.' || a.attname) IN ${sql.in(retyped)}
      UNION
      SELECT f.conrelid, k.attnum FROM pg_constraint f
      CROSS JOIN LATERAL unnest(f.conkey, f.confkey) AS k(attnum, refnum)
      JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum
      JOIN pg_attribute r ON r.attrelid = f.confrelid AND r.attnum = k.refnum
      JOIN pg_class rt ON rt.oid = f.confrelid
      LEFT JOIN jsonb_each_text(${newTypes}::jsonb) AS n(col, type) ON n.col = rt.relname || '.' || r.attname
      WHERE f.contype = 'f' AND f.confrelid IN (SELECT oid FROM legacy) AND f.conrelid NOT IN (SELECT oid FROM legacy)
        AND format_type(a.atttypid, a.atttypmod) <> COALESCE(format_type(n.type::regtype, NULL), format_type(r.atttypid, r.atttypmod))
    ), dependent AS (
      SELECT CASE d.classid
          WHEN 'pg_rewrite'::regclass THEN (
            SELECT CASE v.relkind WHEN 'v' THEN 'view ' || v.oid::regclass::text
                WHEN 'm' THEN 'materialized view ' || v.oid::regclass::text
                ELSE format('rule %I on %s', r.rulename, v.oid::regclass::text) END
            FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class WHERE r.oid = d.objid)
          WHEN 'pg_trigger'::regclass THEN (
            SELECT format('trigger %I on %s', g.tgname, g.tgrelid::regclass::text) FROM pg_trigger g
            WHERE g.oid = d.objid AND NOT g.tgisinternal)
          WHEN 'pg_proc'::regclass THEN 'function ' || d.objid::regprocedure::text
        END AS what,
        t.oid::regclass::text || '.' || a.attname AS read
      FROM pg_depend d
      JOIN retyped x ON d.refclassid = 'pg_class'::regclass AND x.relid = d.refobjid AND x.attnum = d.refobjsubid
      JOIN pg_class t ON t.oid = x.relid
      JOIN pg_attribute a ON a.attrelid = x.relid AND a.attnum = x.attnum
      WHERE d.classid IN ('pg_rewrite'::regclass, 'pg_trigger'::regclass, 'pg_proc'::regclass)
    )
    SELECT what, string_agg(DISTINCT read, ', ') AS columns FROM dependent WHERE what IS NOT NULL
    GROUP BY what ORDER BY what`
  if (blocking.length === 0) return
  const one = blocking.length === 1
  return yield* Effect.fail(
    new DependentObjectsBlock(
      `${blocking.map((row) => `${row.what} reads ${row.columns}`).join("; ")}: the legacy upgrade changes the types of those columns ` +
        "(text to uuid, timestamptz, jsonb, boolean), which PostgreSQL cannot do under a view, rule, trigger or SQL function reading them. " +
        `Keep ${one ? "its definition" : "their definitions"} (pg_get_viewdef, pg_get_triggerdef, pg_get_functiondef), drop ${one ? "it" : "them"} ` +
        "(with any view built on them), migrate, then create them again written for the new column types. Nothing was changed"
    )
  )
})

/** An index of the database's own on a legacy table whose expressions or predicate read a column. */
interface ExpressionIndex {
  readonly name: string
  readonly table: string
  readonly definition: string
  /**
   * The definition from `USING` on (method, keys with their operator
   * classes and collations, INCLUDE, WITH, predicate), to build it again on
   * another table; null when the definition does not start as PostgreSQL
   * writes one (then it is not probed).
   */
  readonly body: string | null
}

/**
 * Runs 0002 (`upgrade`); when it fails, names the database's own indexes
 * PostgreSQL cannot build on the upgraded column types, with the next
 * step, instead of its bare "functions in index expression must be marked
 * IMMUTABLE" naming none (found by a regression probe). Each expression or
 * partial index of the three tables is built, in a savepoint rolled back
 * whatever happens, on an empty copy of its table with 0002's types, from
 * its whole definition (operator classes, collations, predicate); those
 * that fail are the ones in the way. When none fails, 0002's own failure
 * is returned unchanged. Only the failure path does any of this.
 */
export const adviseOnIndexes = <A, E, R>(
  upgrade: Effect.Effect<A, E, R>
): Effect.Effect<A, E | DependentObjectsBlock | SqlError, R | SqlClient.SqlClient> =>
  Effect.catchAll(upgrade, (error): Effect.Effect<never, E | DependentObjectsBlock | SqlError, SqlClient.SqlClient> =>
    !(error instanceof SqlError) ? Effect.fail(error) : Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const indexes = yield* sql<ExpressionIndex>`
        SELECT name, "table", definition,
          CASE WHEN starts_with(definition, head) THEN substr(definition, length(head) + 1) END AS body
        FROM (
          SELECT c.relname AS name, t.relname AS "table", pg_get_indexdef(i.indexrelid) AS definition,
            format('CREATE %sINDEX %I ON %I.%I ', CASE WHEN i.indisunique THEN 'UNIQUE ' END, c.relname, n.nspname, t.relname) AS head
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND t.relname IN ${sql.in(legacyTables)}
          AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)
        ) AS own
        ORDER BY name`
      if (indexes.length === 0) return yield* Effect.fail(error)
      const failing: Array<string> = []
      yield* sql`SAVEPOINT hsk_index_probe`
      for (const table of new Set(indexes.map((index) => index.table))) {
        const columns = yield* sql<{ readonly name: string }>`
          SELECT a.attname AS name FROM pg_attribute a
          WHERE a.attrelid = to_regclass(format('%I.%I', current_schema(), ${table}::text)) AND a.attnum > 0 AND NOT a.attisdropped`
        const copy = sql(`hsk_upgraded_${table}`)
        yield* sql`CREATE TEMP TABLE ${copy} (LIKE ${sql(table)})`
        for (const { name } of columns.filter((column) => retypedBy0002[table]!.includes(column.name))) {
          yield* sql`ALTER TABLE ${copy} ALTER COLUMN ${sql(name)} TYPE ${sql.literal(typeAfter0002[name] ?? "text")} USING NULL`
        }
        // Built from its whole definition, so operator classes (gin_trgm_ops), collations, INCLUDE and
        // the predicate are the DBA's: rebuilt key by key without them, a healthy index was blamed.
        for (const index of indexes.filter((index) => index.table === table && index.body !== null)) {
          yield* sql`SAVEPOINT hsk_one_index`
          const built = yield* Effect.either(sql.unsafe(`CREATE INDEX ON pg_temp.hsk_upgraded_${table} ${index.body}`))
          yield* sql`ROLLBACK TO SAVEPOINT hsk_one_index`
          if (built._tag === "Left") {
            const reason = (built.left.cause as { readonly message?: unknown } | undefined)?.message
            failing.push(`index ${index.name} on ${table} (${index.definition})${typeof reason === "string" ? `: ${reason}` : ""}`)
          }
        }
      }
      yield* sql`ROLLBACK TO SAVEPOINT hsk_index_probe`
      yield* sql`RELEASE SAVEPOINT hsk_index_probe`
      if (failing.length === 0) return yield* Effect.fail(error)
      const one = failing.length === 1
      return yield* Effect.fail(
        new DependentObjectsBlock(
          `${failing.join("; ")}: the legacy upgrade changes the types of the columns ${one ? "it reads" : "they read"} ` +
            `(text to uuid, timestamptz, jsonb, boolean), and PostgreSQL cannot build ${one ? "it" : "them"} on the new types. ` +
            `Keep ${one ? "its definition" : "their definitions"}, drop ${one ? "it" : "them"}, migrate, then create ${one ? "it" : "them"} again ` +
            "written for the new column types. Nothing was changed"
        )
      )
    }))
