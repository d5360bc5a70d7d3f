/**
 * R16 the PostgreSQL legacy upgrade keeps the constraints a DBA added (found
 * by an outside probe). Migration 0002 drops every CHECK, UNIQUE and FOREIGN
 * KEY on the three legacy tables so it can change their types, and adds its
 * own; a DBA's own (a foreign key to their profiles table, a length rule)
 * went with them, and the upgraded table took values they refused. migrate
 * now sets them aside and puts them back after 0002; one that no longer
 * holds on the new column types stops the upgrade, named, the database as
 * it was.
 *
 * Which ones 0002 replaces is judged by what they say, not by their names
 * (found by an outside probe): a CHECK or UNIQUE named like PostgreSQL's
 * default (`ai_jobs_profile_id_check`) was dropped "as the reference's",
 * but the reference defines none, so that rule only ever dropped a DBA's
 * unnamed constraint. Only our older shapes' list of job kinds and their
 * UNIQUE (workflow_run_id, sequence), which 0002 writes anew, are left to it.
 *
 * A DBA's NOT VALID constraint is put back NOT VALID; rows older than it
 * that violate it then failed 0007, which writes every job, with a bare
 * "violates check constraint" (found by an outside probe): the failure now
 * names it, says why, and what to do (validate after fixing the rows, or
 * drop it), nothing changed. Rows the upgrade's own rewrite (a kind
 * renamed) makes violate it were blamed on old rows, with VALIDATE as the
 * fix (found by a regression probe): the advice names both causes now.
 *
 * Any CHECK listing the values of `job_kind`, `status`, `access_mode` or
 * `safety_mode` was taken for one 0002 replaces, so a DBA's narrower list
 * was dropped (found by an outside probe). Only a list allowing every value
 * 0002's own allows is replaced now; a DBA's is kept, or, when it allows a
 * legacy kind 0002 rewrites but not the kind it becomes, stops migrate
 * naming it with what to do. Whether it does is asked of PostgreSQL (its
 * expression evaluated on those kinds): only the `= ANY (ARRAY[...])` print
 * was read, so an array literal or an OR chain was kept silently and then
 * refused every job of the rewritten kind (found by a regression probe).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as PgStore from "../../src/store/PgJobStore.js"
import { buildLegacyDatabase, legacyIds } from "../fixtures/legacyPg.js"
import { buildReferencePg } from "../fixtures/referenceDatabase.js"
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

  // Found by an outside probe: 0002 puts a DBA's NOT VALID constraint back NOT VALID, and 0007's fill of run_after
  // writes every legacy job, which PostgreSQL checks against it: migrate failed with a bare "violates check constraint".
  const notValid = [
    ["CHECK", "dba_nv", "ALTER TABLE ai_jobs ADD CONSTRAINT dba_nv CHECK (profile_id <> 'retired') NOT VALID", "(CHECK ((profile_id <> 'retired'::text)) NOT VALID)"],
    [
      "FOREIGN KEY",
      "dba_nv_profile",
      "CREATE TABLE dba_profiles (id text PRIMARY KEY); INSERT INTO dba_profiles VALUES ('default');" +
      " ALTER TABLE ai_jobs ADD CONSTRAINT dba_nv_profile FOREIGN KEY (profile_id) REFERENCES dba_profiles (id) NOT VALID",
      "(FOREIGN KEY (profile_id) REFERENCES dba_profiles(id) NOT VALID)"
    ]
  ] as const
  for (const [kind, name, add, definition] of notValid) {
    it.scoped(`R16 a DBA's NOT VALID ${kind} that legacy rows violate stops migrate naming it, why and what to do, nothing changed; validated after the rows are fixed, migrate goes through and it holds`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("pg legacy not valid")
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* buildLegacyDatabase
          yield* sql.unsafe(`UPDATE ai_jobs SET profile_id = 'retired' WHERE id = '${legacyIds.pinnedJob}'`)
          yield* sql.unsafe(add)
          const error = yield* Effect.flip(PgStore.migrate)
          if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
          assert.strictEqual(error.migration_id, 7)
          assert.include(
            error.message,
            `rows of ai_jobs violate its constraint ${name} ${definition} as this migration writes them: added NOT VALID, it never ` +
              "checked the rows already there, but PostgreSQL checks every constraint on a row it writes. Either rows older than the " +
              `constraint violate it: fix them and validate it (ALTER TABLE ai_jobs VALIDATE CONSTRAINT ${name}); or the upgrade itself changed them`
          )
          const [left] = yield* sql<{ readonly migrations: string | null; readonly type: string; readonly validated: boolean }>`
            SELECT to_regclass('ai_job_model_migrations')::text AS migrations,
              (SELECT data_type FROM information_schema.columns WHERE table_name = 'ai_jobs' AND column_name = 'id') AS type,
              (SELECT convalidated FROM pg_constraint WHERE conname = ${name}) AS validated`
          assert.deepStrictEqual(left, { migrations: null, type: "text", validated: false })

          // The advice followed: the row fixed, the constraint validated, migrate goes through and it still refuses.
          yield* sql.unsafe(`UPDATE ai_jobs SET profile_id = 'default' WHERE id = '${legacyIds.pinnedJob}'`)
          yield* sql.unsafe(`ALTER TABLE ai_jobs VALIDATE CONSTRAINT ${name}`)
          assert.isAbove((yield* PgStore.migrate).length, 0)
          assert.strictEqual(
            yield* refusalOf(`UPDATE ai_jobs SET profile_id = 'retired' WHERE id = '${legacyIds.pinnedJob}'`),
            `${kind === "CHECK" ? "23514" : "23503"} ${name}`
          )
        }).pipe(Effect.provide(rawClient(url)))
      }), 60_000)
  }

  // Found by a regression probe: a NOT VALID CHECK every legacy row satisfies, tripped only because the upgrade renamed
  // term_exec to terminal_exec, was blamed on "rows older than" it with VALIDATE as the fix, which then succeeded and
  // migrate failed again. The advice now names both causes, with the step for the upgrade's own rewrite.
  it.scoped("R16 a DBA's NOT VALID CHECK that only the upgrade's rewrite of a kind makes rows violate is not blamed on old rows alone: migrate stops naming it with the step for rows the upgrade changed (drop it, migrate, add it again), nothing changed; that step followed, migrate goes through", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg legacy not valid rewritten")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* buildLegacyDatabase
        const rule = "CHECK (job_kind <> 'terminal_exec' OR status <> 'completed')"
        yield* sql.unsafe(`ALTER TABLE ai_jobs ADD CONSTRAINT dba_no_done_terminal ${rule} NOT VALID`)
        const [before] = yield* sql<{ readonly violating: number }>`
          SELECT count(*)::int AS violating FROM ai_jobs WHERE NOT (job_kind <> 'terminal_exec' OR status <> 'completed')`
        assert.strictEqual(before?.violating, 0)

        const error = yield* Effect.flip(PgStore.migrate)
        if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
        assert.notInclude(error.message, "older than its constraint")
        assert.include(error.message, "rows of ai_jobs violate its constraint dba_no_done_terminal")
        assert.include(
          error.message,
          "or the upgrade itself changed them so that they do (the legacy upgrade renames the job kinds term_exec, doc_test and " +
            "governance_pack_export and converts the columns' types): drop it, migrate, and add it again written for the upgraded rows. " +
            "Then migrate again. Nothing was changed"
        )
        const [left] = yield* sql<{ readonly migrations: string | null; readonly kinds: number }>`
          SELECT to_regclass('ai_job_model_migrations')::text AS migrations,
            (SELECT count(*)::int FROM ai_jobs WHERE job_kind = 'term_exec') AS kinds`
        assert.deepStrictEqual(left, { migrations: null, kinds: 1 })

        yield* sql.unsafe("ALTER TABLE ai_jobs DROP CONSTRAINT dba_no_done_terminal")
        assert.isAbove((yield* PgStore.migrate).length, 0)
        yield* sql.unsafe(`ALTER TABLE ai_jobs ADD CONSTRAINT dba_no_done_terminal ${rule} NOT VALID`)
        assert.strictEqual(yield* refusalOf(`UPDATE ai_jobs SET status = 'completed' WHERE job_kind = 'terminal_exec'`), "23514 dba_no_done_terminal")
      }).pipe(Effect.provide(rawClient(url)))
    }), 60_000)

  // Found by an outside probe: any CHECK listing the values of job_kind or status was taken for one 0002 replaces,
  // so a DBA's own narrower list (only the kinds this team runs) was dropped without a word.
  const kindsButCanvas = [
    "doc_edit", "doc_rewrite", "doc_summarize", "doc_test", "sheet_transform", "asr_transcribe", "workflow_run", "spec_router",
    "debug_bundle_export", "term_exec", "terminal_exec", "doc_ingest", "distillation_eval", "governance_pack_export"
  ]
  const statesButPoisoned = ["queued", "running", "stalled", "awaiting_validation", "awaiting_user", "completed", "completed_with_issues", "failed", "cancelled"]
  const listed = (values: ReadonlyArray<string>) => values.map((value) => `'${value}'`).join(", ")

  it.scoped("R16 a DBA's own list of job kinds and an unnamed list of states, narrower than the upgrade's, survive migrate and still refuse; the older shape's list of every kind is still replaced", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg legacy own value lists")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* buildLegacyDatabase
        yield* sql.unsafe(`ALTER TABLE ai_jobs ADD CONSTRAINT dba_no_canvas CHECK (job_kind IN (${listed(kindsButCanvas)}))`)
        yield* sql.unsafe(`ALTER TABLE ai_jobs ADD CHECK (status IN (${listed(statesButPoisoned)}))`)
        assert.isAbove((yield* PgStore.migrate).length, 0)
        const [kept] = yield* sql<{ readonly kinds: number; readonly states: ReadonlyArray<string> }>`
          SELECT (SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'ai_jobs'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%job_kind = ANY%') AS kinds,
            (SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint WHERE conrelid = 'ai_jobs'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status = ANY%') AS states`
        // 0002's own of each, and the DBA's beside it (the unnamed one under a free name); the fixture's list of every kind is gone.
        assert.deepStrictEqual(kept, { kinds: 2, states: ["ai_jobs_status_check", "ai_jobs_status_check1"] })
        assert.strictEqual((yield* dbaConstraints).map((row) => row.def).join(), `CHECK ((job_kind = ANY (ARRAY[${kindsButCanvas.map((kind) => `'${kind}'::text`).join(", ")}])))`)
        assert.deepStrictEqual(
          {
            canvas: yield* refusalOf(`UPDATE ai_jobs SET job_kind = 'canvas_cluster' WHERE id = '${legacyIds.pinnedJob}'`),
            poisoned: yield* refusalOf(`UPDATE ai_jobs SET status = 'poisoned' WHERE id = '${legacyIds.pinnedJob}'`),
            terminal: yield* refusalOf(`UPDATE ai_jobs SET job_kind = 'terminal_exec' WHERE id = '${legacyIds.pinnedJob}'`)
          },
          { canvas: "23514 dba_no_canvas", poisoned: "23514 ai_jobs_status_check1", terminal: "accepted" }
        )
      }).pipe(Effect.provide(rawClient(url)))
    }), 60_000)

  for (const validity of ["", " NOT VALID"]) {
  it.scoped(`R16 a DBA's list of job kinds${validity} allowing a legacy kind the upgrade rewrites but not the kind it becomes stops migrate, named with what to do, nothing changed; with that kind added migrate goes through and keeps it`, () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("pg legacy stranded kinds")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* buildLegacyDatabase
        const teamKinds = ["doc_edit", "doc_rewrite", "doc_summarize", "doc_test", "asr_transcribe", "term_exec", "terminal_exec", "governance_pack_export"]
        yield* sql.unsafe(`ALTER TABLE ai_jobs ADD CONSTRAINT dba_team_kinds CHECK (job_kind IN (${listed(teamKinds)}))${validity}`)
        const error = yield* Effect.flip(PgStore.migrate)
        if (error._tag !== "MigrationFailed") return assert.fail(`expected MigrationFailed, got ${error.message}`)
        assert.strictEqual(error.migration_id, 2)
        assert.match(
          error.message,
          /own constraint dba_team_kinds on ai_jobs \(CHECK .*\) cannot be kept: it allows governance_pack_export but not workflow_run, and the upgrade rewrites governance_pack_export to workflow_run: .* Add the kinds they become to its list \(or drop it, migrate, and add it again written for the new kinds\), then migrate again\. Nothing was changed/
        )
        const [left] = yield* sql<{ readonly migrations: string | null; readonly kinds: number }>`
          SELECT to_regclass('ai_job_model_migrations')::text AS migrations,
            (SELECT count(*)::int FROM ai_jobs WHERE job_kind IN ('term_exec', 'doc_test', 'governance_pack_export')) AS kinds`
        assert.deepStrictEqual(left, { migrations: null, kinds: 3 })

        yield* sql.unsafe(`ALTER TABLE ai_jobs DROP CONSTRAINT dba_team_kinds, ADD CONSTRAINT dba_team_kinds CHECK (job_kind IN (${listed([...teamKinds, "workflow_run"])}))${validity}`)
        assert.isAbove((yield* PgStore.migrate).length, 0)
        assert.strictEqual(yield* refusalOf(`UPDATE ai_jobs SET job_kind = 'canvas_cluster' WHERE id = '${legacyIds.pinnedJob}'`), "23514 dba_team_kinds")
      }).pipe(Effect.provide(rawClient(url)))
    }), 60_000)
  }

  // Found by a regression probe: only PostgreSQL's ARRAY[...] print of a list was read, so the same list written as an
  // array literal or an OR chain was kept silently, and after migrate every job of the rewritten kind was refused.
  const teamKinds = ["doc_edit", "doc_rewrite", "doc_summarize", "doc_test", "asr_transcribe", "term_exec", "terminal_exec", "governance_pack_export"]
  const kindRules = [
    ["IN", `job_kind IN (${listed(teamKinds)})`],
    ["array literal", `job_kind = ANY ('{${teamKinds.join(",")}}'::text[])`],
    ["OR chain", teamKinds.map((kind) => `job_kind = '${kind}'`).join(" OR ")],
    ["inequality", "job_kind <> 'workflow_run'"]
  ] as const
  for (const validity of ["", " NOT VALID"]) {
    it.scoped(`R16 a DBA's CHECK on job_kind${validity} accepting governance_pack_export but not workflow_run stops migrate however it is written (IN, array literal, OR chain, <>), named, nothing changed`, () =>
      Effect.gen(function*() {
        for (const [form, rule] of kindRules) {
          const url = yield* freshPgDatabase(`pg legacy kind rule ${form}`)
          yield* Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            yield* buildLegacyDatabase
            yield* sql.unsafe(`ALTER TABLE ai_jobs ADD CONSTRAINT dba_kind_rule CHECK (${rule})${validity}`)
            const error = yield* Effect.flip(PgStore.migrate)
            if (error._tag !== "MigrationFailed") return assert.fail(`${form}: expected MigrationFailed, got ${error.message}`)
            assert.strictEqual(error.migration_id, 2, form)
            assert.match(
              error.message,
              /own constraint dba_kind_rule on ai_jobs \(CHECK .*\) cannot be kept: it allows governance_pack_export but not workflow_run, and the upgrade rewrites governance_pack_export to workflow_run: .* then migrate again\. Nothing was changed/,
              form
            )
            const [left] = yield* sql<{ readonly migrations: string | null; readonly kinds: number }>`
              SELECT to_regclass('ai_job_model_migrations')::text AS migrations,
                (SELECT count(*)::int FROM ai_jobs WHERE job_kind IN ('term_exec', 'doc_test', 'governance_pack_export')) AS kinds`
            assert.deepStrictEqual(left, { migrations: null, kinds: 3 }, form)
          }).pipe(Effect.provide(rawClient(url)))
        }
      }), 120_000)
  }

  /** A DBA's constraints added without names, as `ALTER TABLE ... ADD CHECK (...)` is usually written. */
  const unnamedDbaConstraints = [
    "ALTER TABLE ai_jobs ADD CHECK (char_length(profile_id) <= 64)",
    "ALTER TABLE ai_jobs ADD UNIQUE (trace_id)",
    "ALTER TABLE workflow_runs ADD UNIQUE (job_id, id)",
    // PostgreSQL names it ai_jobs_status_check, as 0002 names its list of states.
    "ALTER TABLE ai_jobs ADD CHECK (char_length(status) < 40)"
  ]

  /** Every CHECK and UNIQUE of the three tables: its table and definition, with how many carry it. */
  const checksAndUniques = Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly constraint: string }>`
      SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) AS constraint FROM pg_constraint
      WHERE conrelid IN ('ai_jobs'::regclass, 'workflow_runs'::regclass, 'workflow_node_executions'::regclass)
        AND contype IN ('c', 'u')
      ORDER BY 1`).pipe(Effect.map((rows) => rows.map((row) => row.constraint)))

  for (const [shape, build] of [["our legacy fixture", buildLegacyDatabase], ["the reference's", buildReferencePg]] as const) {
    it.scoped(`R16 a DBA's unnamed CHECK and UNIQUE constraints on ${shape} tables survive migrate, whatever name PostgreSQL gave them, and still refuse`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("pg legacy unnamed constraints")
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* build
          for (const statement of unnamedDbaConstraints) yield* sql.unsafe(statement)
          assert.isAbove((yield* PgStore.migrate).length, 0)
          const after = yield* checksAndUniques
          for (
            const kept of [
              "ai_jobs CHECK ((char_length(profile_id) <= 64))",
              "ai_jobs UNIQUE (trace_id)",
              "workflow_runs UNIQUE (job_id, id)",
              "ai_jobs CHECK ((char_length(status) < 40))"
            ]
          ) assert.include(after, kept)
          const first = "(SELECT id FROM ai_jobs ORDER BY id LIMIT 1)"
          assert.deepStrictEqual(
            {
              tooLong: yield* refusalOf(`UPDATE ai_jobs SET profile_id = repeat('x', 100) WHERE id = ${first}`),
              sameTrace: yield* refusalOf(`UPDATE ai_jobs SET trace_id = (SELECT trace_id FROM ai_jobs ORDER BY id DESC LIMIT 1) WHERE id = ${first}`)
            },
            { tooLong: "23514 ai_jobs_profile_id_check", sameTrace: "23505 ai_jobs_trace_id_key" }
          )
          // What 0002 replaces is not kept beside its own: one list of job kinds (without the legacy term_exec), one UNIQUE per run and sequence.
          assert.lengthOf(after.filter((constraint) => constraint.startsWith("ai_jobs CHECK ((job_kind = ANY")), 1)
          assert.notInclude(after.join("\n"), "term_exec")
          assert.lengthOf(after.filter((constraint) => constraint === "workflow_node_executions UNIQUE (workflow_run_id, sequence)"), 1)
        }).pipe(Effect.provide(rawClient(url)))
      }), 60_000)
  }
})
