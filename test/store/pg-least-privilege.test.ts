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
 * SELECT, INSERT, UPDATE and DELETE on the tables but INSERT and DELETE on
 * `flight_recorder_retention_grants`, and EXECUTE on the functions (revoked
 * from PUBLIC first, so the list is proven complete; no sequence is used); a
 * whole lifecycle runs under them, startup recovery, a stale run's recovery,
 * pins, cancels, node writes and the pruning of jobs included. A grant is
 * what licenses deleting events, so only the janitor role that runs retention
 * may insert one (found by an outside attacker's probe: a grant at 'infinity'
 * deleted recent events in one transaction under the worker's privileges).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { randomBytes } from "node:crypto"
import * as DateTime from "effect/DateTime"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import { DatabaseUrl, FlightRecorder, Janitor, Jobs, Recovery } from "../../src/index.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase, pgAdminUrl } from "../support/pg-database.js"
import { asAdmin, refusalAs, request, untilSettled } from "./pg-deployment.js"

/** A login role of its own, dropped when the scope closes (after the database, made later in the scope). */
const loginRole = Effect.acquireRelease(
  Effect.gen(function*() {
    const role = `hsk_worker_${randomBytes(4).toString("hex")}`
    yield* asAdmin(pgAdminUrl(), `CREATE ROLE ${role} LOGIN`)
    return role
  }),
  (role) => asAdmin(pgAdminUrl(), `DROP ROLE IF EXISTS ${role}`)
)

/** What the README grants a worker role: every table's DML but the licence to delete events. */
const workerGrants = (role: string) => [
  `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`,
  `REVOKE INSERT, DELETE ON flight_recorder_retention_grants FROM ${role}`,
  `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${role}`
]

/** What the README grants the role that runs retention: a worker's, and the grants' INSERT and DELETE. */
const janitorGrants = (role: string) => [...workerGrants(role), `GRANT INSERT, DELETE ON flight_recorder_retention_grants TO ${role}`]

/** A database migrated by its owner, `role` granted `grants` and nothing more. */
const migratedFor = (label: string, role: string, grants: (role: string) => ReadonlyArray<string> = workerGrants) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(url)))
    yield* asAdmin(url, "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC", ...grants(role))
    const asRole = new URL(url)
    asRole.username = role
    asRole.password = ""
    return { url, roleUrl: asRole.toString() }
  })

/** The probe's attack: in one transaction, a grant licensing every event, a DELETE of recent audit events, the grant gone before COMMIT. */
const attack = (cutoff: string) => [
  "BEGIN",
  `INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (${cutoff})`,
  "DELETE FROM flight_recorder_events WHERE actor = 'human' OR type IN ('security_violation', 'workflow_recovery', 'capability_action')",
  "DELETE FROM flight_recorder_retention_grants",
  "COMMIT"
]

