/**
 * Issue 16: the PostgreSQL store's hand-built row decoders
 * (src/store/pg/rowCodec.ts) must be the row Schemas, only faster. For any
 * job and run the domain allows, the row `pg` hands back (Dates, parsed
 * jsonb) decodes by hand to exactly the Schema's value, fields in the same
 * order; rows read back from a real server do too. A row not in the store's
 * own form — a legacy alias, an upper-case id, a corrupt or odd column — is
 * left to the Schema: the fast tier never accepts a row the Schema refuses,
 * and never gives a different value.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import { EventRecord } from "../../src/domain/EventRecord.js"
import { WorkflowRunId } from "../../src/domain/Ids.js"
import { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { fastJob, fastRun, fastStalledRun } from "../../src/store/pg/rowCodec.js"
import { columns, decode, eventsText, JobRow, RunRow, StalledRunRow, toAiJob } from "../../src/store/pg/rows.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

const schemaJob = (row: unknown) => Either.map(Schema.decodeUnknownEither(JobRow)(row), toAiJob)
const schemaRun = Schema.decodeUnknownEither(RunRow)
/** The Schema's decode of a recovery row, as the port's `StalledRun` (the run, and its job's trace id). */
const schemaStalledRun = (row: unknown) =>
  Either.map(Schema.decodeUnknownEither(StalledRunRow)(row), ({ trace_id, ...run }) => ({ run, trace_id }))
const jobRowOf = ({ job_id, state, ...rest }: AiJob) => Schema.encodeSync(JobRow)({ ...rest, id: job_id, status: state })
const runRowOf = Schema.encodeSync(RunRow)

/** The fast decode is the Schema's: the same value, fields in the same order (when `taken`, it must take the row). */
const sameAsSchema = <A>(
  fast: (row: unknown) => A | undefined,
  schema: (row: unknown) => Either.Either<A, unknown>,
  row: unknown,
  taken: boolean
) => {
  const value = fast(row)
  const expected = schema(row)
  if (taken) assert.isDefined(value, "a row in the store's own form takes the fast path")
  if (value === undefined) return
  assert.isTrue(Either.isRight(expected), "the fast tier accepted a row the Schema refuses")
  if (Either.isRight(expected)) {
    assert.deepStrictEqual(value, expected.right)
    assert.deepStrictEqual(Object.keys(value as object), Object.keys(expected.right as object), "fields in the Schema's order")
  }
}

/** A job row with one column replaced. */
const withColumn = (row: Record<string, unknown>, column: string, value: unknown) => ({ ...row, [column]: value })

const JOB = Schema.decodeUnknownSync(AiJob)({
  job_id: "0192a0e0-0000-7000-8000-000000000001",
  trace_id: "0192a0e0-0000-7000-8000-000000000002",
  workflow_run_id: null,
  job_kind: "doc_summarize",
  state: "queued",
  protocol_id: "p",
  profile_id: "Analyst",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal",
  entity_refs: [],
  planned_operations: [],
  metrics: {},
  status_reason: "",
  error_message: null,
  job_inputs: { doc: "x" },
  job_outputs: null,
  is_pinned: false,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  attempt: 1,
  max_attempts: 1,
  run_after: "2026-01-01T00:00:00.000Z",
  priority: 0
})

