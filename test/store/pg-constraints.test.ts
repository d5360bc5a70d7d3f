/**
 * R16 and R10 on PostgreSQL: after migration the database itself refuses
 * what the domain forbids, whoever writes (raw SQL here, behind the store's
 * back), and keeps the Flight Recorder append-only. And when a row is made
 * corrupt anyway (constraints dropped, triggers disabled), the store reports
 * a CorruptRow naming the table, the row and the column instead of crashing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { DecodeFailure } from "../../src/domain/Errors.js"
import { MetricNames } from "../../src/domain/JobMetrics.js"
import { JobId } from "../../src/domain/Ids.js"
import { JobStates } from "../../src/domain/JobState.js"
import { JobStore, type ReadError } from "../../src/store/JobStore.js"
import type { NotFound, RunNotActive } from "../../src/store/StoreErrors.js"
import { at, eventRecord, expectTag, failureOf, newJob, startedJob } from "./fixtures.js"
import { describeWithLayer } from "../support/describeWithLayer.js"
import { postgres } from "../support/stores.js"
import { countWhere, driverError, refusalOf } from "./pg-support.js"
import { badOperations, doubleNumbers, goodOperations, pastDoubleNumbers, storableJsonText, storableRefs, unstorableJsonText, unstorableOperations, unstorableRefs } from "./rawJsonCases.js"

const zero = Object.fromEntries(MetricNames.map((name) => [name, 0]))

/** A jsonb literal for a metrics value. */
const metrics = (value: unknown): string => `'${JSON.stringify(value)}'::jsonb`

/** Valid values for every required ai_jobs column, as SQL text; tests override one at a time. */
const validJob: Readonly<Record<string, string>> = {
  id: "gen_random_uuid()",
  trace_id: "gen_random_uuid()",
  job_kind: "'doc_edit'",
  status: "'queued'",
  protocol_id: "'hsk.test.v0'",
  profile_id: "'default'",
  capability_profile_id: "'Analyst'",
  access_mode: "'analysis_only'",
  safety_mode: "'normal'",
  created_at: "now()",
  updated_at: "now()"
}

/** A raw INSERT of one job, bypassing the store. The values are the test's own constants. */
const insertJob = (overrides: Readonly<Record<string, string>>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const row = { ...validJob, ...overrides }
    return sql.unsafe(`INSERT INTO ai_jobs (${Object.keys(row).join(", ")}) VALUES (${Object.values(row).join(", ")})`)
  })

const { validators_run_count: _dropped, ...missingOneCounter } = zero

/** [what, column overrides, SQLSTATE, constraint]: every one must be refused. */
const jobRefusals: ReadonlyArray<readonly [string, Readonly<Record<string, string>>, string, string | undefined]> = [
  ["an unknown job kind", { job_kind: "'frobnicate'" }, "23514", "ai_jobs_job_kind_check"],
  ["the legacy alias term_exec", { job_kind: "'term_exec'" }, "23514", "ai_jobs_job_kind_check"],
  ["the non-kind doc_test", { job_kind: "'doc_test'" }, "23514", "ai_jobs_job_kind_check"],
  ["the non-kind governance_pack_export", { job_kind: "'governance_pack_export'" }, "23514", "ai_jobs_job_kind_check"],
  ["a kind in the wrong case", { job_kind: "'Doc_Edit'" }, "23514", "ai_jobs_job_kind_check"],
  ["an unknown state", { status: "'paused'" }, "23514", "ai_jobs_status_check"],
  ["a NULL state", { status: "NULL" }, "23502", undefined],
  ["NULL metrics", { metrics: "NULL" }, "23502", undefined],
  ["a negative counter", { metrics: metrics({ ...zero, total_tokens: -1 }) }, "23514", "ai_jobs_metrics_check"],
  ["a fractional counter", { metrics: metrics({ ...zero, input_tokens: 1.5 }) }, "23514", "ai_jobs_metrics_check"],
  ["a counter as a string", { metrics: metrics({ ...zero, output_tokens: "3" }) }, "23514", "ai_jobs_metrics_check"],
  ["a null counter", { metrics: metrics({ ...zero, entities_read: null }) }, "23514", "ai_jobs_metrics_check"],
  ["a counter above u32", { metrics: metrics({ ...zero, total_tokens: 4_294_967_296 }) }, "23514", "ai_jobs_metrics_check"],
  ["a duration above 2^53-1", { metrics: metrics({ ...zero, duration_ms: 2 ** 53 }) }, "23514", "ai_jobs_metrics_check"],
  ["a missing counter", { metrics: metrics(missingOneCounter) }, "23514", "ai_jobs_metrics_check"],
  ["an empty metrics object", { metrics: metrics({}) }, "23514", "ai_jobs_metrics_check"],
  ["metrics that are an array", { metrics: metrics([zero]) }, "23514", "ai_jobs_metrics_check"],
  ["metrics that are a number", { metrics: metrics(0) }, "23514", "ai_jobs_metrics_check"],
  ["an unknown access mode", { access_mode: "'apply_everything'" }, "23514", "ai_jobs_access_mode_check"],
  ["an unknown safety mode", { safety_mode: "'reckless'" }, "23514", "ai_jobs_safety_mode_check"],
  ["entity_refs that are not an array", { entity_refs: "'{}'::jsonb" }, "23514", "ai_jobs_entity_refs_check"],
  ["planned_operations that are not an array", { planned_operations: "'null'::jsonb" }, "23514", "ai_jobs_planned_operations_check"],
  ["a NULL trace_id", { trace_id: "NULL" }, "23502", undefined],
  ["a NULL is_pinned", { is_pinned: "NULL" }, "23502", undefined]
]

