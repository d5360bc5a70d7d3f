/**
 * R16 on a SQLite file the library does not have to itself: another
 * application's tables live in it, and a DBA adds objects of their own. The
 * library checks and rebuilds only what is its own, keeps the DBA's indexes and
 * triggers through a table rebuild, and refuses, changing nothing, what a
 * rebuild cannot carry.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { MigrationFailed, StorageError } from "../../src/store/StoreErrors.js"
import { legacyCounts, writeLegacyDatabase } from "../fixtures/legacySqlite.js"
import { referenceIds, writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { migrateFrom, migrationsDirectory, schemaVersion } from "../../src/store/sqlite/migrations.js"
import { libraryObjects } from "../../src/store/sqlite/libraryObjects.js"
import { splitStatements, stripCommentsAndStrings } from "../../src/store/sqlite/sqlScript.js"
import { recordingTracer } from "../support/recordingTracer.js"
import { migrationsBefore, rawClient, rawNumber, rawRows, schemaSnapshot, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** Another application's two tables, with foreign keys off as SQLite applications run: order 11 names customer 2, who is not there. */
const otherAppWithDanglingRow = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.zipRight(
    sql.unsafe("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"),
    Effect.zipRight(
      sql.unsafe("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total REAL)"),
      sql.unsafe("INSERT INTO customers VALUES (1, 'ann'); ").pipe(
        Effect.zipRight(sql.unsafe("PRAGMA foreign_keys = OFF")),
        Effect.zipRight(sql.unsafe("INSERT INTO orders VALUES (10, 1, 9.5), (11, 2, 3.0)")),
        Effect.zipRight(sql.unsafe("PRAGMA foreign_keys = ON"))
      )
    )
  ))

describe("R16 SQLite: another application's dangling foreign keys in the shared file", () => {
  it.scoped("R16 a migrated file migrates again (nothing pending) and a store opens on it, another app's dangling row left as it is", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(Effect.zipRight(migrateFrom(migrationsDirectory), otherAppWithDanglingRow), rawClient(filename))
      const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))
      assert.deepStrictEqual(applied, [])
      // The default layer migrates on start: it must open.
      const listed = yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.listJobs({ limit: 10 })), storeWithClient(filename))
      assert.deepStrictEqual(listed.items, [])
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM orders WHERE customer_id = 2"), rawClient(filename)), 1)
    }))

  it.scoped("R16 a new file shared with another app migrates from scratch, and a file at 0023 through 0024's rebuild", () =>
    Effect.gen(function*() {
      const [fresh, at0023] = [yield* tempDatabaseFile("fresh.db"), yield* tempDatabaseFile("at-0023.db")]
      yield* Effect.provide(otherAppWithDanglingRow, rawClient(fresh))
      yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(fresh))
      yield* Effect.provide(Effect.zipRight(migrateFrom(yield* migrationsBefore("0024")), otherAppWithDanglingRow), rawClient(at0023))
      const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(at0023))
      assert.deepStrictEqual(applied.map(([id]) => id), [24, 25, 27, 28, 30, 31, 33])
      const newest = yield* Effect.provide(schemaVersion, rawClient(fresh))
      assert.strictEqual(yield* Effect.provide(schemaVersion, rawClient(at0023)), newest)
    }))

  it.scoped("R16 a dangling reference into the library's tables is still refused, naming it", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0024"))
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe("CREATE TABLE job_notes (job_id TEXT REFERENCES ai_jobs(id), note TEXT)")
          yield* sql.unsafe("PRAGMA foreign_keys = OFF")
          yield* sql.unsafe("INSERT INTO job_notes VALUES ('no-such-job', 'x')")
          yield* sql.unsafe("PRAGMA foreign_keys = ON")
        }),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.include(failure.message, "job_notes row 1 references a row of ai_jobs that is not there")
      assert.strictEqual(yield* Effect.provide(schemaVersion, rawClient(filename)), 23)
      assert.deepStrictEqual(yield* Effect.provide(rawRows("SELECT * FROM job_notes"), rawClient(filename)), [{ job_id: "no-such-job", note: "x" }])
    }))
})

/** Runs each statement through the raw client. */
const exec = (...statements: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true }))

/** better-sqlite3 itself (it has no types here), for what the store's client will not do: editing the schema's text. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(file: string) => {
  unsafeMode(on: boolean): void
  exec(sql: string): void
  close(): void
}

const EVENT = "INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, body) VALUES (?, '2026-12-06T10:00:00.000Z', 'system', 'system', '01a24c0c-0000-7000-8000-000000000002', '{}')"

/** A DBA's index, trigger and view on the events table (which 0024 rebuilds) and on ai_jobs (which 0013 rebuilds). */
const dbaObjects = [
  "CREATE TABLE dba_audit (what TEXT)",
  "CREATE INDEX dba_events_by_actor ON flight_recorder_events (actor)",
  "CREATE TRIGGER dba_events_audit AFTER INSERT ON flight_recorder_events BEGIN INSERT INTO dba_audit (what) VALUES ('event ' || NEW.type); END",
  "CREATE VIEW dba_event_counts AS SELECT type, count(*) AS n FROM flight_recorder_events GROUP BY type",
  "CREATE INDEX dba_jobs_by_profile ON ai_jobs (profile_id)",
  "CREATE TRIGGER dba_jobs_audit AFTER UPDATE OF status ON ai_jobs BEGIN INSERT INTO dba_audit (what) VALUES ('job ' || NEW.status); END"
]

const dbaSchema = rawRows<{ readonly type: string; readonly name: string; readonly sql: string }>(
  "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'dba%' ORDER BY name"
)

