/**
 * R16 ("after it, the database itself refuses ..."), R4, R10: on SQLite the
 * schema enforces the domain by itself. Raw SQL that bypasses the store is
 * refused; the event log is append-only; and a row made corrupt behind the
 * store's back is reported as `CorruptRow`, never decoded silently.
 */
import { assert, describe, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { JobStates } from "../../src/domain/JobState.js"
import { JobStore } from "../../src/store/JobStore.js"
import { at, eventRecord, expectTag, failureOf, newJob } from "./fixtures.js"
import { badOperations, doubleNumbers, goodOperations, pastDoubleNumbers, storableJsonText, storableRefs, unstorableJsonText, unstorableOperations, unstorableRefs } from "./rawJsonCases.js"
import { rawNumber, rawRows, storeWithClient, zeroMetrics } from "./sqlite-support.js"

type Value = string | number | Uint8Array | null
type Row = Record<string, Value>

const uuid = () => crypto.randomUUID()
const T = "2024-03-01T12:00:00.000Z"

/** A valid `ai_jobs` row as raw column values. */
const jobRow = (overrides: Row = {}): Row => ({
  id: uuid(),
  trace_id: uuid(),
  workflow_run_id: null,
  job_kind: "doc_edit",
  status: "queued",
  status_reason: "",
  error_message: null,
  protocol_id: "p",
  profile_id: "p",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal",
  entity_refs: "[]",
  planned_operations: "[]",
  metrics: JSON.stringify(zeroMetrics),
  job_inputs: null,
  job_outputs: null,
  is_pinned: 0,
  created_at: T,
  updated_at: T,
  ...overrides
})

const runRow = (jobId: string, overrides: Row = {}): Row => ({
  id: uuid(),
  job_id: jobId,
  status: "running",
  last_heartbeat: T,
  error_message: null,
  created_at: T,
  updated_at: T,
  ...overrides
})

const nodeRow = (runId: string, overrides: Row = {}): Row => ({
  id: uuid(),
  workflow_run_id: runId,
  node_id: "n",
  node_type: "step",
  status: "running",
  sequence: 0,
  input_payload: null,
  output_payload: null,
  error_message: null,
  started_at: T,
  finished_at: null,
  ...overrides
})

const eventRow = (overrides: Row = {}): Row => ({
  event_id: uuid(),
  timestamp: T,
  actor: "system",
  type: "system",
  trace_id: uuid(),
  job_id: null,
  workflow_run_id: null,
  body: "{\"type\":\"system\"}",
  ...overrides
})

const insert = (table: string, row: Row) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO ${sql(table)} ${sql.insert(row)}`)

/** Asserts that `effect` fails with a driver error and returns SQLite's message. */
const refused = <A, R>(effect: Effect.Effect<A, SqlError, R>, what: string) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return assert.fail(`the database accepted ${what}`)
    const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    assert.instanceOf(error, SqlError, `${what}: expected a driver error`)
    return String((error?.cause as { readonly message?: unknown } | undefined)?.message)
  })

const inMemoryStore = storeWithClient(":memory:")

describe("SQLite constraints after migration (R16)", () => {
  it.effect("R16 the valid base rows are accepted (the refusals below are about one column each)", () =>
    Effect.gen(function*() {
      const job = jobRow()
      yield* insert("ai_jobs", job)
      const run = runRow(String(job["id"]))
      yield* insert("workflow_runs", run)
      yield* insert("workflow_node_executions", nodeRow(String(run["id"])))
      yield* insert("flight_recorder_events", eventRow())
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs"), 1)
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R4 a job inserted without metrics gets the zero object, never NULL", () =>
    Effect.gen(function*() {
      const { metrics: _metrics, entity_refs: _refs, planned_operations: _ops, status_reason: _reason, is_pinned: _pinned, ...row } = jobRow()
      yield* insert("ai_jobs", row)
      const [stored] = yield* rawRows<{ metrics: string; entity_refs: string; status_reason: string; is_pinned: number }>(
        "SELECT metrics, entity_refs, status_reason, is_pinned FROM ai_jobs"
      )
      assert.deepStrictEqual(JSON.parse(stored?.metrics ?? "null"), zeroMetrics)
      assert.strictEqual(stored?.entity_refs, "[]")
      assert.strictEqual(stored?.status_reason, "")
      assert.strictEqual(stored?.is_pinned, 0)
    }).pipe(Effect.provide(inMemoryStore)))

  const fullMetrics = (overrides: Record<string, unknown>) => JSON.stringify({ ...zeroMetrics, ...overrides })

  const jobCases: ReadonlyArray<readonly [string, Row, string]> = [
    ["an unknown kind", { job_kind: "mystery_kind" }, "ai_jobs_job_kind_valid"],
    ["the legacy alias term_exec", { job_kind: "term_exec" }, "ai_jobs_job_kind_valid"],
    ["the non-kind doc_test", { job_kind: "doc_test" }, "ai_jobs_job_kind_valid"],
    ["the non-kind governance_pack_export", { job_kind: "governance_pack_export" }, "ai_jobs_job_kind_valid"],
    ["a kind in the wrong case", { job_kind: "Doc_Edit" }, "ai_jobs_job_kind_valid"],
    ["an unknown state", { status: "paused" }, "ai_jobs_status_valid"],
    ["a state in the wrong case", { status: "RUNNING" }, "ai_jobs_status_valid"],
    ["NULL metrics", { metrics: null }, "NOT NULL constraint failed: ai_jobs.metrics"],
    ["a negative metric", { metrics: fullMetrics({ total_tokens: -1 }) }, "ai_jobs_metrics_valid"],
    ["a fractional metric", { metrics: fullMetrics({ duration_ms: 1.5 }) }, "ai_jobs_metrics_valid"],
    ["a metric given as a string", { metrics: fullMetrics({ input_tokens: "5" }) }, "ai_jobs_metrics_valid"],
    ["a metric given as null", { metrics: fullMetrics({ output_tokens: null }) }, "ai_jobs_metrics_valid"],
    ["a u32 metric past 2^32-1", { metrics: fullMetrics({ entities_read: 4_294_967_296 }) }, "ai_jobs_metrics_valid"],
    ["a duration past 2^53-1", { metrics: fullMetrics({ duration_ms: 9_007_199_254_740_992 }) }, "ai_jobs_metrics_valid"],
    ["metrics missing a field", { metrics: "{}" }, "ai_jobs_metrics_valid"],
    ["metrics that are an array", { metrics: "[]" }, "ai_jobs_metrics_valid"],
    ["metrics that are not JSON", { metrics: "lots" }, "ai_jobs_metrics_valid"],
    // JSON.parse and PostgreSQL's jsonb keep the last of two equal keys, the CHECK read the first (0019).
    ["a metric named twice, the last negative", { metrics: `${fullMetrics({}).slice(0, -1)},"total_tokens":-5}` }, "ai_jobs_metrics_valid"],
    ["a metric named twice, the last a string", { metrics: `${fullMetrics({}).slice(0, -1)},"duration_ms":"x"}` }, "ai_jobs_metrics_valid"],
    ["a backoff field named twice", { backoff: '{"initial":1000,"factor":2,"max":60000,"jitter":0,"factor":0}' }, "ai_jobs_backoff_valid"],
    ["a timestamp in the legacy space form", { created_at: "2024-03-01 12:00:00" }, "ai_jobs_created_at_form"],
    ["a timestamp without milliseconds", { created_at: "2024-03-01T12:00:00Z" }, "ai_jobs_created_at_form"],
    ["a timestamp with an offset", { updated_at: "2024-03-01T12:00:00.000+02:00" }, "ai_jobs_updated_at_form"],
    ["a timestamp on a day that does not exist", { created_at: "2024-02-30T12:00:00.000Z" }, "ai_jobs_created_at_form"],
    ["a timestamp at hour 24", { created_at: "2024-03-01T24:00:00.000Z" }, "ai_jobs_created_at_form"],
    ["a timestamp that is not one", { updated_at: "yesterday" }, "ai_jobs_updated_at_form"],
    ["an unknown access mode", { access_mode: "full_access" }, "ai_jobs_access_mode_valid"],
    ["an unknown safety mode", { safety_mode: "yolo" }, "ai_jobs_safety_mode_valid"],
    ["a pin flag other than 0/1", { is_pinned: 2 }, "ai_jobs_is_pinned_boolean"],
    ["entity_refs that are not an array", { entity_refs: "{}" }, "ai_jobs_entity_refs_array"],
    ["planned_operations that are not JSON", { planned_operations: "read it" }, "ai_jobs_planned_operations_array"],
    ["job_inputs that are not JSON", { job_inputs: "{oops" }, "ai_jobs_job_inputs_json"],
    ["a NULL trace_id", { trace_id: null }, "NOT NULL constraint failed: ai_jobs.trace_id"],
    ["a workflow_run_id of no run", { workflow_run_id: "00000000-0000-4000-8000-000000000000" }, "FOREIGN KEY constraint failed"]
  ]

  for (const [what, overrides, expected] of jobCases) {
    it.effect(`R16 a raw insert of a job with ${what} is refused (${expected})`, () =>
      Effect.gen(function*() {
        const message = yield* refused(insert("ai_jobs", jobRow(overrides)), what)
        assert.include(message, expected)
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs"), 0)
      }).pipe(Effect.provide(inMemoryStore)))
  }

  it.effect("R16 a raw UPDATE to a legacy kind, a bad state or NULL metrics is refused", () =>
    Effect.gen(function*() {
      const job = jobRow()
      yield* insert("ai_jobs", job)
      const sql = yield* SqlClient.SqlClient
      const id = String(job["id"])
      assert.include(yield* refused(sql`UPDATE ai_jobs SET job_kind = 'term_exec' WHERE id = ${id}`, "term_exec"), "ai_jobs_job_kind_valid")
      assert.include(yield* refused(sql`UPDATE ai_jobs SET status = 'done' WHERE id = ${id}`, "a bad state"), "ai_jobs_status_valid")
      assert.include(yield* refused(sql`UPDATE ai_jobs SET metrics = NULL WHERE id = ${id}`, "NULL metrics"), "NOT NULL")
      const twice = `${fullMetrics({}).slice(0, -1)},"total_tokens":-5}`
      assert.include(yield* refused(sql`UPDATE ai_jobs SET metrics = ${twice} WHERE id = ${id}`, "a metric named twice"), "ai_jobs_metrics_valid")
      assert.deepStrictEqual(JSON.parse((yield* rawRows<{ metrics: string }>("SELECT metrics FROM ai_jobs"))[0]?.metrics ?? "null"), zeroMetrics)
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R8 runs and node executions refuse bad states, timestamps, sequences and dangling references", () =>
    Effect.gen(function*() {
      const job = jobRow()
      yield* insert("ai_jobs", job)
      const jobId = String(job["id"])
      assert.include(yield* refused(insert("workflow_runs", runRow(jobId, { status: "paused" })), "run state"), "workflow_runs_status_valid")
      assert.include(
        yield* refused(insert("workflow_runs", runRow(jobId, { last_heartbeat: "2024-03-01 12:00:00" })), "run heartbeat"),
        "workflow_runs_last_heartbeat_form"
      )
      assert.include(yield* refused(insert("workflow_runs", runRow(uuid())), "run of no job"), "FOREIGN KEY constraint failed")
      const run = runRow(jobId)
      yield* insert("workflow_runs", run)
      const runId = String(run["id"])
      yield* insert("workflow_node_executions", nodeRow(runId, { sequence: 0 }))
      const nodeCases: ReadonlyArray<readonly [string, Row, string]> = [
        ["a node status that is no job state", { status: "paused" }, "workflow_node_executions_status_valid"],
        ["a negative sequence", { sequence: -1 }, "workflow_node_executions_sequence_valid"],
        ["a fractional sequence", { sequence: 1.5 }, "workflow_node_executions_sequence_valid"],
        ["a sequence taken in the run", { sequence: 0 }, "UNIQUE constraint failed"],
        ["an empty node id", { sequence: 5, node_id: "" }, "workflow_node_executions_node_id_nonempty"],
        ["a bad finish time", { sequence: 6, finished_at: "soon" }, "workflow_node_executions_finished_at_form"],
        ["a payload that is not JSON", { sequence: 7, input_payload: "{" }, "workflow_node_executions_input_payload_json"]
      ]
      for (const [what, overrides, expected] of nodeCases) {
        assert.include(yield* refused(insert("workflow_node_executions", nodeRow(runId, overrides)), what), expected, what)
      }
      // Issue 12.1: any of the ten job states is a node status, as the reference stores them.
      for (const [index, status] of JobStates.entries()) {
        yield* insert("workflow_node_executions", nodeRow(runId, { sequence: 100 + index, status }))
      }
      assert.include(
        yield* refused(insert("workflow_node_executions", nodeRow(uuid(), { sequence: 9 })), "node of no run"),
        "FOREIGN KEY constraint failed"
      )
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R11 R12 events refuse unknown actors and types, non-object bodies and malformed timestamps", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, Row, string]> = [
        ["an unknown actor", { actor: "robot" }, "flight_recorder_events_actor_valid"],
        ["an unknown type", { type: "job_created" }, "flight_recorder_events_type_valid"],
        ["a body that is an array", { body: "[]" }, "flight_recorder_events_body_object"],
        ["a body that is not JSON", { body: "hello" }, "flight_recorder_events_body_object"],
        ["a timestamp with an offset", { timestamp: "2024-03-01T12:00:00.000+01:00" }, "flight_recorder_events_timestamp_form"],
        ["a NULL trace id", { trace_id: null }, "NOT NULL constraint failed: flight_recorder_events.trace_id"]
      ]
      for (const [what, overrides, expected] of cases) {
        assert.include(yield* refused(insert("flight_recorder_events", eventRow(overrides)), what), expected, what)
      }
    }).pipe(Effect.provide(inMemoryStore)))
})

describe("SQLite refuses the ids, instants and entity refs the domain cannot read (R16, 0020)", () => {
  const upper = () => uuid().toUpperCase()
  const NIL = "00000000-0000-0000-0000-000000000000"
  /** Ids the domain refuses (or would read as another id): each must be refused. */
  const badIds: ReadonlyArray<readonly [string, () => Value]> = [
    ["no UUID", () => "job-1"],
    ["an upper-case UUID", upper],
    ["the nil UUID", () => NIL],
    ["a UUID with a dash too many", () => `${uuid().slice(0, 35)}-`],
    ["a UUID with a letter past f", () => `g${uuid().slice(1)}`],
    ["a UUID in braces", () => `{${uuid().slice(1, 35)}}`],
    ["a number", () => 42],
    // Its bytes pass every text test; the store reads a BLOB as no string at all.
    ["a lower-case UUID stored as a BLOB", () => new TextEncoder().encode(uuid())]
  ]

  /** A table with its valid row and a parent to point at: [table, id columns, row of overrides]. */
  const withParents = Effect.gen(function*() {
    const job = jobRow()
    yield* insert("ai_jobs", job)
    const run = runRow(String(job["id"]))
    yield* insert("workflow_runs", run)
    return { jobId: String(job["id"]), runId: String(run["id"]) }
  })

  const rowOf = (table: string, parents: { readonly jobId: string; readonly runId: string }, overrides: Row): Row =>
    table === "ai_jobs"
      ? jobRow(overrides)
      : table === "workflow_runs"
      ? runRow(parents.jobId, overrides)
      : table === "workflow_node_executions"
      ? nodeRow(parents.runId, { sequence: Math.floor(Math.random() * 1e9), ...overrides })
      : eventRow(overrides)

  const idColumns: ReadonlyArray<readonly [string, string]> = [
    ["ai_jobs", "id"],
    ["ai_jobs", "trace_id"],
    ["ai_jobs", "workflow_run_id"],
    ["workflow_runs", "id"],
    ["workflow_runs", "job_id"],
    ["workflow_node_executions", "id"],
    ["workflow_node_executions", "workflow_run_id"],
    ["flight_recorder_events", "event_id"],
    ["flight_recorder_events", "trace_id"],
    ["flight_recorder_events", "job_id"],
    ["flight_recorder_events", "workflow_run_id"]
  ]

  for (const [table, column] of idColumns) {
    it.effect(`R16 a raw ${table} row whose ${column} is no lower-case UUID (or the nil UUID) is refused (${table}_${column}_uuid), as on PostgreSQL`, () =>
      Effect.gen(function*() {
        const parents = yield* withParents
        const before = yield* rawNumber(`SELECT count(*) AS n FROM ${table}`)
        for (const [what, value] of badIds) {
          const message = yield* refused(insert(table, rowOf(table, parents, { [column]: value() })), `${column}: ${what}`)
          assert.include(message, `${table}_${column}_uuid`, `${column}: ${what}`)
        }
        assert.strictEqual(yield* rawNumber(`SELECT count(*) AS n FROM ${table}`), before)
      }).pipe(Effect.provide(inMemoryStore)))
  }

  const instantColumns: ReadonlyArray<readonly [string, string]> = [
    ["ai_jobs", "created_at"],
    ["ai_jobs", "updated_at"],
    ["ai_jobs", "run_after"],
    ["workflow_runs", "last_heartbeat"],
    ["workflow_runs", "created_at"],
    ["workflow_runs", "updated_at"],
    ["workflow_node_executions", "started_at"],
    ["workflow_node_executions", "finished_at"],
    ["flight_recorder_events", "timestamp"]
  ]

  for (const [table, column] of instantColumns) {
    it.effect(`R16 a raw ${table} row whose ${column} is before 1970 is refused (${table}_${column}_form); 1970 itself is taken`, () =>
      Effect.gen(function*() {
        const parents = yield* withParents
        for (const instant of ["1969-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z"]) {
          const message = yield* refused(insert(table, rowOf(table, parents, { [column]: instant })), `${column} ${instant}`)
          assert.include(message, `${table}_${column}_form`, instant)
        }
        yield* insert(table, rowOf(table, parents, { [column]: "1970-01-01T00:00:00.000Z" }))
        yield* insert(table, rowOf(table, parents, { [column]: "9999-12-31T23:59:59.999Z" }))
      }).pipe(Effect.provide(inMemoryStore)))
  }

  /** entity_refs the domain's EntityRef array refuses. */
  const badRefs: ReadonlyArray<readonly [string, string]> = [
    ["an element that is a number", "[1]"],
    ["an element that is a string", "[\"doc-1\"]"],
    ["an element that is an array", "[[]]"],
    ["an element that is null", "[null]"],
    ["an empty object", "[{}]"],
    ["a missing entity_kind", "[{\"entity_id\":\"d\"}]"],
    ["an empty entity_id", "[{\"entity_id\":\"\",\"entity_kind\":\"doc\"}]"],
    ["a numeric entity_kind", "[{\"entity_id\":\"d\",\"entity_kind\":1}]"],
    ["an extra key", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\",\"x\":1}]"],
    ["entity_id named twice, the last empty", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\",\"entity_id\":\"\"}]"],
    ["a bad element after a good one", "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},1]"]
  ]

  it.effect("R16 raw entity_refs whose elements are no {entity_id, entity_kind} of non-empty text are refused (ai_jobs_entity_refs_array), at INSERT and UPDATE", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const good = "[{\"entity_id\":\"d\",\"entity_kind\":\"doc\"},{\"entity_id\":\"e\",\"entity_kind\":\"sheet\"}]"
      const job = jobRow({ entity_refs: good })
      yield* insert("ai_jobs", job)
      const id = String(job["id"])
      for (const [what, refs] of badRefs) {
        assert.include(yield* refused(insert("ai_jobs", jobRow({ entity_refs: refs })), what), "ai_jobs_entity_refs_array", what)
        assert.include(yield* refused(sql`UPDATE ai_jobs SET entity_refs = ${refs} WHERE id = ${id}`, what), "ai_jobs_entity_refs_array", what)
      }
      assert.deepStrictEqual(yield* rawRows("SELECT entity_refs FROM ai_jobs"), [{ entity_refs: good }])
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 raw entity_refs whose text the domain refuses (U+0000, a lone UTF-16 surrogate) are refused (ai_jobs_entity_refs_array, 0021), as PostgreSQL's jsonb refuses them; a surrogate pair, Hangul and an escaped backslash are taken", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const job = jobRow()
      yield* insert("ai_jobs", job)
      const id = String(job["id"])
      for (const [what, refs] of unstorableRefs) {
        assert.include(yield* refused(insert("ai_jobs", jobRow({ entity_refs: refs })), what), "ai_jobs_entity_refs_array", what)
        assert.include(yield* refused(sql`UPDATE ai_jobs SET entity_refs = ${refs} WHERE id = ${id}`, what), "ai_jobs_entity_refs_array", what)
      }
      for (const refs of storableRefs) {
        const taken = jobRow({ entity_refs: refs })
        yield* insert("ai_jobs", taken)
        yield* sql`UPDATE ai_jobs SET entity_refs = ${refs} WHERE id = ${id}`
        // And the store reads it back, as the text it is.
        const read = yield* (yield* JobStore).getJob(JobId.make(String(taken["id"])))
        assert.deepStrictEqual(read.entity_refs, JSON.parse(refs))
      }
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 raw planned_operations whose elements are no {op_type, target, description?} the domain reads are refused (ai_jobs_planned_operations_array, 0022), at INSERT and UPDATE; every valid form is taken and read back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const job = jobRow()
      yield* insert("ai_jobs", job)
      const id = String(job["id"])
      for (const [what, operations] of [...badOperations, ...unstorableOperations]) {
        assert.include(yield* refused(insert("ai_jobs", jobRow({ planned_operations: operations })), what), "ai_jobs_planned_operations_array", what)
        assert.include(yield* refused(sql`UPDATE ai_jobs SET planned_operations = ${operations} WHERE id = ${id}`, what), "ai_jobs_planned_operations_array", what)
      }
      for (const operations of goodOperations) {
        const taken = jobRow({ planned_operations: operations })
        yield* insert("ai_jobs", taken)
        yield* sql`UPDATE ai_jobs SET planned_operations = ${operations} WHERE id = ${id}`
        const read = yield* store.getJob(JobId.make(String(taken["id"])))
        assert.strictEqual(read.planned_operations.length, 2)
      }
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 a raw UPDATE to an upper-case id, a non-UUID trace id or an instant before 1970 is refused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { jobId, runId } = yield* withParents
      const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, SqlError, never>, string]> = [
        ["a job id in upper case", sql`UPDATE ai_jobs SET id = ${jobId.toUpperCase()} WHERE id = ${jobId}`, "ai_jobs_id_uuid"],
        ["a job trace id that is no UUID", sql`UPDATE ai_jobs SET trace_id = 'trace' WHERE id = ${jobId}`, "ai_jobs_trace_id_uuid"],
        ["a job updated before 1970", sql`UPDATE ai_jobs SET updated_at = '1969-07-20T20:17:40.000Z' WHERE id = ${jobId}`, "ai_jobs_updated_at_form"],
        ["a run's heartbeat before 1970", sql`UPDATE workflow_runs SET last_heartbeat = '1960-01-01T00:00:00.000Z' WHERE id = ${runId}`, "workflow_runs_last_heartbeat_form"],
        ["a run id in upper case", sql`UPDATE workflow_runs SET id = ${runId.toUpperCase()} WHERE id = ${runId}`, "workflow_runs_id_uuid"]
      ]
      for (const [what, statement, expected] of cases) assert.include(yield* refused(statement, what), expected, what)
      // A valid change of the same columns passes.
      yield* sql`UPDATE ai_jobs SET updated_at = '2025-01-01T00:00:00.000Z' WHERE id = ${jobId}`
      yield* sql`UPDATE workflow_runs SET last_heartbeat = '2025-01-01T00:00:00.000Z' WHERE id = ${runId}`
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 a legacy row stored before 0021/0022 is not judged again: an UPDATE of its other columns still passes, a new bad value does not", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TRIGGER ai_jobs_planned_operations_insert`
      yield* sql`DROP TRIGGER ai_jobs_entity_refs_text_insert`
      const legacy = jobRow({ planned_operations: "[1]", entity_refs: "[{\"entity_id\":\"\\ud800\",\"entity_kind\":\"doc\"}]" })
      yield* insert("ai_jobs", legacy)
      const id = String(legacy["id"])
      yield* sql`UPDATE ai_jobs SET status = 'cancelled', updated_at = '2025-01-01T00:00:00.000Z' WHERE id = ${id}`
      assert.deepStrictEqual(yield* rawRows("SELECT status FROM ai_jobs"), [{ status: "cancelled" }])
      assert.include(yield* refused(sql`UPDATE ai_jobs SET planned_operations = '[2]' WHERE id = ${id}`, "[2]"), "ai_jobs_planned_operations_array")
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 a legacy row stored before 0020 is not judged again: an UPDATE of its other columns still passes", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TRIGGER ai_jobs_domain_values_insert`
      const legacy = jobRow({ created_at: "1969-01-01T00:00:00.000Z" })
      yield* insert("ai_jobs", legacy)
      yield* sql`UPDATE ai_jobs SET status = 'running', updated_at = '2025-01-01T00:00:00.000Z' WHERE id = ${String(legacy["id"])}`
      assert.deepStrictEqual(yield* rawRows("SELECT status FROM ai_jobs"), [{ status: "running" }])
    }).pipe(Effect.provide(inMemoryStore)))
})

