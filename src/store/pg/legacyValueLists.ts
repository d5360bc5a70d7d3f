/**
 * The CHECKs listing a legacy column's allowed values, and what the legacy
 * upgrade (0002) does with each: replace it with its own, keep it, or stop.
 *
 * 0002 writes its own list of the values of `job_kind`, `status`,
 * `access_mode` and `safety_mode`. A legacy list that allows all of those
 * (our older shapes list the twelve kinds plus `term_exec`, `doc_test` and
 * `governance_pack_export`, which 0002 rewrites) says nothing 0002's does
 * not: it is replaced. A list that allows fewer is a DBA's rule (only the
 * kinds this team runs, say), and was dropped without a word by the same
 * replacement (found by an outside probe): it is kept. Kept as written, one
 * that allows a legacy kind 0002 rewrites but not the kind it becomes would
 * refuse the upgraded rows, or every new job of that kind: it stops the
 * upgrade, named, with what to write instead.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

/** The values 0002's own CHECKs allow, column by column and table by table (0002 is shipped, so these never change: R17). */
const jobStates = [
  "queued", "running", "stalled", "awaiting_validation", "awaiting_user",
  "completed", "completed_with_issues", "failed", "cancelled", "poisoned"
]
const listsOf0002: Record<string, Record<string, ReadonlyArray<string>>> = {
  ai_jobs: {
    job_kind: [
      "doc_edit", "doc_rewrite", "doc_summarize", "sheet_transform", "canvas_cluster", "asr_transcribe",
      "workflow_run", "spec_router", "debug_bundle_export", "terminal_exec", "doc_ingest", "distillation_eval"
    ],
    status: jobStates,
    access_mode: ["analysis_only", "preview_only", "apply_scoped"],
    safety_mode: ["strict", "normal", "experimental"]
  },
  workflow_runs: { status: jobStates },
  workflow_node_executions: { status: jobStates }
}

/** The legacy kinds 0002 rewrites, and what each becomes. */
const rewrittenKinds: Record<string, string> = {
  term_exec: "terminal_exec",
  doc_test: "doc_summarize",
  governance_pack_export: "workflow_run"
}

/**
 * The column and values of a CHECK that only lists a column's values
 * (`CHECK ((job_kind = ANY (ARRAY['a'::text, ...])))`, as PostgreSQL prints
 * `job_kind IN (...)`), NOT VALID or not: one put back NOT VALID still
 * refuses every row the upgrade rewrites.
 */
const valueList = (definition: string): { readonly column: string; readonly values: ReadonlyArray<string> } | undefined => {
  const match = /^CHECK \(\(([a-z_]+) = ANY \(ARRAY\[('(?:[^']|'')*'::text(?:, '(?:[^']|'')*'::text)*)\]\)\)\)(?: NOT VALID)?$/.exec(definition)
  if (match === null) return undefined
  const values = [...match[2]!.matchAll(/'((?:[^']|'')*)'::text/g)].map((value) => value[1]!.replace(/''/g, "'"))
  return { column: match[1]!, values }
}

/**
 * What 0002 does with a legacy table's CHECK: `replaced` when it lists a
 * column's values and allows every value 0002's own list allows; `kept`
 * for any other constraint (`strandedKinds` then says whether a kept one
 * stops the upgrade).
 */
export const valueListVerdict = (table: string, definition: string): "replaced" | "kept" => {
  const list = valueList(definition)
  const own = list === undefined ? undefined : listsOf0002[table]?.[list.column]
  return list !== undefined && own !== undefined && own.every((value) => list.values.includes(value)) ? "replaced" : "kept"
}

/** A kept CHECK that would refuse the kinds the upgrade rewrites to, and why it stops the upgrade. */
export interface StrandedKinds {
  readonly name: string
  readonly stops: string
}

/**
 * The kept CHECKs of `ai_jobs` (named in `kept`) that read only `job_kind`
 * and accept a legacy kind 0002 rewrites but refuse the kind it becomes.
 * PostgreSQL itself is asked: each one's expression is evaluated on those
 * kinds, however it is written (`IN (...)`, `= ANY ('{...}'::text[])`, an
 * OR chain, `<> 'terminal_exec'`): a parser of its printed form missed all
 * but the first (found by a regression probe). A CHECK passes on true or
 * null, as PostgreSQL checks it. Evaluated in a savepoint rolled back
 * whatever happens, so a DBA's function in it changes nothing; one that
 * fails on these values is left to the restore after 0002, which names it.
 */
export const strandedKinds = (kept: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<StrandedKinds>, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    if (kept.length === 0) return []
    const sql = yield* SqlClient.SqlClient
    const rules = yield* sql<{ readonly name: string; readonly expression: string; readonly type: string }>`
      SELECT c.conname AS name, pg_get_expr(c.conbin, c.conrelid) AS expression, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_constraint c
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = 'job_kind'
      WHERE c.conrelid = to_regclass(format('%I.ai_jobs', current_schema())) AND c.contype = 'c'
        AND c.conkey = ARRAY[a.attnum] AND c.conname IN ${sql.in(kept)}
      ORDER BY c.conname`
    const found: Array<StrandedKinds> = []
    for (const rule of rules) {
      const samples = Object.entries(rewrittenKinds).flat().map((kind) => `('${kind}'::${rule.type})`).join(", ")
      yield* sql`SAVEPOINT hsk_kind_rule`
      const evaluated = yield* Effect.either(
        sql.unsafe<{ readonly kind: string; readonly accepts: boolean }>(
          `SELECT t.job_kind::text AS kind, (${rule.expression}) IS NOT FALSE AS accepts FROM (VALUES ${samples}) AS t(job_kind)`
        )
      )
      yield* sql`ROLLBACK TO SAVEPOINT hsk_kind_rule`
      yield* sql`RELEASE SAVEPOINT hsk_kind_rule`
      if (evaluated._tag === "Left") continue
      const accepts = new Set(evaluated.right.filter((row) => row.accepts).map((row) => row.kind))
      const stranded = Object.keys(rewrittenKinds).filter((kind) => accepts.has(kind) && !accepts.has(rewrittenKinds[kind]!))
      if (stranded.length === 0) continue
      found.push({
        name: rule.name,
        stops: `it allows ${stranded.map((kind) => `${kind} but not ${rewrittenKinds[kind]}`).join(", ")}, and the upgrade rewrites ` +
          `${stranded.map((kind) => `${kind} to ${rewrittenKinds[kind]}`).join(", ")}: kept as written it would refuse the upgraded jobs ` +
          "and every new one of that kind. Add the kinds they become to its list (or drop it, migrate, and add it again written for " +
          "the new kinds), then migrate again. Nothing was changed"
      })
    }
    return found
  })