/** The DBA's objects work: the trigger fires on a new event, the index serves a lookup by actor, the view counts. */
const dbaObjectsWork = Effect.gen(function*() {
  yield* rawRows(EVENT, ["01a24c0c-0000-7000-8000-0000000000ff"])
  assert.deepStrictEqual(yield* rawRows("SELECT what FROM dba_audit ORDER BY rowid"), [{ what: "event system" }, { what: "event system" }])
  assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM flight_recorder_events INDEXED BY dba_events_by_actor WHERE actor = 'system'"), 2)
  assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs INDEXED BY dba_jobs_by_profile WHERE profile_id = 'x'"), 0)
  assert.deepStrictEqual(yield* rawRows("SELECT * FROM dba_event_counts"), [{ type: "system", n: 2 }])
})

describe("R16 SQLite: a rebuild migration keeps a DBA's indexes and triggers, and refuses what it cannot carry", () => {
  for (const [first, rebuilds] of [["0024", [24, 25, 27, 28, 30, 31, 33]], ["0013", null]] as ReadonlyArray<readonly [string, ReadonlyArray<number> | null]>) {
    it.scoped(`R16 a database before ${first} (a rebuild of the tables the DBA added to): the DBA's index, trigger and view survive migrate, unchanged, and work`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        const before = yield* Effect.provide(
          Effect.gen(function*() {
            yield* migrateFrom(yield* migrationsBefore(first))
            yield* exec(...dbaObjects)
            yield* rawRows(EVENT, ["01a24c0c-0000-7000-8000-000000000001"])
            return yield* dbaSchema
          }),
          rawClient(filename)
        )
        assert.strictEqual(before.length, 6)
        const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))
        if (rebuilds !== null) assert.deepStrictEqual(applied.map(([id]) => id), rebuilds)
        assert.include(applied.map(([id]) => id), Number(first))
        yield* Effect.provide(
          Effect.gen(function*() {
            assert.deepStrictEqual(yield* dbaSchema, before)
            yield* dbaObjectsWork
          }),
          rawClient(filename)
        )
      }))
  }

  it.scoped("R16 a database before 0004 (which drops flight_recorder_retention_grants and creates it again, no rename): the DBA's index and trigger on the grants survive migrate, unchanged, and work", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const grantObjects = rawRows("SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'dba_grants%' ORDER BY name")
      const before = yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0004"))
          yield* exec(
            "CREATE TABLE dba_audit (what TEXT)",
            "CREATE INDEX dba_grants_by_cutoff ON flight_recorder_retention_grants (cutoff)",
            "CREATE TRIGGER dba_grants_audit AFTER INSERT ON flight_recorder_retention_grants BEGIN INSERT INTO dba_audit (what) VALUES ('grant ' || NEW.cutoff); END"
          )
          return yield* grantObjects
        }),
        rawClient(filename)
      )
      assert.strictEqual(before.length, 2)
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 4)
      yield* Effect.provide(
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* grantObjects, before)
          const sql = yield* SqlClient.SqlClient
          // A grant lives only inside its transaction (0004's anchor): taken and given back, as the purge does.
          const seen = yield* sql.withTransaction(Effect.gen(function*() {
            yield* exec("INSERT INTO flight_recorder_retention_grants (cutoff) VALUES ('2026-12-06T10:00:00.000Z')")
            const found = yield* rawNumber("SELECT count(*) AS n FROM flight_recorder_retention_grants INDEXED BY dba_grants_by_cutoff WHERE cutoff > '2026'")
            yield* exec("DELETE FROM flight_recorder_retention_grants")
            return found
          }))
          assert.strictEqual(seen, 1)
          assert.deepStrictEqual(yield* rawRows("SELECT what FROM dba_audit"), [{ what: "grant 2026-12-06T10:00:00.000Z" }])
        }),
        rawClient(filename)
      )
    }))

  it.scoped("R16 a DBA's column on flight_recorder_retention_grants (0004 drops the table and creates it again): migrate refuses naming the table and the column, and the file stays as it was", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const before = yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0004"))
          yield* exec("ALTER TABLE flight_recorder_retention_grants ADD COLUMN dba_reason TEXT")
          return yield* schemaSnapshot
        }),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.strictEqual(failure.migration_id, 4)
      assert.include(failure.message, `table flight_recorder_retention_grants has column(s) "dba_reason" that this library does not know`)
      assert.strictEqual(yield* Effect.provide(schemaVersion, rawClient(filename)), 3)
      assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(filename)), before)
    }))

  it.scoped("R16 a legacy reference database (0002 rebuilds its three tables): the DBA's index and trigger on ai_jobs survive, the reference's own indexes give way to ours", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeLegacyDatabase(filename)
      yield* Effect.provide(
        exec(
          "CREATE TABLE dba_audit (what TEXT)",
          "CREATE INDEX dba_jobs_by_profile ON ai_jobs (profile_id)",
          "CREATE TRIGGER dba_jobs_audit AFTER UPDATE OF status ON ai_jobs BEGIN INSERT INTO dba_audit (what) VALUES ('job ' || NEW.status); END"
        ),
        rawClient(filename)
      )
      const before = yield* Effect.provide(dbaSchema, rawClient(filename))
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
      yield* Effect.provide(
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* dbaSchema, before)
          assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'idx%'"), 0, "the reference's own indexes are replaced")
          assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs INDEXED BY dba_jobs_by_profile WHERE profile_id IS NOT NULL"), yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE profile_id IS NOT NULL"))
          assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs"), legacyCounts.ai_jobs)
          yield* exec("UPDATE ai_jobs SET status = 'cancelled' WHERE rowid = (SELECT min(rowid) FROM ai_jobs)")
          assert.deepStrictEqual(yield* rawRows("SELECT what FROM dba_audit"), [{ what: "job cancelled" }])
        }),
        rawClient(filename)
      )
    }))

  it.scoped("R16 a DBA's index the rebuilt rows no longer fit (0002 normalises term_exec to terminal_exec under a UNIQUE index on the kind): migrate refuses naming the index, and the file stays as it was", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeLegacyDatabase(filename)
      yield* Effect.provide(exec("CREATE UNIQUE INDEX dba_one_job_per_kind ON ai_jobs (job_kind)"), rawClient(filename))
      const before = yield* Effect.provide(Effect.all([schemaSnapshot, rawRows("SELECT * FROM ai_jobs ORDER BY id")]), rawClient(filename))
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.strictEqual(failure.migration_id, 2)
      assert.include(failure.message, "cannot create the index dba_one_job_per_kind on ai_jobs again after rebuilding the table: UNIQUE constraint failed")
      assert.deepStrictEqual(yield* Effect.provide(Effect.all([schemaSnapshot, rawRows("SELECT * FROM ai_jobs ORDER BY id")]), rawClient(filename)), before)
    }))

  it.scoped("R16 a DBA's column on a table a migration rebuilds: migrate refuses naming the table and the column, and the file stays as it was", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const before = yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0024"))
          yield* exec("ALTER TABLE flight_recorder_events ADD COLUMN region TEXT NOT NULL DEFAULT 'eu'")
          yield* rawRows(EVENT.replace("trace_id, body)", "trace_id, body, region)").replace("'{}')", "'{}', 'us')"), ["01a24c0c-0000-7000-8000-000000000001"])
        }).pipe(Effect.zipRight(Effect.all([schemaSnapshot, rawRows("SELECT * FROM flight_recorder_events")]))),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.strictEqual(failure.migration_id, 24)
      assert.include(failure.message, `table flight_recorder_events has column(s) "region" that this library does not know`)
      assert.include(failure.message, "drop or move the column(s), then migrate again")
      yield* Effect.provide(
        Effect.gen(function*() {
          assert.strictEqual(yield* schemaVersion, 23)
          assert.deepStrictEqual(yield* Effect.all([schemaSnapshot, rawRows("SELECT * FROM flight_recorder_events")]), before)
        }),
        rawClient(filename)
      )
    }))

  it.scoped("R16 a DBA's generated column on a table a migration rebuilds (pragma_table_info does not list it): migrate refuses naming the table and the column, as a plain one, and the file stays as it was", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const before = yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0024"))
          yield* exec("ALTER TABLE flight_recorder_events ADD COLUMN dba_kind TEXT GENERATED ALWAYS AS (upper(type)) VIRTUAL")
          yield* rawRows(EVENT, ["01a24c0c-0000-7000-8000-000000000001"])
        }).pipe(Effect.zipRight(Effect.all([schemaSnapshot, rawRows("SELECT event_id, dba_kind FROM flight_recorder_events")]))),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.strictEqual(failure.migration_id, 24)
      assert.include(failure.message, `table flight_recorder_events has column(s) "dba_kind" that this library does not know`)
      yield* Effect.provide(
        Effect.gen(function*() {
          assert.strictEqual(yield* schemaVersion, 23)
          assert.deepStrictEqual(yield* Effect.all([schemaSnapshot, rawRows("SELECT event_id, dba_kind FROM flight_recorder_events")]), before)
        }),
        rawClient(filename)
      )
    }))

  const constraintCases = [
    ["an unnamed CHECK", "safety_mode TEXT,", "safety_mode TEXT CHECK (safety_mode <> 'unsafe'),", `"CHECK (safety_mode <> 'unsafe')"`],
    ["a named CHECK", "safety_mode TEXT,", "safety_mode TEXT CONSTRAINT dba_safe CHECK (safety_mode <> 'unsafe'),", `"CONSTRAINT dba_safe CHECK (safety_mode <> 'unsafe')"`],
    ["a UNIQUE", "trace_id TEXT,", "trace_id TEXT UNIQUE,", `"UNIQUE"`]
  ] as const
  for (const [what, column, withConstraint, named] of constraintCases) {
    it.scoped(`R16 ${what} a DBA wrote into a reference-shaped ai_jobs (0002 rebuilds it): migrate refuses naming it, and the file stays as it was`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        const reference = fs.readFileSync(new URL("0001_reference_schema.sql", migrationsDirectory), "utf8")
        assert.include(reference, `  ${column}\n`)
        const before = yield* Effect.provide(
          Effect.zipRight(exec(...splitStatements(reference.replace(`  ${column}\n`, `  ${withConstraint}\n`))), schemaSnapshot),
          rawClient(filename)
        )
        const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
        assert.instanceOf(failure, MigrationFailed)
        assert.strictEqual(failure.migration_id, 2)
        assert.include(failure.message, `table ai_jobs has constraint(s) ${named} that this library does not define`)
        assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(filename)), before)
      }))
  }

  it.scoped("R16 a DBA's foreign key written into a rebuilt table's definition: migrate refuses naming it, and the file stays as it was", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(migrateFrom(yield* migrationsBefore("0024")), rawClient(filename))
      // What a DBA's own rebuild leaves: a REFERENCES clause on the events' job_id (edited in place, as SQLite allows for a constraint).
      const db = new Database(filename)
      db.unsafeMode(true)
      db.exec("PRAGMA writable_schema = ON")
      db.exec("UPDATE sqlite_master SET sql = replace(sql, '  job_id TEXT,', '  job_id TEXT REFERENCES ai_jobs (id),') WHERE name = 'flight_recorder_events'")
      db.exec("PRAGMA writable_schema = OFF")
      db.close()
      const before = yield* Effect.provide(schemaSnapshot, rawClient(filename))
      assert.deepStrictEqual(yield* Effect.provide(rawRows("SELECT \"from\", \"table\" FROM pragma_foreign_key_list('flight_recorder_events')"), rawClient(filename)), [{ from: "job_id", table: "ai_jobs" }])
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.include(failure.message, `table flight_recorder_events has foreign key(s) "job_id -> ai_jobs" that this library does not define`)
      assert.strictEqual(yield* Effect.provide(schemaVersion, rawClient(filename)), 23)
      assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(filename)), before)
    }))
})

