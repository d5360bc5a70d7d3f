/**
 * The database failing while a PostgreSQL store migrates or opens — a full
 * disk (53100), out of memory (53200), an I/O error (58030), an operator's
 * intervention other than a cancel (57000, 57P04) — is a `StorageError`,
 * which a supervisor retries, the driver's error kept: opening again once
 * the disk is freed migrates. Only a lost connection was (found by a review
 * of the store's three classifications of driver failures): the rest were
 * `MigrationFailed`, which a supervisor treats as permanent. A statement the
 * database refuses — syntax, a constraint, a permission, a lock or statement
 * timeout, a read-only transaction — stays `MigrationFailed`. A deadlock or
 * serialization failure (40P01, 40001) in a migration file is a race with
 * another session: the transaction runs again (it was never retried: the
 * Migrator made it a defect), and one still there after the tries is a
 * `StorageError` too (it was `MigrationFailed`).
 *
 * And a failure of the Migrator's bookkeeping INSERT (it records the pending
 * migrations before running them) was taken by @effect/sql's Migrator for
 * another process migrating: nothing ran, nothing was said, and the store
 * opened on the schema it had. It now fails the migration as any statement's
 * failure does.
 *
 * The `StorageError` names the migration being applied (`0003_flight_recorder`),
 * or the run's pending ones when the failure came outside a file (the
 * bookkeeping insert, the COMMIT): it said only "the database failed",
 * leaving an operator to guess which migration.
 *
 * Each SQLSTATE is raised on purpose by the server itself: an event trigger on
 * the DDL of one migration file, a trigger on the bookkeeping table (its
 * insert, or its COMMIT through a deferred constraint trigger), or a view
 * standing in for the bookkeeping table that the version read goes through.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgJobStore.js"
import { type MigrationFailed, StorageError } from "../../src/store/StoreErrors.js"
import { sqlErrorIn } from "../../src/store/internal/sqlErrorIn.js"
import { newestSchemaVersion } from "../../src/store/pg/migrations.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { shippedLabel } from "./contract/schema.js"
import { failureOf } from "./fixtures.js"
import { shippedBefore } from "./pg-support.js"

/** Codes of the database failing: the migration may go through once it recovers. */
const FAILING = ["53100", "53200", "58030", "57000", "57P04"] as const
/** Codes of a conflict with another session (a deadlock, a serialization failure): the migration may go through once it has gone. */
const CONFLICTING = ["40P01", "40001"] as const
/** Codes of a statement refused: the migration would be refused again. */
const REFUSING = ["42601", "23505", "42501", "55P03", "57014", "25006"] as const

/** Runs `text` on `url` with a plain client. */
const onDatabase = <Row = Record<string, unknown>>(url: string, text: string) =>
  Effect.promise(async () => {
    const client = await connectPg(url)
    try {
      return (await client.query<Row>(text)).rows
    } finally {
      await client.end()
    }
  })

/** What `ai_fault()` returns when it does not raise, by its return type. */
const passes: Readonly<Record<string, string>> = { trigger: " RETURN NEW;", boolean: " RETURN true;" }

/** `ai_fault()`: a function returning `returns` (a trigger's, by default an event trigger's) that raises `code` as the server would, while `when` holds. */
const faultFunction = (code: string, returns = "event_trigger", when = "true") =>
  `CREATE FUNCTION ai_fault() RETURNS ${returns} LANGUAGE plpgsql AS $$
    BEGIN IF ${when} THEN RAISE EXCEPTION 'injected fault' USING ERRCODE = '${code}'; END IF;${passes[returns] ?? ""} END $$`

/** Asserts `error` is a StorageError of `operation`, whose message (as an operator reads it) names `inHand`'s migrations. */
const assertStorageError = (error: { readonly _tag: string; readonly message: string }, operation: string, inHand: string) => {
  assert.strictEqual(error._tag, "StorageError", `the build failed with: ${error.message}`)
  assert.strictEqual((error as StorageError).operation, operation)
  assert.include(error.message, inHand, "the message an operator reads names the migration")
}

/** The typed failure the store's build on `url` ended with. */
const buildFailure = (options: Omit<PgStore.PgStoreOptions, "url">, url: string) =>
  failureOf(Layer.build(PgStore.layer({ ...options, url })).pipe(Effect.scoped))

/** The SQLSTATE of the driver error under `error`'s `SqlError`. */
const sqlStateIn = (error: unknown): unknown => (sqlErrorIn(error)?.cause as { readonly code?: unknown } | undefined)?.code

/** The schema version `url` is at: 0 without a bookkeeping table. */
const versionOf = (url: string) =>
  Effect.gen(function*() {
    const [table] = yield* onDatabase<{ readonly absent: boolean }>(url, "SELECT to_regclass('ai_job_model_migrations') IS NULL AS absent")
    if (table?.absent !== false) return 0
    const [row] = yield* onDatabase<{ readonly version: unknown }>(url, "SELECT max(migration_id) AS version FROM ai_job_model_migrations")
    return Number(row?.version ?? 0)
  })

