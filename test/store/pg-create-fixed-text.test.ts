/**
 * Issue 16, h59: `createJob` with records on PostgreSQL sends a statement
 * whose text was compiled once (`auditedFixed`, pg/context.ts) instead of
 * building and compiling a `sql` template per call. It must be the very
 * statement the general `audited` path builds from the same INSERT and
 * records — the same text byte for byte, the same parameters in the same
 * order — outside a transaction (the store's held connections) and inside
 * one (the transaction's connection). Every statement is read off the real
 * `pg` driver talking to the test server (`Client.prototype.query` wrapped,
 * nothing mocked). That the rows it stores match the other writers' is
 * pg-create-fast-path.test.ts's; a taken id, the contract suite's.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { NewAiJobInput } from "../../src/domain/AiJob.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import { makeContext } from "../../src/store/pg/context.js"
import { insertJob } from "../../src/store/pg/jobs.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { eventRecord, ids, newJob } from "./fixtures.js"
import { named, sentStatements } from "./pg-plans.js"

/** `effect`, and the one INSERT of a job it sent (its text and parameters, as handed to `pg`). */
const sentInsert = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(sentStatements(effect), ({ sent }) => {
    const inserts = named(sent, /INSERT INTO ai_jobs/)
    assert.strictEqual(inserts.length, 1, "one statement writes the job")
    return inserts[0]!
  })

const variants: ReadonlyArray<Partial<NewAiJobInput>> = [
  {},
  { job_inputs: { doc: "e\u0301 😀", n: [1, null, true] }, status_reason: "reason", is_pinned: true },
  {
    priority: -5,
    max_attempts: 4,
    run_after: DateTime.unsafeMake("2031-01-02T03:04:05.678Z"),
    backoff: { initial: 1_500, factor: 3, max: 60_000, jitter: 0.25 },
    entity_refs: [{ entity_id: "doc-1", entity_kind: "doc" }],
    planned_operations: [{ op_type: "read", target: { entity_id: "doc-1", entity_kind: "doc" } }]
  }
]

describe("issue 16 h59 PostgreSQL createJob with records: its statement compiled once", () => {
  it.scoped("issue 16 h59 createJob with records sends byte for byte the statement audited builds from the same INSERT and records, outside and inside a transaction", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("create fixed text")
      const store = yield* Effect.provide(JobStore, yield* Layer.build(PgStore.layer({ url })))
      const sql = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
      // The general path, as createJob built its statement before: a `sql` template of the INSERT and the records.
      const general = makeContext(sql)
      const viaAudited = (params: ReadonlyArray<unknown>, records: ReadonlyArray<EventRecord>) =>
        general.audited({
          steps: [["created", sql(insertJob.template, ...params)]],
          events: auditWith(records),
          known: "the job",
          result: () => Effect.succeed("the job")
        })
      const records = (jobId: string, traceId: string, count: number) =>
        Array.from({ length: count }, () => eventRecord({ job_id: jobId as never, trace_id: traceId as never }))

      for (const variant of variants) {
        for (const count of [1, 2, 3]) {
          for (const inTransaction of [false, true]) {
            const traceId = ids.trace()
            const [fixedId, generalId] = [ids.job(), ids.job()]
            const create = store.createJob(
              newJob({ ...variant, job_id: fixedId, trace_id: traceId } as Partial<NewAiJobInput>),
              { events: auditWith(records(fixedId, traceId, count)) }
            )
            const fixed = yield* sentInsert(inTransaction ? store.transaction(create) : create)
            const label = `${JSON.stringify(variant)}, ${count} records${inTransaction ? ", in a transaction" : ""}`
            // The same parameters for another job id, and that job's own records (the last parameter).
            const params = [generalId, ...fixed.values.slice(1, -1)]
            const built = yield* sentInsert(viaAudited(params, records(generalId, traceId, count)))
            assert.strictEqual(fixed.text, built.text, `the same text, ${label}`)
            assert.strictEqual(fixed.values.length, built.values.length, `as many parameters, ${label}`)
            assert.deepStrictEqual(fixed.values.slice(1, -1), built.values.slice(1, -1), `the same parameters, ${label}`)
            assert.strictEqual(fixed.values[0], fixedId)
            // The records' one jsonb parameter, last: this job's records.
            const stored = JSON.parse(fixed.values.at(-1) as string) as ReadonlyArray<{ readonly job_id: string }>
            assert.deepStrictEqual(stored.map((record) => record.job_id), Array.from({ length: count }, () => fixedId), label)
            assert.isTrue(fixed.text.trimStart().startsWith("WITH \"created\" AS ("), label)
          }
        }
      }
    }), { timeout: 120_000 })
})