describe("SQLite refuses U+0000 in text and JSON numbers past a double (R16, 0023)", () => {
  /**
   * Every TEXT column of the tables the store reads, with the constraint a
   * value holding U+0000 breaks. SQLite's length(), GLOB and JSON functions
   * stop at a NUL, so `<uuid>\0x` passed 0020's id test, `{}\0x` json_valid,
   * and free text had no test at all; PostgreSQL refuses a NUL in any text
   * (22021). Enumerated values, instants and references were refused already.
   */
  const textColumns: ReadonlyArray<readonly [string, string, string]> = [
    ["ai_jobs", "id", "ai_jobs_id_uuid"],
    ["ai_jobs", "trace_id", "ai_jobs_trace_id_uuid"],
    ["ai_jobs", "workflow_run_id", "ai_jobs_workflow_run_id_uuid"],
    ["ai_jobs", "job_kind", "ai_jobs_job_kind_valid"],
    ["ai_jobs", "status", "ai_jobs_status_valid"],
    ["ai_jobs", "status_reason", "ai_jobs_status_reason_text"],
    ["ai_jobs", "error_message", "ai_jobs_error_message_text"],
    ["ai_jobs", "protocol_id", "ai_jobs_protocol_id_text"],
    ["ai_jobs", "profile_id", "ai_jobs_profile_id_text"],
    ["ai_jobs", "capability_profile_id", "ai_jobs_capability_profile_id_text"],
    ["ai_jobs", "access_mode", "ai_jobs_access_mode_valid"],
    ["ai_jobs", "safety_mode", "ai_jobs_safety_mode_valid"],
    ["ai_jobs", "entity_refs", "ai_jobs_entity_refs_array"],
    ["ai_jobs", "planned_operations", "ai_jobs_planned_operations_array"],
    ["ai_jobs", "metrics", "ai_jobs_metrics_valid"],
    ["ai_jobs", "job_inputs", "ai_jobs_job_inputs_json"],
    ["ai_jobs", "job_outputs", "ai_jobs_job_outputs_json"],
    ["ai_jobs", "created_at", "ai_jobs_created_at_form"],
    ["ai_jobs", "updated_at", "ai_jobs_updated_at_form"],
    ["ai_jobs", "run_after", "ai_jobs_run_after_form"],
    ["ai_jobs", "backoff", "ai_jobs_backoff_valid"],
    ["workflow_runs", "id", "workflow_runs_id_uuid"],
    ["workflow_runs", "job_id", "workflow_runs_job_id_uuid"],
    ["workflow_runs", "status", "workflow_runs_status_valid"],
    ["workflow_runs", "last_heartbeat", "workflow_runs_last_heartbeat_form"],
    ["workflow_runs", "error_message", "workflow_runs_error_message_text"],
    ["workflow_runs", "created_at", "workflow_runs_created_at_form"],
    ["workflow_runs", "updated_at", "workflow_runs_updated_at_form"],
    ["workflow_node_executions", "id", "workflow_node_executions_id_uuid"],
    ["workflow_node_executions", "workflow_run_id", "workflow_node_executions_workflow_run_id_uuid"],
    ["workflow_node_executions", "node_id", "workflow_node_executions_node_id_text"],
    ["workflow_node_executions", "node_type", "workflow_node_executions_node_type_text"],
    ["workflow_node_executions", "status", "workflow_node_executions_status_valid"],
    ["workflow_node_executions", "input_payload", "workflow_node_executions_input_payload_json"],
    ["workflow_node_executions", "output_payload", "workflow_node_executions_output_payload_json"],
    ["workflow_node_executions", "error_message", "workflow_node_executions_error_message_text"],
    ["workflow_node_executions", "started_at", "workflow_node_executions_started_at_form"],
    ["workflow_node_executions", "finished_at", "workflow_node_executions_finished_at_form"],
    ["flight_recorder_events", "event_id", "flight_recorder_events_event_id_uuid"],
    ["flight_recorder_events", "timestamp", "flight_recorder_events_timestamp_form"],
    ["flight_recorder_events", "actor", "flight_recorder_events_actor_valid"],
    ["flight_recorder_events", "type", "flight_recorder_events_type_valid"],
    ["flight_recorder_events", "trace_id", "flight_recorder_events_trace_id_uuid"],
    ["flight_recorder_events", "job_id", "flight_recorder_events_job_id_uuid"],
    ["flight_recorder_events", "workflow_run_id", "flight_recorder_events_workflow_run_id_uuid"],
    ["flight_recorder_events", "body", "flight_recorder_events_body_object"]
  ]
  const tables = ["ai_jobs", "workflow_runs", "workflow_node_executions", "flight_recorder_events"] as const

  /** A job, its run and a node execution, valid, to point at and to update. */
  const stored = Effect.gen(function*() {
    const job = jobRow({ job_inputs: "{\"n\":1}", job_outputs: "{\"n\":1}", error_message: "e", backoff: "{\"initial\":1000,\"factor\":2,\"max\":60000,\"jitter\":0}" })
    yield* insert("ai_jobs", job)
    const run = runRow(String(job["id"]), { error_message: "e" })
    yield* insert("workflow_runs", run)
    const node = nodeRow(String(run["id"]), { input_payload: "{\"n\":1}", output_payload: "{\"n\":1}", error_message: "e", finished_at: T })
    yield* insert("workflow_node_executions", node)
    return { job, run, node }
  })

  it.effect("R16 the list below names every TEXT column of the tables the store reads", () =>
    Effect.gen(function*() {
      for (const table of tables) {
        const columns = yield* rawRows<{ readonly name: string }>(`SELECT name FROM pragma_table_info('${table}') WHERE type = 'TEXT' ORDER BY cid`)
        assert.deepStrictEqual(columns.map((c) => c.name), textColumns.filter(([t]) => t === table).map(([, c]) => c), table)
      }
    }).pipe(Effect.provide(inMemoryStore)))

  for (const table of tables) {
    it.effect(`R16 a raw ${table} row holding U+0000 in any TEXT column is refused, at INSERT${table === "flight_recorder_events" ? "" : " and UPDATE"}, naming the column's constraint, as PostgreSQL refuses it`, () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { job, run, node } = yield* stored
        const own = table === "ai_jobs" ? job : table === "workflow_runs" ? run : table === "workflow_node_executions" ? node : eventRow()
        const fresh = (overrides: Row): Row =>
          table === "ai_jobs"
            ? jobRow({ ...overrides })
            : table === "workflow_runs"
            ? runRow(String(job["id"]), overrides)
            : table === "workflow_node_executions"
            ? nodeRow(String(run["id"]), { sequence: 1, ...overrides })
            : eventRow(overrides)
        const before = yield* rawRows(`SELECT * FROM ${table} ORDER BY rowid`)
        for (const [, column, constraint] of textColumns.filter(([t]) => t === table)) {
          const valid = own[column] ?? (column.endsWith("_id") ? run["id"] : "a")
          // After the value (length() and GLOB stop there) and inside it.
          for (const value of [`${String(valid)}\u0000x`, `\u0000${String(valid)}`]) {
            const what = `${table}.${column} = ${JSON.stringify(value)}`
            assert.include(yield* refused(insert(table, fresh({ [column]: value })), what), constraint, what)
            if (table !== "flight_recorder_events") {
              const key = table === "ai_jobs" ? job["id"] : table === "workflow_runs" ? run["id"] : node["id"]
              assert.include(yield* refused(sql`UPDATE ${sql(table)} SET ${sql(column)} = ${value} WHERE id = ${String(key)}`, `UPDATE ${what}`), constraint, `UPDATE ${what}`)
            }
          }
        }
        assert.deepStrictEqual(yield* rawRows(`SELECT * FROM ${table} ORDER BY rowid`), before, "nothing stored or changed")
      }).pipe(Effect.provide(inMemoryStore)))
  }

  /** Each JSON column the store reads numbers from, a row putting `number` in it, and the constraint refusing a number past a double. */
  const numberColumns: ReadonlyArray<readonly [string, string, (number: string) => string, string]> = [
    ["ai_jobs", "job_inputs", (n) => `{"n":${n}}`, "ai_jobs_job_inputs_json"],
    ["ai_jobs", "job_outputs", (n) => `[${n}]`, "ai_jobs_job_outputs_json"],
    ["ai_jobs", "metrics", (n) => JSON.stringify(zeroMetrics).replace("\"duration_ms\":0", `"duration_ms":${n}`), "ai_jobs_metrics_valid"],
    ["ai_jobs", "backoff", (n) => `{"initial":1000,"factor":${n},"max":60000,"jitter":0}`, "ai_jobs_backoff_valid"],
    ["workflow_node_executions", "input_payload", (n) => n, "workflow_node_executions_input_payload_json"],
    ["workflow_node_executions", "output_payload", (n) => `{"deep":{"n":${n}}}`, "workflow_node_executions_output_payload_json"],
    ["flight_recorder_events", "body", (n) => `{"type":"system","n":${n}}`, "flight_recorder_events_body_object"]
  ]

  for (const [table, column, put, constraint] of numberColumns) {
    it.effect(`R16 a raw ${table}.${column} holding a JSON number past a double (1e400) is refused (${constraint}), as on PostgreSQL`, () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { job, run, node } = yield* stored
        const before = yield* rawRows(`SELECT * FROM ${table} ORDER BY rowid`)
        for (const [what, number] of pastDoubleNumbers) {
          const value = put(number)
          const row = table === "ai_jobs" ? jobRow({ [column]: value }) : table === "workflow_node_executions"
            ? nodeRow(String(run["id"]), { sequence: 1, [column]: value })
            : eventRow({ [column]: value })
          assert.include(yield* refused(insert(table, row), what), constraint, `${column} ${what}`)
          if (table !== "flight_recorder_events") {
            const key = table === "ai_jobs" ? job["id"] : node["id"]
            assert.include(yield* refused(sql`UPDATE ${sql(table)} SET ${sql(column)} = ${value} WHERE id = ${String(key)}`, what), constraint, `UPDATE ${column} ${what}`)
          }
        }
        assert.deepStrictEqual(yield* rawRows(`SELECT * FROM ${table} ORDER BY rowid`), before, "nothing stored or changed")
      }).pipe(Effect.provide(inMemoryStore)))
  }

  /** The columns holding any JSON the caller gives, a row putting `json` in it, and the constraint refusing text the domain cannot hold. */
  const payloadColumns: ReadonlyArray<readonly [string, string, (json: string) => string, string]> = [
    ["ai_jobs", "job_inputs", (j) => j, "ai_jobs_job_inputs_json"],
    ["ai_jobs", "job_outputs", (j) => `[${j}]`, "ai_jobs_job_outputs_json"],
    ["workflow_node_executions", "input_payload", (j) => j, "workflow_node_executions_input_payload_json"],
    ["workflow_node_executions", "output_payload", (j) => `{"deep":${j}}`, "workflow_node_executions_output_payload_json"],
    ["flight_recorder_events", "body", (j) => `{"type":"system","x":${j}}`, "flight_recorder_events_body_object"]
  ]

  it.effect("R16 raw JSON whose strings or keys decode to U+0000 or a lone surrogate is refused in every JSON column, as PostgreSQL's jsonb refuses it (0023, as 0021 in entity refs); other escapes are taken and read back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { job, run, node } = yield* stored
      for (const [table, column, put, constraint] of payloadColumns) {
        for (const [what, json] of unstorableJsonText) {
          const value = put(json)
          const row = table === "ai_jobs" ? jobRow({ [column]: value }) : table === "workflow_node_executions"
            ? nodeRow(String(run["id"]), { sequence: 1, [column]: value })
            : eventRow({ [column]: value })
          assert.include(yield* refused(insert(table, row), what), constraint, `${column} ${what}`)
          if (table !== "flight_recorder_events") {
            const key = table === "ai_jobs" ? job["id"] : node["id"]
            assert.include(yield* refused(sql`UPDATE ${sql(table)} SET ${sql(column)} = ${value} WHERE id = ${String(key)}`, what), constraint, `UPDATE ${column} ${what}`)
          }
        }
      }
      for (const [json, value] of storableJsonText) {
        const taken = jobRow({ job_inputs: json, job_outputs: `[${json}]` })
        yield* insert("ai_jobs", taken)
        const read = yield* store.getJob(JobId.make(String(taken["id"])))
        assert.deepStrictEqual([read.job_inputs, read.job_outputs], [value, [value]])
        yield* sql`UPDATE workflow_node_executions SET input_payload = ${json} WHERE id = ${String(node["id"])}`
        yield* insert("flight_recorder_events", eventRow({ body: `{"type":"system","x":${json}}` }))
      }
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 numbers a double holds, and strings spelling larger ones, are taken in every JSON column and read back by the store", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      const { run, node } = yield* stored
      for (const [what, json, value] of doubleNumbers) {
        const job = jobRow({ job_inputs: `{"n":${json}}`, job_outputs: `[${json}]` })
        yield* insert("ai_jobs", job)
        const read = yield* store.getJob(JobId.make(String(job["id"])))
        assert.deepStrictEqual([read.job_inputs, read.job_outputs], [{ n: value }, [value]], what)
        yield* sql`UPDATE workflow_node_executions SET input_payload = ${json}, output_payload = ${`{"deep":{"n":${json}}}`} WHERE id = ${String(node["id"])}`
        yield* insert("flight_recorder_events", eventRow({ body: `{"type":"system","n":${json}}` }))
      }
      const [nodeRead] = yield* store.listNodes(WorkflowRunId.make(String(run["id"])))
      assert.deepStrictEqual(nodeRead?.input_payload, { e999: 1, x: "release2024" })
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 a row stored before 0023 is not judged again: it still moves, and a new bad value is refused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TRIGGER ai_jobs_text_and_numbers_insert`
      const legacy = jobRow({ status_reason: "held\u0000", job_inputs: "{\"n\":1e400}" })
      yield* insert("ai_jobs", legacy)
      const id = String(legacy["id"])
      // The claimer's move, and a failing one: neither writes the legacy values.
      yield* sql`UPDATE ai_jobs SET status = 'running', status_reason = '', workflow_run_id = NULL, updated_at = '2025-01-01T00:00:00.000Z' WHERE id = ${id}`
      yield* sql`UPDATE ai_jobs SET job_inputs = job_inputs, status = 'failed', error_message = 'unreadable' WHERE id = ${id}`
      assert.deepStrictEqual(yield* rawRows("SELECT status, job_inputs FROM ai_jobs"), [{ status: "failed", job_inputs: "{\"n\":1e400}" }])
      assert.include(yield* refused(sql`UPDATE ai_jobs SET error_message = ${"x\u0000"} WHERE id = ${id}`, "a NUL"), "ai_jobs_error_message_text")
      assert.include(yield* refused(sql`UPDATE ai_jobs SET job_outputs = '[1e400]' WHERE id = ${id}`, "1e400"), "ai_jobs_job_outputs_json")
    }).pipe(Effect.provide(inMemoryStore)))
})

describe("SQLite event log is append-only (R10, R13)", () => {
  it.effect("R10 a raw UPDATE of an event is refused, whatever its age", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const event = eventRow({ timestamp: "2000-01-01T00:00:00.000Z" })
      yield* insert("flight_recorder_events", event)
      const message = yield* refused(sql`UPDATE flight_recorder_events SET actor = 'human' WHERE event_id = ${event["event_id"] ?? ""}`, "an UPDATE")
      assert.include(message, "append-only")
      assert.deepStrictEqual(yield* rawRows("SELECT actor FROM flight_recorder_events"), [{ actor: "system" }])
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R13 a raw DELETE of events outside a retention purge is refused, old or new", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insert("flight_recorder_events", eventRow({ timestamp: "2000-01-01T00:00:00.000Z" }))
      yield* insert("flight_recorder_events", eventRow())
      assert.include(yield* refused(sql`DELETE FROM flight_recorder_events`, "a DELETE of everything"), "append-only")
      assert.include(
        yield* refused(sql`DELETE FROM flight_recorder_events WHERE timestamp < '2001-01-01T00:00:00.000Z'`, "a DELETE of an old event"),
        "append-only"
      )
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM flight_recorder_events"), 2)
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R13 a retention grant allows deleting only events older than its cutoff", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* insert("flight_recorder_events", eventRow({ timestamp: "2000-01-01T00:00:00.000Z" }))
      yield* insert("flight_recorder_events", eventRow({ timestamp: "2030-01-01T00:00:00.000Z" }))
      const outcome = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('2010-01-01T00:00:00.000Z')`
        const newer = yield* refused(sql`DELETE FROM flight_recorder_events WHERE timestamp > '2020-01-01T00:00:00.000Z'`, "a DELETE newer than the grant")
        const old = yield* sql`DELETE FROM flight_recorder_events WHERE timestamp < '2010-01-01T00:00:00.000Z'`.raw
        yield* sql`DELETE FROM flight_recorder_retention_grants`
        return { newer, old }
      }))
      assert.include(outcome.newer, "append-only")
      assert.strictEqual((outcome.old as { readonly changes: number }).changes, 1)
      assert.deepStrictEqual(yield* rawRows("SELECT timestamp FROM flight_recorder_events"), [{ timestamp: "2030-01-01T00:00:00.000Z" }])
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM flight_recorder_retention_grants"), 0)
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R13 the store's purge leaves no retention grant behind", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      yield* store.appendEvents([eventRecord({ timestamp: at(0) }), eventRecord({ timestamp: at(5_000) })])
      assert.strictEqual(yield* store.purgeEventsBatch({ before: at(1_000), batchSize: 10 }), 1)
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM flight_recorder_retention_grants"), 0)
    }).pipe(Effect.provide(inMemoryStore)))
})