describe("R16 SQLite: a DBA's trigger or view a rebuild leaves broken (SQLite checks neither against the new columns)", () => {
  const cases = [
    [
      "trigger",
      ["CREATE TRIGGER dba_touch AFTER UPDATE OF status ON workflow_node_executions BEGIN UPDATE workflow_node_executions SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END"],
      "the trigger dba_touch on workflow_node_executions no longer works",
      "updated_at",
      "DROP TRIGGER dba_touch"
    ],
    [
      "view",
      ["CREATE VIEW dba_node_ages AS SELECT id, node_id, created_at FROM workflow_node_executions"],
      "the view dba_node_ages no longer works",
      "created_at",
      "DROP VIEW dba_node_ages"
    ],
    [
      "view over a view",
      ["CREATE VIEW dba_nodes AS SELECT * FROM workflow_node_executions", "CREATE VIEW dba_node_stamps AS SELECT id, created_at FROM dba_nodes"],
      "the view dba_node_stamps no longer works",
      "created_at",
      "DROP VIEW dba_node_stamps"
    ],
    [
      "trigger on a table of their own",
      ["CREATE TABLE dba_touches (node_id TEXT)", "CREATE TRIGGER dba_touch_node AFTER INSERT ON dba_touches BEGIN UPDATE workflow_node_executions SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.node_id; END"],
      "the trigger dba_touch_node on dba_touches no longer works",
      "updated_at",
      "DROP TRIGGER dba_touch_node"
    ],
    [
      "trigger on a rebuilt table beside one of theirs already broken on the same event (each is checked on its own)",
      [
        "CREATE TRIGGER dba_old AFTER UPDATE ON workflow_node_executions BEGIN UPDATE workflow_node_executions SET cost_center = 1 WHERE id = NEW.id; END",
        "CREATE TRIGGER dba_touch AFTER UPDATE OF status ON workflow_node_executions BEGIN UPDATE workflow_node_executions SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END"
      ],
      "the trigger dba_touch on workflow_node_executions no longer works",
      "updated_at",
      "DROP TRIGGER dba_touch"
    ],
    [
      "INSTEAD OF UPDATE trigger on a view of their own (a view with no INSTEAD OF DELETE or INSERT)",
      [
        "CREATE VIEW dba_nodes AS SELECT id, status FROM workflow_node_executions",
        "CREATE TRIGGER dba_nodes_update INSTEAD OF UPDATE ON dba_nodes BEGIN UPDATE workflow_node_executions SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END"
      ],
      "the trigger dba_nodes_update on dba_nodes no longer works",
      "updated_at",
      "DROP TRIGGER dba_nodes_update"
    ],
    [
      "INSTEAD OF DELETE trigger on a view of their own",
      [
        "CREATE VIEW dba_nodes AS SELECT id FROM workflow_node_executions",
        "CREATE TRIGGER dba_nodes_delete INSTEAD OF DELETE ON dba_nodes BEGIN UPDATE workflow_node_executions SET updated_at = 1 WHERE id = OLD.id; END"
      ],
      "the trigger dba_nodes_delete on dba_nodes no longer works",
      "updated_at",
      "DROP TRIGGER dba_nodes_delete"
    ],
    [
      "trigger on a table of their own with a generated column",
      [
        "CREATE TABLE dba_touches (node_id TEXT, node_upper TEXT GENERATED ALWAYS AS (upper(node_id)) VIRTUAL)",
        "CREATE TRIGGER dba_touch_node AFTER INSERT ON dba_touches BEGIN UPDATE workflow_node_executions SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.node_id; END"
      ],
      "the trigger dba_touch_node on dba_touches no longer works",
      "updated_at",
      "DROP TRIGGER dba_touch_node"
    ],
    [
      "trigger on a table of their own beside one of theirs already broken",
      [
        "CREATE TABLE dba_touches (node_id TEXT)",
        "CREATE TRIGGER dba_touch_old AFTER INSERT ON dba_touches BEGIN UPDATE workflow_node_executions SET cost_center = 1 WHERE id = NEW.node_id; END",
        "CREATE TRIGGER dba_touch_gone AFTER DELETE ON dba_touches BEGIN UPDATE workflow_node_executions SET updated_at = 1 WHERE id = OLD.node_id; END"
      ],
      "the trigger dba_touch_gone on dba_touches no longer works",
      "updated_at",
      "DROP TRIGGER dba_touch_gone"
    ],
    [
      "trigger on a table of their own reaching the node table only through their views (one over another)",
      [
        "CREATE VIEW dba_nodes AS SELECT * FROM workflow_node_executions",
        "CREATE VIEW dba_recent_nodes AS SELECT * FROM dba_nodes",
        "CREATE TABLE dba_log (node_id TEXT)",
        "CREATE TABLE dba_stamps (at TEXT)",
        "CREATE TRIGGER dba_log_stamp AFTER INSERT ON dba_log BEGIN INSERT INTO dba_stamps (at) SELECT updated_at FROM dba_recent_nodes WHERE id = NEW.node_id; END"
      ],
      "the trigger dba_log_stamp on dba_log no longer works",
      "updated_at",
      "DROP TRIGGER dba_log_stamp"
    ],
    [
      "trigger on a table of their own written over lines with a comment, its quoted name holding a space, on UPDATE OF a quoted column holding a comma and the word on",
      [
        "CREATE TABLE dba_touches (node_id TEXT, \"kind, on label\" TEXT)",
        "CREATE TRIGGER \"dba touch\"\n\tAFTER UPDATE OF\n  \"kind, on label\" -- the label\n  ON dba_touches BEGIN UPDATE workflow_node_executions SET updated_at = 1 WHERE id = NEW.node_id; END"
      ],
      "the trigger dba touch on dba_touches no longer works",
      "updated_at",
      "DROP TRIGGER \"dba touch\""
    ],
    [
      "trigger on a table of their own, fired by one of theirs on the node table (named with the trigger a node's write reaches it through)",
      [
        "CREATE TABLE dba_log (node_id TEXT)",
        "CREATE TABLE dba_stamps (at TEXT)",
        "CREATE TRIGGER dba_nodes_log AFTER UPDATE ON workflow_node_executions BEGIN INSERT INTO dba_log (node_id) VALUES (NEW.id); END",
        "CREATE TRIGGER dba_log_stamp AFTER INSERT ON dba_log BEGIN INSERT INTO dba_stamps (at) SELECT updated_at FROM workflow_node_executions WHERE id = NEW.node_id; END"
      ],
      "the trigger dba_log_stamp on dba_log, fired through the trigger dba_nodes_log on workflow_node_executions, no longer works",
      "updated_at",
      "DROP TRIGGER dba_log_stamp"
    ],
    // Found by a regression probe: a bare name with a character from U+0080 up (SQLite takes them all) left the
    // header unread, so the INSERT trigger was checked as an UPDATE one, never fired, and passed migrate broken.
    [
      "INSERT trigger on a table of their own with a plain non-ASCII name (déclencheur)",
      [
        "CREATE TABLE dba_t (node_id TEXT)",
        "CREATE TRIGGER déclencheur AFTER INSERT ON dba_t BEGIN UPDATE workflow_node_executions SET updated_at = 1 WHERE id = NEW.node_id; END"
      ],
      "the trigger déclencheur on dba_t no longer works",
      "updated_at",
      "DROP TRIGGER déclencheur"
    ]
  ] as const
  for (const [what, create, named, column, drop] of cases) {
    it.scoped(`R16 a DBA's ${what} on a reference database naming a column 0002's rebuild drops (the node's updated_at, created_at): migrate refuses naming it, the file stays as it was, and migrates once it is dropped`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        yield* writeReferenceSqlite(filename)
        const rows = rawRows("SELECT * FROM workflow_node_executions ORDER BY id")
        const before = yield* Effect.provide(Effect.zipRight(exec(...create), Effect.all([schemaSnapshot, rows])), rawClient(filename))
        const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
        assert.instanceOf(failure, MigrationFailed)
        assert.strictEqual(failure.migration_id, 2)
        assert.include(failure.message, named)
        assert.include(failure.message, `no such column: ${column}`)
        assert.include(failure.message, "drop it, migrate, then create it again for the new columns; nothing was changed")
        assert.deepStrictEqual(yield* Effect.provide(Effect.all([schemaSnapshot, rows]), rawClient(filename)), before)
        yield* Effect.provide(exec(drop), rawClient(filename))
        assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
      }))
  }

  it.scoped("R16 a DBA's trigger on a rebuilt table already broken before migrate is re-created as it was, not blamed: not this migration's doing", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      // Broken before: it names a column the reference never had (every update of a node fails, before as after).
      const trigger = "CREATE TRIGGER dba_old AFTER UPDATE ON workflow_node_executions BEGIN UPDATE workflow_node_executions SET cost_center = 1 WHERE id = NEW.id; END"
      yield* Effect.provide(exec(trigger), rawClient(filename))
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
      assert.deepStrictEqual(yield* Effect.provide(rawRows("SELECT sql FROM sqlite_master WHERE name = 'dba_old'"), rawClient(filename)), [{ sql: trigger }])
    }))

  it.scoped("R16 a DBA's view over a rebuilt table already broken before migrate is left as it was: not this migration's doing", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      // Broken before: it names a column the reference never had.
      yield* Effect.provide(exec("CREATE VIEW dba_old_report AS SELECT id, cost_center FROM workflow_node_executions"), rawClient(filename))
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
    }))
})

