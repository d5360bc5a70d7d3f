/**
 * Issue 16 (h50): the SQLite row decode's shortcuts refuse what the decode
 * refused before. An instant is no longer checked again when its text is the
 * one the store just wrote or just read (rowCodec.ts), and a JSON column is
 * parsed and checked by `Json`'s own walk without the Schema around it: a
 * text that fails the check is still refused by hand, left to the row Schema
 * and reported as `CorruptRow` naming its column — whatever was written or
 * read just before it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { AiJob } from "../../src/domain/AiJob.js"
import { fastJob, JOB_COLUMNS, storedInstant } from "../../src/store/sqlite/rowCodec.js"
import { decode, JobFromRow } from "../../src/store/sqlite/rows.js"

const jobRow = Schema.encodeSync(JobFromRow)
const schemaJob = Schema.decodeUnknownSync(JobFromRow)
const stored: Record<string, unknown> = (() => {
  const encoded = jobRow(FastCheck.sample(Arbitrary.make(AiJob), { seed: 50, numRuns: 1 })[0]!) as Record<string, unknown>
  return Object.fromEntries(JOB_COLUMNS.map((column) => [column, encoded[column]]))
})()

/** The row is refused by hand and by the Schema, which names `column`. */
const refused = (row: Record<string, unknown>, column: string) => {
  assert.isUndefined(fastJob(row), `${column}: ${JSON.stringify(row[column])}`)
  const error = Effect.runSync(Effect.flip(decode.job(row)))
  assert.strictEqual(error._tag, "CorruptRow")
  assert.strictEqual(error.column, column, JSON.stringify(error.issues))
}

/** The row is not decoded by hand, and the store's decode answers as the Schema does (a legacy form decodes, else CorruptRow). */
const leftToSchema = (row: Record<string, unknown>, column: string) => {
  assert.isUndefined(fastJob(row), `${column}: ${JSON.stringify(row[column])}`)
  const outcome = Effect.runSync(Effect.either(decode.job(row)))
  const schema = Either.try(() => schemaJob(row))
  if (Either.isRight(schema)) assert.deepStrictEqual(Either.getOrThrow(outcome), schema.right)
  else {
    assert.isTrue(Either.isLeft(outcome))
    assert.strictEqual(Either.isLeft(outcome) ? outcome.left.column : undefined, column)
  }
}

/** The row is decoded by hand to exactly the Schema's value. */
const decodedAsSchema = (row: Record<string, unknown>) => {
  const fast = fastJob(row)
  assert.isDefined(fast)
  assert.deepStrictEqual(fast, schemaJob(row))
}

describe("issue 16 h50 the SQLite row decode's shortcuts refuse what it refused", () => {
  it("R7 an instant the store just wrote is read back as the Schema reads it, and refused when the Schema refuses it", () => {
    const inRange = DateTime.unsafeMake("2026-11-30T04:00:00.123Z")
    const text = storedInstant(inRange)
    // Read once (checked), then again (the memo): both the Schema's value.
    decodedAsSchema({ ...stored, updated_at: text })
    decodedAsSchema({ ...stored, updated_at: text, created_at: text, run_after: text })

    // Before 1970: a canonical text the store's range refuses, even right after writing it.
    const before = storedInstant(DateTime.unsafeMake("1969-12-31T23:59:59.999Z"))
    assert.strictEqual(before, "1969-12-31T23:59:59.999Z")
    refused({ ...stored, created_at: before }, "created_at")
    refused({ ...stored, created_at: before }, "created_at")
  })

  it("R7 an instant just read never lets a near text through: calendar-invalid and other forms are left to the Schema", () => {
    const valid = "2026-02-28T00:00:00.000Z"
    decodedAsSchema({ ...stored, created_at: valid, run_after: valid })
    for (const bad of ["2026-02-30T00:00:00.000Z", "2026-02-28T24:00:00.000Z", "2026-02-28 00:00:00", "2026-02-28T00:00:00Z"]) {
      leftToSchema({ ...stored, created_at: valid, run_after: bad }, "run_after")
      // The valid one still reads as before, after the refusal.
      decodedAsSchema({ ...stored, created_at: valid, run_after: valid })
    }
  })

  it("R7 R5 job inputs and outputs the Json rule refuses are refused by hand too, and CorruptRow names the column", () => {
    const tooDeep = "[".repeat(70) + "]".repeat(70)
    for (const column of ["job_inputs", "job_outputs"]) {
      for (const bad of ["{", "{\"__proto__\":1}", "\"\\ud800\"", "{\"a\\u0000\":1}", "\"nul \\u0000\"", tooDeep, "1e999"]) {
        refused({ ...stored, [column]: bad }, column)
      }
      // And what the rule accepts decodes as the Schema decodes it.
      for (const good of ["null", "{\"doc\":\"bench\",\"n\":[1,2.5,-0,true,null]}", "\"\\ud83d\\ude00\"", "[]"]) {
        decodedAsSchema({ ...stored, [column]: good })
      }
    }
  })
})
