/**
 * R17 a caller's transaction is joined only where the store's tables are
 * (found by an outside probe). The store's tables in a schema of their own
 * (`?options=-c search_path=jobs` in its URL), the application's own client
 * on the same database with the default search_path: the store took that
 * client's transaction for its own database by name, port and start time,
 * joined it, and its unqualified SQL ran with the application's search_path —
 * the job landed in another deployment's `public.ai_jobs`, or failed
 * `relation "ai_jobs" does not exist` without one. The identity now includes
 * the table the unqualified names reach, so such a transaction is "any other":
 * the job is written to the store's tables on its own connection.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { DatabaseUrl, Jobs } from "../../src/index.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { asAdmin, request } from "./pg-deployment.js"

const countIn = (url: string, table: string, jobId: string) =>
  Effect.map(asAdmin(url, `SELECT count(*)::int AS n FROM ${table} WHERE id = '${jobId}'`), (rows) => rows[0]!["n"])

/** The store on schema `jobs` of a fresh database, with another deployment migrated into `public` when asked. */
const schemaDeployment = (label: string, otherInPublic: boolean) =>
  Effect.gen(function*() {
    const base = yield* freshPgDatabase(label)
    yield* asAdmin(base, "CREATE SCHEMA jobs")
    if (otherInPublic) yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(base)))
    return { base, storeUrl: `${base}?options=${encodeURIComponent("-c search_path=jobs")}` }
  })

const submitInside = (appUrl: string, storeUrl: string, rollBack: boolean) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const sql = yield* SqlClient.SqlClient
    let submitted = ""
    const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
      submitted = (yield* jobs.submit(request)).job_id
      if (rollBack) return yield* Effect.fail("the application rolls back" as const)
    })))
    return { submitted, exit }
  }).pipe(Effect.provide(Layer.merge(services(DatabaseUrl.layerFromUrl(storeUrl)), rawPgClient(appUrl))))

describe("R17 a caller's transaction is joined only where the store's unqualified names reach its own tables", () => {
  it.live("a submit inside the application's transaction on the same database, another deployment in public: written to the store's schema", () =>
    Effect.gen(function*() {
      const { base, storeUrl } = yield* schemaDeployment("search path join public", true)
      const { submitted, exit } = yield* submitInside(base, storeUrl, false)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(
        { inStoreSchema: yield* countIn(base, "jobs.ai_jobs", submitted), inPublic: yield* countIn(base, "public.ai_jobs", submitted) },
        { inStoreSchema: 1, inPublic: 0 }
      )
    }).pipe(Effect.scoped), 60_000)

  it.live("a submit inside the application's transaction, no ai_jobs on its search_path: written to the store's schema, kept when the application rolls back", () =>
    Effect.gen(function*() {
      const { base, storeUrl } = yield* schemaDeployment("search path join none", false)
      const { submitted, exit } = yield* submitInside(base, storeUrl, true)
      assert.deepStrictEqual(exit, Exit.fail("the application rolls back" as const))
      assert.strictEqual(yield* countIn(base, "jobs.ai_jobs", submitted), 1)
    }).pipe(Effect.scoped), 60_000)

  it.live("a transaction of another client with the store's search_path is still joined: it rolls back with the application's", () =>
    Effect.gen(function*() {
      const { base, storeUrl } = yield* schemaDeployment("search path join same", true)
      const { submitted, exit } = yield* submitInside(storeUrl, storeUrl, true)
      assert.deepStrictEqual(exit, Exit.fail("the application rolls back" as const))
      assert.notStrictEqual(submitted, "")
      assert.deepStrictEqual(
        { inStoreSchema: yield* countIn(base, "jobs.ai_jobs", submitted), inPublic: yield* countIn(base, "public.ai_jobs", submitted) },
        { inStoreSchema: 0, inPublic: 0 }
      )
    }).pipe(Effect.scoped), 60_000)
})