/** The event trigger's condition for migration 0003's DDL: the file's text is the statement's. */
const IN_0003 = "current_query() LIKE '%-- 0003: the Flight Recorder%'"

/** A fresh database whose migration 0003's DDL raises `code` (an event trigger reading the file's text) while `when` holds too. */
const failingMigrationFile = (label: string, code: string, when = "true") =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    // A sequence is not rolled back: `when` may count 0003's DDL commands, tried only for them (CASE keeps the order).
    yield* onDatabase(url, "CREATE SEQUENCE ai_fault_calls")
    yield* onDatabase(url, faultFunction(code, "event_trigger", `(CASE WHEN ${IN_0003} THEN ${when} ELSE false END)`))
    yield* onDatabase(url, "CREATE EVENT TRIGGER ai_fault ON ddl_command_start EXECUTE FUNCTION ai_fault()")
    return url
  })

describe("PostgreSQL store: the database failing while it migrates", () => {
  /** Each code of the database failing or a persisting conflict, and the StorageError's operation after the migration it names. */
  const storageFailures = [
    ...FAILING.map((code) => [code, "on a fresh database", "(the database failed: nothing of the migration committed)"] as const),
    ...CONFLICTING.map((code) => [code, "on every try (a conflict with another session that persists)", "(a conflict with another session persisted: nothing of the migration committed)"] as const)
  ]
  for (const [code, when, outcome] of storageFailures) {
    it.live(`R9 a migration file's DDL failing with ${code} ${when} is a StorageError naming the migration (0003) and keeping it, nothing committed; once the fault is gone it migrates`, () =>
      Effect.gen(function*() {
        const url = yield* failingMigrationFile(`migrate fails ${code}`, code)
        const error = yield* buildFailure({}, url)
        const inHand = `applying migration ${shippedLabel("pg", 3)}`
        assertStorageError(error, `PgStore.migrate, ${inHand} ${outcome}`, inHand)
        assert.strictEqual(sqlStateIn(error), code)
        assert.include(error.message, "injected fault")
        assert.strictEqual(yield* versionOf(url), 0, "nothing of the migration committed")
        yield* onDatabase(url, "DROP EVENT TRIGGER ai_fault")
        yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
        assert.strictEqual(yield* versionOf(url), Number(yield* Effect.orDie(newestSchemaVersion)))
      }).pipe(Effect.scoped), 60_000)
  }

  for (const code of CONFLICTING) {
    it.live(`R9 a migration file's DDL failing with ${code} once is run again: the store opens migrated`, () =>
      Effect.gen(function*() {
        const url = yield* failingMigrationFile(`migrate conflict once ${code}`, code, "nextval('ai_fault_calls') = 1")
        yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
        assert.strictEqual(yield* versionOf(url), Number(yield* Effect.orDie(newestSchemaVersion)))
        const [calls] = yield* onDatabase<{ readonly last_value: unknown }>(url, "SELECT last_value FROM ai_fault_calls")
        assert.isAbove(Number(calls?.last_value), 1, "0003 ran again after its first DDL command was refused")
      }).pipe(Effect.scoped), 60_000)
  }

  for (const code of REFUSING) {
    it.live(`R9 a migration file's DDL refused with ${code} is MigrationFailed naming the migration, nothing committed`, () =>
      Effect.gen(function*() {
        const url = yield* failingMigrationFile(`migrate refused ${code}`, code)
        const error = yield* buildFailure({}, url)
        assert.strictEqual(error._tag, "MigrationFailed", `the build failed with: ${error.message}`)
        assert.strictEqual((error as MigrationFailed).migration_id, 3)
        assert.strictEqual(sqlStateIn(error), code)
        assert.strictEqual(yield* versionOf(url), 0, "nothing of the migration committed")
      }).pipe(Effect.scoped), 60_000)
  }

  /** A migrated database as an older version left it (its newest migration not applied), with `ddl` run on it after. */
  const upgradeWith = (label: string, ddl: string) =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase(label)
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      const newest = Number(yield* Effect.orDie(newestSchemaVersion))
      yield* onDatabase(url, `DELETE FROM ai_job_model_migrations WHERE migration_id = ${newest}`)
      yield* onDatabase(url, ddl)
      return { url, newest }
    })

  // @effect/sql's Migrator took its bookkeeping INSERT's failure for another process migrating: the
  // store opened on the old schema, the failure never said.
  for (const [code, tag] of [["53100", "StorageError"], ["42501", "MigrationFailed"]] as const) {
    it.live(`R9 an upgrade whose bookkeeping insert fails with ${code} is a ${tag} keeping it${tag === "StorageError" ? " naming the pending migration" : ""}, the database left at its version; once fixed it migrates`, () =>
      Effect.gen(function*() {
        const { newest, url } = yield* upgradeWith(`upgrade insert ${code}`, `${faultFunction(code, "trigger")};
          CREATE TRIGGER ai_fault BEFORE INSERT ON ai_job_model_migrations FOR EACH ROW EXECUTE FUNCTION ai_fault()`)
        const error = yield* buildFailure({}, url)
        assert.strictEqual(error._tag, tag, `the build failed with: ${error.message}`)
        const inHand = `applying migration ${shippedLabel("pg", newest)}`
        if (error instanceof StorageError) assertStorageError(error, `PgStore.migrate, ${inHand} (the database failed: nothing of the migration committed)`, inHand)
        assert.strictEqual(sqlStateIn(error), code)
        assert.strictEqual(yield* versionOf(url), shippedBefore(newest))
        yield* onDatabase(url, "DROP TRIGGER ai_fault ON ai_job_model_migrations")
        yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
        assert.strictEqual(yield* versionOf(url), newest)
      }).pipe(Effect.scoped), 60_000)
  }

  it.live("R9 an upgrade whose bookkeeping insert fails once (53100), then goes through, is a StorageError naming the pending migration: nothing migrated, opening again migrates", () =>
    Effect.gen(function*() {
      // A sequence is not rolled back: only the first INSERT the trigger sees fails.
      const { newest, url } = yield* upgradeWith("upgrade insert once", `CREATE SEQUENCE ai_fault_calls;
        ${faultFunction("53100", "trigger", "nextval('ai_fault_calls') = 1")};
        CREATE TRIGGER ai_fault BEFORE INSERT ON ai_job_model_migrations FOR EACH ROW EXECUTE FUNCTION ai_fault()`)
      const error = yield* buildFailure({}, url)
      const inHand = `applying migration ${shippedLabel("pg", newest)}`
      assertStorageError(error, `PgStore.migrate, ${inHand} (the migrations could not be recorded: nothing of the migration committed)`, inHand)
      assert.strictEqual(yield* versionOf(url), shippedBefore(newest))
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      assert.strictEqual(yield* versionOf(url), newest)
    }).pipe(Effect.scoped), 60_000)

  it.live("R9 an upgrade whose COMMIT fails with an I/O error is a StorageError naming the migration committed, saying nothing committed (the server answered it); once fixed it migrates", () =>
    Effect.gen(function*() {
      const { newest, url } = yield* upgradeWith("upgrade commit io", `${faultFunction("58030", "trigger")};
        CREATE CONSTRAINT TRIGGER ai_fault AFTER INSERT ON ai_job_model_migrations DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION ai_fault()`)
      const error = yield* buildFailure({}, url)
      const inHand = `committing migration ${shippedLabel("pg", newest)}`
      assertStorageError(error, `PgStore.migrate, ${inHand} (the database failed: nothing of the migration committed)`, inHand)
      assert.strictEqual(sqlStateIn(error), "58030")
      assert.strictEqual(yield* versionOf(url), shippedBefore(newest))
      yield* onDatabase(url, "DROP TRIGGER ai_fault ON ai_job_model_migrations")
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      assert.strictEqual(yield* versionOf(url), newest)
    }).pipe(Effect.scoped), 60_000)
})

