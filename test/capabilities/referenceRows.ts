/**
 * Job rows written the way the reference system writes them — raw SQL into
 * its own tables, with whatever `capability_profile_id` its caller chose —
 * before the database is upgraded. They never went through `Jobs.submit`, so
 * only the policy's second check (at claim and start) stands between them
 * and a worker.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import type { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { splitStatements } from "../../src/store/sqlite/sqlScript.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { rawClient, tempDatabaseFile } from "../store/sqlite-support.js"

/** A job row as the reference's `create_ai_job` (or a later status update) leaves it. */
export interface ReferenceRow {
  readonly id: string
  readonly trace_id: string
  /** As the reference spells it: legacy kinds (`term_exec`, `governance_pack_export`) included. */
  readonly job_kind: string
  readonly status: string
  readonly protocol_id: string
  readonly capability_profile_id: string
  /** Who submitted it (the reference's `profile_id`); `default` when not given. */
  readonly profile_id?: string
  /** `YYYY-MM-DD HH:MM:SS`, as SQLite's CURRENT_TIMESTAMP writes it; orders the queue. */
  readonly created_at: string
}

/** The reference's own schema: our migration 0001, which creates it when absent. */
const referenceSchema = (dialect: "sqlite" | "pg") =>
  splitStatements(readFileSync(new URL(`../../migrations/${dialect}/0001_reference_schema.sql`, import.meta.url), "utf8"))

/** Creates the reference's tables and writes `rows` into them, column for column as its storage does. */
const writeReferenceRows = (dialect: "sqlite" | "pg", rows: ReadonlyArray<ReferenceRow>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const statement of referenceSchema(dialect)) yield* sql.unsafe(statement)
    for (const row of rows) {
      yield* sql`
        INSERT INTO ai_jobs (id, trace_id, workflow_run_id, job_kind, status, status_reason, protocol_id, profile_id,
          capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics, job_inputs,
          created_at, updated_at)
        VALUES (${row.id}, ${row.trace_id}, NULL, ${row.job_kind}, ${row.status}, '', ${row.protocol_id}, ${row.profile_id ?? "default"},
          ${row.capability_profile_id}, 'analysis_only', 'normal', '[]', '[]', NULL, NULL,
          ${row.created_at}, ${row.created_at})`
    }
  })

/** A SQLite file holding `rows` as the reference wrote them (not yet upgraded); removed with the scope. */
export const sqliteReferenceDatabase = (rows: ReadonlyArray<ReferenceRow>) =>
  Effect.gen(function*() {
    const filename = yield* tempDatabaseFile()
    yield* Effect.provide(writeReferenceRows("sqlite", rows), rawClient(filename))
    return filename
  })

/** A PostgreSQL database holding `rows` as the reference wrote them (not yet upgraded); dropped with the scope. */
export const pgReferenceDatabase = (rows: ReadonlyArray<ReferenceRow>) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase("capabilities legacy")
    yield* Effect.provide(writeReferenceRows("pg", rows), rawPgClient(url))
    return url
  })

/** Our store on a SQLite file holding `rows`: opening it upgrades the database. */
export const sqliteWithReferenceRows = (rows: ReadonlyArray<ReferenceRow>): Layer.Layer<JobStore, unknown> =>
  Layer.unwrapScoped(Effect.map(sqliteReferenceDatabase(rows), (filename) => SqliteStore.layer({ filename })))

/** Our store on a PostgreSQL database holding `rows`: opening it upgrades the database. */
export const pgWithReferenceRows = (rows: ReadonlyArray<ReferenceRow>): Layer.Layer<JobStore, unknown> =>
  Layer.unwrapScoped(Effect.map(pgReferenceDatabase(rows), (url) => PgStore.layer({ url })))
