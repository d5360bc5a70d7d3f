/**
 * R16 issue 12: one legacy timestamp text upgrades to one instant on both
 * stores. The domain keeps milliseconds; a finer legacy fraction is cut
 * (PostgreSQL's date_trunc), never rounded: `.123999` is `.123`, and
 * `.999999999` stays in its second. Extra legacy jobs carrying these texts
 * are added to a legacy database (SQLite and PostgreSQL alike) before it
 * upgrades; `expectLegacyInstants` then reads each back through the store.
 */
import { assert } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"

/** A legacy text and the instant it must become. */
interface InstantCase {
  readonly text: string
  readonly instant: string
}

/** The cases, as legacy `created_at` texts; each job's `updated_at` is the plain case's text. */
export const legacyInstantCases: ReadonlyArray<InstantCase> = [
  // SQLite's strftime rounded this one to .124.
  { text: "2026-01-10 10:00:00.123999", instant: "2026-01-10T10:00:00.123Z" },
  { text: "2026-01-10T10:00:05.123999999+00:00", instant: "2026-01-10T10:00:05.123Z" },
  // Rounding (SQLite's parse, PostgreSQL's cast to microseconds) would carry into the next second, minute, year.
  { text: "2026-01-10T10:00:05.999999999+00:00", instant: "2026-01-10T10:00:05.999Z" },
  { text: "2026-01-10T10:00:59.9999995Z", instant: "2026-01-10T10:00:59.999Z" },
  { text: "2026-12-31T23:59:59.999999999Z", instant: "2026-12-31T23:59:59.999Z" },
  { text: "2026-01-10T12:00:00.0005+02:00", instant: "2026-01-10T10:00:00.000Z" },
  { text: "2026-01-10T10:00:00.5Z", instant: "2026-01-10T10:00:00.500Z" },
  { text: "2026-01-10 10:00:00", instant: "2026-01-10T10:00:00.000Z" }
]

const caseId = (index: number) => `0c0ffee0-0000-4000-8000-${String(index).padStart(12, "0")}`

/** Adds one legacy job per case to the legacy `ai_jobs` behind the client. */
export const insertLegacyInstantCases = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(legacyInstantCases, ({ text }, index) =>
    sql`INSERT INTO ai_jobs ${
      sql.insert({
        id: caseId(index),
        trace_id: caseId(index),
        job_kind: "doc_edit",
        status: "queued",
        protocol_id: "p",
        profile_id: "default",
        capability_profile_id: "Analyst",
        access_mode: "analysis_only",
        safety_mode: "normal",
        created_at: text,
        updated_at: "2026-01-10 10:00:00"
      })
    }`, { discard: true }))

/** Reads each case's job through the store and checks its instant. */
export const expectLegacyInstants = Effect.gen(function*() {
  const store = yield* JobStore
  const read: Array<string> = []
  for (const [index] of legacyInstantCases.entries()) {
    const job = yield* store.getJob(JobId.make(caseId(index)))
    read.push(DateTime.formatIso(job.created_at))
  }
  assert.deepStrictEqual(read, legacyInstantCases.map((c) => c.instant))
})
