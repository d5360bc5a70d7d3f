/**
 * Issue 16, migration 0013 (SQLite): the constant lists in the CHECKs of
 * ai_jobs, workflow_runs, workflow_node_executions and flight_recorder_events
 * (`status IN ('queued', ...)`, which SQLite evaluates through an ephemeral
 * index built on every write) are ORs of equalities. "The same meaning" is
 * checked in SQLite itself: every rewritten expression against the one it
 * replaces (read from the migration files) on every member, near misses and
 * generated values of every storage class, both as bare expressions and as
 * real CHECKs on a TEXT column. And the rebuild itself: the schema keeps
 * every column, key, reference, index and trigger; a database at 0011 keeps
 * every row; a stored row that breaks a rule fails the migration and leaves
 * the database as it was; a replay is skipped.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as fs from "node:fs"
import { namedChecks } from "../../bench/checkForms.js"
import { skipIfQuery } from "../../src/store/internal/migrationGuard.js"
import { migrateFrom, migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import { MigrationFailed } from "../../src/store/StoreErrors.js"
import { writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { Database } from "./sqlite-recorder.js"
import { migrationsBefore, rawClient, rawNumber, rawRows, schemaSnapshot, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"
import { newestShipped, shippedFrom } from "./contract/schema.js"

const REBUILT = ["ai_jobs", "workflow_runs", "workflow_node_executions", "flight_recorder_events"] as const
const migrationFiles = fs.readdirSync(migrationsDirectory).filter((file) => /^\d{4}_\w+\.sql$/.test(file)).sort()
const readMigration = (file: string) => fs.readFileSync(new URL(file, migrationsDirectory), "utf8")
const normalized = (expression: string) => expression.replace(/\s+/g, " ").trim()

/** Every named CHECK as the migrations before 0013 last defined it. */
const before0013 = new Map(
  migrationFiles.filter((file) => file < "0013").flatMap((file) => namedChecks("", readMigration(file)).map((check) => [check.name, check.expression] as const))
)
const in0013 = namedChecks("", readMigration(migrationFiles.find((file) => file.startsWith("0013_"))!))
const rewritten = in0013.filter((check) => normalized(check.expression) !== normalized(before0013.get(check.name) ?? ""))
/** The column a list CHECK is about: the name before its IN. */
const columnOf = (expression: string) => /^\s*(\w+)/.exec(expression)?.[1] ?? ""

/**
 * Which of `values` each expression passes (a CHECK passes on true or NULL),
 * as SQLite sees them in a TEXT column named `column`: bare, over the stored
 * values, and as a real CHECK refusing or taking an INSERT. Returns the
 * values where old and new disagree, with what each said.
 */
const disagreements = (column: string, before: string, after: string, values: ReadonlyArray<unknown>) => {
  const db = new Database(":memory:")
  try {
    db.prepare(`CREATE TABLE v (${column} TEXT)`).run()
    db.prepare(`CREATE TABLE t_before (${column} TEXT CHECK (${before}))`).run()
    db.prepare(`CREATE TABLE t_after (${column} TEXT CHECK (${after}))`).run()
    const insert = db.prepare(`INSERT INTO v (rowid, ${column}) VALUES (?, ?)`)
    values.forEach((value, index) => insert.run(index + 1, value))
    const found: Array<{ readonly value: unknown; readonly before: unknown; readonly after: unknown; readonly as: string }> = []
    const bare = db.prepare(
      `SELECT rowid AS i, (${before}) IS NOT FALSE AS b, (${after}) IS NOT FALSE AS a FROM v WHERE ((${before}) IS NOT FALSE) IS NOT ((${after}) IS NOT FALSE)`
    ).all() as Array<{ readonly i: number; readonly b: number; readonly a: number }>
    for (const row of bare) found.push({ value: values[row.i - 1], before: row.b, after: row.a, as: "expression" })
    const takes = (table: string, value: unknown) => {
      try {
        db.prepare(`INSERT INTO ${table} (${column}) VALUES (?)`).run(value)
        return true
      } catch (error) {
        if (!String(error).includes("CHECK constraint failed")) throw error
        return false
      }
    }
    for (const value of values) {
      const [b, a] = [takes("t_before", value), takes("t_after", value)]
      if (b !== a) found.push({ value, before: b, after: a, as: "CHECK" })
    }
    return found
  } finally {
    db.close()
  }
}