describeWithLayer("R16 PostgreSQL refuses what the domain forbids", postgres("pg constraints").makeStoreWithSql(), { timeout: 60_000 }, (it) => {
  it.effect("R16 a raw insert of a valid job passes, defaults included, and the counter limits are accepted", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insertJob({ id: "'00000000-0000-4000-8000-00000000c0de'" })
      const [row] = yield* sql<{ readonly metrics: unknown; readonly entity_refs: unknown; readonly is_pinned: boolean }>`
        SELECT metrics, entity_refs, is_pinned FROM ai_jobs WHERE id = '00000000-0000-4000-8000-00000000c0de'`
      assert.deepStrictEqual(row, { metrics: zero, entity_refs: [], is_pinned: false })
      yield* insertJob({ metrics: metrics({ ...zero, duration_ms: Number.MAX_SAFE_INTEGER, total_tokens: 4_294_967_295 }) })
      yield* insertJob({ metrics: metrics({ ...zero, extra_field: "kept" }) })
    }))

  for (const [what, overrides, code, constraint] of jobRefusals) {
    it.effect(`R16 a raw insert of ${what} is refused (${code}${constraint === undefined ? "" : ` ${constraint}`})`, () =>
      Effect.gen(function*() {
        const refusal = yield* refusalOf(insertJob(overrides))
        assert.strictEqual(refusal.code, code, refusal.message)
        assert.strictEqual(refusal.constraint, constraint, refusal.message)
      }))
  }

  it.effect("R16 a raw update to a legacy kind, a bad state or NULL metrics is refused too", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const job = yield* (yield* JobStore).createJob(newJob())
      for (const [set, code] of [
        ["job_kind = 'term_exec'", "23514"],
        ["status = 'done'", "23514"],
        ["metrics = NULL", "23502"],
        ["metrics = metrics - 'duration_ms'", "23514"]
      ] as const) {
        const refusal = yield* refusalOf(sql.unsafe(`UPDATE ai_jobs SET ${set} WHERE id = '${job.job_id}'`))
        assert.strictEqual(refusal.code, code, `${set}: ${refusal.message}`)
      }
    }))

  it.effect("R8 raw runs and node executions with a bad status or sequence are refused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { job, run } = yield* startedJob()
      const runRefusal = yield* refusalOf(sql`
        INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
        VALUES (gen_random_uuid(), ${job.job_id}, 'zombie', now(), now(), now())`)
      assert.strictEqual(runRefusal.constraint, "workflow_runs_status_check")
      const orphan = yield* refusalOf(sql`
        INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
        VALUES (gen_random_uuid(), gen_random_uuid(), 'running', now(), now(), now())`)
      assert.strictEqual(orphan.constraint, "workflow_runs_job_id_fkey")
      const node = (status: string, sequence: number) => sql`
        INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at)
        VALUES (gen_random_uuid(), ${run.id}, 'n', 'step', ${status}, ${sequence}, now())`
      assert.strictEqual((yield* refusalOf(node("paused", 0))).constraint, "workflow_node_executions_status_check")
      assert.strictEqual((yield* refusalOf(node("running", -1))).constraint, "workflow_node_executions_sequence_check")
      yield* node("running", 0)
      assert.strictEqual((yield* refusalOf(node("running", 0))).constraint, "workflow_node_executions_run_sequence_key")
      // Issue 12.1: any of the ten job states is a node status, as the reference stores them.
      for (const [index, status] of JobStates.entries()) yield* node(status, 100 + index)
    }))

  it.effect("R11 raw events with an unknown actor or type, or a body that is not an object, are refused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const event = (actor: string, type: string, body: string) => sql`
        INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, body)
        VALUES (gen_random_uuid(), date_trunc('milliseconds', now()), ${actor}, ${type}, gen_random_uuid(), ${body}::jsonb)`
      assert.strictEqual((yield* refusalOf(event("robot", "system", "{}"))).constraint, "flight_recorder_events_actor_check")
      assert.strictEqual((yield* refusalOf(event("system", "gossip", "{}"))).constraint, "flight_recorder_events_type_check")
      assert.strictEqual((yield* refusalOf(event("system", "system", "[]"))).constraint, "flight_recorder_events_body_check")
    }))

  it.effect("R11 raw events with an instant the domain does not hold (microseconds, past 9999, before 1970) are refused, as on SQLite (0019)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const event = (instant: string) => sql.unsafe(`
        INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, body)
        VALUES (gen_random_uuid(), '${instant}', 'system', 'system', gen_random_uuid(), '{}'::jsonb)`)
      for (const instant of ["2026-01-01T00:00:00.000500Z", "10000-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z"]) {
        const refusal = yield* refusalOf(event(instant))
        assert.strictEqual(refusal.constraint, "flight_recorder_events_timestamp_valid", `${instant}: ${refusal.message}`)
      }
      yield* event("2026-01-01T05:30:00.123+05:30")
      yield* event("1970-01-01T00:00:00Z")
    }))

  it.effect("R16 raw ids the domain cannot read are refused, as on SQLite (0020): the nil UUID names its constraint, other text is no uuid, upper case reads back lower", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const nil = "'00000000-0000-0000-0000-000000000000'"
      const { job, run } = yield* startedJob()
      const jobId = `'${job.job_id}'`
      const runId = `'${run.id}'`
      const statements: ReadonlyArray<readonly [string, string]> = [
        ["ai_jobs_id_uuid", `INSERT INTO ai_jobs (${Object.keys(validJob).join(", ")}) VALUES (${Object.values({ ...validJob, id: nil }).join(", ")})`],
        ["ai_jobs_trace_id_uuid", `INSERT INTO ai_jobs (${Object.keys(validJob).join(", ")}) VALUES (${Object.values({ ...validJob, trace_id: nil }).join(", ")})`],
        ["ai_jobs_workflow_run_id_uuid", `UPDATE ai_jobs SET workflow_run_id = ${nil} WHERE id = ${jobId}`],
        ["workflow_runs_id_uuid", `INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at) VALUES (${nil}, ${jobId}, 'running', now(), now(), now())`],
        ["workflow_runs_job_id_uuid", `INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at) VALUES (gen_random_uuid(), ${nil}, 'running', now(), now(), now())`],
        ["workflow_node_executions_id_uuid", `INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at) VALUES (${nil}, ${runId}, 'n', 'step', 'running', 1, now())`],
        ["workflow_node_executions_workflow_run_id_uuid", `INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at) VALUES (gen_random_uuid(), ${nil}, 'n', 'step', 'running', 1, now())`],
        ...(["event_id", "trace_id", "job_id", "workflow_run_id"] as const).map((column): readonly [string, string] => {
          const values: Record<string, string> = { event_id: "gen_random_uuid()", trace_id: "gen_random_uuid()", job_id: "NULL", workflow_run_id: "NULL", [column]: nil }
          return [`flight_recorder_events_${column}_uuid`, `INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
            VALUES (${values["event_id"]}, '2026-01-01T00:00:00Z', 'system', 'system', ${values["trace_id"]}, ${values["job_id"]}, ${values["workflow_run_id"]}, '{}'::jsonb)`]
        })
      ]
      for (const [constraint, statement] of statements) {
        const refusal = yield* refusalOf(sql.unsafe(statement))
        assert.deepStrictEqual([refusal.code, refusal.constraint], ["23514", constraint], refusal.message)
      }
      // Text that is no UUID never reaches a CHECK: the uuid type refuses it (22P02).
      assert.strictEqual((yield* refusalOf(insertJob({ id: "'job-1'" }))).code, "22P02")
      // An upper-case UUID is the same uuid, printed in lower case: the domain reads it.
      yield* insertJob({ id: "'0000000A-0000-4000-8000-00000000C0DE'" })
      const [row] = yield* sql<{ readonly id: string }>`SELECT id::text AS id FROM ai_jobs WHERE id = '0000000a-0000-4000-8000-00000000c0de'`
      assert.strictEqual(row?.id, "0000000a-0000-4000-8000-00000000c0de")
    }))

  it.effect("R16 raw instants before 1970 or from 10000 on in jobs, runs and node executions are refused, as on SQLite (0020); the bounds themselves are taken", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { job, run } = yield* startedJob()
      const bad = ["'1969-12-31T23:59:59.999Z'", "'10000-01-01T00:00:00Z'"]
      const good = ["'1970-01-01T00:00:00Z'", "'9999-12-31T23:59:59.999Z'"]
      const targets: Array<readonly [string, string, string]> = [
        ["ai_jobs", "created_at", `id = '${job.job_id}'`],
        ["ai_jobs", "updated_at", `id = '${job.job_id}'`],
        ["workflow_runs", "last_heartbeat", `id = '${run.id}'`],
        ["workflow_runs", "created_at", `id = '${run.id}'`],
        ["workflow_runs", "updated_at", `id = '${run.id}'`]
      ]
      // run_after has had this range since 0007 (ai_jobs_run_after_check).
      targets.push(["ai_jobs", "run_after", `id = '${job.job_id}'`])
      for (const [table, column, where] of targets) {
        for (const instant of bad) {
          const refusal = yield* refusalOf(sql.unsafe(`UPDATE ${table} SET ${column} = ${instant} WHERE ${where}`))
          const expected = column === "run_after" ? "ai_jobs_run_after_check" : `${table}_${column}_valid`
          assert.deepStrictEqual([refusal.code, refusal.constraint], ["23514", expected], `${column} ${instant}: ${refusal.message}`)
        }
        for (const instant of good) yield* sql.unsafe(`UPDATE ${table} SET ${column} = ${instant} WHERE ${where}`)
      }
      // The probe's own case: a job's updated_at in year 10000, at INSERT.
      assert.strictEqual((yield* refusalOf(insertJob({ updated_at: "'10000-01-01T00:00:00Z'" }))).constraint, "ai_jobs_updated_at_valid")
      assert.strictEqual((yield* refusalOf(insertJob({ created_at: "'1969-12-31T23:59:59Z'" }))).constraint, "ai_jobs_created_at_valid")
      const node = (started: string, finished: string, sequence: number) => sql.unsafe(`
        INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at, finished_at)
        VALUES (gen_random_uuid(), '${run.id}', 'n', 'step', 'completed', ${sequence}, ${started}, ${finished})`)
      for (const instant of bad) {
        assert.strictEqual((yield* refusalOf(node(instant, "NULL", 1))).constraint, "workflow_node_executions_started_at_valid", instant)
        assert.strictEqual((yield* refusalOf(node("now()", instant, 1))).constraint, "workflow_node_executions_finished_at_valid", instant)
      }
      yield* node(good[0]!, good[1]!, 1)
    }))

  it.effect("R16 raw entity_refs whose elements are no {entity_id, entity_kind} of non-empty text are refused, as on SQLite (0020 ai_jobs_entity_refs_valid)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const bad: ReadonlyArray<readonly [string, string]> = [
        ["an element that is a number", "[1]"],
        ["an element that is a string", "[\"doc-1\"]"],
        ["an element that is an array", "[[]]"],
        ["an element that is null", "[null]"],
        ["an empty object", "[{}]"],
        ["a missing entity_kind", "[{\"entity_id\":\"d\"}]"],
        ["an empty entity_id", "[{\"entity_id\":\"\",\"entity_kind\":\"doc\"}]"],
        ["a numeric entity_kind", "[{\"entity_id\":\"d\",\"entity_kind\":1}]"],
        ["an entity_id in an array", "[{\"entity_id\":[\"d\"],\"entity_kind\":\"doc\"}]"],
        ["an extra key", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\",\"x\":1}]"],
        ["a bad element after a good one", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},1]"]
      ]
      const good = "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},{\"entity_id\":\"e\",\"entity_kind\":\"sheet\"}]"
      yield* insertJob({ id: "'00000000-0000-4000-8000-0000000e0ef5'", entity_refs: `'${good}'::jsonb` })
      for (const [what, refs] of bad) {
        const refusal = yield* refusalOf(insertJob({ entity_refs: `'${refs}'::jsonb` }))
        assert.deepStrictEqual([refusal.code, refusal.constraint], ["23514", "ai_jobs_entity_refs_valid"], `${what}: ${refusal.message}`)
        const update = yield* refusalOf(sql.unsafe(`UPDATE ai_jobs SET entity_refs = '${refs}'::jsonb WHERE id = '00000000-0000-4000-8000-0000000e0ef5'`))
        assert.strictEqual(update.constraint, "ai_jobs_entity_refs_valid", `${what} (UPDATE): ${update.message}`)
      }
    }))

  it.effect("R16 raw entity_refs whose text the domain refuses (U+0000, a lone UTF-16 surrogate) are refused by jsonb itself, as on SQLite (0021); a surrogate pair, Hangul and an escaped backslash are taken", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const sql = yield* SqlClient.SqlClient
      for (const [what, refs] of unstorableRefs) {
        const refusal = yield* refusalOf(sql`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, entity_refs)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'p', 'p', 'Analyst', 'analysis_only', 'normal', now(), now(), ${refs}::jsonb)`)
        // Refused as jsonb input (22P05 untranslatable_character, 22P02 invalid text): never stored.
        assert.include(["22P05", "22P02"], refusal.code, `${what}: ${refusal.message}`)
      }
      for (const refs of storableRefs) {
        const [row] = yield* sql<{ readonly id: string }>`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, entity_refs)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'p', 'p', 'Analyst', 'analysis_only', 'normal', now(), now(), ${refs}::jsonb) RETURNING id::text AS id`
        const read = yield* store.getJob(JobId.make(row!.id))
        assert.deepStrictEqual(read.entity_refs, JSON.parse(refs))
      }
    }))

  it.effect("R16 raw planned_operations whose elements are no {op_type, target, description?} the domain reads are refused, as on SQLite (0022 ai_jobs_planned_operations_valid), at INSERT and UPDATE; every valid form is taken and read back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const id = "00000000-0000-4000-8000-00000000a0a5"
      yield* insertJob({ id: `'${id}'` })
      for (const [what, operations] of badOperations) {
        const refusal = yield* refusalOf(insertJob({ planned_operations: `'${operations}'::jsonb` }))
        assert.deepStrictEqual([refusal.code, refusal.constraint], ["23514", "ai_jobs_planned_operations_valid"], `${what}: ${refusal.message}`)
        const update = yield* refusalOf(sql.unsafe(`UPDATE ai_jobs SET planned_operations = '${operations}'::jsonb WHERE id = '${id}'`))
        assert.strictEqual(update.constraint, "ai_jobs_planned_operations_valid", `${what} (UPDATE): ${update.message}`)
      }
      // Text no database stores is refused by jsonb itself.
      for (const [what, operations] of unstorableOperations) {
        assert.include(["22P05", "22P02"], (yield* refusalOf(insertJob({ planned_operations: `'${operations}'::jsonb` }))).code, what)
      }
      for (const operations of goodOperations) {
        const [row] = yield* sql<{ readonly id: string }>`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, planned_operations)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'p', 'p', 'Analyst', 'analysis_only', 'normal', now(), now(), ${operations}::jsonb) RETURNING id::text AS id`
        yield* sql`UPDATE ai_jobs SET planned_operations = ${operations}::jsonb WHERE id = ${id}`
        assert.strictEqual((yield* store.getJob(JobId.make(row!.id))).planned_operations.length, 2)
      }
    }))

  it.effect("R16 0020 judges only what a write changes: a row stored before it with such values still moves (the claimer can fail it), events' CHECKs are NOT VALID", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { job, run } = yield* startedJob()
      // What a database from before 0020 may hold.
      yield* sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_domain_values_update`
      yield* sql`ALTER TABLE workflow_runs DISABLE TRIGGER workflow_runs_domain_values_update`
      yield* sql`UPDATE ai_jobs SET created_at = '1969-12-31T23:59:59Z', entity_refs = '[1]'::jsonb WHERE id = ${job.job_id}`
      yield* sql`UPDATE workflow_runs SET created_at = '1969-12-31T23:59:59Z' WHERE id = ${run.id}`
      yield* sql`ALTER TABLE ai_jobs ENABLE TRIGGER ai_jobs_domain_values_update`
      yield* sql`ALTER TABLE workflow_runs ENABLE TRIGGER workflow_runs_domain_values_update`
      // A move that does not touch those columns passes; one that writes a refused value does not.
      yield* sql`UPDATE ai_jobs SET status = 'failed', updated_at = '2026-01-01T00:00:00Z' WHERE id = ${job.job_id}`
      yield* sql`UPDATE workflow_runs SET status = 'failed', updated_at = '2026-01-01T00:00:00Z' WHERE id = ${run.id}`
      assert.strictEqual((yield* refusalOf(sql`UPDATE ai_jobs SET updated_at = '1969-01-01T00:00:00Z' WHERE id = ${job.job_id}`)).constraint, "ai_jobs_updated_at_valid")
      assert.strictEqual((yield* refusalOf(sql`UPDATE ai_jobs SET entity_refs = '[2]'::jsonb WHERE id = ${job.job_id}`)).constraint, "ai_jobs_entity_refs_valid")
      // 0022 the same way: operations stored before it do not stop the job from moving.
      yield* sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_planned_operations_update`
      yield* sql`UPDATE ai_jobs SET planned_operations = '[1]'::jsonb WHERE id = ${job.job_id}`
      yield* sql`ALTER TABLE ai_jobs ENABLE TRIGGER ai_jobs_planned_operations_update`
      yield* sql`UPDATE ai_jobs SET status = 'cancelled', updated_at = '2026-01-02T00:00:00Z' WHERE id = ${job.job_id}`
      assert.strictEqual((yield* refusalOf(sql`UPDATE ai_jobs SET planned_operations = '[2]'::jsonb WHERE id = ${job.job_id}`)).constraint, "ai_jobs_planned_operations_valid")
      const checks = yield* sql<{ readonly conname: string; readonly convalidated: boolean }>`
        SELECT conname, convalidated FROM pg_constraint WHERE conname LIKE 'flight\_recorder\_events\_%\_uuid' ORDER BY conname`
      assert.deepStrictEqual(checks.map((row) => [row.conname, row.convalidated]), [
        ["flight_recorder_events_event_id_uuid", false],
        ["flight_recorder_events_job_id_uuid", false],
        ["flight_recorder_events_trace_id_uuid", false],
        ["flight_recorder_events_workflow_run_id_uuid", false]
      ])
    }))

  it.effect("R16 U+0000 in any text column is refused by PostgreSQL itself (22021 as a bound value, 54000 from chr(0)), as SQLite's 0023 refuses it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { job, run } = yield* startedJob()
      const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
      const keys: Readonly<Record<string, string>> = { ai_jobs: job.job_id, workflow_runs: run.id, workflow_node_executions: node.id }
      const columns = yield* sql<{ readonly table_name: string; readonly column_name: string }>`
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type = 'text'
          AND table_name IN ('ai_jobs', 'workflow_runs', 'workflow_node_executions', 'flight_recorder_events')
        ORDER BY table_name, ordinal_position`
      assert.isAtLeast(columns.length, 16)
      for (const { table_name: table, column_name: column } of columns) {
        const statement = table === "flight_recorder_events"
          ? sql`INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, body)
              SELECT gen_random_uuid(), '2026-01-01T00:00:00Z', 'system', 'system', gen_random_uuid(), '{}'::jsonb WHERE ${"a\u0000b"}::text IS NOT NULL`
          : sql`UPDATE ${sql(table)} SET ${sql(column)} = ${"a\u0000b"} WHERE id = ${keys[table] ?? ""}`
        assert.strictEqual((yield* refusalOf(statement)).code, "22021", `${table}.${column}`)
        const literal = yield* refusalOf(sql.unsafe(`UPDATE ${table === "flight_recorder_events" ? "ai_jobs" : table} SET ${table === "flight_recorder_events" ? "status_reason" : column} = 'a' || chr(0) WHERE false`))
        assert.strictEqual(literal.code, "54000", `${table}.${column}: ${literal.message}`)
      }
      assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "nothing changed")
    }))

  /** Each jsonb column the store reads numbers from, an INSERT or UPDATE putting `number` in it, and the constraint refusing a number past a double. */
  const numberColumns: ReadonlyArray<readonly [string, string, (number: string) => string, string]> = [
    ["ai_jobs", "job_inputs", (n) => `{"n":${n}}`, "ai_jobs_job_inputs_valid"],
    ["ai_jobs", "job_outputs", (n) => `[${n}]`, "ai_jobs_job_outputs_valid"],
    ["ai_jobs", "backoff", (n) => `{"initial":1000,"factor":${n},"max":60000,"jitter":0}`, "ai_jobs_backoff_valid"],
    ["ai_jobs", "metrics", (n) => JSON.stringify(zero).replace("\"duration_ms\":0", `"duration_ms":${n}`), "ai_jobs_metrics_check"],
    ["workflow_node_executions", "input_payload", (n) => n, "workflow_node_executions_input_payload_valid"],
    ["workflow_node_executions", "output_payload", (n) => `{"deep":{"n":${n}}}`, "workflow_node_executions_output_payload_valid"],
    ["flight_recorder_events", "body", (n) => `{"type":"system","n":${n}}`, "flight_recorder_events_body_valid"]
  ]

  it.effect("R16 raw JSON numbers past a double (1e400) are refused in every jsonb column the store reads numbers from (23514 <table>_<column>_valid), at INSERT and UPDATE, as on SQLite (0023)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { job, run } = yield* startedJob()
      const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
      for (const [table, column, put, constraint] of numberColumns) {
        for (const [what, number] of pastDoubleNumbers) {
          const value = put(number)
          const inserted = table === "ai_jobs"
            ? insertJob({ [column]: `'${value}'::jsonb` })
            : table === "workflow_node_executions"
            ? sql`INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, started_at, ${sql(column)})
                VALUES (gen_random_uuid(), ${run.id}, 'n', 'step', 'running', 7, now(), ${value}::jsonb)`
            : sql`INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, body)
                VALUES (gen_random_uuid(), '2026-01-01T00:00:00Z', 'system', 'system', gen_random_uuid(), ${value}::jsonb)`
          const refusal = yield* refusalOf(inserted)
          assert.deepStrictEqual([refusal.code, refusal.constraint], ["23514", constraint], `${column} ${what}: ${refusal.message}`)
          if (table !== "flight_recorder_events") {
            const key = table === "ai_jobs" ? job.job_id : node.id
            const update = yield* refusalOf(sql`UPDATE ${sql(table)} SET ${sql(column)} = ${value}::jsonb WHERE id = ${key}`)
            assert.deepStrictEqual([update.code, update.constraint], ["23514", constraint], `UPDATE ${column} ${what}: ${update.message}`)
          }
        }
      }
      assert.deepStrictEqual((yield* store.listNodes(run.id)).map((n) => n.input_payload), [null], "nothing stored or changed")
    }))

  it.effect("R16 raw JSON whose strings or keys decode to U+0000 or a lone surrogate is refused by jsonb itself in every jsonb column (22P05, 22P02), as SQLite's 0023 refuses it; other escapes are taken and read back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { job, run } = yield* startedJob()
      const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
      for (const [what, json] of unstorableJsonText) {
        const statements = [
          sql`UPDATE ai_jobs SET job_inputs = ${json}::jsonb WHERE id = ${job.job_id}`,
          sql`UPDATE ai_jobs SET job_outputs = ${json}::jsonb WHERE id = ${job.job_id}`,
          sql`UPDATE workflow_node_executions SET input_payload = ${json}::jsonb WHERE id = ${node.id}`,
          sql`UPDATE workflow_node_executions SET output_payload = ${json}::jsonb WHERE id = ${node.id}`,
          sql`INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, body)
            VALUES (gen_random_uuid(), '2026-01-01T00:00:00Z', 'system', 'system', gen_random_uuid(), ${`{"type":"system","x":${json}}`}::jsonb)`
        ]
        for (const statement of statements) assert.include(["22P05", "22P02"], (yield* refusalOf(statement)).code, what)
      }
      for (const [json, value] of storableJsonText) {
        yield* sql`UPDATE ai_jobs SET job_inputs = ${json}::jsonb WHERE id = ${job.job_id}`
        assert.deepStrictEqual((yield* store.getJob(job.job_id)).job_inputs, value)
      }
    }))

  it.effect("R16 numbers a double holds, and strings spelling larger ones, are taken in every jsonb column and read back by the store", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { run } = yield* startedJob()
      const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
      for (const [what, json, value] of doubleNumbers) {
        const [row] = yield* sql<{ readonly id: string }>`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, job_inputs, job_outputs)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'p', 'p', 'Analyst', 'analysis_only', 'normal', now(), now(), ${`{"n":${json}}`}::jsonb, ${`[${json}]`}::jsonb) RETURNING id::text AS id`
        const read = yield* store.getJob(JobId.make(row!.id))
        assert.deepStrictEqual([read.job_inputs, read.job_outputs], [{ n: value }, [value]], what)
        yield* sql`UPDATE workflow_node_executions SET input_payload = ${json}::jsonb, output_payload = ${`{"deep":{"n":${json}}}`}::jsonb WHERE id = ${node.id}`
        yield* sql`INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, body)
          VALUES (gen_random_uuid(), '2026-01-01T00:00:00Z', 'system', 'system', gen_random_uuid(), ${`{"type":"system","n":${json}}`}::jsonb)`
      }
      assert.deepStrictEqual((yield* store.listNodes(run.id))[0]?.input_payload, { e999: 1, x: "release2024" })
    }))

  it.effect("R16 0023 judges only what a write changes: a row stored before it with such a number still moves; the events' CHECK is NOT VALID", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { job, run } = yield* startedJob()
      yield* sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_json_numbers_update`
      yield* sql`UPDATE ai_jobs SET job_inputs = '{"n":1e400}'::jsonb WHERE id = ${job.job_id}`
      yield* sql`ALTER TABLE ai_jobs ENABLE TRIGGER ai_jobs_json_numbers_update`
      // A settle that leaves the inputs as they are, and writes outputs a double holds, passes.
      yield* sql`UPDATE ai_jobs SET status = 'completed', job_inputs = job_inputs, job_outputs = '[1]'::jsonb, updated_at = '2026-01-01T00:00:00Z' WHERE id = ${job.job_id}`
      yield* sql`UPDATE workflow_runs SET status = 'completed', updated_at = '2026-01-01T00:00:00Z' WHERE id = ${run.id}`
      assert.strictEqual((yield* refusalOf(sql`UPDATE ai_jobs SET job_outputs = '[1e400]'::jsonb WHERE id = ${job.job_id}`)).constraint, "ai_jobs_job_outputs_valid")
      const [check] = yield* sql<{ readonly convalidated: boolean }>`SELECT convalidated FROM pg_constraint WHERE conname = 'flight_recorder_events_body_valid'`
      assert.strictEqual(check?.convalidated, false)
    }))

  it.effect("R16 a metric named twice in raw JSON is judged by its last value, as the store reads it: refused when that one is bad", () =>
    Effect.gen(function*() {
      const twice = `${JSON.stringify(zero).slice(0, -1)},"total_tokens":-5}`
      const refusal = yield* refusalOf(insertJob({ metrics: `'${twice}'::jsonb` }))
      assert.strictEqual(refusal.constraint, "ai_jobs_metrics_check", refusal.message)
    }))

  it.effect("R1a a store write the database refuses is a StorageError that keeps the SqlError and its SQLSTATE", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      // Every argument is decoded at the port, so the refusal has to come from
      // the database itself: a constraint added behind the store's back.
      yield* sql`ALTER TABLE ai_jobs ADD CONSTRAINT test_refused_protocol CHECK (protocol_id <> 'refused.by.the.database')`
      const error = expectTag(yield* failureOf(store.createJob(newJob({ protocol_id: "refused.by.the.database" }))), "StorageError")
      yield* sql`ALTER TABLE ai_jobs DROP CONSTRAINT test_refused_protocol`
      assert.strictEqual(error.operation, "JobStore.createJob")
      assert.instanceOf(error.cause, SqlError)
      assert.deepInclude(driverError(error.cause as SqlError), { code: "23514", constraint: "test_refused_protocol" })
      assert.match(error.message, /test_refused_protocol/)
    }))

  it.effect("R6a R8 values forced past the port's types are refused before SQL: a run ended as stalled, an empty node id", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const { run } = yield* startedJob()
      // The same refusal as on SQLite (contract: runs.ts), before any SQL.
      const stalled = expectTag(yield* failureOf(store.finishRun(run.id, "stalled" as "failed")), "IllegalTransition")
      assert.deepStrictEqual([stalled.from, stalled.to], ["running", "stalled"])
      assert.strictEqual((yield* store.getRun(run.id)).status, "running", "only recovery writes stalled")
      // Caller input the port decodes: the same DecodeFailure as on SQLite.
      expectTag(yield* failureOf(store.startNode({ workflow_run_id: run.id, node_id: "", node_type: "step" })), "DecodeFailure")
      assert.deepStrictEqual(yield* store.listNodes(run.id), [])
    }))

  it.effect("R10 the database refuses raw UPDATE, DELETE and TRUNCATE of events; the events stay", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const event = eventRecord({ timestamp: at(1_000) })
      yield* store.appendEvents([event])
      for (const statement of [
        sql`UPDATE flight_recorder_events SET actor = 'human' WHERE event_id = ${event.event_id}`,
        sql`UPDATE flight_recorder_events SET body = body || '{"edited": true}' WHERE event_id = ${event.event_id}`,
        sql`DELETE FROM flight_recorder_events WHERE event_id = ${event.event_id}`,
        sql`DELETE FROM flight_recorder_events`,
        sql`TRUNCATE flight_recorder_events`
      ]) {
        const refusal = yield* refusalOf(statement)
        assert.strictEqual(refusal.code, "42501", refusal.message)
        assert.match(refusal.message, /append-only/)
      }
      const stored = yield* store.listEvents({ event_id: event.event_id })
      assert.deepStrictEqual(stored.items.map((e) => e.actor), ["system"])
      assert.deepStrictEqual(stored.items[0]?.body, event.body)
    }))

  it.effect("R13 a retention grant opens only rows older than its cutoff, and only inside its transaction", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const old = eventRecord({ timestamp: at(1_000) })
      const recent = eventRecord({ timestamp: at(9_000) })
      yield* store.appendEvents([old, recent])
      const cutoff = "1970-01-01T00:00:05Z"
      // A grant for 00:00:05 does not open a row at 00:00:09.
      const newer = yield* refusalOf(sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (${cutoff}::timestamptz)`
        yield* sql`DELETE FROM flight_recorder_events WHERE event_id = ${recent.event_id}`
      })))
      assert.strictEqual(newer.code, "42501")
      // It does open the older one (rolled back here, to keep it).
      const deleted = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (${cutoff}::timestamptz)`
        const gone = yield* sql`DELETE FROM flight_recorder_events WHERE event_id = ${old.event_id} RETURNING event_id`
        return yield* Effect.fail(gone.length)
      })).pipe(Effect.flip)
      assert.strictEqual(deleted, 1)
      // A grant cannot outlive its transaction: committing one is refused.
      const committed = yield* refusalOf(sql`INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (now())`)
      assert.strictEqual(committed.code, "42501")
      assert.strictEqual(yield* countWhere(sql`SELECT count(*) AS n FROM flight_recorder_retention_grants`), 0)
      const left = yield* countWhere(sql`
        SELECT count(*) AS n FROM flight_recorder_events WHERE event_id IN (${old.event_id}, ${recent.event_id})`)
      assert.strictEqual(left, 2)
    }))
})