describe("SQLite schema health after migrations", () => {
  it.effect("R16 foreign_key_check and integrity_check are clean, foreign keys are on", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const job = yield* store.createJob(newJob())
      const run = yield* store.createRun(job.job_id)
      // Nodes start only in the job's active run.
      yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: run.id })
      yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "t" })
      assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
      assert.deepStrictEqual(yield* rawRows("PRAGMA integrity_check"), [{ integrity_check: "ok" }])
      assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_keys"), [{ foreign_keys: 1 }])
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 every query the store runs on a large table uses an index (no full scans of ai_jobs, runs or events)", () =>
    Effect.gen(function*() {
      const plans: ReadonlyArray<readonly [string, string]> = [
        ["stale scan", "SELECT * FROM workflow_runs WHERE status = 'running' AND last_heartbeat < 'x' ORDER BY last_heartbeat, id"],
        ["runs of a job", "SELECT * FROM workflow_runs WHERE job_id = 'x' ORDER BY created_at, id"],
        ["claim", "SELECT * FROM ai_jobs WHERE status = 'queued' AND job_kind IN ('doc_edit') ORDER BY created_at, id LIMIT 1"],
        ["jobs page", "SELECT * FROM ai_jobs WHERE (created_at, id) > ('x', 'y') ORDER BY created_at, id LIMIT 10"],
        ["jobs by trace", "SELECT * FROM ai_jobs WHERE trace_id = 'x' ORDER BY created_at, id"],
        ["nodes of a run", "SELECT * FROM workflow_node_executions WHERE workflow_run_id = 'x' ORDER BY sequence"],
        ["events page", "SELECT * FROM flight_recorder_events WHERE (timestamp, event_id) > ('x', 'y') ORDER BY timestamp, event_id LIMIT 10"],
        ["events of a job", "SELECT * FROM flight_recorder_events WHERE job_id = 'x' ORDER BY timestamp, event_id"],
        ["purge batch", "SELECT event_id FROM flight_recorder_events WHERE timestamp < 'x' ORDER BY timestamp, event_id LIMIT 10"]
      ]
      for (const [what, query] of plans) {
        const plan = yield* rawRows<{ readonly detail: string }>(`EXPLAIN QUERY PLAN ${query}`)
        const scans = plan.map((step) => step.detail).filter((detail) => /^SCAN (ai_jobs|workflow_runs|workflow_node_executions|flight_recorder_events)$/.test(detail))
        assert.deepStrictEqual(scans, [], `${what}: ${plan.map((step) => step.detail).join(" | ")}`)
      }
    }).pipe(Effect.provide(inMemoryStore)))
})