/** Any storage class: `text`, any text (NUL bytes, lone surrogates), integer, real, blob (of `text`'s bytes or any), NULL. */
const anyValue = (text: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 6, arbitrary: text },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double({ noNaN: true }) },
    { weight: 1, arbitrary: text.map((value) => Buffer.from(value, "utf8")) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 30 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 1, arbitrary: fc.constant(null) }
  )

describe("issue 16 migration 0013: SQLite's CHECKs keep their meaning in cheaper words", () => {
  it("issue 16 0013 keeps every CHECK name and rewrites only the constant lists of more than two terms", () => {
    for (const check of in0013) assert.isTrue(before0013.has(check.name), `${check.name} existed before 0013`)
    assert.deepStrictEqual(rewritten.map((check) => check.name).sort(), [
      "ai_jobs_access_mode_valid", "ai_jobs_job_kind_valid", "ai_jobs_safety_mode_valid", "ai_jobs_status_valid",
      "flight_recorder_events_actor_valid", "flight_recorder_events_type_valid",
      "workflow_node_executions_status_valid", "workflow_runs_status_valid"
    ])
    for (const check of rewritten) {
      assert.match(before0013.get(check.name)!, /^\s*\w+ IN \(/, check.name)
      assert.notMatch(check.expression, /\bIN\s*\(/, check.name)
    }
  })

  it("issue 16 each constant list as an OR of equalities takes exactly the values the IN list took: every member, near misses, other storage classes, NULL", () => {
    for (const check of rewritten) {
      const before = before0013.get(check.name)!
      const column = columnOf(before)
      const members = [...before.matchAll(/'([^']*)'/g)].map((match) => match[1]!)
      const nearMisses = members.flatMap((member) => [
        member.toUpperCase(), ` ${member}`, `${member} `, `${member}\u0000`, `${member}\u0301`, member.slice(1), `${member}x`,
        Buffer.from(member, "utf8")
      ])
      const fixed = [...members, ...nearMisses, "", null, 0, 1, 1.5, "0", "1"]
      assert.deepStrictEqual(disagreements(column, before, check.expression, fixed), [], check.name)
      fc.assert(
        fc.property(fc.array(anyValue(fc.oneof(fc.constantFrom(...members), fc.string({ maxLength: 25 }))), { maxLength: 100 }), (values) => {
          assert.deepStrictEqual(disagreements(column, before, check.expression, values), [])
        }),
        { numRuns: 25 }
      )
    }
  }, 120_000)
})

/** Migrating with these leaves a database as 0011 did. */
const migrationsBefore0013 = migrationsBefore("0013")

/** Every workflow_runs row without the column 0018 adds (`taken`): the rows as they were before it. */
const withoutTaken = (rows: Record<string, unknown>) => ({
  ...rows,
  workflow_runs: (rows["workflow_runs"] as ReadonlyArray<Record<string, unknown>>).map(({ taken: _taken, ...row }) => row)
})

/** Everything but the CHECK words: columns, keys, references, indexes (with their SQL) and triggers of the rebuilt tables. */
const shapeOfRebuiltTables = Effect.gen(function*() {
  const out: Record<string, unknown> = {}
  for (const table of REBUILT) {
    const [{ sql }] = (yield* rawRows<{ readonly sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table])) as [{ readonly sql: string }]
    let masked = sql
    for (const check of [...namedChecks(table, sql)].reverse()) masked = `${masked.slice(0, check.start)}…${masked.slice(check.end)}`
    out[table] = {
      checks: namedChecks(table, sql).map((check) => check.name),
      withoutCheckWords: normalized(masked.replace(/--[^\n]*\n/g, "\n")),
      columns: yield* rawRows(`SELECT * FROM pragma_table_xinfo('${table}')`),
      references: yield* rawRows(`SELECT * FROM pragma_foreign_key_list('${table}')`),
      indexes: yield* rawRows(`SELECT * FROM pragma_index_list('${table}') ORDER BY name`),
      objects: yield* rawRows("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') ORDER BY type, name", [table])
    }
  }
  return out
})

/** Every row of every table but the bookkeeping one, with its rowid. */
const everyRow = Effect.gen(function*() {
  const tables = yield* rawRows<{ readonly name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'ai_job_model_migrations' ORDER BY name"
  )
  const out: Record<string, unknown> = {}
  for (const { name } of tables) out[name] = yield* rawRows(`SELECT rowid AS row_id, * FROM "${name}" ORDER BY rowid`)
  return out
})

const version = rawNumber("SELECT max(migration_id) AS n FROM ai_job_model_migrations")

/** The reference database upgraded to 0011, with an event and a finished node of a run added. */
const referenceAt0011 = (filename: string, before0013: URL) =>
  Effect.gen(function*() {
    yield* writeReferenceSqlite(filename)
    yield* Effect.provide(
      Effect.gen(function*() {
        yield* migrateFrom(before0013)
        yield* rawRows(
          `INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
           VALUES ('01890a5d-ac96-774b-bcce-b302099a8057', '2024-02-29T23:59:59.999Z', 'system', 'system', 't', NULL, NULL, '{"kind":"x"}')`
        )
      }),
      rawClient(filename)
    )
  })

describe("issue 16 migration 0013: the rebuild keeps the schema and every row", () => {
  it.scoped("issue 16 0013 on a fresh database: every column, key, reference, index and trigger as 0011 left them; only the CHECK words changed", () =>
    Effect.gen(function*() {
      const before = yield* migrationsBefore0013
      const [at0011, fresh] = [yield* tempDatabaseFile("at-0011.db"), yield* tempDatabaseFile("fresh.db")]
      const old = yield* Effect.provide(Effect.zipRight(migrateFrom(before), shapeOfRebuiltTables), rawClient(at0011))
      // Through 0017: 0018 adds a column of its own to workflow_runs (test/engine/run-once.test.ts).
      const through0017 = yield* migrationsBefore("0018")
      const applied = yield* Effect.provide(Effect.zip(migrateFrom(through0017), shapeOfRebuiltTables), rawClient(fresh))
      assert.deepStrictEqual(applied[1], old)
      const tableSql = `SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN (${REBUILT.map((t) => `'${t}'`).join(", ")})`
      for (const { sql } of yield* Effect.provide(rawRows<{ readonly sql: string }>(tableSql), rawClient(at0011))) assert.match(sql, /(status|actor) IN \(/)
      for (const { sql } of yield* Effect.provide(rawRows<{ readonly sql: string }>(tableSql), rawClient(fresh))) assert.notMatch(sql, /(status|actor) IN \(/)
    }))

  it.scoped("issue 16 0013 upgrades a database at 0011 (the legacy reference database, upgraded): every row kept with its rowid, references intact, 0013 (and 0016 and 0031, tables of their own) applied", () =>
    Effect.gen(function*() {
      const before = yield* migrationsBefore0013
      const filename = yield* tempDatabaseFile("reference.db")
      yield* referenceAt0011(filename, before)
      const rows = yield* Effect.provide(everyRow, rawClient(filename))
      assert.isAbove((rows["flight_recorder_events"] as ReadonlyArray<unknown>).length, 0)
      assert.isAbove((rows["workflow_runs"] as ReadonlyArray<unknown>).length, 0)
      const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), rawClient(filename))
      assert.deepStrictEqual(applied.map(([id]) => id), shippedFrom("sqlite", 13))
      yield* Effect.provide(
        Effect.gen(function*() {
          const { run_offers, flight_recorder_retention_horizon, ...after } = yield* everyRow
          for (const run of after["workflow_runs"] as ReadonlyArray<Record<string, unknown>>) {
            assert.strictEqual(run["taken"], run["status"] === "running" && run["last_heartbeat"] !== run["created_at"] ? 1 : 0, "0018's taken")
          }
          assert.deepStrictEqual(withoutTaken(after), rows)
          assert.deepStrictEqual(run_offers, [], "0016's table, new and empty")
          assert.deepStrictEqual(flight_recorder_retention_horizon, [], "0031's table, new and empty")
          assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
          assert.deepStrictEqual(yield* rawRows("PRAGMA integrity_check"), [{ integrity_check: "ok" }])
          assert.strictEqual(yield* version, newestShipped("sqlite"))
        }),
        storeWithClient(filename)
      )
    }))

  const brokenRows: ReadonlyArray<readonly [rule: string, write: string]> = [
    ["ai_jobs_updated_at_form", "UPDATE ai_jobs SET updated_at = '2023-02-29T00:00:00.000Z' WHERE rowid = (SELECT min(rowid) FROM ai_jobs)"],
    ["ai_jobs_status_valid", "UPDATE ai_jobs SET status = 'Queued' WHERE rowid = (SELECT min(rowid) FROM ai_jobs)"],
    ["flight_recorder_events_timestamp_form", "INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, body) VALUES ('e', '2024-01-01T24:00:00.000Z', 'system', 'system', 't', '{}')"],
    ["workflow_runs_last_heartbeat_form", "UPDATE workflow_runs SET last_heartbeat = '2024-01-01T00:00:00.000Z' || char(0) WHERE rowid = (SELECT min(rowid) FROM workflow_runs)"]
  ]
  for (const [rule, write] of brokenRows) {
    it.scoped(`issue 16 a stored row that breaks ${rule} (written with CHECKs ignored) fails 0013 with MigrationFailed, and the database stays at 0011 as it was`, () =>
      Effect.gen(function*() {
        const before = yield* migrationsBefore0013
        const filename = yield* tempDatabaseFile("broken.db")
        yield* referenceAt0011(filename, before)
        const client = rawClient(filename)
        yield* Effect.provide(
          Effect.gen(function*() {
            yield* rawRows("PRAGMA ignore_check_constraints = ON")
            yield* rawRows(write)
            yield* rawRows("PRAGMA ignore_check_constraints = OFF")
          }),
          client
        )
        const [schema, rows] = yield* Effect.provide(Effect.zip(schemaSnapshot, everyRow), client)
        const failed = yield* Effect.flip(Effect.provide(migrateFrom(migrationsDirectory), client))
        assert.instanceOf(failed, MigrationFailed)
        assert.strictEqual(failed.migration_id, 13)
        assert.include(String((failed.cause as { readonly cause?: unknown })?.cause ?? failed.cause), rule)
        yield* Effect.provide(
          Effect.gen(function*() {
            assert.deepStrictEqual(yield* schemaSnapshot, schema)
            assert.deepStrictEqual(yield* everyRow, rows)
            assert.strictEqual(yield* version, 11)
          }),
          client
        )
      }))
  }

  it.scoped("issue 16 0013 run again (its bookkeeping row lost) is skipped: schema and rows unchanged", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("replay.db")
      const client = rawClient(filename)
      yield* Effect.provide(migrateFrom(migrationsDirectory), client)
      const [schema, rows] = yield* Effect.provide(Effect.zip(schemaSnapshot, everyRow), client)
      // The Migrator runs what comes after the newest id it finds: 0013's row and every later one lost.
      yield* Effect.provide(rawRows("DELETE FROM ai_job_model_migrations WHERE migration_id >= 13"), client)
      const applied = yield* Effect.provide(migrateFrom(migrationsDirectory), client)
      assert.deepStrictEqual(applied.map(([id]) => id), shippedFrom("sqlite", 13))
      assert.deepStrictEqual(yield* Effect.provide(Effect.zip(schemaSnapshot, everyRow), client), [schema, rows])
      // Skipped, not rebuilt again: its skip-if query finds the work done.
      const done = yield* Effect.provide(rawRows(skipIfQuery(readMigration(migrationFiles.find((file) => file.startsWith("0013_"))!))!), client)
      assert.strictEqual(done.length, 1)
    }))
})