describe("R16 SQLite: checking a DBA's triggers through a rebuild compiles each firing write once per pass", () => {
  /** How many times migrate compiles the INSERT that fires a DBA's `triggers` AFTER INSERT triggers on a table of their own, each reading a chain of views over ai_jobs. */
  const firingWritesCompiled = (triggers: number) =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      const views = Array.from({ length: 8 }, (_, i) => `CREATE VIEW dba_w${i} AS SELECT * FROM ${i === 0 ? "ai_jobs" : `dba_w${i - 1}`}`)
      const fired = Array.from({ length: triggers }, (_, i) =>
        `CREATE TRIGGER dba_count${i} AFTER INSERT ON dba_log BEGIN INSERT INTO dba_counts (n) SELECT count(*) FROM dba_w${i % 8}; END`)
      yield* Effect.provide(exec(...views, "CREATE TABLE dba_log (x TEXT)", "CREATE TABLE dba_counts (n INTEGER)", ...fired), rawClient(filename))
      const { spans, tracer } = yield* recordingTracer
      assert.include((yield* Effect.withTracer(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)), tracer)).map(([id]) => id), 2)
      // Still checked and working after migrate: an insert fires every one.
      yield* Effect.provide(exec("INSERT INTO dba_log (x) VALUES ('a')"), rawClient(filename))
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM dba_counts"), rawClient(filename)), triggers)
      const firing = "INSERT INTO \"dba_log\" (\"x\") SELECT \"x\" FROM \"dba_log\" WHERE 0"
      return spans.filter((span) => span.attributes.get("db.query.text") === firing).length
    })

  // Each compile of that write compiles every trigger it fires, through every view: once per trigger
  // made a pass grow with the square of the triggers (60 over a chain of 150 views: 40 s, from 7 s).
  it.scoped("R16 a DBA's 24 triggers fired by one write on a table of their own, each reading views over a rebuilt table, are checked with that write compiled as often as for one trigger", () =>
    Effect.gen(function*() {
      const once = yield* firingWritesCompiled(1)
      assert.isAbove(once, 0)
      assert.strictEqual(yield* firingWritesCompiled(24), once)
    }))
})