describe("SQLite rows corrupted behind the store's back (CorruptRow)", () => {
  /** Inserts a row with CHECK constraints switched off on this connection, as a careless tool might. */
  const insertUnchecked = (row: Row) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA ignore_check_constraints = ON`
      yield* Effect.ensuring(insert("ai_jobs", row), Effect.orDie(sql`PRAGMA ignore_check_constraints = OFF`))
    })

  const corruptions: ReadonlyArray<readonly [string, Row]> = [
    ["job_kind", { job_kind: "mystery_kind" }],
    ["status", { status: "paused" }],
    ["metrics", { metrics: JSON.stringify({ ...zeroMetrics, total_tokens: -5 }) }],
    ["created_at", { created_at: "2024-03-01 12:00:00" }],
    ["access_mode", { access_mode: "root" }]
  ]

  for (const [column, overrides] of corruptions) {
    it.effect(`R16 getJob reports a corrupt ${column} as CorruptRow naming ai_jobs, the row id and ${column}`, () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const row = jobRow(overrides)
        const id = String(row["id"])
        yield* insertUnchecked(row)
        const error = expectTag(yield* failureOf(store.getJob(JobId.make(id))), "CorruptRow")
        assert.strictEqual(error.table, "ai_jobs")
        assert.strictEqual(error.row_id, id)
        assert.strictEqual(error.column, column)
        assert.isAbove(error.issues.length, 0)
        assert.include(error.message, id)
        // Listing meets the same row and says the same.
        const listed = expectTag(yield* failureOf(store.listJobs()), "CorruptRow")
        assert.deepStrictEqual([listed.table, listed.row_id, listed.column], ["ai_jobs", id, column])
      }).pipe(Effect.provide(inMemoryStore)))
  }

  it.effect("R16 a job stored before 0023 with U+0000 in its text, 1e400 in its JSON or an escape decoding to U+0000 or a lone surrogate is a CorruptRow naming that column (what 0023 refuses)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* JobStore
      yield* sql`DROP TRIGGER ai_jobs_text_and_numbers_insert`
      for (const [column, value] of [["status_reason", "a\u0000b"], ["protocol_id", "p\u0000"], ["job_inputs", "{\"n\":1e400}"], ["job_outputs", "[-1e400]"], ["job_inputs", "{\"a\":\"x\\u0000\"}"], ["job_outputs", "[\"\\ud800\"]"]] as const) {
        const row = jobRow({ [column]: value })
        yield* insert("ai_jobs", row)
        const error = expectTag(yield* failureOf(store.getJob(JobId.make(String(row["id"])))), "CorruptRow")
        assert.deepStrictEqual([error.table, error.row_id, error.column], ["ai_jobs", String(row["id"]), column])
        yield* sql`DELETE FROM ai_jobs WHERE id = ${String(row["id"])}`
      }
    }).pipe(Effect.provide(inMemoryStore)))

  it.effect("R16 CHECK constraints are back on after the corrupting connection is done", () =>
    Effect.gen(function*() {
      yield* insertUnchecked(jobRow({ job_kind: "mystery_kind" }))
      assert.include(yield* refused(insert("ai_jobs", jobRow({ job_kind: "mystery_kind" })), "an unknown kind"), "ai_jobs_job_kind_valid")
    }).pipe(Effect.provide(inMemoryStore)))
})
