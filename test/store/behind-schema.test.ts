/**
 * R17 A database behind this version is refused when a store that will not
 * migrate it is built, as a newer one is (README, "Upgrading a legacy
 * Handshake database"; newer-schema.test.ts): never migrated — empty, or
 * holding only another application's table — or migrated by an older version
 * (fewer migrations recorded than this version ships). `migrate: false` and
 * `readonly`, through the store's own layer and `DatabaseUrl.layerFromUrl`,
 * fail with `MigrationFailed` saying to run `ai-jobs migrate` (or build with
 * migrate: true) and naming the pending migrations, and nothing in the
 * database changes. Before, the store built; startup recovery then failed
 * five times on "no such table: ai_jobs" and every submit with
 * `RecoveryFailed`, naming no fix (found by a new-user probe). A process of a
 * rolling deploy that starts while another's migration has not committed is
 * refused the same way (the migration held at its last step by a hook), and
 * builds once it has. One that starts during another's migration adding a
 * table reads the catalogue and the bookkeeping as of one moment: before,
 * the migration committing between its two reads showed the bookkeeping
 * without the table, and it was refused as a database whose tables were
 * dropped ("restore from a backup"). On SQLite and PostgreSQL.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Deferred from "effect/Deferred"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Recovery from "../../src/Recovery.js"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { type MigrationReport, MigrationReports } from "../../src/store/internal/migrationReport.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { beforeStatement } from "../support/statementTrap.js"
import { holdTable } from "../support/tableHold.js"
import { openSqlite } from "../reliability/snapshot.js"
import { shippedPgMigrationIds } from "./pg-support.js"
import { rawClient, rawRows, schemaSnapshot, shippedSqliteMigrationIds, tempDatabaseFile } from "./sqlite-support.js"

type Refusal = { readonly _tag: string; readonly message: string }

/** How one dialect is opened: the store's own layer, a raw client, what its catalogue holds. */
interface Dialect {
  readonly label: "SQLite" | "PostgreSQL"
  readonly shipped: ReadonlyArray<number>
  readonly store: (target: string, options: { readonly migrate?: false; readonly readonly?: true }) => Layer.Layer<JobStore, Refusal>
  readonly client: (target: string) => Layer.Layer<SqlClient.SqlClient, unknown>
  readonly catalogue: Effect.Effect<unknown, unknown, SqlClient.SqlClient>
  /** A database of the dialect nobody migrated: empty. */
  readonly fresh: Effect.Effect<string, never, Scope.Scope>
}

const sqlite: Dialect = {
  label: "SQLite",
  shipped: shippedSqliteMigrationIds,
  store: (filename, options) => SqliteStore.layer({ filename, ...options }),
  client: rawClient,
  catalogue: schemaSnapshot,
  fresh: tempDatabaseFile()
}

const pg: Dialect = {
  label: "PostgreSQL",
  shipped: shippedPgMigrationIds,
  store: (url, options) => PgStore.layer({ url, ...options }),
  client: rawPgClient,
  catalogue: rawRows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"),
  fresh: freshPgDatabase("behind schema")
}

const FIX = "run `ai-jobs migrate` (or build the store with migrate: true)"

/** Every way of building a store that does not migrate `target`: the store's own layer and the URL's, told not to and read-only. */
const nonMigrating = (dialect: Dialect, target: string): ReadonlyArray<readonly [string, Layer.Layer<JobStore, Refusal>]> => [
  ["migrate: false", dialect.store(target, { migrate: false })],
  ["readonly", dialect.store(target, { readonly: true })],
  ["layerFromUrl migrate: false", DatabaseUrl.layerFromUrl(target, { migrate: false })],
  ["layerFromUrl readonly", DatabaseUrl.layerFromUrl(target, { readonly: true })]
]

/** Each non-migrating build of `target` fails with a MigrationFailed said as a refusal to open, matching `said`; the catalogue is unchanged. */
const refusedEveryWay = (dialect: Dialect, target: string, said: RegExp) =>
  Effect.gen(function*() {
    const before = yield* Effect.provide(dialect.catalogue, dialect.client(target))
    for (const [how, store] of nonMigrating(dialect, target)) {
      const refusal = yield* Effect.flip(Effect.scoped(Layer.build(store)))
      assert.strictEqual(refusal._tag, "MigrationFailed", how)
      assert.match(refusal.message, new RegExp(`^Cannot open the store on this ${dialect.label} database: `), how)
      assert.match(refusal.message, said, how)
      assert.include(refusal.message, FIX, how)
    }
    assert.deepStrictEqual(yield* Effect.provide(dialect.catalogue, dialect.client(target)), before, "nothing created or changed")
  })

