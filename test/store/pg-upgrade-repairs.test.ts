/**
 * Migration 0026 (R17, PostgreSQL): a database migrated by an earlier version
 * of this library upgrades to this version's schema, though two applied
 * migration files were once rewritten in place (found by an outside probe):
 *
 *   * 0020 at 6d01023 added CHECK ... NOT VALID constraints where 0020 now adds
 *     triggers (its text is test/fixtures/pg-0020-domain-values-at-6d01023.sql).
 *     Such a database kept the CHECKs: a job stored before 0020 with entity
 *     refs that are no EntityRef could not be changed, so every claim failed
 *     on it with a StorageError and the job behind it was never handed out.
 *   * 0016 at 68db3a9 created the offers table without the trigger that
 *     announces an offer (ai_job_model_announce_offer, run_offers_announce):
 *     a run resumed to the workers was never announced.
 *
 * Each drifted shape is built as that version left it (this version's
 * migrations, then the old form put back and 0026 not yet applied), then
 * upgraded by this version's migrator: its constraints, triggers and
 * functions are then a fresh database's, and it behaves as one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import pg from "pg"
import { engineOn } from "../engine/engine.js"
import { summarize } from "../jobs/jobs.suite.js"
import { rawStatement } from "../jobs/rawStatement.js"
import { postgresShared, type SharedDatabase } from "../jobs/shared-database.js"

const old0020 = readFileSync(new URL("../fixtures/pg-0020-domain-values-at-6d01023.sql", import.meta.url), "utf8")

const sqlOn = (database: SharedDatabase, text: string, params: ReadonlyArray<unknown> = []) =>
  rawStatement(database, postgresShared, text, params)

/**
 * The library's constraints, triggers and functions, each with its definition
 * (names alone would miss a body that changed), sorted: what two databases at
 * the same schema have alike.
 */
const schemaOf = (database: SharedDatabase) =>
  Effect.map(
    sqlOn(
      database,
      `SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) || ' valid=' || c.convalidated AS item
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
       UNION ALL
       SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
         FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal
       UNION ALL
       SELECT 'function ' || p.proname || ' ' || md5(pg_get_functiondef(p.oid))
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
       ORDER BY 1`
    ),
    (rows) => rows.map((row) => String(row["item"]))
  )

/** Back to 0025, as a version before 0026 left the database: 0026's own trigger gone, its bookkeeping row too. */
const before0026 = (database: SharedDatabase) =>
  Effect.gen(function*() {
    yield* sqlOn(database, "DROP FUNCTION IF EXISTS workflow_runs_beat_takes() CASCADE")
    yield* sqlOn(database, "DELETE FROM ai_job_model_migrations WHERE migration_id >= 26")
  })

/** A database migrated to this version's schema, for comparison. */
const freshSchema = Effect.gen(function*() {
  const fresh = yield* postgresShared.fresh("upgrade repairs fresh")
  yield* engineOn(fresh)
  return yield* schemaOf(fresh)
})

describe("R17 migration 0026 on PostgreSQL: a database migrated by an earlier form of 0016 or 0020 upgrades to this version's schema", () => {
  it.live("R17 0020 applied as 6d01023 wrote it (CHECK NOT VALID): after the upgrade the CHECKs are gone and 0020's triggers there; a job stored before 0020 with entity_refs [1] fails at its claim (CorruptRow, naming the column) and the next job is handed out", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("upgrade repairs 0020")
      const setup = yield* engineOn(database)
      const legacy = yield* setup.jobs.submit(summarize())
      // Before 0020: no triggers of its own, a bad entity ref is stored as any array was.
      for (const table of ["ai_jobs", "workflow_runs", "workflow_node_executions"]) {
        yield* sqlOn(database, `DROP FUNCTION ${table}_domain_values() CASCADE`)
      }
      yield* sqlOn(database, "UPDATE ai_jobs SET entity_refs = '[1]' WHERE id = $1", [legacy.job_id])
      // 0020 as 6d01023 applied it, then this version's later migrations (replay-safe: the same).
      yield* sqlOn(database, old0020)
      yield* before0026(database)
      const drifted = yield* schemaOf(database)
      assert.isTrue(drifted.some((item) => item.startsWith("constraint ai_jobs ai_jobs_entity_refs_valid ")), "the old CHECK is there")

      const upgraded = yield* engineOn(database)
      assert.deepStrictEqual(yield* schemaOf(database), yield* freshSchema, "the schema of a fresh database")

      const next = yield* upgraded.jobs.submit(summarize())
      const claim = yield* upgraded.jobs.claimNext()
      assert.strictEqual(claim?.job.job_id, next.job_id, "the next job is handed out")
      const [failed] = yield* sqlOn(database, "SELECT status, error_message FROM ai_jobs WHERE id = $1", [legacy.job_id])
      assert.strictEqual(failed?.["status"], "failed", "the job stored before 0020 failed at once")
      assert.include(String(failed?.["error_message"]), "column entity_refs")
    }).pipe(Effect.scoped), 60_000)

  it.live("R17 0016 applied as 68db3a9 wrote it (no announcement): after the upgrade its trigger is there, and a resume to the workers is announced with offered: true", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("upgrade repairs 0016")
      yield* engineOn(database)
      // 0016 as 68db3a9 applied it: the offers table and its indexes only.
      yield* sqlOn(database, "DROP FUNCTION ai_job_model_announce_offer() CASCADE")
      yield* before0026(database)

      const upgraded = yield* engineOn(database)
      assert.deepStrictEqual(yield* schemaOf(database), yield* freshSchema, "the schema of a fresh database")

      // A job whose worker died, stalled by recovery, then resumed to the workers: its offer is announced.
      const job = yield* upgraded.jobs.submit(summarize())
      assert.strictEqual((yield* upgraded.jobs.claimNext())?.job.job_id, job.job_id)
      const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
      yield* upgraded.store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
      const heard: Array<Record<string, unknown>> = []
      const listener = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new pg.Client({ connectionString: database.url })
          await client.connect()
          client.on("notification", (message) => {
            if (message.channel === "ai_job_model_jobs") heard.push(JSON.parse(message.payload ?? "{}"))
          })
          await client.query("LISTEN ai_job_model_jobs")
          return client
        }),
        (client) => Effect.promise(() => client.end())
      )
      yield* upgraded.jobs.resume(job.job_id, { actor: "human", handTo: "workers" })
      // A round trip on the listener's connection after the commit: what was sent at it has arrived.
      yield* Effect.promise(() => listener.query("SELECT 1"))
      assert.deepStrictEqual(heard.filter((message) => message["offered"] === true).map((message) => message["job_id"]), [job.job_id], "the offer announced")
    }).pipe(Effect.scoped), 60_000)
})
