/**
 * R16 `ai-jobs migrate` "says which schema version it applied, or that there
 * was nothing to apply" — also when two run at once on one database (found
 * by an outside probe: both said they had applied everything). The test holds
 * the migration lock while both start, and lets go only once both are at it
 * (past anything they read before the lock), so both surely overlap: exactly
 * one applies the schema, the other, having waited, has nothing to apply.
 * Real processes, on a SQLite file and on PostgreSQL.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { connectPg, dropDatabase, freshDatabaseUrl } from "../support/pg-database.js"
import { exitOf, spawnCli, tempDir } from "./cli.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  prepare(sql: string): { run(): unknown }
  pragma(source: string): unknown
  close(): void
}

const newest = (dialect: "sqlite" | "pg") =>
  Math.max(...fs.readdirSync(new URL(`../../migrations/${dialect}/`, import.meta.url)).map((name) => Number.parseInt(name, 10)))

/** A started `ai-jobs`, with what it printed so far. */
interface Started {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
}

const start = async (args: ReadonlyArray<string>): Promise<Started> => {
  const child = await spawnCli(args)
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  return { child, stdout: () => stdout, stderr: () => stderr }
}

/** Waits for `condition`, failing with `what` if a process ends first or it takes too long. */
const until = async (what: string, condition: () => Promise<boolean> | boolean, started: ReadonlyArray<Started>) => {
  for (let tries = 0; tries < 1200; tries++) {
    if (await condition()) return
    const ended = started.find(({ child }) => child.exitCode !== null)
    if (ended !== undefined) assert.fail(`${what}: a migrate ended first: ${ended.stdout()}${ended.stderr()}`)
    await sleep(50)
  }
  assert.fail(`${what}: still not so after a minute`)
}

/** Whether process `pid` has `file` open for writing (Linux: /proc/<pid>/fd and its fdinfo flags). */
const opensForWriting = (pid: number, file: string): boolean => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== file) return false
        const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))?.[1]
        return flags !== undefined && (Number.parseInt(flags, 8) & 3) !== 0
      } catch {
        return false
      }
    })
  } catch {
    return false
  }
}

/** Both outcomes, sorted: the one that applied, then the one that found nothing to apply. */
const outcomes = async (started: ReadonlyArray<Started>) => {
  const results = []
  for (const run of started) {
    const code = await exitOf(run.child)
    assert.strictEqual(code, 0, run.stderr())
    results.push(run.stdout().trim())
  }
  return results.map((line) => /Applied: .*|Nothing to apply.*/.exec(line)?.[0] ?? line).sort()
}

const pgDatabases: Array<string> = []
afterAll(async () => {
  for (const url of pgDatabases) await dropDatabase(url)
})

describe("R16 two ai-jobs migrate at once on one database", { timeout: 120_000 }, () => {
  it("SQLite: one applies the schema, the other says there was nothing to apply", async () => {
    const file = fs.realpathSync(tempDir("migrate-race")) + path.sep + "jobs.db"
    const holder = new Database(file)
    holder.pragma("journal_mode = WAL")
    // The write lock every migration run takes first (BEGIN IMMEDIATE), held by the test.
    holder.prepare("BEGIN IMMEDIATE").run()
    const started = [await start(["migrate", "--database", file]), await start(["migrate", "--database", file])]
    try {
      // Each has opened its store for writing: whatever it read before that, it has read.
      await until("both opened the file for writing", () => started.every(({ child }) => opensForWriting(child.pid!, file)), started)
    } finally {
      holder.prepare("ROLLBACK").run()
      holder.close()
    }
    const version = newest("sqlite")
    assert.deepStrictEqual(await outcomes(started), [
      `Applied: schema version ${version} (the database had none of ours: new, empty or a legacy Handshake schema).`,
      `Nothing to apply (schema version ${version}).`
    ])
  })

  it("PostgreSQL: one applies the schema, the other says there was nothing to apply", async () => {
    const url = await freshDatabaseUrl("migrate race")
    pgDatabases.push(url)
    const holder = await connectPg(url)
    try {
      // The lock every migration run takes first (pg_advisory_xact_lock on the same key), held by the test.
      await holder.query("SELECT pg_advisory_lock(hashtext('ai_job_model_migrations'))")
      const started = [await start(["migrate", "--database", url]), await start(["migrate", "--database", url])]
      try {
        await until("both wait for the migration lock", async () => {
          const { rows } = await holder.query<{ readonly n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
          )
          return Number(rows[0]?.n) === 2
        }, started)
      } finally {
        await holder.query("SELECT pg_advisory_unlock(hashtext('ai_job_model_migrations'))")
      }
      const version = newest("pg")
      assert.deepStrictEqual(await outcomes(started), [
        `Applied: schema version ${version} (the database had none of ours: new, empty or a legacy Handshake schema).`,
        `Nothing to apply (schema version ${version}).`
      ])
    } finally {
      await holder.end()
    }
  })
})