describe("R16 SQLite: a DBA's full-text table whose content is a table a migration rebuilds", () => {
  it.scoped("R16 an external-content FTS5 and FTS4 table over a reference ai_jobs, and an FTS5 table over a view of it (0002 rebuilds ai_jobs, term_exec becomes terminal_exec): after migrate each finds the job by its new kind, not its old, and passes its integrity-check against the rebuilt rows", () =>
    Effect.gen(function*() {
      const fullText = ["dba_jobs_fts", "dba_jobs_fts4", "dba_kinds_fts"]
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      const matching = (table: string, words: string) =>
        rawRows(`SELECT j.id FROM ${table} AS f JOIN ai_jobs AS j ON j.rowid = f.rowid WHERE ${table} MATCH '"${words}"' ORDER BY j.id`)
      yield* Effect.provide(
        Effect.gen(function*() {
          yield* exec(
            "CREATE VIRTUAL TABLE dba_jobs_fts USING fts5(job_kind, status, content='ai_jobs')",
            "INSERT INTO dba_jobs_fts (dba_jobs_fts) VALUES ('rebuild')",
            "CREATE VIRTUAL TABLE dba_jobs_fts4 USING fts4(job_kind, status, content=\"ai_jobs\")",
            "INSERT INTO dba_jobs_fts4 (dba_jobs_fts4) VALUES ('rebuild')",
            "CREATE VIEW dba_job_kinds AS SELECT rowid AS job_rowid, job_kind FROM ai_jobs",
            "CREATE VIRTUAL TABLE dba_kinds_fts USING fts5(job_kind, content=dba_job_kinds, content_rowid=job_rowid)",
            "INSERT INTO dba_kinds_fts (dba_kinds_fts) VALUES ('rebuild')"
          )
          for (const table of fullText) assert.deepStrictEqual(yield* matching(table, "term_exec"), [{ id: referenceIds.jobs.termExecFailed }])
        }),
        rawClient(filename)
      )
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
      yield* Effect.provide(
        Effect.gen(function*() {
          for (const table of fullText) {
            assert.deepStrictEqual(yield* matching(table, "terminal_exec"), [{ id: referenceIds.jobs.termExecFailed }], table)
            assert.deepStrictEqual(yield* matching(table, "term_exec"), [], table)
          }
          // FTS5 compares its index with the content table only when asked to (rank 1); FTS4 always does.
          yield* exec(
            "INSERT INTO dba_jobs_fts (dba_jobs_fts, rank) VALUES ('integrity-check', 1)",
            "INSERT INTO dba_jobs_fts4 (dba_jobs_fts4) VALUES ('integrity-check')",
            "INSERT INTO dba_kinds_fts (dba_kinds_fts, rank) VALUES ('integrity-check', 1)"
          )
        }),
        rawClient(filename)
      )
    }))

  // How a DBA may write the definition: SQLite keeps it as written after "CREATE VIRTUAL TABLE " (found by an
  // outside probe: one written over two lines was not re-indexed, and its integrity-check then failed).
  const writtenForms = [
    ["over two lines (name, then USING on the next)", "dba_jobs_fts", "CREATE VIRTUAL TABLE dba_jobs_fts\nUSING fts5(job_kind, status, content='ai_jobs')"],
    ["with a tab and a comment between the name and USING", "dba_jobs_fts", "CREATE VIRTUAL TABLE dba_jobs_fts\t/* jobs by kind */ USING fts5(job_kind, status, content='ai_jobs')"],
    ["with its arguments over lines, comments among them", "dba_jobs_fts", "CREATE VIRTUAL TABLE dba_jobs_fts USING fts5(\n  job_kind, -- the kind\n  status,\n  content = 'ai_jobs' /* the jobs */\n)"],
    ["with a quoted name holding spaces and the word USING", "\"dba using fts\"", "CREATE VIRTUAL TABLE \"dba using fts\"\n  USING fts5(job_kind, status, content='ai_jobs')"],
    ["with its module name quoted", "dba_jobs_fts", "CREATE VIRTUAL TABLE dba_jobs_fts USING \"fts5\"(job_kind, status, content='ai_jobs')"],
    ["with a bracketed name and no space before USING, FTS4 in capitals", "[dba jobs]", "CREATE VIRTUAL TABLE [dba jobs]USING FTS4(job_kind, status, content=\"ai_jobs\")"],
    // Found by a regression probe: a bare name is any run of letters, digits, _, $ and characters from U+0080 up to
    // SQLite, and its grammar takes a single-quoted module name; neither was read, so neither table was re-indexed.
    ["with a plain non-ASCII name (recherché)", "recherché", "CREATE VIRTUAL TABLE recherché USING fts5(job_kind, status, content='ai_jobs')"],
    ["with its module name single-quoted", "dba_jobs_fts", "CREATE VIRTUAL TABLE dba_jobs_fts USING 'fts5'(job_kind, status, content='ai_jobs')"]
  ] as const
  for (const [how, table, create] of writtenForms) {
    it.scoped(`R16 an external-content full-text table over a reference ai_jobs written ${how}: after migrate it finds the job by its new kind, not its old, and passes its integrity-check`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        yield* writeReferenceSqlite(filename)
        const matching = (words: string) =>
          rawRows(`SELECT j.id FROM ${table} AS f JOIN ai_jobs AS j ON j.rowid = f.rowid WHERE f.${table} MATCH '"${words}"' ORDER BY j.id`)
        yield* Effect.provide(
          Effect.gen(function*() {
            yield* exec(create, `INSERT INTO ${table} (${table}) VALUES ('rebuild')`)
            assert.deepStrictEqual(yield* matching("term_exec"), [{ id: referenceIds.jobs.termExecFailed }])
          }),
          rawClient(filename)
        )
        assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
        yield* Effect.provide(
          Effect.gen(function*() {
            assert.deepStrictEqual(yield* matching("terminal_exec"), [{ id: referenceIds.jobs.termExecFailed }])
            assert.deepStrictEqual(yield* matching("term_exec"), [])
            yield* exec(`INSERT INTO ${table} (${table}) VALUES ('integrity-check')`)
          }),
          rawClient(filename)
        )
      }))
  }

  it.scoped("R16 an external-content FTS5 table indexing a node column 0002's rebuild drops (updated_at): migrate refuses naming it, the file stays as it was, and migrates once it is dropped", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      const rows = rawRows("SELECT * FROM workflow_node_executions ORDER BY id")
      const before = yield* Effect.provide(
        Effect.zipRight(
          exec(
            "CREATE VIRTUAL TABLE dba_nodes_fts USING fts5(node_id, updated_at, content='workflow_node_executions')",
            "INSERT INTO dba_nodes_fts (dba_nodes_fts) VALUES ('rebuild')"
          ),
          Effect.all([schemaSnapshot, rows])
        ),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.strictEqual(failure.migration_id, 2)
      assert.include(failure.message, "the full-text table dba_nodes_fts (content=workflow_node_executions) no longer works after this migration rebuilt")
      assert.include(failure.message, "no such column: T.updated_at")
      assert.include(failure.message, "drop it, migrate, then create it again for the new columns; nothing was changed")
      assert.deepStrictEqual(yield* Effect.provide(Effect.all([schemaSnapshot, rows]), rawClient(filename)), before)
      yield* Effect.provide(exec("DROP TABLE dba_nodes_fts"), rawClient(filename))
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
    }))
})