describe("R16 PostgreSQL rows made corrupt behind the store's back", () => {
  /** Runs `body` against a store and raw client on a database of its own. */
  const isolated = <A, E>(label: string, body: Effect.Effect<A, E, JobStore | SqlClient.SqlClient>) =>
    Effect.provide(body, postgres(label).makeStoreWithSql())

  it.effect("R16 a job whose kind was rewritten past the dropped CHECK is a CorruptRow naming ai_jobs, the id and job_kind", () =>
    isolated("pg corrupt kind", Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const job = yield* store.createJob(newJob())
      yield* sql`ALTER TABLE ai_jobs DROP CONSTRAINT ai_jobs_job_kind_check`
      yield* sql`UPDATE ai_jobs SET job_kind = 'frobnicate' WHERE id = ${job.job_id}`
      const reads: ReadonlyArray<Effect.Effect<unknown, ReadError | NotFound | DecodeFailure>> = [store.getJob(job.job_id), store.listJobs()]
      for (const read of reads) {
        const error = expectTag(yield* failureOf(read), "CorruptRow")
        assert.deepStrictEqual({ table: error.table, row_id: error.row_id, column: error.column }, {
          table: "ai_jobs",
          row_id: job.job_id,
          column: "job_kind"
        })
        assert.match(error.message, /ai_jobs.*job_kind/)
      }
    })), 60_000)

  it.effect("R4 a job whose metrics went negative past the dropped metrics rule is a CorruptRow on metrics", () =>
    isolated("pg corrupt metrics", Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const job = yield* store.createJob(newJob())
      // The rule is a trigger on the metrics column since migration 0012.
      yield* sql`DROP TRIGGER ai_jobs_metrics_check_update ON ai_jobs`
      yield* sql`UPDATE ai_jobs SET metrics = metrics || '{"total_tokens": -5}' WHERE id = ${job.job_id}`
      const error = expectTag(yield* failureOf(store.getJob(job.job_id)), "CorruptRow")
      assert.deepStrictEqual([error.table, error.row_id, error.column], ["ai_jobs", job.job_id, "metrics"])
    })), 60_000)

  it.effect("R16 an instant the domain does not hold (before 1970), stored before 0020 refused it, is a CorruptRow on that column", () =>
    isolated("pg corrupt instant", Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const job = yield* store.createJob(newJob())
      // A row of a database from before 0020 (which judges only values written after it: such a row stays).
      yield* sql`DROP TRIGGER ai_jobs_domain_values_update ON ai_jobs`
      yield* sql`UPDATE ai_jobs SET created_at = '1969-12-31T23:59:59Z' WHERE id = ${job.job_id}`
      const error = expectTag(yield* failureOf(store.getJob(job.job_id)), "CorruptRow")
      assert.deepStrictEqual([error.table, error.row_id, error.column], ["ai_jobs", job.job_id, "created_at"])
    })), 60_000)

  it.effect("R16 a job stored before 0023 with a JSON number past a double (its inputs, its backoff factor) is a CorruptRow on that column (what 0023 refuses)", () =>
    isolated("pg corrupt number", Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      yield* sql`ALTER TABLE ai_jobs DISABLE TRIGGER ai_jobs_json_numbers_update`
      for (const [column, value] of [["job_inputs", "{\"n\":1e400}"], ["job_outputs", "[-1e400]"], ["backoff", "{\"initial\":1000,\"factor\":1e400,\"max\":60000,\"jitter\":0}"]] as const) {
        const job = yield* store.createJob(newJob())
        yield* sql`UPDATE ai_jobs SET ${sql(column)} = ${value}::jsonb WHERE id = ${job.job_id}`
        const error = expectTag(yield* failureOf(store.getJob(job.job_id)), "CorruptRow")
        assert.deepStrictEqual([error.table, error.row_id, error.column], ["ai_jobs", job.job_id, column])
      }
    })), 60_000)

  it.effect("R8 a run and a node execution holding values the domain forbids are CorruptRows on their tables", () =>
    isolated("pg corrupt run", Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { job, run } = yield* startedJob()
      const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
      // 0029 refuses an empty node_id, as SQLite's 0002 does.
      yield* sql`ALTER TABLE workflow_node_executions DROP CONSTRAINT workflow_node_executions_node_id_nonempty`
      yield* sql`UPDATE workflow_node_executions SET node_id = '' WHERE id = ${node.id}`
      const nodeError = expectTag(yield* failureOf(store.listNodes(run.id)), "CorruptRow")
      assert.deepStrictEqual([nodeError.table, nodeError.row_id, nodeError.column], ["workflow_node_executions", node.id, "node_id"])
      yield* sql`ALTER TABLE workflow_runs DROP CONSTRAINT workflow_runs_status_check`
      yield* sql`UPDATE workflow_runs SET status = 'zombie' WHERE id = ${run.id}`
      const reads: ReadonlyArray<Effect.Effect<unknown, ReadError | NotFound | RunNotActive | DecodeFailure>> = [
        store.getRun(run.id),
        store.listRuns(job.job_id),
        store.heartbeat(run.id)
      ]
      for (const read of reads) {
        const error = expectTag(yield* failureOf(read), "CorruptRow")
        assert.deepStrictEqual([error.table, error.row_id, error.column], ["workflow_runs", run.id, "status"])
      }
    })), 60_000)

  it.effect("R11 an event rewritten with its trigger disabled and CHECK dropped is a CorruptRow naming the event id", () =>
    isolated("pg corrupt event", Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const event = eventRecord()
      yield* store.appendEvents([event])
      yield* sql`ALTER TABLE flight_recorder_events DISABLE TRIGGER flight_recorder_events_append_only`
      yield* sql`ALTER TABLE flight_recorder_events DROP CONSTRAINT flight_recorder_events_actor_check`
      yield* sql`UPDATE flight_recorder_events SET actor = 'robot' WHERE event_id = ${event.event_id}`
      const error = expectTag(yield* failureOf(store.listEvents()), "CorruptRow")
      assert.deepStrictEqual([error.table, error.row_id, error.column], ["flight_recorder_events", event.event_id, "actor"])
    })), 60_000)
})
