/**
 * R10 a worker role that may not create anything builds the store with the
 * default `migrate` on an up-to-date database (found by an outside probe).
 * PostgreSQL 15 gives a role that does not own `public` no CREATE there, and a
 * DBA may make a role read-only (`default_transaction_read_only`); migrating
 * always began with `CREATE TABLE IF NOT EXISTS ai_job_model_migrations`, so
 * the layer failed `MigrationFailed: permission denied for schema public` with
 * nothing to migrate. A database at the newest version is now only read.
 *
 * The grants here are the whole of what the README lists for a worker role:
 * SELECT, INSERT, UPDATE and DELETE on the tables and EXECUTE on the
 * functions (revoked from PUBLIC first, so the list is proven complete; no
 * sequence is used); a whole lifecycle runs under them, startup recovery
 * included.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { randomBytes } from "node:crypto"
import { DatabaseUrl, Jobs, Recovery } from "../../src/index.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase, pgAdminUrl } from "../support/pg-database.js"
import { asAdmin, request, untilSettled } from "./pg-deployment.js"

/** A login role of its own, dropped when the scope closes (after the database, made later in the scope). */
const loginRole = Effect.acquireRelease(
  Effect.gen(function*() {
    const role = `hsk_worker_${randomBytes(4).toString("hex")}`
    yield* asAdmin(pgAdminUrl(), `CREATE ROLE ${role} LOGIN`)
    return role
  }),
  (role) => asAdmin(pgAdminUrl(), `DROP ROLE IF EXISTS ${role}`)
)

/** A database migrated by its owner, `role` granted what a worker needs and nothing more. */
const migratedFor = (label: string, role: string) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(url)))
    yield* asAdmin(
      url,
      "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC",
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`,
      `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role}`
    )
    const asRole = new URL(url)
    asRole.username = role
    asRole.password = ""
    return { url, roleUrl: asRole.toString() }
  })

describe("R10 a worker role without CREATE, the layer's default migrate, an up-to-date database", () => {
  it.live("table DML and function EXECUTE suffice: the layer builds, startup recovery runs, four jobs complete with their events", () =>
    Effect.gen(function*() {
      const role = yield* loginRole
      const { url, roleUrl } = yield* migratedFor("least privilege", role)
      const created = yield* asAdmin(url, `SELECT has_schema_privilege('${role}', 'public', 'CREATE') AS may`)
      assert.deepStrictEqual(created, [{ may: false }])
      yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* jobs.worker({
          concurrency: 2,
          pollInterval: "50 millis",
          handlers: {
            doc_summarize: (context) => context.node({ node_id: "n", node_type: "llm", input: {} }, Effect.succeed({ ok: 1 }))
          }
        })
        yield* jobs.submitMany([request, request, request, request])
        yield* untilSettled(url)
      }).pipe(Effect.scoped, Effect.provide(services(DatabaseUrl.layerFromUrl(roleUrl), Recovery.layerStartup())))
      assert.deepStrictEqual(yield* asAdmin(url, "SELECT status, count(*)::int AS n FROM ai_jobs GROUP BY 1"), [{ status: "completed", n: 4 }])
      const [events] = yield* asAdmin(url, "SELECT count(DISTINCT job_id)::int AS jobs FROM flight_recorder_events")
      assert.strictEqual(events!["jobs"], 4)
    }).pipe(Effect.scoped), 60_000)

  it.live("a role whose transactions are read only (default_transaction_read_only): the layer builds and reads", () =>
    Effect.gen(function*() {
      const role = yield* loginRole
      const { url, roleUrl } = yield* migratedFor("read only role", role)
      yield* asAdmin(url, `ALTER ROLE ${role} SET default_transaction_read_only = on`)
      const exit = yield* Effect.exit(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        return (yield* jobs.list()).items.length
      }).pipe(Effect.provide(services(DatabaseUrl.layerFromUrl(roleUrl)))))
      assert.deepStrictEqual(exit, Exit.succeed(0))
    }).pipe(Effect.scoped), 60_000)
})