describe("R16 SQLite: which objects are the library's is read from its statements, not their comments or strings", () => {
  const scripts = fs.readdirSync(migrationsDirectory).filter((file) => /^\d{4}_\w+\.sql$/.test(file)).sort()
    .map((file) => fs.readFileSync(new URL(file, migrationsDirectory), "utf8"))
  const library = libraryObjects(scripts, "ai_job_model_migrations")
  const words = (text: string) => new Set(text.toLowerCase().match(/\w+/g) ?? [])

  it("R16 no word found only in a migration's comments or string literals (\"constraint names\", \"CHECK constraint failed: …\") is taken for a library object", () => {
    const statementWords = words(scripts.map(stripCommentsAndStrings).join("\n"))
    const onlyInCommentsOrStrings = [...words(scripts.join("\n"))].filter((word) => !statementWords.has(word))
    for (const word of ["names", "the", "failed"]) assert.include(onlyInCommentsOrStrings, word)
    assert.deepStrictEqual(onlyInCommentsOrStrings.filter((word) => library.objects.has(word)), [])
  })

  it.scoped("R16 every table, index and trigger of a migrated file, and every constraint it names, is still the library's", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))
      const schema = yield* Effect.provide(schemaSnapshot, rawClient(filename))
      const names = schema.flatMap(({ name, sql }) => [name, ...[...stripCommentsAndStrings(sql ?? "").matchAll(/\bCONSTRAINT\s+(\w+)/gi)].map(([, constraint = ""]) => constraint)])
      assert.isAbove(names.length, 20)
      assert.deepStrictEqual(names.filter((name) => !library.objects.has(name.toLowerCase())), [])
    }))

  it.scoped("R16 a DBA's index named failed and trigger named the (words of the migrations' comments and RAISE texts) on tables 0013 rebuilds are carried through the rebuild", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const created = [
        "CREATE INDEX failed ON ai_jobs (updated_at) WHERE status = 'failed'",
        "CREATE INDEX dba_failed_jobs ON ai_jobs (updated_at) WHERE status = 'failed'",
        "CREATE TRIGGER the AFTER INSERT ON workflow_runs BEGIN SELECT 1; END"
      ]
      const dbaObjects = rawRows("SELECT type, name, sql FROM sqlite_master WHERE name IN ('failed', 'dba_failed_jobs', 'the') ORDER BY name")
      const before = yield* Effect.provide(
        Effect.gen(function*() {
          yield* migrateFrom(yield* migrationsBefore("0013"))
          yield* exec(...created)
          return yield* dbaObjects
        }),
        rawClient(filename)
      )
      assert.strictEqual(before.length, 3)
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 13)
      assert.deepStrictEqual(yield* Effect.provide(dbaObjects, rawClient(filename)), before)
    }))
})

