/**
 * Where the SQLite database's own work per job goes (issue 16): the replay of
 * bench/sqliteReplay.ts (raw prepared better-sqlite3, one commit per step,
 * k = 1) broken down
 *
 * 1. per statement: wall µs per call inside the step's transaction (no fsync
 *    at "normal", so close to CPU), and the WAL frames (4 KB pages) the
 *    statement writes when it runs alone in its own commit;
 * 2. per schema object: the same replay on a copy of the migrated schema with
 *    one index, trigger or the CHECK constraints removed (or foreign keys
 *    off), CPU µs and WAL frames per job against the schema as migrated, the
 *    variants interleaved round by round (median of the rounds).
 *
 * A measurement on scratch copies only: nothing here is a proposal to drop
 * a constraint. Not part of `npm run bench`.
 *
 * `before-0011` as a fourth argument runs only the schema as migrated against
 * the same schema with migration 0011's four indexes as they were before it.
 *
 *   npx tsx bench/sqliteReplayCost.ts [jobs per round] [rounds] [full|normal] [before-0011]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { migrateTarget } from "./app.js"
import { openSqlite, type SqliteDatabase } from "./drivers.js"
import { capturedEvents, type EventRow, replayStatements, sampleCpuInterleaved, walFrames } from "./sqliteReplayStatements.js"

const HOT_TABLES = ["ai_jobs", "workflow_runs", "flight_recorder_events"]

interface Variant {
  readonly name: string
  readonly apply: (db: SqliteDatabase) => void
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/**
 * Frames a run of `work` on `db` writes to the WAL: no checkpoint runs
 * meanwhile (autocheckpoint off) and a reader holds a snapshot, so the WAL
 * only grows — never restarts from its beginning — while `work` runs.
 */
const framesOf = (db: SqliteDatabase, filename: string, durability: "full" | "normal", work: () => void) => {
  db.pragma("wal_autocheckpoint = 0")
  const reader = openSqlite(filename, durability)
  reader.exec("BEGIN")
  reader.prepare("SELECT count(*) FROM ai_jobs").get()
  const before = fs.statSync(`${filename}-wal`).size
  work()
  const frames = walFrames(fs.statSync(`${filename}-wal`).size - before)
  reader.exec("COMMIT")
  reader.close()
  db.pragma("wal_autocheckpoint = 1000")
  return frames
}

const perStatement = (template: string, tmp: string, events: ReadonlyArray<EventRow>, jobs: number) => {
  const filename = path.join(tmp, "statements.db")
  fs.copyFileSync(template, filename)
  const db = openSqlite(filename, "normal")
  const { lifecycles, statementsAlone } = replayStatements(db, events)
  lifecycles(200, { k: 1, durability: "normal" })
  const micros = new Map<string, number>()
  lifecycles(jobs, {
    k: 1,
    durability: "normal",
    measure: (name, work) => {
      const start = performance.now()
      work()
      micros.set(name, (micros.get(name) ?? 0) + (performance.now() - start) * 1000)
    }
  })
  const frames = new Map<string, number>()
  const walSize = () => fs.statSync(`${filename}-wal`).size
  framesOf(db, filename, "normal", () =>
    statementsAlone(200, (name, work) => {
      const before = walSize()
      work()
      frames.set(name, (frames.get(name) ?? 0) + walFrames(walSize() - before))
    }))
  db.close()
  console.log(`\n### Per statement (k = 1, "normal", ${jobs} jobs; frames: the statement alone in its own commit, 200 jobs)`)
  console.log("| statement | wall µs per call | WAL frames alone |")
  console.log("|---|---|---|")
  let total = 0
  for (const [name, us] of micros) {
    total += us / jobs
    console.log(`| ${name} | ${(us / jobs).toFixed(1)} | ${frames.has(name) ? (frames.get(name)! / 200).toFixed(1) : "—"} |`)
  }
  console.log(`| **all, per job** | ${total.toFixed(0)} | |`)
}