/** The number of events stored, read by the owner. */
const eventCount = (url: string) => Effect.map(asAdmin(url, "SELECT count(*)::int AS n FROM flight_recorder_events"), ([row]) => row!["n"] as number)

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

  it.live("R9 R10 R18 under the worker's grants, pins, cancels, a stale run's recovery and the pruning of jobs work; the probe's attack on the event log is refused for permission and deletes nothing, and so is retention", () =>
    Effect.gen(function*() {
      const role = yield* loginRole
      const { url, roleUrl } = yield* migratedFor("worker grants", role)
      const outcome = yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const [kept, cancelled, stale] = yield* jobs.submitMany([request, request, request])
        yield* jobs.cancel(cancelled!.job_id)
        yield* jobs.pin(kept!.job_id)
        yield* jobs.cancel(kept!.job_id)
        // A claimed run whose worker went quiet a day ago: recovery stalls it, with its workflow_recovery event.
        const claim = yield* jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, stale!.job_id)
        yield* asAdmin(url, "UPDATE workflow_runs SET last_heartbeat = now() - interval '1 day'")
        yield* Recovery.recoverStalledRuns()
        const stalled = (yield* jobs.get(stale!.job_id)).state
        yield* jobs.cancel(stale!.job_id)
        const pruned = yield* Janitor.prune({ olderThan: DateTime.add(yield* DateTime.now, { days: 1 }), keepNewest: 0 })
        const retention = yield* Effect.flip(Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) => recorder.enforceRetention()))
        return { stalled, pruned, retention, pinned: (yield* jobs.get(kept!.job_id)).is_pinned }
      }).pipe(Effect.scoped, Effect.provide(services(DatabaseUrl.layerFromUrl(roleUrl))))
      assert.strictEqual(outcome.stalled, "stalled")
      assert.deepStrictEqual([outcome.pruned.pruned, outcome.pruned.spared_pinned, outcome.pinned], [2, 1, true])
      assert.strictEqual(outcome.retention._tag, "StorageError")
      assert.match(String((outcome.retention.cause as { readonly cause?: unknown }).cause), /permission denied for table flight_recorder_retention_grants/)
      const recorded = yield* eventCount(url)
      assert.isAbove(recorded, 0)
      for (const cutoff of ["'infinity'", "now()"]) {
        assert.match((yield* refusalAs(roleUrl, ...attack(cutoff))) ?? "the attack committed", /permission denied for table flight_recorder_retention_grants/, cutoff)
      }
      assert.strictEqual(yield* eventCount(url), recorded, "no event deleted")
    }).pipe(Effect.scoped), 60_000)

  it.live("R13 under the janitor's grants retention purges; a grant later than its transaction's start (the probe's 'infinity') is refused and deletes nothing", () =>
    Effect.gen(function*() {
      const role = yield* loginRole
      const { url, roleUrl } = yield* migratedFor("janitor grants", role, janitorGrants)
      yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(request)
        yield* jobs.cancel(job.job_id)
      }).pipe(Effect.provide(services(DatabaseUrl.layerFromUrl(roleUrl))))
      const recorded = yield* eventCount(url)
      assert.isAbove(recorded, 0)
      for (const cutoff of ["'infinity'", "clock_timestamp() + interval '1 hour'"]) {
        assert.match((yield* refusalAs(roleUrl, ...attack(cutoff))) ?? "the attack committed", /later than its transaction's start/, cutoff)
      }
      assert.strictEqual(yield* eventCount(url), recorded, "no event deleted")
      const purged = yield* Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) =>
        Effect.flatMap(DateTime.now, (cutoff) => recorder.enforceRetention({ cutoff }))).pipe(
          Effect.provide(services(DatabaseUrl.layerFromUrl(roleUrl)))
        )
      assert.strictEqual(purged, recorded)
      assert.strictEqual(yield* eventCount(url), 0)
    }).pipe(Effect.scoped), 60_000)

  it.live("FR-EVT-004 a database granted as the README says before migration 0031, then upgraded: the janitor's purge records the retention horizon, and the worker's views read it", () =>
    Effect.gen(function*() {
      const janitor = yield* loginRole
      const worker = yield* loginRole
      const url = yield* freshPgDatabase("horizon upgrade grants")
      yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(url)))
      // Back to 0030, where `ON ALL TABLES` cannot reach the horizon's table; the roles granted then.
      yield* asAdmin(url, "DROP TABLE flight_recorder_retention_horizon", "DELETE FROM ai_job_model_migrations WHERE migration_id >= 31")
      yield* asAdmin(url, "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC", ...janitorGrants(janitor), ...workerGrants(worker))
      yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(url)))
      const as = (role: string) => {
        const roleUrl = new URL(url)
        roleUrl.username = role
        roleUrl.password = ""
        return services(DatabaseUrl.layerFromUrl(roleUrl.toString()))
      }
      // An hour old: every event of it is before the purge's cutoff (now).
      const job = yield* Effect.flatMap(Jobs.Jobs, (jobs) => jobs.submit(request)).pipe(
        Effect.withClock(pastClock("1 hour")),
        Effect.provide(as(worker))
      )
      const purged = yield* Effect.flatMap(FlightRecorder.FlightRecorder, (recorder) =>
        Effect.flatMap(DateTime.now, (cutoff) => recorder.enforceRetention({ cutoff }))).pipe(Effect.provide(as(janitor)))
      assert.isAbove(purged, 0)
      const missing = yield* Effect.flatMap(Jobs.Jobs, (jobs) => jobs.history(job.job_id)).pipe(Effect.provide(as(worker)))
      assert.strictEqual(missing.evidence_missing?.reason, "retention")
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
