/**
 * Issue 15.1, migration 0009 on both dialects: a job's own backoff is a
 * column; a legacy reference database upgrades in place with none (NULL: its
 * kind's); the database itself refuses a backoff that is not the stored form
 * (an object with exactly `initial`, `factor`, `max`, `jitter`, each a number
 * in range), and keeps a good one.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgStore.js"
import { buildReferencePg, referenceCounts, writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { startedJob } from "./fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { refusalOf } from "./pg-support.js"
import { rawNumber, rawRows, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

const good = { initial: 2000, factor: 1.5, max: 60_000, jitter: 0.25 }

/** Each backoff the database must refuse, as JSON text. */
const refused = [
  "[1, 2, 3, 4]",
  "\"fast\"",
  JSON.stringify({ initial: 2000, factor: 1.5, max: 60_000 }),
  JSON.stringify({ ...good, extra: 1 }),
  JSON.stringify({ ...good, initial: -1 }),
  JSON.stringify({ ...good, initial: "2000" }),
  JSON.stringify({ ...good, max: 31_536_000_001 }),
  JSON.stringify({ ...good, factor: 0.5 }),
  JSON.stringify({ ...good, jitter: 1.5 }),
  JSON.stringify({ ...good, jitter: null })
]

describe("issue 15.1 migration 0009: a job's own backoff is a column", () => {
  it.effect("issue 15.1 SQLite: a reference database upgrades in place — every job without a backoff of its own", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      yield* Effect.gen(function*() {
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE backoff IS NULL"), referenceCounts.ai_jobs)
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  it.effect("issue 15.1 SQLite: the database refuses a backoff that is not the stored form, and keeps a good one", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.gen(function*() {
        const { job } = yield* startedJob()
        const before = yield* rawRows(`SELECT * FROM ai_jobs WHERE id = ?`, [job.job_id])
        for (const text of [...refused, "not json", "{\"initial\": 1"]) {
          const result = yield* Effect.either(rawRows(`UPDATE ai_jobs SET backoff = ? WHERE id = ?`, [text, job.job_id]))
          assert.strictEqual(result._tag, "Left", `refused: ${text}`)
        }
        const blob = yield* Effect.either(rawRows(`UPDATE ai_jobs SET backoff = 7 WHERE id = ?`, [job.job_id]))
        assert.strictEqual(blob._tag, "Left", "refused: a number")
        assert.deepStrictEqual(yield* rawRows(`SELECT * FROM ai_jobs WHERE id = ?`, [job.job_id]), before)
        yield* rawRows(`UPDATE ai_jobs SET backoff = ? WHERE id = ?`, [JSON.stringify(good), job.job_id])
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  const onDatabase = (url: string) => Layer.merge(PgStore.layer({ url }), rawPgClient(url))

  it.effect("issue 15.1 PostgreSQL: a reference database upgrades in place — every job without a backoff of its own", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("0009 reference")
      yield* Effect.provide(buildReferencePg, rawPgClient(url))
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ readonly n: string }>`SELECT count(*) AS n FROM ai_jobs WHERE backoff IS NULL`
        assert.strictEqual(Number(row?.n), referenceCounts.ai_jobs)
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)

  it.effect("issue 15.1 PostgreSQL: the database refuses a backoff that is not the stored form, and keeps a good one", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("0009 checks")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { job } = yield* startedJob()
        const snapshot = sql`SELECT to_jsonb(j)::text AS row FROM ai_jobs j WHERE id = ${job.job_id}`
        const before = yield* snapshot
        for (const text of refused) {
          const refusal = yield* refusalOf(sql.unsafe(`UPDATE ai_jobs SET backoff = $1::jsonb WHERE id = $2`, [text, job.job_id]))
          assert.strictEqual(refusal.code, "23514", `refused: ${text}`)
        }
        assert.deepStrictEqual(yield* snapshot, before)
        yield* sql.unsafe(`UPDATE ai_jobs SET backoff = $1::jsonb WHERE id = $2`, [JSON.stringify(good), job.job_id])
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)
})
