/**
 * `ai-jobs` on a database whose `ai_job_model_migrations` is another tool's,
 * its id at this version's newest migration (found by a regression probe):
 * `migrate` said "the schema is up to date (schema version 26)" and `jobs
 * list` sent the operator to that very `migrate` ("is the database migrated?
 * run: ai-jobs migrate") — there was no `ai_jobs` table. Both now refuse the
 * table, exit 1, with the same reason, and create nothing. On SQLite and
 * PostgreSQL.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import { createRequire } from "node:module"
import { connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { shippedPgMigrationIds } from "../store/pg-support.js"
import { shippedSqliteMigrationIds } from "../store/sqlite-support.js"
import { runCli, tempDir } from "./cli.js"
import { assertOneLineError } from "./operator.suite.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec(sql: string): unknown
  prepare(sql: string): { all(): Array<unknown> }
  close(): unknown
}

/** Another tool's table of our name, one row at `id`. */
const foreignTable = (id: number) =>
  `CREATE TABLE ai_job_model_migrations (migration_id integer PRIMARY KEY, name text NOT NULL);
   INSERT INTO ai_job_model_migrations VALUES (${id}, 'create_users')`

/** The one line both commands give: the table is refused for what it records. */
const refused = (id: number) =>
  new RegExp(`^error: cannot open database .*: (SQLite migrations failed: |PostgreSQL migrations failed: )?ai_job_model_migrations records migration ${id} as 'create_users', where this library's 00${id} is \\w+: it is another tool's table of the same name`)

const urls: Array<string> = []
afterAll(async () => {
  for (const url of urls) await dropDatabase(url)
})

describe("ai-jobs on another tool's ai_job_model_migrations", { timeout: 180_000 }, () => {
  it("R9 SQLite: migrate and jobs list both refuse it, exit 1, the same reason; no ai_jobs table is made", async () => {
    const newest = Math.max(...shippedSqliteMigrationIds)
    const file = path.join(tempDir("foreign-bookkeeping"), "jobs.db")
    const db = new Database(file)
    db.exec(foreignTable(newest))
    db.close()
    for (const args of [["migrate"], ["jobs", "list"]]) assertOneLineError(await runCli([...args, "--database", file]), 1, refused(newest))
    const after = new Database(file)
    assert.deepStrictEqual(after.prepare("SELECT name FROM sqlite_master WHERE name = 'ai_jobs'").all(), [])
    after.close()
  })

  it("R9 PostgreSQL: migrate and jobs list both refuse it, exit 1, the same reason; no ai_jobs table is made", async () => {
    const newest = Math.max(...shippedPgMigrationIds)
    const url = await freshDatabaseUrl("cli_foreign_bookkeeping")
    urls.push(url)
    const client = await connectPg(url)
    try {
      await client.query(foreignTable(newest))
      for (const args of [["migrate"], ["jobs", "list"]]) assertOneLineError(await runCli([...args, "--database", url]), 1, refused(newest))
      const { rows: [jobs] } = await client.query<{ readonly absent: boolean }>("SELECT to_regclass('ai_jobs') IS NULL AS absent")
      assert.isTrue(jobs?.absent)
    } finally {
      await client.end()
    }
  })

  /** The one line both commands give when a table the bookkeeping records is not there. */
  const missing = (table: string) => new RegExp(`^error: cannot open database .*records this library's migrations up to \\d{4}, but the schema they made is not there \\(no ${table} table\\)`)

  /** What is done to a migrated database, and the table each leaves missing. */
  const removals = [
    ["DROP TABLE workflow_node_executions", "workflow_node_executions"],
    ["DROP TABLE flight_recorder_events", "flight_recorder_events"],
    ["ALTER TABLE ai_jobs RENAME TO ai_jobs_kept; CREATE VIEW ai_jobs AS SELECT * FROM ai_jobs_kept", "ai_jobs"]
  ] as const

  it("R9 SQLite: a migrated database missing one of its tables, or with a view in its place, is refused alike by migrate and jobs list: exit 1, naming the table, never 'up to date'", async () => {
    for (const [removal, table] of removals) {
      const file = path.join(tempDir("bookkeeping-table-gone"), "jobs.db")
      assert.strictEqual((await runCli(["migrate", "--database", file])).code, 0)
      const db = new Database(file)
      db.exec(`PRAGMA foreign_keys = OFF; ${removal}`)
      db.close()
      for (const args of [["migrate"], ["jobs", "list"]]) {
        const result = await runCli([...args, "--database", file])
        assertOneLineError(result, 1, missing(table))
        assert.notInclude(result.stdout, "up to date")
      }
    }
  })

  it("R9 PostgreSQL: a migrated database missing one of its tables, or with a view in its place, is refused alike by migrate and jobs list: exit 1, naming the table, never 'up to date'", async () => {
    for (const [removal, table] of removals) {
      const url = await freshDatabaseUrl("cli_bookkeeping_table_gone")
      urls.push(url)
      assert.strictEqual((await runCli(["migrate", "--database", url])).code, 0)
      const client = await connectPg(url)
      try {
        await client.query(removal.replace(/^DROP TABLE \w+/, "$& CASCADE"))
      } finally {
        await client.end()
      }
      for (const args of [["migrate"], ["jobs", "list"]]) {
        const result = await runCli([...args, "--database", url])
        assertOneLineError(result, 1, missing(table))
        assert.notInclude(result.stdout, "up to date")
      }
    }
  })
})
