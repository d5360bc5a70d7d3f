/**
 * R16a: legacy values the domain cannot read back. The reference's own code
 * can write an entity ref with an empty id (its EntityRef is unchecked), a
 * `job_inputs` nested 100 deep (serde_json's limit is 128, ours 64), an
 * empty node name, a u64 duration past 2^53 − 1, a negative or repeated node
 * sequence. 0002 carried some over (a row the store then read as CorruptRow,
 * which failed every listing of its table) and failed on others with the
 * database's bare error, naming no row, and differently on each store.
 *
 * So before 0002, in its transaction, on both stores alike, every legacy row
 * is held to the rules the store's decoder applies on read, using the
 * domain's own schemas, to each value as 0002 will carry it over (SQL NULL,
 * '' and JSON null are absent; a metric that is JSON null counts as missing).
 * A value 0002 itself refuses (text that is no JSON, an entity_refs that is
 * no array, metrics that are no object) is left to it. Any breach stops the
 * upgrade with nothing changed, naming the table, the row, the column and the
 * rule: a value is never changed to fit (R16a: rows intact).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { EntityRef, PlannedOperation } from "../../domain/AiJob.js"
import { formatIssues } from "../../domain/Errors.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { Json } from "../../domain/Json.js"
import { NonEmptyText } from "../../domain/Text.js"
import { namedRefusal, quoted } from "./legacyReferences.js"

/** Legacy rows the store could not read back; the upgrade stops with them, nothing changed. */
export class UnreadableLegacyRows extends Error {}

/** A legacy column's text as 0002 carries it over: undefined when absent (SQL NULL, '', JSON null). */
const carried = (text: string | null): string | undefined => {
  const trimmed = text?.trim()
  return trimmed === undefined || trimmed === "" || trimmed === "null" ? undefined : trimmed
}

/** The parsed JSON, or undefined when it is none (0002 refuses that itself). */
const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Why `value` fails `schema`, as the store's CorruptRow would put it; undefined when it passes. */
const breach = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (value: unknown): string | undefined => {
    const decoded = decode(value)
    if (Either.isRight(decoded)) return undefined
    const [issue] = formatIssues(decoded.left)
    return issue === undefined ? "not what the domain reads" : issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`
  }
}

const entityRefs = breach(Schema.Array(EntityRef))
const plannedOperations = breach(Schema.Array(PlannedOperation))
const json = breach(Json)
const metrics = breach(JobMetrics)
const nodeName = breach(NonEmptyText)
const sequence = breach(Schema.NonNegativeInt)

/** A JSON column's rule, applied to what 0002 carries over; `shape` says which parsed values 0002 itself takes. */
const jsonColumn = (rule: (value: unknown) => string | undefined, shape: (value: unknown) => boolean = () => true) =>
(text: string | null): string | undefined => {
  const given = carried(text)
  if (given === undefined) return undefined
  const value = parsed(given)
  return value === undefined || !shape(value) ? undefined : rule(value)
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Metrics as 0002 carries them over: a member that is JSON null counts as missing, a missing one as 0. */
const metricsRule = jsonColumn(
  (value) => metrics(Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, member]) => member !== null))),
  isObject
)

/** A legacy table's checked columns, each read as text, and the rule each is held to. */
const tableRules: Record<string, Record<string, (text: string | null) => string | undefined>> = {
  ai_jobs: {
    entity_refs: jsonColumn(entityRefs, Array.isArray),
    planned_operations: jsonColumn(plannedOperations, Array.isArray),
    metrics: metricsRule,
    job_inputs: jsonColumn(json),
    job_outputs: jsonColumn(json)
  },
  workflow_node_executions: {
    node_id: nodeName,
    node_type: nodeName,
    // The text of a whole number, as 0002's cast reads it; NULL is refused as missing.
    sequence: (text) => sequence(text === null ? null : /^-?\d+$/.test(text.trim()) ? Number(text) : text),
    input_payload: jsonColumn(json),
    output_payload: jsonColumn(json)
  }
}

/** Rows read per query: a legacy table is read a page at a time, never all at once. */
const PAGE = 500

/** Each refusal of `table`'s rows, as text naming the row, the column and the rule. */
const refusalsIn = (sql: SqlClient.SqlClient, table: string) =>
  Effect.gen(function*() {
    const rules = tableRules[table]!
    // Some reference versions lack a column (0002 adds it on PostgreSQL, empty): only those there are read.
    const there = yield* sql.onDialectOrElse({
      pg: () =>
        sql<{ readonly name: string }>`SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = ${table}`,
      orElse: () => sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${table})`
    })
    const columns = Object.keys(rules).filter((column) => there.some(({ name }) => name === column))
    if (columns.length === 0) return []
    // Ids in byte order on both stores, so a page starts where the last ended.
    const id = sql.onDialectOrElse({ pg: () => sql`CAST(id AS text) COLLATE "C"`, orElse: () => sql`CAST(id AS text)` })
    const read = sql.join(", ", false)(columns.map((column) => sql`CAST(${sql(column)} AS text) AS ${sql(column)}`))
    const refusals: Array<string> = []
    let after: string | null = null
    for (;;) {
      const from: string | null = after
      const rows: ReadonlyArray<Record<string, string | null>> = yield* sql<Record<string, string | null>>`
        SELECT CAST(id AS text) AS id, ${read} FROM ${sql(table)}
        WHERE id IS NOT NULL ${from === null ? sql`` : sql`AND ${id} > ${from}`} ORDER BY ${id} LIMIT ${PAGE}`
      for (const row of rows) {
        for (const column of columns) {
          const why = rules[column]!(row[column] ?? null)
          if (why !== undefined) refusals.push(`${table} row ${quoted(row.id ?? "")}, column ${column}: ${why}`)
        }
      }
      if (rows.length < PAGE) return refusals
      after = rows[rows.length - 1]!.id ?? null
    }
  })

