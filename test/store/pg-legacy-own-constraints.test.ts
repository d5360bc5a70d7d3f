/**
 * R16 the PostgreSQL legacy upgrade keeps the constraints a DBA added (found
 * by an outside probe). Migration 0002 drops every CHECK, UNIQUE and FOREIGN
 * KEY on the three legacy tables so it can change their types, and adds its
 * own; a DBA's own (a foreign key to their profiles table, a length rule)
 * went with them, and the upgraded table took values they refused. migrate
 * now sets them aside and puts them back after 0002; one that no longer
 * holds on the new column types stops the upgrade, named, the database as
 * it was.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as PgStore from "../../src/store/PgJobStore.js"
import { buildLegacyDatabase, legacyIds } from "../fixtures/legacyPg.js"
import { freshPgDatabase } from "../support/pg-database.js"

const rawClient = (url: string) => PgClient.layer({ url: Redacted.make(url), transformJson: false })

/** The legacy database of test/fixtures/legacyPg.ts with a DBA's profiles table, foreign key and CHECK on ai_jobs. */
const legacyWithDbaConstraints = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* buildLegacyDatabase
  yield* sql.unsafe(`
    CREATE TABLE dba_profiles (id text PRIMARY KEY);
    INSERT INTO dba_profiles VALUES ('default'), ('a-profile-name-longer-than-twenty');
    ALTER TABLE ai_jobs ADD CONSTRAINT dba_profile_fk FOREIGN KEY (profile_id) REFERENCES dba_profiles (id);
    ALTER TABLE ai_jobs ADD CONSTRAINT dba_profile_len CHECK (char_length(profile_id) < 20)`)
})

const dbaConstraints = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly name: string; readonly def: string }>`
    SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
    WHERE conrelid = 'ai_jobs'::regclass AND conname LIKE 'dba%' ORDER BY conname`)

/** The SQLSTATE and constraint of the refusal of `statement`, or "accepted". */
const refusalOf = (statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.map(() => "accepted"),
    Effect.catchTag("SqlError", (error) => {
      const cause = error.cause as { readonly code?: string; readonly constraint?: string }
      return Effect.succeed(`${cause.code} ${cause.constraint}`)
    })
  )

describe("R16 the PostgreSQL legacy upgrade keeps a DBA's own constraints", () => {
  it.scoped("R16 a DBA's foreign key and CHECK on ai_jobs are still there after migrate, and still refuse", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg legacy own constraints")
      yield* Effect.gen(function*() {
        yield* legacyWithDbaConstraints
        const before = yield* dbaConstraints
        assert.isAbove((yield* PgStore.migrate).length, 0)
        assert.deepStrictEqual(yield* dbaConstraints, before)
        assert.deepStrictEqual(
          {
            unknownProfile: yield* refusalOf(`UPDATE ai_jobs SET profile_id = 'mallory' WHERE id = '${legacyIds.pinnedJob}'`),
            tooLong: yield* refusalOf(`UPDATE ai_jobs SET profile_id = 'a-profile-name-longer-than-twenty' WHERE id = '${legacyIds.pinnedJob}'`)
          },
          { unknownProfile: "23503 dba_profile_fk", tooLong: "23514 dba_profile_len" }
        )
      }).pipe(Effect.provide(rawClient(url)))
    }), 60_000)

  it.scoped("R16 a DBA's CHECK that no longer holds on the upgraded column types stops the upgrade, named, the database as it was", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg legacy own constraint blocks")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* legacyWithDbaConstraints
        yield* sql`ALTER TABLE ai_jobs ADD CONSTRAINT dba_created_not_empty CHECK (created_at <> '')`
        const error = yield* Effect.flip(PgStore.migrate)
        if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
        assert.strictEqual(error.migration_id, 2)
        assert.match(error.message, /own constraint dba_created_not_empty on ai_jobs/)
        const [left] = yield* sql<{ readonly migrations: string | null; readonly type: string }>`
          SELECT to_regclass('ai_job_model_migrations')::text AS migrations,
            (SELECT data_type FROM information_schema.columns WHERE table_name = 'ai_jobs' AND column_name = 'created_at') AS type`
        assert.deepStrictEqual(left, { migrations: null, type: "text" })
        assert.strictEqual((yield* dbaConstraints).length, 3)
      }).pipe(Effect.provide(rawClient(url)))
    }), 60_000)
})
