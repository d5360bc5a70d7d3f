/**
 * Issue 16: the SQLite store's hand-built row codecs (src/store/sqlite/rowCodec.ts)
 * must be the row Schemas, only faster. For any job, run and event the
 * domain allows, the hand-built encode writes exactly the Schema's row, and
 * the hand-built decode of that row gives exactly the Schema's value (same
 * fields, same order). A row not in the store's own form is left to the
 * Schema: decoded the same way when it is valid (a legacy alias, an
 * upper-case id), a `CorruptRow` naming the column when it is not.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import { EventRecord } from "../../src/domain/EventRecord.js"
import { WorkflowRun } from "../../src/domain/WorkflowRun.js"
import {
  EVENT_COLUMNS,
  eventValues,
  fastJob,
  fastRun,
  JOB_COLUMNS,
  jobValues,
  RUN_COLUMNS,
  runValues
} from "../../src/store/sqlite/rowCodec.js"
import { decode, EventRow, JobFromRow, RunRow } from "../../src/store/sqlite/rows.js"

const schemaJob = Schema.decodeUnknownSync(JobFromRow)
const schemaRun = Schema.decodeUnknownSync(RunRow)
const jobRow = Schema.encodeSync(JobFromRow)
const runRow = Schema.encodeSync(RunRow)
const eventRow = Schema.encodeSync(EventRow)

/** The row a statement gives back: the columns in table order, as the Schema encodes them. */
const rowOf = (columns: ReadonlyArray<string>, encoded: Record<string, unknown>) =>
  Object.fromEntries(columns.map((column) => [column, encoded[column]]))

const RUNS = { numRuns: 300 }

/**
 * For any value of `schema`: the hand-built row values are the row Schema's
 * encode, column by column, and the fast decode of that row is the Schema's
 * decode, fields in the same order.
 */
const sameAsSchema = <A, I>(codec: {
  readonly schema: Schema.Schema<A, I>
  readonly columns: ReadonlyArray<string>
  readonly values: (value: A) => ReadonlyArray<unknown>
  readonly encode: (value: A) => unknown
  readonly decode: (row: unknown) => A
  readonly fast: (row: unknown) => A | undefined
}) =>
  FastCheck.assert(
    FastCheck.property(Arbitrary.make(codec.schema), (value) => {
      const encoded = codec.encode(value) as Record<string, unknown>
      assert.deepStrictEqual(codec.values(value), codec.columns.map((column) => encoded[column]))
      const row = rowOf(codec.columns, encoded)
      const fast = codec.fast(row)
      assert.isDefined(fast, "a row the store wrote takes the fast path")
      const expected = codec.decode(row)
      assert.deepStrictEqual(fast, expected)
      assert.deepStrictEqual(Object.keys(fast ?? {}), Object.keys(expected as object), "fields in the Schema's order")
    }),
    RUNS
  )

describe("issue 16 SQLite hand-built row codecs are the row Schemas", () => {
  it("issue 16 any job: the hand-built row is the Schema's, and its fast decode is the Schema's decode", () =>
    sameAsSchema({ schema: AiJob, columns: JOB_COLUMNS, values: jobValues, encode: jobRow, decode: schemaJob, fast: fastJob }))

  it("issue 16 any run: the hand-built row is the Schema's, and its fast decode is the Schema's decode", () =>
    sameAsSchema({ schema: WorkflowRun, columns: RUN_COLUMNS, values: runValues, encode: runRow, decode: schemaRun, fast: fastRun }))

  it("issue 16 any event record: the hand-built row is the Schema's", () =>
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(EventRecord), (event) => {
        const encoded = eventRow(event) as unknown as Record<string, unknown>
        assert.deepStrictEqual<ReadonlyArray<unknown>>(eventValues(event), EVENT_COLUMNS.map((column) => encoded[column]))
      }),
      RUNS
    ))

  const stored = rowOf(JOB_COLUMNS, jobRow(FastCheck.sample(Arbitrary.make(AiJob), { seed: 16, numRuns: 1 })[0]!) as never)

  it("issue 16 a valid row not in the store's own form is left to the Schema, which decodes it", () => {
    for (
      const variant of [
        { job_kind: "term_exec" },
        { id: String(stored.id).toUpperCase() }
      ]
    ) {
      const row = { ...stored, ...variant }
      assert.isUndefined(fastJob(row), JSON.stringify(variant))
      const decoded = Effect.runSync(Effect.either(decode.job(row)))
      assert.isTrue(Either.isRight(decoded), JSON.stringify(variant))
      assert.deepStrictEqual(Either.getOrThrow(decoded), schemaJob(row))
    }
  })

  it("R7 issue 16 a corrupt job or run row is never decoded by hand: CorruptRow names its column", () => {
    const corrupt: ReadonlyArray<readonly [string, unknown]> = [
      ["created_at", "2026-02-30T00:00:00.000Z"],
      ["updated_at", "2026-01-01T24:00:00.000Z"],
      ["run_after", "2026-01-01 00:00:00"],
      ["metrics", JSON.stringify({ duration_ms: -1 })],
      ["metrics", "{"],
      ["entity_refs", JSON.stringify([{ nope: 1 }])],
      ["job_inputs", "[1,"],
      ["is_pinned", 2],
      ["status", "stalling"],
      ["status_reason", "nul \u0000 here"],
      ["trace_id", "00000000-0000-0000-0000-000000000000"],
      ["attempt", 0],
      ["priority", 1.5]
    ]
    for (const [column, value] of corrupt) {
      const row = { ...stored, [column]: value }
      assert.isUndefined(fastJob(row), column)
      const error = Effect.runSync(Effect.flip(decode.job(row)))
      assert.strictEqual(error._tag, "CorruptRow")
      assert.strictEqual(error.table, "ai_jobs")
      assert.strictEqual(error.column, column, JSON.stringify(error.issues))
    }
    const run = rowOf(RUN_COLUMNS, runRow(FastCheck.sample(Arbitrary.make(WorkflowRun), { seed: 16, numRuns: 1 })[0]!) as never)
    const badRun = { ...run, last_heartbeat: "yesterday" }
    assert.isUndefined(fastRun(badRun))
    const error = Effect.runSync(Effect.flip(decode.run(badRun)))
    assert.strictEqual(error._tag, "CorruptRow")
    assert.strictEqual(error.column, "last_heartbeat")
  })
})