describe("issue 16 PostgreSQL hand-built row decoders are the row Schemas", () => {
  it("issue 16 any job: the row pg returns decodes by hand to the Schema's value", () =>
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(AiJob), (job) => sameAsSchema(fastJob, schemaJob, jobRowOf(job), true)),
      { numRuns: 300 }
    ))

  it("issue 16 any run: the row pg returns decodes by hand to the Schema's value", () =>
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(WorkflowRun), (run) => sameAsSchema(fastRun, schemaRun, runRowOf(run), true)),
      { numRuns: 300 }
    ))

  it("issue 16 any event records: the hand-built jsonb parameter is the Schema's encoding", () =>
    FastCheck.assert(
      FastCheck.property(FastCheck.array(Arbitrary.make(EventRecord), { maxLength: 3 }), (events) => {
        const json = eventsText(events)
        assert.strictEqual(json, JSON.stringify(Schema.encodeSync(Schema.Array(EventRecord))(events)))
      }),
      { numRuns: 200 }
    ))

  it("issue 16 odd and hostile job rows go to the Schema: never accepted when it refuses, never a different value", () => {
    const row = jobRowOf(JOB) as unknown as Record<string, unknown>
    sameAsSchema(fastJob, schemaJob, row, true)
    const odd: ReadonlyArray<readonly [string, unknown]> = [
      ["id", "0192A0E0-0000-7000-8000-000000000001"], // upper case: the Schema canonicalises
      ["id", "00000000-0000-0000-0000-000000000000"],
      ["id", 42],
      ["trace_id", null],
      ["workflow_run_id", "not-a-uuid"],
      ["job_kind", "term_exec"], // the legacy alias: the Schema maps it
      ["job_kind", "no_such_kind"],
      ["status", "RUNNING"],
      ["protocol_id", "bad\u0000text"],
      ["profile_id", "\uD800"],
      ["status_reason", 7],
      ["error_message", undefined],
      ["access_mode", null],
      ["entity_refs", [{ entity_id: "", entity_kind: "doc" }]],
      ["entity_refs", [{ entity_id: "a", entity_kind: "doc" }]],
      ["entity_refs", {}],
      ["planned_operations", [{ op_type: "destroy", target: { entity_id: "a", entity_kind: "b" } }]],
      ["metrics", { duration_ms: 0, total_tokens: 0, input_tokens: 0, output_tokens: 0, tokens_planner: 0, tokens_executor: 0, extra: 1 }],
      ["metrics", { total_tokens: 5 }],
      ["metrics", { total_tokens: -1 }],
      ["metrics", { total_tokens: 1.5 }],
      ["metrics", []],
      ["metrics", null],
      ["job_inputs", { ["__proto__"]: 1 }],
      ["job_inputs", { deep: [[[[{ a: "\u0000" }]]]] }],
      ["job_inputs", Number.POSITIVE_INFINITY],
      ["job_outputs", "text"],
      ["is_pinned", 1],
      ["is_pinned", "true"],
      ["created_at", new Date(Number.NaN)],
      ["created_at", new Date("1969-12-31T23:59:59.999Z")],
      ["created_at", new Date("9999-12-31T23:59:59.999Z")],
      ["updated_at", "2026-01-01T00:00:00.000Z"],
      ["run_after", null],
      ["attempt", 0],
      ["attempt", "1"], // int8 as text
      ["attempt", 1.5],
      ["max_attempts", 1_000_001],
      ["priority", 32768],
      ["priority", -32768],
      ["backoff", { base_ms: 10 }],
      ["backoff", "fast"]
    ]
    for (const [column, value] of odd) sameAsSchema(fastJob, schemaJob, withColumn(row, column, value), false)
    for (const hostile of [null, undefined, 1, "row", [], {}]) sameAsSchema(fastJob, schemaJob, hostile, false)
    // A corrupt column still ends as the Schema's CorruptRow naming it.
    const corrupt = Effect.runSync(Effect.flip(decode.aiJob(withColumn(row, "priority", 40000))))
    assert.strictEqual(corrupt._tag, "CorruptRow")
    assert.strictEqual(corrupt.column, "priority")
  })

  it("issue 16 odd and hostile run rows go to the Schema", () => {
    const row = runRowOf({ id: WorkflowRunId.make(JOB.job_id), job_id: JOB.job_id, status: "running", last_heartbeat: JOB.created_at, error_message: null, created_at: JOB.created_at, updated_at: JOB.updated_at }) as unknown as Record<string, unknown>
    sameAsSchema(fastRun, schemaRun, row, true)
    for (const [column, value] of [
      ["id", "0192A0E0-0000-7000-8000-000000000001"],
      ["status", "bogus"],
      ["last_heartbeat", new Date(Number.NaN)],
      ["last_heartbeat", new Date(-1)],
      ["error_message", "\u0000"],
      ["created_at", 0]
    ] as const) sameAsSchema(fastRun, schemaRun, withColumn(row, column, value), false)
  })

  it("issue 16 recovery's run rows (a run with its job's trace id) decode by hand to the Schema's value; odd ones go to the Schema", () => {
    const run = runRowOf({ id: WorkflowRunId.make(JOB.job_id), job_id: JOB.job_id, status: "running", last_heartbeat: JOB.created_at, error_message: null, created_at: JOB.created_at, updated_at: JOB.updated_at }) as unknown as Record<string, unknown>
    const row = { ...run, trace_id: JOB.trace_id }
    sameAsSchema(fastStalledRun, schemaStalledRun, row, true)
    for (const [column, value] of [
      ["trace_id", "0192A0E0-0000-7000-8000-000000000002"],
      ["trace_id", "00000000-0000-0000-0000-000000000000"],
      ["trace_id", null],
      ["id", "not-a-uuid"],
      ["last_heartbeat", new Date(Number.NaN)]
    ] as const) sameAsSchema(fastStalledRun, schemaStalledRun, withColumn(row, column, value), false)
  })

  it("issue 16 recovery's batch decode: rows by hand and odd ones through the Schema, in order; the first row the Schema refuses fails it", () => {
    const run = runRowOf({ id: WorkflowRunId.make(JOB.job_id), job_id: JOB.job_id, status: "running", last_heartbeat: JOB.created_at, error_message: null, created_at: JOB.created_at, updated_at: JOB.updated_at }) as unknown as Record<string, unknown>
    const row = { ...run, trace_id: JOB.trace_id }
    const upper = withColumn(row, "id", "0192A0E0-0000-7000-8000-00000000000A") // the Schema canonicalises, the fast tier refuses
    assert.isUndefined(fastStalledRun(upper))
    const rows = [row, upper, withColumn(row, "error_message", "lost")]
    const decoded = Effect.runSync(decode.stalledRuns(rows))
    assert.deepStrictEqual(decoded, rows.map((r) => Either.getOrThrow(schemaStalledRun(r))))
    assert.strictEqual(decoded[1]!.run.id, "0192a0e0-0000-7000-8000-00000000000a")
    const corrupt = Effect.runSync(Effect.flip(decode.stalledRuns([row, upper, withColumn(row, "status", "bogus"), withColumn(row, "last_heartbeat", 0)])))
    assert.strictEqual(corrupt._tag, "CorruptRow")
    assert.strictEqual(corrupt.column, "status", "the first refused row names its column, as a decode row by row would")
    assert.deepStrictEqual(Effect.runSync(decode.stalledRuns([])), [])
  })

  it.scoped("issue 16 rows read back from a real PostgreSQL server (a whole lifecycle, metrics and outputs written) decode by hand to the Schema's value", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("row codec")
      const context = yield* Layer.build(services(PgStore.layer({ url })))
      const jobs = Effect.provide(Jobs, context)
      const store = Effect.provide(JobStore, context)
      const service = yield* jobs
      const jobStore = yield* store
      yield* service.submit(newJob({ entity_refs: [{ entity_id: "doc-1", entity_kind: "doc" }], job_inputs: { n: [1, 2.5, "x", null, { k: true }] } }))
      const claim = yield* service.claimNext()
      assert.isNotNull(claim)
      yield* jobStore.heartbeat(claim!.run.id)
      yield* service.addMetrics(claim!.job.job_id, { total_tokens: 12, duration_ms: 3 })
      yield* jobStore.updateJob(claim!.job.job_id, { job_outputs: { answer: "ok" } })
      yield* service.complete(claim!.job.job_id)
      yield* service.submit(newJob())
      const raw = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.all({
            jobs: sql.unsafe(`SELECT ${columns.job} FROM ai_jobs`),
            runs: sql.unsafe(`SELECT ${columns.run} FROM workflow_runs`)
          })),
        PgClient.layer({ url: Redacted.make(url) })
      )
      assert.strictEqual(raw.jobs.length, 2)
      assert.strictEqual(raw.runs.length, 1)
      for (const row of raw.jobs) sameAsSchema(fastJob, schemaJob, row, true)
      for (const row of raw.runs) sameAsSchema(fastRun, schemaRun, row, true)
    }), { timeout: 120_000 })
})