describe("PostgreSQL store: the database failing while it reads the schema version at open", () => {
  /** A migrated database whose bookkeeping table is read through a view that raises `code`; `heal` makes it pass. */
  const versionReadFailing = (label: string, code: string) =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase(label)
      yield* Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)
      yield* onDatabase(url, `${faultFunction(code, "boolean")};
        ALTER TABLE ai_job_model_migrations RENAME TO ai_job_model_migrations_kept;
        CREATE VIEW ai_job_model_migrations AS SELECT * FROM ai_job_model_migrations_kept WHERE ai_fault()`)
      const heal = onDatabase(url, "CREATE OR REPLACE FUNCTION ai_fault() RETURNS boolean LANGUAGE sql AS 'SELECT true'")
      return { url, heal }
    })

  for (const code of ["53200", "58030", "57P04"]) {
    for (const migrate of [false, true]) {
      it.live(`R9 the version read failing with ${code} (${migrate ? "migrating" : "opening without migrating"}) is a StorageError of JobStore.schemaVersion; once the fault is gone it opens`, () =>
        Effect.gen(function*() {
          const { heal, url } = yield* versionReadFailing(`version read ${code} ${migrate}`, code)
          const error = yield* buildFailure({ migrate }, url)
          assert.strictEqual(error._tag, "StorageError", `the build failed with: ${error.message}`)
          assert.strictEqual((error as StorageError).operation, "JobStore.schemaVersion")
          assert.strictEqual(sqlStateIn(error), code)
          yield* heal
          yield* Layer.build(PgStore.layer({ url, migrate })).pipe(Effect.scoped)
        }).pipe(Effect.scoped), 60_000)
    }
  }

  it.live("R9 the version read refused (42501, a permission) is still MigrationFailed naming the bookkeeping table", () =>
    Effect.gen(function*() {
      const { url } = yield* versionReadFailing("version read refused", "42501")
      for (const migrate of [false, true]) {
        const error = yield* buildFailure({ migrate }, url)
        assert.strictEqual(error._tag, "MigrationFailed", `the build failed with: ${error.message}`)
        assert.include(error.message, "ai_job_model_migrations cannot be read as this library's bookkeeping table")
      }
    }).pipe(Effect.scoped), 60_000)
})