describe("R16 SQLite: a file another tool created as UTF-16", () => {
  for (const encoding of ["UTF-16le", "UTF-16be"]) {
    it.scoped(`R16 a ${encoding} file is refused at open with a StorageError naming its encoding, the file unchanged (its CHECKs would refuse ordinary text)`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        const db = new Database(filename)
        db.exec(`PRAGMA encoding = '${encoding}'`)
        db.exec("CREATE TABLE other_app (x TEXT)")
        db.close()
        for (const store of [SqliteStore.layer({ filename }), storeWithClient(filename)]) {
          const failure = yield* Effect.flip(Effect.provide(Effect.asVoid(JobStore), store))
          assert.instanceOf(failure, StorageError)
          assert.include(failure.message, `the database file's text encoding is ${encoding}, and the store needs a UTF-8 file`)
        }
        assert.deepStrictEqual(yield* Effect.provide(rawRows("SELECT name FROM sqlite_master"), rawClient(filename)), [{ name: "other_app" }])
      }))

    it.scoped(`R16 a ${encoding} file is refused by SqliteStore.migrate run on the caller's own client (no store opened) with the same StorageError, the file unchanged`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        const db = new Database(filename)
        db.exec(`PRAGMA encoding = '${encoding}'`)
        db.exec("CREATE TABLE other_app (x TEXT)")
        db.close()
        const failure = yield* Effect.flip(Effect.provide(SqliteStore.migrate, rawClient(filename)))
        assert.instanceOf(failure, StorageError)
        assert.include(failure.message, `the database file's text encoding is ${encoding}, and the store needs a UTF-8 file`)
        assert.deepStrictEqual(yield* Effect.provide(rawRows("SELECT name FROM sqlite_master"), rawClient(filename)), [{ name: "other_app" }])
      }))
  }
})

