/**
 * Migration 0024 (R12, FR-EVT-002): the events table takes `editor_edit`, on
 * both dialects. A database at 0023 upgrades in place: every event kept (on
 * SQLite with its rowid, the table being rebuilt), every index and trigger as
 * before, the type CHECK under its old name with one type more, the same
 * schema a fresh database gets. Run again after its bookkeeping row is lost,
 * it changes nothing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgStore from "../../src/store/PgJobStore.js"
import { migrateFrom, migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedFrom } from "./contract/schema.js"
import { refusalOf } from "./pg-support.js"
import { migrationsBefore, rawClient, rawRows, schemaSnapshot, tempDatabaseFile } from "./sqlite-support.js"

const TRACE = "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"

/** Events as raw rows: one of each of three types already taken before 0024. */
const oldEvents = [
  ["0b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60", "2026-01-19T23:59:37.328Z", "system", "system", `{"type":"system","to_state":"queued"}`],
  ["1b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f61", "2026-01-19T23:59:38.000Z", "human", "terminal_command", `{"type":"terminal_command","command":"ls"}`],
  ["2b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f62", "2026-01-19T23:59:39.000Z", "system", "diagnostic", `{"type":"diagnostic","diagnostic_id":"d"}`]
] as const

const EDIT = ["3b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f63", "2026-01-20T00:00:00.000Z", "human", "editor_edit", `{"type":"editor_edit","editor_surface":"monaco","ops":[]}`] as const

const insertEvent = "INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, body) VALUES (?, ?, ?, ?, ?, ?)"

const eventRows = rawRows("SELECT rowid AS row_id, * FROM flight_recorder_events ORDER BY rowid")

const TERMINAL_LINE = "      OR type = 'terminal_command'\n"

describe("R12 migration 0024 on SQLite: the events table rebuilt to take editor_edit", () => {
  it.scoped("R12 a database at 0023 upgrades: every event kept with its rowid, every index and trigger as before, the CHECK one type longer, as a fresh database", () =>
    Effect.gen(function*() {
      const [filename, freshFile] = [yield* tempDatabaseFile("at-0023.db"), yield* tempDatabaseFile("fresh.db")]
      const client = rawClient(filename)
      const [before, rows] = yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0024"))
          // Rowids with gaps, which the copy must keep.
          for (const [index, [id, at, actor, type, body]] of oldEvents.entries()) {
            yield* rawRows(
              "INSERT INTO flight_recorder_events (rowid, event_id, timestamp, actor, type, trace_id, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
              [1 + index * 4, id, at, actor, type, TRACE, body]
            )
          }
          const refused = yield* Effect.flip(rawRows(insertEvent, [...EDIT.slice(0, 4), TRACE, EDIT[4]]))
          assert.include(String(refused.cause), "flight_recorder_events_type_valid", "0023 refuses editor_edit")
          return [yield* schemaSnapshot, yield* eventRows] as const
        }),
        client
      )
      // Up to 0024 (later migrations change the schema more): what 0024 changed, and a fresh database at 0024.
      const through0024 = yield* migrationsBefore("0025")
      const applied = yield* Effect.provide(migrateFrom(through0024), client)
      assert.deepStrictEqual(applied.map(([id]) => id), [24])
      const after = yield* Effect.provide(schemaSnapshot, client)
      const expected = before.map((object) =>
        object.type === "table" && object.name === "flight_recorder_events"
          ? { ...object, sql: object.sql!.replace(TERMINAL_LINE, `${TERMINAL_LINE}      OR type = 'editor_edit'\n`) }
          : object
      )
      assert.notDeepEqual(expected, before)
      assert.deepStrictEqual(after, expected)
      assert.deepStrictEqual(yield* Effect.provide(eventRows, client), rows)
      yield* Effect.provide(migrateFrom(through0024), rawClient(freshFile))
      assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(freshFile)), after, "a fresh database has the same schema")

      yield* Effect.provide(
        Effect.gen(function*() {
          yield* rawRows(insertEvent, [...EDIT.slice(0, 4), TRACE, EDIT[4]])
          const unknown = yield* Effect.flip(rawRows(insertEvent, ["4b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f64", EDIT[1], "human", "editor_open", TRACE, "{}"]))
          assert.include(String(unknown.cause), "flight_recorder_events_type_valid")
          // The triggers came back: append-only, and 0020's id rule.
          const update = yield* Effect.flip(rawRows("UPDATE flight_recorder_events SET actor = 'agent' WHERE event_id = ?", [EDIT[0]]))
          assert.include(String(update.cause), "append-only")
          const badId = yield* Effect.flip(rawRows(insertEvent, ["not-a-uuid", EDIT[1], "human", "editor_edit", TRACE, "{}"]))
          assert.include(String(badId.cause), "flight_recorder_events_event_id_uuid")
          assert.deepStrictEqual(yield* rawRows("PRAGMA integrity_check"), [{ integrity_check: "ok" }])
        }),
        client
      )
    }))

  it.scoped("R12 0024 run again (its bookkeeping row lost) is skipped: schema and events unchanged", () =>
    Effect.gen(function*() {
      const client = rawClient(yield* tempDatabaseFile("replay.db"))
      yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(migrationsDirectory)
          yield* rawRows(insertEvent, [...EDIT.slice(0, 4), TRACE, EDIT[4]])
          const before = [yield* schemaSnapshot, yield* eventRows]
          yield* rawRows("DELETE FROM ai_job_model_migrations WHERE migration_id >= 24")
          assert.deepStrictEqual((yield* migrateFrom(migrationsDirectory)).map(([id]) => id), shippedFrom("sqlite", 24))
          assert.deepStrictEqual([yield* schemaSnapshot, yield* eventRows], before)
        }),
        client
      )
    }))
})

