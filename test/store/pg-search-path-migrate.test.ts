/**
 * R17 a search_path whose first schema holds no store while a later one
 * does is refused, naming both (found by outside probes). Two shapes look
 * the same and neither guess is safe:
 *
 * - Team B means a store of its own in `jobs` and writes
 *   `search_path=jobs,public` (public kept for extensions), team A's store
 *   in `public`. Looking over the whole path, migrate found A's bookkeeping
 *   table, said "Nothing to apply", and B read and wrote A's jobs.
 * - A deployment in `public` under the default `"$user", public`, then a
 *   DBA's `CREATE SCHEMA <role>` (PostgreSQL's own advice for private
 *   schemas). Looking in `current_schema()` only, the store seemed
 *   unmigrated: `jobs list` said "not migrated" and migrate (every worker
 *   restart) built a second, empty store in the role's schema.
 *
 * Now migrate and every store build (migrate off, read-only) fail with
 * MigrationFailed naming both schemas and the URL for each, and change
 * nothing; a path naming one schema builds or uses that one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DatabaseUrl, Jobs } from "../../src/index.js"
import { runCli } from "../cli/cli.js"
import { services } from "../jobs/services.js"
import { capturingLog } from "../support/capturedLog.js"
import { buildLegacyDatabase } from "../fixtures/legacyPg.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
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

/** The refusal's message for a path whose first schema is `first`, with a store in `later`. */
const refusalNaming = (first: string, later: string) =>
  new RegExp(
    `the search_path's first schema "${first}" holds no job store, but "${later}", later on the path, holds one \\(schema version \\d+\\): ` +
      `name the one to use in the URL — \\?options=-c search_path=${later} to use it, or \\?options=-c search_path=${first} to create a new store there; nothing was changed`
  )

/** Builds the store at `url` with `options`: the error it fails with, or undefined when it is built. */
const buildError = (url: string, options: DatabaseUrl.StorageOptions = {}) =>
  Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(url, options))).pipe(
    Effect.flip,
    Effect.map((error) => ({ tag: error._tag, message: error.message })),
    Effect.orElseSucceed(() => undefined)
  )

/** The schemas of the database at `url` holding a table named like one of the store's. */
const storeSchemas = (url: string) =>
  asAdmin(
    url,
    "SELECT DISTINCT table_schema AS schema FROM information_schema.tables WHERE table_name IN ('ai_jobs', 'ai_job_model_migrations') ORDER BY 1"
  ).pipe(Effect.map((rows) => rows.map((row) => String(row["schema"]))))

/** Every way a store is built: migrating, migrate off, read-only. Each must refuse a hidden store the same way. */
const builds: ReadonlyArray<readonly [string, DatabaseUrl.StorageOptions]> = [
  ["migrate", {}],
  ["migrate off", { migrate: false }],
  ["read-only", { readonly: true }]
]

