/**
 * R16 migrate never takes over another application's table that has one of
 * the legacy names, empty or not (found by an outside probe). An empty
 * `workflow_runs` of a CI app went through the legacy upgrade: its id default
 * dropped, our CHECKs and a foreign key to ai_jobs added; the app's own
 * INSERTs then failed, and so did the store's start (`null value in column
 * "repo"`). Now migrate fails with MigrationFailed naming the table and the
 * columns that do not match, and the database is as it was.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase } from "../support/pg-database.js"

const rawClient = (url: string) => PgClient.layer({ url: Redacted.make(url), transformJson: false })

/** The columns, defaults and constraints of `workflow_runs`, and whether ai_jobs or the bookkeeping table exist. */
const shape = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly columns: string; readonly constraints: string | null; readonly others: string | null }>`
    SELECT
      (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END ||
         coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY attnum)
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE attrelid = 'workflow_runs'::regclass AND attnum > 0 AND NOT attisdropped) AS columns,
      (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname)
       FROM pg_constraint WHERE conrelid = 'workflow_runs'::regclass) AS constraints,
      (SELECT string_agg(relname, ', ') FROM pg_class
       WHERE relnamespace = 'public'::regnamespace AND relname IN ('ai_jobs', 'workflow_node_executions', 'ai_job_model_migrations')) AS others`)

const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
  [
    "an empty table with other columns (id serial, repo, conclusion)",
    "CREATE TABLE workflow_runs (id serial PRIMARY KEY, repo text NOT NULL, conclusion text)",
    /table workflow_runs is not a Handshake job table \(it has no job_id, status, last_heartbeat, created_at, updated_at; its own repo is NOT NULL without a default\)/
  ],
  [
    "an empty table with every legacy column and a NOT NULL one of its own",
    "CREATE TABLE workflow_runs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), job_id uuid, status text, last_heartbeat timestamptz, " +
    "created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(), repo text NOT NULL, conclusion text)",
    /table workflow_runs is not a Handshake job table \(its own repo is NOT NULL without a default\)/
  ]
]

describe("R16 migrate refuses another application's table named like a legacy one", () => {
  for (const [what, create, mentions] of cases) {
    it.scoped(`R16 ${what}: MigrationFailed naming the table and its columns, the database as it was, the other app still inserts`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("pg foreign table")
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(create)
          const before = yield* shape
          const error = yield* Effect.flip(PgStore.migrate)
          if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
          assert.strictEqual(error.migration_id, 2)
          assert.match(error.message, mentions)
          assert.deepStrictEqual(yield* shape, before)
          assert.strictEqual(before[0]?.others, null)
          yield* sql`INSERT INTO workflow_runs (repo, conclusion) VALUES ('acme/web', 'success')`
        }).pipe(Effect.provide(rawClient(url)))
      }), 60_000)
  }
})
