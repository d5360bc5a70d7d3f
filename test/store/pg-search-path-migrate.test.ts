/**
 * R17 migrate asks about the schema it creates in, `current_schema()` (found
 * by an outside probe). Two teams share one database: team A's store in
 * `public`, team B's in `jobs` with `?options=-c search_path=jobs,public`
 * (public kept on the path, as usual, for extensions). B's migrate looked for
 * its bookkeeping table over the whole search_path, found A's in `public`,
 * said "Nothing to apply", created nothing in `jobs`, and B then read and
 * wrote A's jobs. Now B's migrate builds B's tables in `jobs`, leaves
 * `public` as it was, and each team submits and lists only its own jobs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DatabaseUrl, Jobs } from "../../src/index.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { asAdmin, request } from "./pg-deployment.js"

/** Every object of schema `public`, with its definition where it has one: what another team's migrate must not touch. */
const publicObjects = (url: string) =>
  asAdmin(
    url,
    `SELECT kind || ' ' || name || ' ' || coalesce(definition, '') AS object FROM (
       SELECT 'relation' AS kind, c.relname::text AS name, c.relkind::text AS definition
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
       UNION ALL SELECT 'constraint', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace
       UNION ALL SELECT 'trigger', tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(oid)
         FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
       UNION ALL SELECT 'function', p.oid::regprocedure::text, md5(p.prosrc)
         FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
     ) o ORDER BY 1`
  ).pipe(Effect.map((rows) => rows.map((row) => String(row["object"]))))

/** Submits one job with `profile_id` on the store at `url`, then lists that store's jobs: their profiles. */
const submitAndList = (url: string, profile: string) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    yield* jobs.submit({ ...request, profile_id: profile })
    return (yield* jobs.list()).items.map((job) => job.profile_id).sort()
  }).pipe(Effect.provide(services(DatabaseUrl.layerFromUrl(url))))

describe("R17 migrate builds the store in current_schema(), whatever a later schema of the search_path holds", () => {
  it.live("team A in public, team B in jobs with search_path=jobs,public: B's migrate creates B's tables in jobs, public unchanged, each team sees only its own jobs", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("search path migrate")
      const teamB = `${base}?options=${encodeURIComponent("-c search_path=jobs,public")}`
      // Team A migrates into public and has a job.
      assert.deepStrictEqual(yield* submitAndList(base, "team-a"), ["team-a"])
      yield* asAdmin(base, "CREATE SCHEMA jobs")
      const publicBefore = yield* publicObjects(base)

      yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(teamB)))

      const [inJobs] = yield* asAdmin(base, "SELECT to_regclass('jobs.ai_jobs') IS NOT NULL AS ai_jobs, (SELECT max(migration_id) FROM jobs.ai_job_model_migrations) = (SELECT max(migration_id) FROM public.ai_job_model_migrations) AS newest")
      assert.deepStrictEqual(inJobs, { ai_jobs: true, newest: true })
      assert.deepStrictEqual(yield* publicObjects(base), publicBefore)
      assert.deepStrictEqual(yield* submitAndList(teamB, "team-b"), ["team-b"])
      assert.deepStrictEqual(yield* submitAndList(base, "team-a-again"), ["team-a", "team-a-again"])
      const rows = yield* asAdmin(base, "SELECT (SELECT array_agg(profile_id ORDER BY profile_id) FROM public.ai_jobs) AS public, (SELECT array_agg(profile_id) FROM jobs.ai_jobs) AS jobs")
      assert.deepStrictEqual(rows[0], { public: ["team-a", "team-a-again"], jobs: ["team-b"] })
    }).pipe(Effect.scoped), 120_000)
})