describe("R17 a store in a later schema of the search_path is never hidden nor taken: the URL must name one", () => {
  it.live("team A in public, team B with search_path=jobs,public: refused naming jobs and public, nothing created; with search_path=jobs B builds its own store, public unchanged, each team sees only its own jobs", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("search path migrate")
      const teamBBoth = `${base}?options=${encodeURIComponent("-c search_path=jobs,public")}`
      const teamB = `${base}?options=${encodeURIComponent("-c search_path=jobs")}`
      // Team A migrates into public and has a job.
      assert.deepStrictEqual(yield* submitAndList(base, "team-a"), ["team-a"])
      yield* asAdmin(base, "CREATE SCHEMA jobs")
      const publicBefore = yield* publicObjects(base)

      for (const [, options] of builds) {
        const refused = yield* buildError(teamBBoth, options)
        assert.strictEqual(refused?.tag, "MigrationFailed")
        assert.match(refused?.message ?? "", refusalNaming("jobs", "public"))
      }
      assert.deepStrictEqual(yield* storeSchemas(base), ["public"])
      assert.deepStrictEqual(yield* publicObjects(base), publicBefore)

      yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(teamB)))

      const [inJobs] = yield* asAdmin(base, "SELECT to_regclass('jobs.ai_jobs') IS NOT NULL AS ai_jobs, (SELECT max(migration_id) FROM jobs.ai_job_model_migrations) = (SELECT max(migration_id) FROM public.ai_job_model_migrations) AS newest")
      assert.deepStrictEqual(inJobs, { ai_jobs: true, newest: true })
      assert.deepStrictEqual(yield* publicObjects(base), publicBefore)
      assert.deepStrictEqual(yield* submitAndList(teamB, "team-b"), ["team-b"])
      // Once jobs holds B's store, the path with public after it is B's store too.
      assert.deepStrictEqual(yield* submitAndList(teamBBoth, "team-b-again"), ["team-b", "team-b-again"])
      assert.deepStrictEqual(yield* submitAndList(base, "team-a-again"), ["team-a", "team-a-again"])
      const rows = yield* asAdmin(base, "SELECT (SELECT array_agg(profile_id ORDER BY profile_id) FROM public.ai_jobs) AS public, (SELECT array_agg(profile_id ORDER BY profile_id) FROM jobs.ai_jobs) AS jobs")
      assert.deepStrictEqual(rows[0], { public: ["team-a", "team-a-again"], jobs: ["team-b", "team-b-again"] })
    }).pipe(Effect.scoped), 120_000)

  it.live("default search_path (\"$user\", public), store in public, then CREATE SCHEMA named like the role: every build refused naming both, nothing created; with search_path=public the deployment and its jobs are there", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("user schema")
      assert.deepStrictEqual(yield* submitAndList(base, "before-user-schema"), ["before-user-schema"])
      const [role] = yield* asAdmin(base, "SELECT current_user AS name")
      const name = String(role!["name"])
      yield* asAdmin(base, `CREATE SCHEMA "${name}"`)
      const publicBefore = yield* publicObjects(base)

      for (const [, options] of builds) {
        const refused = yield* buildError(base, options)
        assert.strictEqual(refused?.tag, "MigrationFailed")
        assert.match(refused?.message ?? "", refusalNaming(name, "public"))
      }
      assert.deepStrictEqual(yield* storeSchemas(base), ["public"])
      assert.deepStrictEqual(yield* publicObjects(base), publicBefore)

      const inPublic = `${base}?options=${encodeURIComponent("-c search_path=public")}`
      assert.deepStrictEqual(yield* submitAndList(inPublic, "after-user-schema"), ["after-user-schema", "before-user-schema"])
      assert.deepStrictEqual(yield* storeSchemas(base), ["public"])
    }).pipe(Effect.scoped), 120_000)

  // Found by an outside probe: the advice wrote a mixed-case schema bare (search_path=Jobs), which PostgreSQL reads as jobs.
  // Found by a regression probe: a name with & + # % was advised raw, which a URL query reads otherwise (R&D ends the
  // parameter at &, + is a space): such an option is percent-encoded whole; a plain one keeps the README's form.
  it.live("a mixed-case schema, one with a space, or with a character a URL query reads otherwise (& + # % ? /) is written in the advice so that each advised option, put in the URL exactly as written, reaches the schema it names", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("quoted schemas")
      const withOptions = (options: string) => `${base}?options=${encodeURIComponent(options)}`
      const asWritten = (advised: string) => `${base}?options=${advised}`
      yield* asAdmin(base, `CREATE SCHEMA "Team Jobs"`, `CREATE SCHEMA "Jobs"`)
      assert.deepStrictEqual(yield* submitAndList(withOptions(`-c search_path="Team\\ Jobs"`), "team"), ["team"])
      assert.deepStrictEqual(yield* storeSchemas(base), ["Team Jobs"])

      const refused = yield* buildError(withOptions(`-c search_path="Jobs","Team\\ Jobs"`))
      assert.strictEqual(refused?.tag, "MigrationFailed")
      const adviceIn = (message: string | undefined) => /\?options=(.+?) to use it, or \?options=(.+?) to create a new store there/.exec(message ?? "")?.slice(1)
      const advice = adviceIn(refused?.message)
      assert.deepStrictEqual(advice, [`-c search_path="Team\\ Jobs"`, `-c search_path="Jobs"`], refused?.message)
      assert.deepStrictEqual(yield* storeSchemas(base), ["Team Jobs"])

      const [useIt, createThere] = advice as [string, string]
      assert.deepStrictEqual(yield* submitAndList(asWritten(useIt), "team-again"), ["team", "team-again"])
      assert.deepStrictEqual(yield* submitAndList(asWritten(createThere), "new"), ["new"])
      assert.deepStrictEqual(yield* storeSchemas(base), ["Jobs", "Team Jobs"])

      for (const schema of ["R&D", "Team+Jobs", "a#b", "50%", "a?b/c", "Q&A + 100% #1"]) {
        yield* asAdmin(base, `CREATE SCHEMA "${schema}"`)
        const hidden = yield* buildError(withOptions(`-c search_path="${schema.replace(/ /g, "\\ ")}","Team\\ Jobs"`))
        const [useTeam, createHere] = adviceIn(hidden?.message) ?? []
        assert.isDefined(createHere, `${schema}: ${hidden?.message}`)
        const teamJobs = yield* submitAndList(asWritten(useTeam!), `team-${schema}`)
        assert.includeMembers(teamJobs, ["team", `team-${schema}`], schema)
        assert.deepStrictEqual(yield* submitAndList(asWritten(createHere!), `in-${schema}`), [`in-${schema}`], schema)
        const [reached] = yield* asAdmin(base, `SELECT (SELECT array_agg(profile_id) FROM "${schema}".ai_jobs) AS profiles`)
        assert.deepStrictEqual(reached, { profiles: [`in-${schema}`] }, schema)
        yield* asAdmin(base, `DROP SCHEMA "${schema}" CASCADE`)
      }
    }).pipe(Effect.scoped), 120_000)

  // Found by a regression probe: a store migrated with search_path=jobs, opened without it, was refused as "not migrated"
  // with the advice to run migrate — which builds a second, empty store in public beside the real one.
  it.live("a store in a schema off the search_path (migrated with search_path=jobs, opened without it): every build that does not migrate, and `ai-jobs jobs list`, are refused naming that schema and the URL option that reaches it, never advising migrate; nothing is created; the advice, as written, reaches the store", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("store off the path")
      yield* asAdmin(base, "CREATE SCHEMA jobs", `CREATE SCHEMA "Team B"`)
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${encodeURIComponent("-c search_path=jobs")}`, "in-jobs"), ["in-jobs"])
      const refusal = /no schema on the search_path \(public\) holds a job store, but schema "jobs" of this database holds one: name the one to use in the URL — \?options=(-c search_path=jobs); a store migrated with this URL would be a second, empty one beside it; nothing was changed/

      for (const [label, options] of builds.filter(([label]) => label !== "migrate")) {
        const refused = yield* buildError(base, options)
        assert.strictEqual(refused?.tag, "MigrationFailed", label)
        assert.match(refused?.message ?? "", refusal, label)
        assert.notMatch(refused?.message ?? "", /ai-jobs migrate|migrate: true/, label)
      }
      const listed = yield* Effect.promise(() => runCli(["jobs", "list", "--database", base]))
      assert.strictEqual(listed.code, 1, listed.stderr)
      assert.match(listed.stderr, refusal)
      assert.notMatch(listed.stderr, /ai-jobs migrate/)
      assert.deepStrictEqual(yield* storeSchemas(base), ["jobs"])
      const advised = refusal.exec(listed.stderr)?.[1]
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${advised}`, "via-advice"), ["in-jobs", "via-advice"])

      // Two stores off the path: both named, each with its option.
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${encodeURIComponent(`-c search_path="Team\\ B"`)}`, "in-team-b"), ["in-team-b"])
      const both = yield* buildError(base, { readonly: true })
      assert.match(
        both?.message ?? "",
        /but schemas "Team B", "jobs" of this database hold one each: name the one to use in the URL — \?options=-c search_path="Team\\ B" or \?options=-c search_path=jobs;/
      )
      assert.deepStrictEqual(yield* storeSchemas(base), ["Team B", "jobs"])
    }).pipe(Effect.scoped), 120_000)

  it.live("migrate that creates a new store while schemas off the search_path hold one (migrated with search_path=jobs, migrated again without it) warns naming each and the URL option that reaches it, and still builds it (a new store may be meant); not when it creates none, nor on a database with no other store", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("migrate beside a store")
      yield* asAdmin(base, "CREATE SCHEMA jobs", `CREATE SCHEMA "Team B"`)
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${encodeURIComponent("-c search_path=jobs")}`, "in-jobs"), ["in-jobs"])
      // Found by a README truth audit: this exited 0 with a second, empty store in public and said nothing of the one in jobs.
      const second = yield* Effect.promise(() => runCli(["migrate", "--database", base]))
      assert.strictEqual(second.code, 0, second.stderr)
      const warning = /WARN.*migrate created a new job store in schema "public", the search_path's first, but schema "jobs" of this database holds one: name the one to use in the URL — \?options=(-c search_path=jobs); the new store is a second, separate one/
      assert.match(second.stderr, warning)
      assert.deepStrictEqual(yield* storeSchemas(base), ["jobs", "public"])
      const advised = warning.exec(second.stderr)?.[1]
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${advised}`, "via-advice"), ["in-jobs", "via-advice"])
      // Nothing created: nothing said.
      const again = yield* Effect.promise(() => runCli(["migrate", "--database", base]))
      assert.deepStrictEqual([again.code, again.stderr.includes("new job store")], [0, false], again.stderr)

      // The library's migrating build says it too, naming every store off its path.
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${encodeURIComponent(`-c search_path="Team\\ B"`)}`, "in-team-b"), ["in-team-b"])
      yield* asAdmin(base, "CREATE SCHEMA fresh")
      const log = capturingLog(["WARN"])
      assert.isUndefined(yield* log.provide(buildError(`${base}?options=${encodeURIComponent("-c search_path=fresh")}`)))
      assert.deepStrictEqual(log.lines, [
        `migrate created a new job store in schema "fresh", the search_path's first, but schemas "Team B", "jobs", "public" of this database hold one each: ` +
        `name the one to use in the URL — ?options=-c search_path="Team\\ B" or ?options=-c search_path=jobs or ?options=-c search_path=public; the new store is a second, separate one`
      ])

      const alone = yield* freshPgDatabase("migrate alone")
      const first = yield* Effect.promise(() => runCli(["migrate", "--database", alone]))
      assert.deepStrictEqual([first.code, first.stderr.includes("new job store")], [0, false], first.stderr)
    }).pipe(Effect.scoped), 120_000)

  // Found by a README truth audit: upgrading a reference database in place said "migrate created a new job store".
  it.live("migrate that upgrades a reference database in place while a schema off the search_path holds a store warns that it upgraded the tables in place, not that it created a new store", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("upgrade beside a store")
      yield* asAdmin(base, "CREATE SCHEMA jobs")
      assert.deepStrictEqual(yield* submitAndList(`${base}?options=${encodeURIComponent("-c search_path=jobs")}`, "in-jobs"), ["in-jobs"])
      yield* Effect.provide(buildLegacyDatabase, rawPgClient(base))
      const [legacy] = yield* asAdmin(base, "SELECT count(*)::int AS jobs FROM public.ai_jobs")

      const upgraded = yield* Effect.promise(() => runCli(["migrate", "--database", base]))
      assert.strictEqual(upgraded.code, 0, upgraded.stderr)
      assert.match(
        upgraded.stderr,
        /WARN.*migrate upgraded the reference implementation's job tables in place in schema "public", the search_path's first, but schema "jobs" of this database holds one: name the one to use in the URL — \?options=-c search_path=jobs; the upgraded store is a separate one/
      )
      assert.notMatch(upgraded.stderr, /new job store/)
      const [after] = yield* asAdmin(base, "SELECT count(*)::int AS jobs FROM public.ai_jobs")
      assert.deepStrictEqual(after, legacy)
    }).pipe(Effect.scoped), 120_000)

  // Found by a regression probe: the refusal took pg_catalog for the path's first schema, and advised making a store there.
  it.live("a path naming the system's schemas first (pg_catalog, public — a common hardening — or pg_temp, public) uses the store in public, on every build", () =>
    Effect.gen(function*() {
      const base = yield* freshPgDatabase("system schemas first")
      assert.deepStrictEqual(yield* submitAndList(base, "in-public"), ["in-public"])
      for (const path of ["pg_catalog,public", "pg_temp,public", "pg_catalog,pg_temp,public"]) {
        const url = `${base}?options=${encodeURIComponent(`-c search_path=${path}`)}`
        for (const [label, options] of builds) {
          assert.strictEqual(yield* buildError(url, options), undefined, `${path}, ${label}`)
        }
        assert.include(yield* submitAndList(url, `via-${path}`), "in-public")
      }
      assert.deepStrictEqual(yield* storeSchemas(base), ["public"])
    }).pipe(Effect.scoped), 120_000)
})
