/**
 * R16 issue 12, migration 0002 (SQLite): upgrading a reference database is
 * linear in its rows. The reference declares its time columns TIMESTAMP
 * (numeric affinity); the copies of jobs, runs and node executions look each
 * legacy time text up in the temporary `legacy_instants` table, and a lookup
 * that cannot use that table's key scans it once per copied row (10,000 jobs
 * took 33 s, 60,000 jobs 18 minutes). Checked with SQLite's own plan for each
 * copy, run on a reference file brought to the point just before the copies:
 * every lookup is a SEARCH by the key, none a SCAN.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import { splitStatements } from "../../src/store/sqlite/sqlScript.js"
import { writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { Database } from "./sqlite-recorder.js"
import { tempDatabaseFile } from "./sqlite-support.js"

const statementsOf = (prefix: string) => {
  const file = fs.readdirSync(migrationsDirectory).find((name) => name.startsWith(prefix))
  assert.isDefined(file)
  return splitStatements(fs.readFileSync(new URL(file, migrationsDirectory), "utf8"))
}

/** A copy of legacy rows into a current table: `INSERT INTO <table> (...) SELECT ... FROM legacy_<table>`. */
const COPY = /^\s*INSERT INTO (ai_jobs|workflow_runs|workflow_node_executions) \(/

/** How each legacy time column is looked up, per copy: the `detail` lines of its plan naming legacy_instants. */
const lookupPlans = (filename: string): Record<string, ReadonlyArray<string>> => {
  const db = new Database(filename)
  try {
    const [before, copies] = [[] as Array<string>, [] as Array<string>]
    for (const statement of [...statementsOf("0001_"), ...statementsOf("0002_")]) {
      if (COPY.test(statement)) copies.push(statement)
      else if (copies.length === 0) before.push(statement)
    }
    db.prepare("PRAGMA foreign_keys = OFF").run()
    db.prepare("PRAGMA legacy_alter_table = ON").run()
    for (const statement of before) db.prepare(statement).run()
    return Object.fromEntries(copies.map((copy) => [
      COPY.exec(copy)?.[1] ?? "",
      (db.prepare(`EXPLAIN QUERY PLAN ${copy}`).all() as Array<{ readonly detail: string }>)
        .map((row) => row.detail)
        .filter((detail) => detail.includes("legacy_instants"))
    ]))
  } finally {
    db.close()
  }
}

describe("R16 issue 12 SQLite upgrade of a reference database (TIMESTAMP columns)", () => {
  it.effect("each legacy time text is found by the key of legacy_instants, never by scanning it once per copied row", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      const plans = lookupPlans(filename)
      // Two time columns per job, three per run, two per node execution.
      assert.deepStrictEqual(Object.fromEntries(Object.entries(plans).map(([table, details]) => [table, details.length])), {
        ai_jobs: 2,
        workflow_runs: 3,
        workflow_node_executions: 2
      })
      for (const [table, details] of Object.entries(plans)) {
        for (const detail of details) {
          assert.match(detail, /^SEARCH legacy_instants USING INDEX \S+ \(raw=\?\)$/, `${table}: ${detail}`)
        }
      }
    })))
})