/** Node executions sharing a run and a sequence, compared as 0002's UNIQUE (workflow_run_id, sequence) will. */
const repeatedSequences = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ readonly first: string; readonly second: string; readonly run: string; readonly sequence: string }>`
      SELECT min(CAST(id AS text)) AS first, max(CAST(id AS text)) AS second,
        min(CAST(workflow_run_id AS text)) AS run, CAST(sequence AS text) AS sequence
      FROM workflow_node_executions WHERE workflow_run_id IS NOT NULL AND sequence IS NOT NULL
      GROUP BY ${sql.onDialectOrElse({ pg: () => sql`lower(CAST(workflow_run_id AS text))`, orElse: () => sql`workflow_run_id` })}, sequence
      HAVING count(*) > 1 ORDER BY 1`,
    (rows) =>
      rows.map((row) =>
        `workflow_node_executions rows ${quoted(row.first)} and ${quoted(row.second)}, column sequence: ` +
        `both are number ${row.sequence} of workflow run ${quoted(row.run)}; a run's node executions are numbered uniquely`
      )
  )

/**
 * Refuses the upgrade when a legacy job or node execution breaks a rule of
 * the domain's, naming the first few. Runs before 0002, on the legacy tables.
 */
export const refuseUnreadableLegacyRows: Effect.Effect<void, SqlError | UnreadableLegacyRows, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const refused = [
      ...yield* refusalsIn(sql, "ai_jobs"),
      ...yield* refusalsIn(sql, "workflow_node_executions"),
      ...yield* repeatedSequences(sql)
    ]
    if (refused.length > 0) {
      return yield* Effect.fail(new UnreadableLegacyRows(namedRefusal(
        refused,
        "The store could not read such a row back (one would fail every listing of its table), and the upgrade changes no value to fit. " +
          "Fix the value as the README's legacy upgrade section says, then migrate again. Nothing was changed"
      )))
    }
  }
)
