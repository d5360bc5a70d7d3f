/**
 * The price of each index on the SQLite lifecycle (issue 16, h50): our
 * statements per job replayed raw (bench/sqliteReplayStatements.ts, as
 * bench/sqliteFloor.ts runs them: no JavaScript of ours, one commit per step,
 * the heartbeat unsynced) on the migrated schema, and on one copy of it per
 * index of `ai_jobs`, `flight_recorder_events` and `workflow_runs` with that
 * index dropped, interleaved round by round in one process. Prints per index
 * its definition and, per job, the WAL bytes, CPU µs and wall µs the index
 * costs (the full schema's less the schema without it). Primary keys and
 * UNIQUE constraints (autoindexes) are constraints, not priced. A price only:
 * whether an index may go is the reads' question (`EXPLAIN QUERY PLAN`).
 *
 *   npx tsx bench/sqliteIndexPrice.ts [rounds] [jobs] [full|normal]
 *
 * Not part of `npm run bench`.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { migrateTarget } from "./app.js"
import { openSqlite } from "./drivers.js"
import { runMain } from "./runMain.js"
import { capturedEvents, replayStatements } from "./sqliteReplayStatements.js"
import { median } from "./trees.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  prepare(source: string): { all(...params: Array<unknown>): Array<Record<string, unknown>> }
  exec(source: string): void
  close(): void
}

const TABLES = ["ai_jobs", "flight_recorder_events", "workflow_runs"]

interface Variant {
  readonly name: string
  readonly table: string
  readonly definition: string
  readonly wal: string
  readonly lifecycles: ReturnType<typeof replayStatements>["lifecycles"]
  readonly close: () => void
  readonly wall: Array<number>
  readonly cpu: Array<number>
  readonly walBytes: Array<number>
}

const main = async () => {
  const rounds = Number(process.argv[2] ?? 3)
  const jobs = Number(process.argv[3] ?? 300)
  const durability = process.argv[4] === "normal" ? "normal" : "full"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-index-price-"))
  const load = os.loadavg()
  try {
    const events = await capturedEvents(path.join(tmp, "capture.db"))
    const schemaFile = path.join(tmp, "schema.db")
    await migrateTarget({ dialect: "sqlite", filename: schemaFile, durability })
    const probe = new Database(schemaFile)
    const indexes = probe.prepare(
      `SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
      AND tbl_name IN (${TABLES.map(() => "?").join(", ")}) ORDER BY tbl_name, name`
    ).all(...TABLES) as Array<{ name: string; tbl_name: string; sql: string }>
    probe.close()
    const variant = async (name: string, table: string, definition: string, drop: string | undefined): Promise<Variant> => {
      const filename = path.join(tmp, `${name}.db`)
      fs.copyFileSync(schemaFile, filename)
      if (drop !== undefined) {
        const db = new Database(filename)
        db.exec(`DROP INDEX ${drop}`)
        db.close()
      }
      const db = openSqlite(filename, durability)
      db.pragma("wal_autocheckpoint = 0")
      const { lifecycles } = replayStatements(db, events)
      lifecycles(100, { k: 1, durability })
      return { name, table, definition, wal: `${filename}-wal`, lifecycles, close: () => db.close(), wall: [], cpu: [], walBytes: [] }
    }
    const all = await variant("all indexes", "", "", undefined)
    const without: Array<Variant> = []
    for (const index of indexes) without.push(await variant(index.name, index.tbl_name, index.sql.replace(/\s+/g, " "), index.name))
    const variants = [all, ...without]
    for (let round = 0; round < rounds; round++) {
      // The order rotates round by round, so drift on a loaded machine hits every variant alike.
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + round) % variants.length]!
        const walBefore = fs.statSync(v.wal).size
        const cpu = process.cpuUsage()
        const wall = performance.now()
        v.lifecycles(jobs, { k: 1, durability })
        const { system, user } = process.cpuUsage(cpu)
        v.wall.push((performance.now() - wall) * 1000 / jobs)
        v.cpu.push((user + system) / jobs)
        v.walBytes.push((fs.statSync(v.wal).size - walBefore) / jobs)
      }
    }
    const [wal0, cpu0, wall0] = [median(all.walBytes), median(all.cpu), median(all.wall)]
    console.log(`## The price of each index per lifecycle, replayed raw at "${durability}", ${rounds} rounds of ${jobs} jobs (load ${load.map((l) => l.toFixed(2)).join(" ")} → ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`)
    console.log(`All indexes: ${(wal0 / 1024).toFixed(1)} KiB of WAL, ${cpu0.toFixed(0)} µs CPU, ${wall0.toFixed(0)} µs wall per job.`)
    console.log("| index | WAL KiB per job it costs | CPU µs it costs | wall µs it costs | definition |")
    console.log("|---|---|---|---|---|")
    for (const v of without) {
      console.log(
        `| ${v.name} | ${((wal0 - median(v.walBytes)) / 1024).toFixed(1)} | ${(cpu0 - median(v.cpu)).toFixed(0)} | ${(wall0 - median(v.wall)).toFixed(0)} | \`${v.definition}\` |`
      )
    }
    for (const v of variants) v.close()
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