const NOT_MIGRATED = /the database is not migrated: it records no migration of @handshake\/ai-job-model/

/** Never migrated: empty, then holding another application's table. */
const unmigratedRefused = (dialect: Dialect) =>
  Effect.gen(function*() {
    const target = yield* dialect.fresh
    yield* refusedEveryWay(dialect, target, NOT_MIGRATED)
    yield* Effect.provide(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE notes (body text)`), dialect.client(target))
    yield* refusedEveryWay(dialect, target, NOT_MIGRATED)
  })

/** Migrated, then the two newest migrations' rows removed, as an older version leaves it: refused naming both as pending. */
const olderRefused = (dialect: Dialect) =>
  Effect.gen(function*() {
    const target = yield* dialect.fresh
    yield* Effect.scoped(Layer.build(dialect.store(target, {})))
    const [older, pendingA, pendingB] = dialect.shipped.slice(-3)
    yield* Effect.provide(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM ai_job_model_migrations WHERE migration_id > ${older!}`),
      dialect.client(target)
    )
    const label = (id: number) => String(id).padStart(4, "0")
    yield* refusedEveryWay(
      dialect,
      target,
      new RegExp(`schema is at migration ${label(older!)}, behind this library's ${label(pendingB!)} .*pending: ${label(pendingA!)}_\\w+, ${label(pendingB!)}_\\w+: `)
    )
    // Migrated again, every way of opening it builds.
    yield* Effect.scoped(Layer.build(dialect.store(target, {})))
    for (const [how, store] of nonMigrating(dialect, target)) {
      assert.strictEqual(yield* Effect.provide(Effect.flatMap(JobStore, (s) => s.schemaVersion), store), pendingB, how)
    }
  })

/** The probe's application (startup recovery, Jobs) on an unmigrated database: its build fails with the store's MigrationFailed. */
const applicationRefused = (dialect: Dialect) =>
  Effect.gen(function*() {
    const target = yield* dialect.fresh
    const app = services(DatabaseUrl.layerFromUrl(target, { migrate: false }), Recovery.layerStartup())
    const refusal = yield* Effect.flip(Effect.scoped(Layer.build(app)))
    assert.strictEqual(refusal._tag, "MigrationFailed")
    assert.match(refusal.message, NOT_MIGRATED)
  })

/**
 * A rolling deploy: one process migrates while another starts with `migrate: false`. The migration is
 * held at its last step, inside its transaction (the report it records there waits on `release`): the
 * other store, built then, is refused as not migrated; once the migration commits, it builds at the newest.
 */
const rollingDeploy = (dialect: Dialect) =>
  Effect.gen(function*() {
    const target = yield* dialect.fresh
    const meanwhile = dialect.store(target, { migrate: false })
    const reached = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const reports = yield* Ref.make(Option.none<MigrationReport>())
    const held: typeof reports = Object.create(reports, {
      modify: {
        value: (f: Parameters<typeof reports.modify>[0]) =>
          Effect.zipRight(Effect.zipRight(Deferred.succeed(reached, undefined), Deferred.await(release)), reports.modify(f))
      }
    })
    const migrating = yield* Effect.fork(Effect.scoped(Layer.build(dialect.store(target, {}))).pipe(Effect.provideService(MigrationReports, held)))
    yield* Deferred.await(reached)
    const refusal = yield* Effect.flip(Effect.scoped(Layer.build(meanwhile))).pipe(Effect.ensuring(Deferred.succeed(release, undefined)))
    yield* Fiber.join(migrating)
    assert.strictEqual(refusal._tag, "MigrationFailed")
    assert.match(refusal.message, NOT_MIGRATED)
    assert.strictEqual(yield* Effect.provide(Effect.flatMap(JobStore, (s) => s.schemaVersion), meanwhile), Math.max(...dialect.shipped))
  })

/** The migration this test's rolling upgrade applies: the newest that adds a table (run_offers) on both dialects. */
const ADDS_A_TABLE = 16

/**
 * A migrated database put back to before `ADDS_A_TABLE`, as an older version left it: its table aside
 * (renamed) and its bookkeeping rows, and those after it, kept in a table of their own. `UPGRADE` is the
 * migration's work, committed by another connection: the table back and the rows recorded.
 */
