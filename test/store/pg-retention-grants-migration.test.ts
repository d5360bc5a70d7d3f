/**
 * Migration 0025 (R10, PostgreSQL): a retention grant is never changed. A
 * grant renumbered before COMMIT slipped past 0003's deferred check (it looks
 * for the id the grant was inserted under) and, committed, licensed any later
 * plain DELETE of events. A database at 0024 holding such a grant upgrades:
 * the grant is gone, DELETE is refused again, the events kept; the store's
 * own purge still works. (SQLite refused the UPDATE from its 0004.)
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedFrom } from "./contract/schema.js"
import { countWhere, refusalOf } from "./pg-support.js"

const TRACE = "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"
const insertEvent = "INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, body) VALUES ($1, $2, 'system', 'diagnostic', $3, $4)"
const events = ["0b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60", "1b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f61"]

describe("R10 migration 0025 on PostgreSQL: a retention grant is never changed", () => {
  it.scoped("R10 a database at 0024 with a grant committed by renumbering upgrades: the grant removed, a plain DELETE of events refused again", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("retention grants migration")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const countOf = (table: string) => countWhere(sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(table)}`)
        // The escape as the probe ran it: a grant inserted, then given another id, then COMMIT. Its
        // cutoff is past (licensing the events below), since 0028 refuses 'infinity' before 0025 could.
        const renumberedGrant = sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('2026-01-20T00:00:00Z')`
          yield* sql`UPDATE flight_recorder_retention_grants SET grant_id = DEFAULT`
        }))
        yield* PgStore.migrate
        for (const id of events) yield* sql.unsafe(insertEvent, [id, "2026-01-19T23:59:37.328Z", TRACE, `{"type":"diagnostic","diagnostic_id":"d"}`])
        // Back to 0024: no refusal of an UPDATE.
        yield* sql`DROP TRIGGER flight_recorder_retention_grants_refuse_update ON flight_recorder_retention_grants`
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 25`
        yield* renumberedGrant
        assert.strictEqual(yield* countOf("flight_recorder_retention_grants"), 1, "the grant got out at 0024")

        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 25))
        assert.strictEqual(yield* countOf("flight_recorder_retention_grants"), 0, "the grant removed")
        assert.match((yield* refusalOf(sql`DELETE FROM flight_recorder_events`)).message, /append-only/)
        assert.match((yield* refusalOf(renumberedGrant)).message, /a grant is never changed/)
        assert.strictEqual(yield* countOf("flight_recorder_events"), 2, "every event kept")

        // Replayed (its bookkeeping row lost): the same refusal, nothing else changed.
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 25`
        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 25))
        assert.match((yield* refusalOf(renumberedGrant)).message, /a grant is never changed/)
        assert.strictEqual(yield* countOf("flight_recorder_events"), 2)
      }).pipe(Effect.provide(rawPgClient(url)))
    }), 60_000)
})
