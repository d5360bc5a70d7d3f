/**
 * Issue 16, create one at a time on PostgreSQL: a `createJob` without caller
 * records is sent as one fixed INSERT text, its payload's JSON text given by
 * `JSON.stringify` of the value the port decoded (`encodeJson.portPayload`)
 * instead of a second walk through the `Json` Schema. It must store exactly
 * what the other writers store — `createJob` with caller records (the
 * audited statement, built from the `sql` template) and `createJobs` (its own
 * batch statement) — column for column as PostgreSQL's text, for varied jobs;
 * and bad input is still refused with a typed error, writing nothing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { NewAiJobInput } from "../../src/domain/AiJob.js"
import { Json } from "../../src/domain/Json.js"
import { MAX_ATTEMPTS_LIMIT } from "../../src/domain/RetryPolicy.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { columns, encodeJson } from "../../src/store/pg/rows.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { eventRecord, expectTag, failureOf, ids, newJob } from "./fixtures.js"

const decodeJson = Schema.decodeUnknownSync(Json)

/** Payloads at the edges of what `Json` allows: unicode (NFD kept as given), -0, extreme numbers, nesting, odd keys. */
const edgePayloads: ReadonlyArray<unknown> = [
  null,
  {},
  [],
  { n: -0, max: Number.MAX_VALUE, tiny: Number.MIN_VALUE, big: Number.MAX_SAFE_INTEGER, neg: -1.5e-300 },
  { "clé": "e\u0301 é 😀 \u2028 \"quoted\" \\ \n\t", "": "", "\u00e9": ["\u0065\u0301", { deep: [[[{ x: [true, false, null] }]]] }] },
  "just text",
  12.5,
  [1, "two", [3, { four: 4 }]]
]

describe("issue 16 PostgreSQL createJob fast path", () => {
  it("issue 16 portPayload gives the Json Schema encode's text for every payload the port decodes", () => {
    for (const payload of edgePayloads) {
      const decoded = decodeJson(payload)
      assert.strictEqual(encodeJson.portPayload(decoded), Effect.runSync(encodeJson.payload(decoded)))
    }
    FastCheck.assert(
      FastCheck.property(FastCheck.jsonValue({ maxDepth: 4 }), (value) => {
        let decoded: Json
        try {
          decoded = decodeJson(value)
        } catch {
          return // refused at the port: never reaches the store
        }
        assert.strictEqual(encodeJson.portPayload(decoded), Effect.runSync(encodeJson.payload(decoded)))
      }),
      { numRuns: 500 }
    )
  })

  it.scoped("issue 16 a createJob without records stores, column for column, what createJob with records and createJobs store; bad input is refused typed and writes nothing", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("create fast path")
      const store = yield* Effect.provide(JobStore, yield* Layer.build(PgStore.layer({ url })))
      const raw = yield* Effect.provide(SqlClient.SqlClient, yield* Layer.build(rawPgClient(url)))
      const asText = columns.job.split(", ").map((column) => `${column}::text AS ${column}`).join(", ")
      const rowOf = (jobId: string) =>
        Effect.map(raw.unsafe<Record<string, string | null>>(`SELECT ${asText} FROM ai_jobs WHERE id = $1`, [jobId]), (rows) => {
          assert.strictEqual(rows.length, 1, `one row for ${jobId}`)
          // The id is each writer's own; everything else must match byte for byte.
          const { id: _id, ...rest } = rows[0]!
          return rest
        })
      const countJobs = Effect.map(raw.unsafe<{ n: string }>("SELECT count(*)::text AS n FROM ai_jobs"), (rows) => rows[0]!.n)

      const variants: ReadonlyArray<Partial<NewAiJobInput>> = [
        {},
        ...edgePayloads.map((job_inputs) => ({ job_inputs } as Partial<NewAiJobInput>)),
        {
          status_reason: "Cafe\u0301 — résumé 😀",
          is_pinned: true,
          entity_refs: [{ entity_id: "doc-\u00e9", entity_kind: "doc" }, { entity_id: "doc-2", entity_kind: "doc" }],
          planned_operations: [
            { op_type: "read", target: { entity_id: "doc-1", entity_kind: "doc" }, description: "lire e\u0301" },
            { op_type: "write", target: { entity_id: "doc-2", entity_kind: "doc" } }
          ]
        },
        {
          priority: 32767,
          max_attempts: MAX_ATTEMPTS_LIMIT,
          run_after: DateTime.unsafeMake("9999-12-31T23:59:59.999Z"),
          backoff: { initial: 1_500, factor: 3, max: 60_000, jitter: 0.25 },
          job_inputs: { n: Number.MAX_VALUE }
        },
        { priority: -32768, max_attempts: 1, run_after: DateTime.unsafeMake("1970-01-01T00:00:00.000Z") },
        { job_kind: "terminal_exec", access_mode: "apply_scoped", safety_mode: "strict", capability_profile_id: "Coder" }
      ]
      for (const variant of variants) {
        const traceId = ids.trace()
        const job = (jobId: string) => newJob({ ...variant, job_id: jobId, trace_id: traceId } as Partial<NewAiJobInput>)
        const [plain, audited, batched] = [ids.job(), ids.job(), ids.job()]
        // All three at the same instant (the TestClock's): created_at and updated_at must match too.
        const created = yield* store.createJob(job(plain))
        const withRecords = yield* store.createJob(job(audited), { events: auditWith([eventRecord({ job_id: audited, trace_id: traceId })]) })
        yield* store.createJobs([job(batched)])
        const expected = yield* rowOf(plain)
        assert.deepStrictEqual(yield* rowOf(audited), expected, `createJob with records, ${JSON.stringify(variant)}`)
        assert.deepStrictEqual(yield* rowOf(batched), expected, `createJobs, ${JSON.stringify(variant)}`)
        assert.deepStrictEqual({ ...withRecords, job_id: plain }, created, "both return the same job")
        assert.deepStrictEqual(yield* store.getJob(plain), created, "reads back what it returned")
      }

      // A taken id: AlreadyExists, and the stored job is untouched.
      const takenId = ids.job()
      yield* store.createJob(newJob({ job_id: takenId, job_inputs: { first: true } }))
      const before = yield* rowOf(takenId)
      const count = yield* countJobs
      const taken = expectTag(yield* failureOf(store.createJob(newJob({ job_id: takenId, job_inputs: { second: true } }))), "AlreadyExists")
      assert.deepStrictEqual({ entity: taken.entity, id: taken.id }, { entity: "job", id: takenId })
      assert.deepStrictEqual(yield* rowOf(takenId), before)
      assert.strictEqual(yield* countJobs, count)

      // Input the port refuses: a typed DecodeFailure, and no row.
      const good = newJob()
      for (const bad of [
        { ...good, job_inputs: { n: Number.NaN } },
        { ...good, job_inputs: { s: "lone \ud800" } },
        { ...good, job_inputs: JSON.parse("{\"__proto__\": 1}") },
        { ...good, priority: 32768 },
        { ...good, status_reason: "nul \u0000" }
      ]) {
        expectTag(yield* failureOf(store.createJob(bad as never)), "DecodeFailure")
        assert.strictEqual(yield* countJobs, count, `nothing written for ${JSON.stringify(bad)}`)
      }
    }), { timeout: 120_000 })
})