const olderDatabase = (dialect: Dialect, target: string) =>
  Effect.gen(function*() {
    yield* Effect.scoped(Layer.build(dialect.store(target, {})))
    yield* Effect.provide(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.all([
          sql`CREATE TABLE pending_rows AS SELECT * FROM ai_job_model_migrations WHERE migration_id >= ${ADDS_A_TABLE}`,
          sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= ${ADDS_A_TABLE}`,
          sql`ALTER TABLE run_offers RENAME TO run_offers_pending`
        ], { discard: true })),
      dialect.client(target)
    )
  })

const UPGRADE = [
  "ALTER TABLE run_offers_pending RENAME TO run_offers",
  "INSERT INTO ai_job_model_migrations SELECT * FROM pending_rows"
]

/** The store built during the upgrade: it builds at the newest version (the one read saw the migration committed), never "not there". */
const builtAfterUpgrade = (dialect: Dialect, exit: Exit.Exit<number, Refusal>) => {
  if (Exit.isFailure(exit)) {
    const refusal = Cause.squash(exit.cause) as Refusal
    assert.notMatch(refusal.message, /the schema they made is not there/)
  }
  assert.deepStrictEqual(exit, Exit.succeed(Math.max(...dialect.shipped)))
}

const versionOf = (store: Layer.Layer<JobStore, Refusal>) => Effect.provide(Effect.flatMap(JobStore, (s) => s.schemaVersion), store)

/**
 * SQLite: the migration commits, from another connection, as the build's first statement reading the
 * bookkeeping table starts — in the two reads, after the catalogue was read.
 */
const sqliteUpgradeBetweenReads = Effect.gen(function*() {
  const target = yield* sqlite.fresh
  yield* olderDatabase(sqlite, target)
  const other = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(target)), (db) => Effect.sync(() => db.close()))
  const { exit, firedAt } = yield* beforeStatement(
    versionOf(sqlite.store(target, { migrate: false })),
    /FROM "ai_job_model_migrations"/,
    () => other.exec(`BEGIN IMMEDIATE; ${UPGRADE.join("; ")}; COMMIT`)
  )
  assert.isDefined(firedAt, "the migration committed during the build")
  builtAfterUpgrade(sqlite, exit)
})

/**
 * PostgreSQL: the migration holds the bookkeeping table (ACCESS EXCLUSIVE, as the Migrator does) with its
 * work done; the build reads the catalogue and waits on the table; then the migration commits.
 */
const pgUpgradeBetweenReads = Effect.gen(function*() {
  const target = yield* pg.fresh
  yield* olderDatabase(pg, target)
  const migration = yield* holdTable(target, "ai_job_model_migrations", "ACCESS EXCLUSIVE", UPGRADE)
  const building = yield* Effect.fork(Effect.exit(versionOf(pg.store(target, { migrate: false }))))
  yield* migration.blocked
  yield* migration.release
  builtAfterUpgrade(pg, yield* Fiber.join(building))
})

describe("a database behind this version, opened without migrating", () => {
  it.scoped(`R17 SQLite: rolling upgrade: a migration adding a table commits between the build's reads of the catalogue and the bookkeeping: it builds at the newest version, never refused as a database whose tables were dropped`, () =>
    sqliteUpgradeBetweenReads, 60_000)

  it.scoped(`R17 PostgreSQL: rolling upgrade: a migration adding a table commits while the build waits to read the bookkeeping, the catalogue read: it builds at the newest version, never refused as a database whose tables were dropped`, () =>
    pgUpgradeBetweenReads, 60_000)

  for (const dialect of [sqlite, pg]) {
    it.scoped(`R17 ${dialect.label}: never migrated (empty, or another application's table): migrate: false and readonly, the store's layer and layerFromUrl, fail with MigrationFailed saying to run ai-jobs migrate; nothing changes`, () =>
      unmigratedRefused(dialect), 60_000)

    it.scoped(`R17 ${dialect.label}: migrated by an older version: refused naming the pending migrations; migrated, it builds every way`, () =>
      olderRefused(dialect), 60_000)

    it.scoped(`R17 ${dialect.label}: the new-user probe's application (startup recovery, Jobs) on an unmigrated database fails to build with MigrationFailed`, () =>
      applicationRefused(dialect), 60_000)

    it.scoped(`R17 ${dialect.label}: rolling deploy: a store built while another process's migration has not committed is refused as not migrated, and builds once it has`, () =>
      rollingDeploy(dialect), 60_000)
  }
})