describe("R16 SQLite: another application's empty table with one of the library's names", () => {
  const anotherApps = "it is another application's table of the same name, or a Handshake version this library does not upgrade, which migrate would take over; nothing was changed. If it is another application's, rename or move that table, then migrate again"
  const cases = [
    [
      "workflow_runs",
      "CREATE TABLE workflow_runs (id TEXT PRIMARY KEY, job_id TEXT, status TEXT, last_heartbeat TEXT, created_at TEXT, updated_at TEXT, repo TEXT NOT NULL, conclusion TEXT)",
      `table workflow_runs has every column this library's (or the reference's) workflow_runs must have, and column(s) "repo", "conclusion" that neither this library's workflow_runs nor the reference's has`,
      // Its columns alone cannot tell it from a reference table a DBA added to: both ways out are named.
      "the upgrade cannot carry the column(s); nothing was changed. Drop or move the column(s), then migrate again (if it is another application's table of the same name, rename or move that table instead)"
    ],
    [
      "ai_jobs",
      "CREATE TABLE ai_jobs (id INTEGER PRIMARY KEY, status TEXT, title TEXT)",
      `table ai_jobs has column(s) "title" that neither this library's ai_jobs nor the reference's has and lacks column(s) "trace_id", "workflow_run_id"`,
      anotherApps
    ],
    ["run_offers", "CREATE TABLE run_offers (offer_id TEXT PRIMARY KEY, price REAL)", `table run_offers has column(s) "offer_id", "price"`, anotherApps]
  ] as const
  for (const [table, create, named, advice] of cases) {
    it.scoped(`R16 an empty ${table} of another app's is refused by a first migrate, naming the columns that do not match, and the file stays as it was`, () =>
      Effect.gen(function*() {
        const filename = yield* tempDatabaseFile()
        const before = yield* Effect.provide(Effect.zipRight(exec(create), schemaSnapshot), rawClient(filename))
        const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
        assert.instanceOf(failure, MigrationFailed)
        assert.include(failure.message, named)
        assert.include(failure.message, advice)
        assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(filename)), before)
      }))
  }

  it.scoped("R16 a reference database whose DBA added a column to ai_jobs is refused by a first migrate as the reference's table with a column the upgrade cannot carry (drop or move the column), not as another application's; once the column is dropped it upgrades", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      const jobs = rawRows("SELECT * FROM ai_jobs ORDER BY id")
      const before = yield* Effect.provide(
        Effect.zipRight(exec("ALTER TABLE ai_jobs ADD COLUMN cost_center TEXT", "UPDATE ai_jobs SET cost_center = 'R&D'"), Effect.all([schemaSnapshot, jobs])),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.include(
        failure.message,
        `table ai_jobs has every column this library's (or the reference's) ai_jobs must have, and column(s) "cost_center" that neither this library's ai_jobs nor the reference's has: the upgrade cannot carry the column(s); nothing was changed. Drop or move the column(s), then migrate again (if it is another application's table of the same name, rename or move that table instead)`
      )
      assert.deepStrictEqual(yield* Effect.provide(Effect.all([schemaSnapshot, jobs]), rawClient(filename)), before)
      yield* Effect.provide(exec("ALTER TABLE ai_jobs DROP COLUMN cost_center"), rawClient(filename))
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
    }))

  it.scoped("R16 a reference database whose DBA added a generated column to ai_jobs (pragma_table_info does not list it) is refused by a first migrate naming the column, as a plain one, the file unchanged", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      const before = yield* Effect.provide(
        Effect.zipRight(exec("ALTER TABLE ai_jobs ADD COLUMN kind_upper TEXT GENERATED ALWAYS AS (upper(job_kind)) VIRTUAL"), schemaSnapshot),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.include(failure.message, `table ai_jobs has every column this library's (or the reference's) ai_jobs must have, and column(s) "kind_upper" that neither`)
      assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(filename)), before)
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM pragma_table_xinfo('ai_jobs') WHERE name = 'kind_upper'"), rawClient(filename)), 1)
    }))

  it.scoped("R16 an older reference shape (ai_jobs without is_pinned) is refused by a first migrate as another application's table or a Handshake version this library does not upgrade, the file unchanged", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* writeReferenceSqlite(filename)
      const before = yield* Effect.provide(
        Effect.zipRight(exec("DROP INDEX idx_ai_jobs_gc", "ALTER TABLE ai_jobs DROP COLUMN is_pinned"), schemaSnapshot),
        rawClient(filename)
      )
      const failure = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename)))
      assert.instanceOf(failure, MigrationFailed)
      assert.include(failure.message, `table ai_jobs lacks column(s) "is_pinned": ${anotherApps}`)
      assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, rawClient(filename)), before)
    }))

  it.scoped("R16 an empty table in the reference's shape is still adopted and upgraded, as a legacy database's", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.provide(exec("CREATE TABLE workflow_runs (id TEXT PRIMARY KEY, job_id TEXT, status TEXT, last_heartbeat TEXT, created_at TEXT, updated_at TEXT)"), rawClient(filename))
      assert.include((yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))).map(([id]) => id), 2)
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM pragma_table_info('workflow_runs') WHERE name = 'taken'"), rawClient(filename)), 1)
    }))
})
