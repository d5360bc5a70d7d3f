/**
 * R16a: legacy rows the reference's own code can write but the domain cannot
 * read back (found by an outside probe of the reference's data). Each case
 * changes one legacy row; the upgrade must refuse it before 0002 runs, naming
 * the table, the row, the column and the rule, in the same words on SQLite
 * and PostgreSQL, and change nothing (internal/legacyRowRules.ts). The SQL is
 * plain enough for both dialects; the ids are each fixture's own.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"

/** A legacy job, a node execution, and another node of the same run, by id. */
export interface LegacyRowIds {
  readonly job: string
  readonly node: string
  readonly sibling: string
  /** The sibling's sequence. */
  readonly siblingSequence: number
}

/** One unreadable legacy value: what it is, the statement that writes it, what the refusal must say. */
export interface UnreadableLegacyCase {
  readonly what: string
  readonly corrupt: string
  readonly expected: string
}

/** `count` arrays nested in one another: `[[…]]`. */
const nested = (count: number): string => `${"[".repeat(count)}${"]".repeat(count)}`

/** The cases, on a fixture's rows. */
export const unreadableLegacyCases = (ids: LegacyRowIds): ReadonlyArray<UnreadableLegacyCase> => {
  const job = (column: string, value: string, rule: string): UnreadableLegacyCase => ({
    what: `a job's ${column} of ${value.length > 40 ? `${value.slice(0, 40)}…` : value}`,
    corrupt: `UPDATE ai_jobs SET ${column} = '${value}' WHERE id = '${ids.job}'`,
    expected: `ai_jobs row "${ids.job}", column ${column}: ${rule}`
  })
  const node = (set: string, column: string, rule: string): UnreadableLegacyCase => ({
    what: `a node execution's ${set}`,
    corrupt: `UPDATE workflow_node_executions SET ${set} WHERE id = '${ids.node}'`,
    expected: `workflow_node_executions row "${ids.node}", column ${column}: ${rule}`
  })
  return [
    job("entity_refs", "[{\"entity_id\":\"\",\"entity_kind\":\"document\"}]", "0.entity_id: Expected a non empty string"),
    job("entity_refs", "[{\"entity_id\":\"x\",\"entity_kind\":\"\"}]", "0.entity_kind: Expected a non empty string"),
    job(
      "planned_operations",
      "[{\"op_type\":\"execute\",\"target\":{\"entity_id\":\"\",\"entity_kind\":\"b\"}}]",
      "0.target.entity_id: Expected a non empty string"
    ),
    job("job_inputs", nested(100), "Nested more than 64 levels deep"),
    job("job_outputs", `{"a":${nested(65)}}`, "Nested more than 64 levels deep"),
    job("metrics", "{\"duration_ms\":18446744073709551615}", "duration_ms: Expected an integer between 0 and 9007199254740991"),
    job("metrics", "{\"duration_ms\":9007199254740992}", "duration_ms: Expected an integer between 0 and 9007199254740991"),
    node("node_id = ''", "node_id", "Expected a non empty string"),
    node("node_type = ''", "node_type", "Expected a non empty string"),
    node("sequence = -1", "sequence", "Expected a non-negative number"),
    node(`output_payload = '${nested(100)}'`, "output_payload", "Nested more than 64 levels deep"),
    {
      what: "two node executions of one run with the same sequence",
      corrupt: `UPDATE workflow_node_executions SET sequence = ${ids.siblingSequence} WHERE id = '${ids.node}'`,
      expected: `workflow_node_executions rows "${[ids.node, ids.sibling].sort()[0]}" and "${[ids.node, ids.sibling].sort()[1]}", ` +
        `column sequence: both are number ${ids.siblingSequence} of workflow run`
    }
  ]
}

/** Writes into a legacy job values at the domain's limits, not past them (a metric of JSON null counts as missing). */
export const valuesAtTheLimits = (job: string): string =>
  `UPDATE ai_jobs SET job_inputs = '${nested(64)}',
    metrics = '{"duration_ms":9007199254740991,"total_tokens":null,"input_tokens":4294967295}',
    entity_refs = '[{"entity_id":" ","entity_kind":"document"}]' WHERE id = '${job}'`

/** The upgraded job holds those values as written, and every job still lists. */
export const expectValuesAtTheLimits = (job: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const upgraded = yield* store.getJob(JobId.make(job))
    assert.deepStrictEqual(upgraded.job_inputs, JSON.parse(nested(64)))
    assert.deepStrictEqual(
      [upgraded.metrics.duration_ms, upgraded.metrics.total_tokens, upgraded.metrics.input_tokens],
      [9007199254740991, 0, 4294967295]
    )
    assert.deepStrictEqual(upgraded.entity_refs, [{ entity_id: " ", entity_kind: "document" }])
    assert.include((yield* store.listJobs({ limit: 100 })).items.map((item) => item.job_id), job)
  })