/** The type CHECK of the events table, as PostgreSQL prints it. */
const pgTypeCheck = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ readonly def: string }>`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'flight_recorder_events'::regclass AND conname = 'flight_recorder_events_type_check'`,
    (rows) => rows.map((row) => row.def)
  ))

describe("R12 migration 0024 on PostgreSQL: the events table takes editor_edit", () => {
  it.scoped("R12 a database at 0023 upgrades: events kept, the CHECK under its name one type longer; replayed, nothing changes", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("editor_edit migration")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* PgStore.migrate
        // Back to 0023: its CHECK, its bookkeeping.
        yield* sql.unsafe(`ALTER TABLE flight_recorder_events DROP CONSTRAINT flight_recorder_events_type_check,
          ADD CONSTRAINT flight_recorder_events_type_check CHECK (type IN ('workflow_recovery', 'capability_action', 'llm_inference',
          'system', 'terminal_command', 'diagnostic', 'debug_bundle_export', 'security_violation'))`)
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 24`
        const [old] = yield* pgTypeCheck
        for (const [id, at, actor, type, body] of oldEvents) yield* sql.unsafe(pgInsert, [id, at, actor, type, TRACE, body])
        assert.strictEqual((yield* refusalOf(sql.unsafe(pgInsert, [...EDIT.slice(0, 4), TRACE, EDIT[4]]))).constraint, "flight_recorder_events_type_check")
        const rows = yield* sql`SELECT * FROM flight_recorder_events ORDER BY event_id`

        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 24))
        const [upgraded] = yield* pgTypeCheck
        assert.include(upgraded, "'editor_edit'::text")
        assert.strictEqual(upgraded!.replace(", 'editor_edit'::text", ""), old)
        assert.deepStrictEqual(yield* sql`SELECT * FROM flight_recorder_events ORDER BY event_id`, rows)
        yield* sql.unsafe(pgInsert, [...EDIT.slice(0, 4), TRACE, EDIT[4]])
        assert.strictEqual((yield* refusalOf(sql.unsafe(pgInsert, ["4b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f64", EDIT[1], "human", "editor_open", TRACE, "{}"]))).constraint,
          "flight_recorder_events_type_check")

        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 24`
        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 24))
        assert.deepStrictEqual(yield* pgTypeCheck, [upgraded])
      }).pipe(Effect.provide(rawPgClient(url)))
    }), 60_000)
})

const pgInsert = "INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, body) VALUES ($1, $2, $3, $4, $5, $6)"