/** Migration 0011's four indexes as 0002–0004 made them (the schema before it). */
const BEFORE_0011: Variant = {
  name: "the four indexes as before migration 0011",
  apply: (db) =>
    db.exec(`
      DROP INDEX ai_jobs_by_run; DROP INDEX ai_jobs_prunable_by_updated;
      DROP INDEX workflow_runs_running_by_heartbeat; DROP INDEX flight_recorder_events_by_run_time;
      CREATE INDEX ai_jobs_by_workflow_run ON ai_jobs (workflow_run_id);
      CREATE INDEX ai_jobs_by_status_updated ON ai_jobs (status, updated_at, id);
      CREATE INDEX workflow_runs_by_status_heartbeat ON workflow_runs (status, last_heartbeat, id);
      CREATE INDEX flight_recorder_events_by_run ON flight_recorder_events (workflow_run_id, timestamp);`)
}

const variantsOf = (template: string): ReadonlyArray<Variant> => {
  const db = openSqlite(template, "normal")
  const objects = db.prepare(
    `SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL
     AND tbl_name IN (${HOT_TABLES.map(() => "?").join(", ")}) ORDER BY tbl_name, type, name`
  ).all(...HOT_TABLES) as Array<{ readonly type: string; readonly name: string; readonly tbl_name: string }>
  db.close()
  return [
    { name: "schema as migrated", apply: () => {} },
    ...objects.map((object): Variant => ({
      name: `without ${object.type} ${object.name}`,
      apply: (db) => db.exec(`DROP ${object.type.toUpperCase()} ${object.name}`)
    })),
    { name: "without CHECK constraints (ignore_check_constraints)", apply: (db) => db.pragma("ignore_check_constraints = ON") },
    { name: "foreign_keys off", apply: (db) => db.pragma("foreign_keys = OFF") }
  ]
}

const main = async () => {
  const jobs = Number(process.argv[2] ?? 1000)
  const rounds = Number(process.argv[3] ?? 5)
  const durability = process.argv[4] === "full" ? "full" : "normal"
  const only0011 = process.argv[5] === "before-0011"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-replay-cost-"))
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ")
  console.log(`## The SQLite replay's cost per statement and per schema object (k = 1, "${durability}", load ${load()})`)
  try {
    const events = await capturedEvents(path.join(tmp, "capture.db"))
    const template = path.join(tmp, "template.db")
    await migrateTarget({ dialect: "sqlite", filename: template })
    const checkpoint = openSqlite(template, "normal")
    checkpoint.pragma("wal_checkpoint(TRUNCATE)")
    checkpoint.close()
    if (!only0011) perStatement(template, tmp, events, jobs)
    const chosen = only0011 ? [{ name: "schema as migrated", apply: () => {} }, BEFORE_0011] : variantsOf(template)
    const variants = chosen.map((variant, index) => {
      const filename = path.join(tmp, `variant-${index}.db`)
      fs.copyFileSync(template, filename)
      const db = openSqlite(filename, durability)
      variant.apply(db)
      const { lifecycles } = replayStatements(db, events)
      lifecycles(200, { k: 1, durability })
      const frames = framesOf(db, filename, durability, () => lifecycles(200, { k: 1, durability })) / 200
      return { variant, db, lifecycles, frames, cpu: [] as Array<number> }
    })
    sampleCpuInterleaved(variants, rounds, jobs, durability)
    const [base] = variants
    console.log(`\n### Per schema object (${rounds} rounds of ${jobs} jobs each, interleaved; median CPU; load at end ${load()})`)
    console.log("| variant | CPU µs per job | Δ vs migrated | WAL frames per job | Δ frames |")
    console.log("|---|---|---|---|---|")
    for (const entry of variants) {
      const cpu = median(entry.cpu)
      console.log(
        `| ${entry.variant.name} | ${cpu.toFixed(0)} | ${(cpu - median(base!.cpu)).toFixed(0)} | ${entry.frames.toFixed(1)} | ${
          (entry.frames - base!.frames).toFixed(1)
        } |`
      )
      entry.db.close()
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

void main()
