/**
 * What each CHECK constraint of the hot tables costs per job (issue 16): the
 * replay of bench/sqliteReplay.ts (raw prepared better-sqlite3, one commit per
 * step, k = 1) on scratch copies of the migrated schema, each with ONE named
 * CHECK's expression replaced by `1`, against the schema as migrated and
 * against every CHECK off (`ignore_check_constraints`). The variants run
 * interleaved round by round; the table gives the median CPU µs per job.
 *
 * A CHECK's cost is below this replay's noise when it is a few µs, so the
 * second table prices each CHECK expression alone: CPU per evaluation on the
 * values the replay writes (SQLite evaluating it in a SELECT over a table of
 * such values) times how many times a lifecycle evaluates it (on INSERT every
 * CHECK of the table, on UPDATE only the CHECKs naming a changed column).
 *
 * The scratch copies are edited through `writable_schema` (a CHECK lives only
 * in the table's SQL text): a measurement, never a way to change a real
 * database. Not part of `npm run bench`.
 *
 * `focus` as a fourth argument runs only the schema as migrated (twice, first
 * and last in each round), a control copy whose table SQL went through the
 * same edit unchanged, every timestamp-form CHECK off, every CHECK off by edit
 * and by `ignore_check_constraints`.
 *
 * `groups` prices groups of CHECKs (per table, JSON, lists and integers,
 * timestamp forms); `candidate` the rewrites 0013 makes, applied by edit;
 * `before-0013` the schema as migrated against the schema at 0011 (the
 * shipped migrations before 0013): migration 0013's gain, before → after.
 *
 *   npx tsx bench/sqliteReplayChecks.ts [jobs per round] [rounds] [full|normal] [focus|groups|candidate|before-0013]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import { pathToFileURL } from "node:url"
import { migrateFrom, migrationsDirectory } from "../src/store/sqlite/migrations.js"
import { migrateTarget } from "./app.js"
import { openSqlite, type SqliteDatabase } from "./drivers.js"
import { inListsAsEqualities, type NamedCheck, namedChecks, timestampFormWithoutStrftime } from "./checkForms.js"
import { capturedEvents, replayStatements, sampleCpuInterleaved } from "./sqliteReplayStatements.js"

const HOT_TABLES = ["ai_jobs", "workflow_runs", "flight_recorder_events"] as const

/** How many times a lifecycle writes each hot table, and which columns its UPDATEs change. */
const WRITES: Record<(typeof HOT_TABLES)[number], { readonly inserts: number; readonly updates: ReadonlyArray<ReadonlyArray<string>> }> = {
  ai_jobs: { inserts: 1, updates: [["status", "workflow_run_id", "updated_at"], ["status", "updated_at"]] },
  workflow_runs: { inserts: 1, updates: [["last_heartbeat", "updated_at"], ["status", "error_message", "updated_at"]] },
  flight_recorder_events: { inserts: 5, updates: [] }
}

const tableSql = (db: SqliteDatabase, table: string) =>
  (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string }).sql

/** Rewrites the CHECK expressions of `table` in a scratch copy (null: kept as it is); reopen the file afterwards. */
const rewriteChecks = (filename: string, table: string, rewrite: (check: NamedCheck) => string | null) => {
  const db = openSqlite(filename, "normal") as SqliteDatabase & { unsafeMode(on: boolean): void }
  let sql = tableSql(db, table)
  for (const check of [...namedChecks(table, sql)].reverse()) {
    const expression = rewrite(check)
    if (expression !== null) sql = `${sql.slice(0, check.start)}${expression}${sql.slice(check.end)}`
  }
  db.unsafeMode(true)
  db.pragma("writable_schema = ON")
  db.prepare("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?").run(sql, table)
  db.close()
}

const withoutCheck = (filename: string, check: NamedCheck) =>
  rewriteChecks(filename, check.table, (each) => (each.name === check.name ? "1" : null))

/** Every CHECK of the hot tables rewritten by `rewrite` (null: kept as it is). */
const rewriteAll = (filename: string, rewrite: (check: NamedCheck) => string | null) => {
  for (const table of HOT_TABLES) rewriteChecks(filename, table, rewrite)
}

const ZERO_METRICS_TEXT =
  `'{"duration_ms":0,"total_tokens":0,"input_tokens":0,"output_tokens":0,"tokens_planner":0,"tokens_executor":0,"entities_read":0,"entities_written":0,"validators_run_count":0}'`

/** A form CHECK's column: the name its expression starts with (`finished_at IS NULL OR (...)` is not on a hot table). */
const formColumn = (check: NamedCheck) => /length\((\w+)\)/.exec(check.expression)?.[1] ?? ""

/** A database as migrations 0001-0011 left it: the shipped files before 0013, run by the store's migrator. */
const migrateBefore0013 = async (filename: string, tmp: string) => {
  const dir = path.join(tmp, "migrations-before-0013")
  fs.mkdirSync(dir)
  for (const file of fs.readdirSync(migrationsDirectory).filter((name) => /^\d{4}_\w+\.sql$/.test(name) && name < "0013")) {
    fs.copyFileSync(new URL(file, migrationsDirectory), path.join(dir, file))
  }
  await Effect.runPromise(Effect.provide(migrateFrom(pathToFileURL(`${dir}/`)), SqliteClient.layer({ filename })))
  const db = openSqlite(filename, "normal")
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

/**
 * CPU µs of one evaluation of a CHECK's expression on the rows the replay
 * wrote: one statement execution per row (as a CHECK runs once per write; a
 * statement reset also empties SQLite's JSON parse cache, which a scan over
 * rows of equal JSON would hit), less the same lookup without the expression.
 */
const perEvaluation = (db: SqliteDatabase, check: NamedCheck) => {
  const rowids = (db.prepare(`SELECT rowid AS r FROM ${check.table} LIMIT 2000`).all() as Array<{ r: number }>).map((row) => row.r)
  const withCheck = db.prepare(`SELECT (${check.expression}) IS NOT 0 AS ok FROM ${check.table} WHERE rowid = ?`)
  const lookup = db.prepare(`SELECT 1 AS ok FROM ${check.table} WHERE rowid = ?`)
  const cpuOf = (statement: typeof lookup) => {
    const cpu = process.cpuUsage()
    for (const rowid of rowids) statement.get(rowid)
    const { system, user } = process.cpuUsage(cpu)
    return (user + system) / rowids.length
  }
  return median(Array.from({ length: 7 }, () => cpuOf(withCheck) - cpuOf(lookup)))
}

const evaluationsPerJob = (check: NamedCheck) => {
  const writes = WRITES[check.table as (typeof HOT_TABLES)[number]]
  const updates = writes.updates.filter((columns) => columns.some((column) => new RegExp(`\\b${column}\\b`).test(check.expression)))
  return writes.inserts + updates.length
}

const main = async () => {
  const jobs = Number(process.argv[2] ?? 1000)
  const rounds = Number(process.argv[3] ?? 7)
  const durability = process.argv[4] === "full" ? "full" : "normal"
  const focus = process.argv[5] === "focus"
  const groups = process.argv[5] === "groups"
  const candidate = process.argv[5] === "candidate"
  const before0013 = process.argv[5] === "before-0013"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-replay-checks-"))
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ")
  console.log(`## What each CHECK of the hot tables costs per job (k = 1, "${durability}", load ${load()})`)
  try {
    const events = await capturedEvents(path.join(tmp, "capture.db"))
    const template = path.join(tmp, "template.db")
    await migrateTarget({ dialect: "sqlite", filename: template })
    const templateAt0011 = path.join(tmp, "template-0011.db")
    if (before0013) await migrateBefore0013(templateAt0011, tmp)
    const probe = openSqlite(template, "normal")
    probe.pragma("wal_checkpoint(TRUNCATE)")
    const checks = HOT_TABLES.flatMap((table) => namedChecks(table, tableSql(probe, table)))
    probe.close()
    type Variant = { name: string; prepare: (filename: string) => void; afterOpen?: (db: SqliteDatabase) => void }
    const asMigrated: Variant = { name: "schema as migrated", prepare: () => {} }
    const checksOff: Variant = {
      name: "every CHECK off (ignore_check_constraints)",
      prepare: () => {},
      afterOpen: (db) => db.pragma("ignore_check_constraints = ON")
    }
    const control: Variant = { name: "as migrated, table SQL rewritten unchanged (control)", prepare: (filename) => rewriteAll(filename, (check) => check.expression) }
    const offWhere = (name: string, pick: (check: NamedCheck) => boolean): Variant => ({
      name,
      prepare: (filename) => rewriteAll(filename, (check) => (pick(check) ? "1" : check.expression))
    })
    const isJson = (check: NamedCheck) => /json_/.test(check.expression)
    const variants: ReadonlyArray<Variant> = before0013
      ? [
        { name: "schema at 0011 (before 0013)", prepare: (filename) => fs.copyFileSync(templateAt0011, filename) },
        { name: "schema at 0013", prepare: () => {} },
        { name: "schema at 0011 again, last in the round", prepare: (filename) => fs.copyFileSync(templateAt0011, filename) },
        { ...checksOff, name: "schema at 0013, every CHECK off (ignore_check_constraints)" }
      ]
      : groups
      ? [
        control,
        ...HOT_TABLES.map((table) => offWhere(`every CHECK of ${table} replaced by 1`, (check) => check.table === table)),
        offWhere("every JSON CHECK replaced by 1", isJson),
        offWhere("every list (IN) and integer CHECK replaced by 1", (check) => !isJson(check) && !check.name.endsWith("_form")),
        offWhere("every timestamp-form CHECK replaced by 1", (check) => check.name.endsWith("_form")),
        offWhere("every CHECK replaced by 1", () => true),
        { ...control, name: "control again, last in the round" }
      ]
      : candidate
      ? [
        control,
        {
          name: "timestamp forms without strftime (the candidate rewrite)",
          prepare: (filename) => rewriteAll(filename, (check) => (check.name.endsWith("_form") ? timestampFormWithoutStrftime(formColumn(check)) : null))
        },
        {
          name: "candidate forms + metrics: the zero object short-cut",
          prepare: (filename) =>
            rewriteAll(filename, (check) =>
              check.name.endsWith("_form")
                ? timestampFormWithoutStrftime(formColumn(check))
                : check.name === "ai_jobs_metrics_valid"
                ? `metrics IS ${ZERO_METRICS_TEXT} OR (${check.expression})`
                : null)
        },
        {
          name: "IN lists as OR of equalities",
          prepare: (filename) => rewriteAll(filename, (check) => inListsAsEqualities(check.expression))
        },
        {
          name: "IN lists as equalities + candidate forms",
          prepare: (filename) =>
            rewriteAll(filename, (check) =>
              check.name.endsWith("_form") ? timestampFormWithoutStrftime(formColumn(check)) : inListsAsEqualities(check.expression))
        },
        offWhere("every CHECK replaced by 1", () => true),
        { ...control, name: "control again, last in the round" }
      ]
      : focus
      ? [
        asMigrated,
        { name: "as migrated, table SQL rewritten unchanged (control)", prepare: (filename) => rewriteAll(filename, (check) => check.expression) },
        { name: "every timestamp-form CHECK's expression replaced by 1", prepare: (filename) => rewriteAll(filename, (check) => (check.name.endsWith("_form") ? "1" : null)) },
        { name: "every CHECK's expression replaced by 1", prepare: (filename) => rewriteAll(filename, () => "1") },
        checksOff,
        { ...asMigrated, name: "schema as migrated (second copy, last in the round)" }
      ]
      : [
        asMigrated,
        ...checks.map((check): Variant => ({ name: `without ${check.name}`, prepare: (filename) => withoutCheck(filename, check) })),
        checksOff
      ]
    const running = variants.map((variant, index) => {
      const filename = path.join(tmp, `variant-${index}.db`)
      fs.copyFileSync(template, filename)
      variant.prepare(filename)
      const db = openSqlite(filename, durability)
      variant.afterOpen?.(db)
      const { lifecycles } = replayStatements(db, events)
      lifecycles(200, { k: 1, durability })
      return { variant, db, lifecycles, cpu: [] as Array<number> }
    })
    sampleCpuInterleaved(running, rounds, jobs, durability)
    const base = median(running[0]!.cpu)
    console.log(`\n### The replay per variant (${rounds} rounds of ${jobs} jobs, interleaved; median CPU; load at end ${load()})`)
    console.log("| variant | CPU µs per job | Δ vs migrated |")
    console.log("|---|---|---|")
    for (const entry of running) {
      const cpu = median(entry.cpu)
      console.log(`| ${entry.variant.name} | ${cpu.toFixed(0)} | ${(cpu - base).toFixed(0)} |`)
    }
    // Priced on each schema the run compares (before-0013: 0011's words and 0013's), else on the schema as migrated.
    const priced = (before0013 ? running.slice(0, 2) : running.slice(0, 1)).map((entry) => ({
      name: entry.variant.name,
      cost: new Map(HOT_TABLES.flatMap((table) => namedChecks(table, tableSql(entry.db, table))).map((check) => [check.name, perEvaluation(entry.db, check)]))
    }))
    console.log(`\n### Each CHECK expression alone (CPU µs per evaluation on the replay's rows, median of 7; load ${load()})`)
    console.log(`| table | CHECK | evaluations per job | ${priced.map((each) => `µs per evaluation, ${each.name}`).join(" | ")} | ${priced.map((each) => `µs per job, ${each.name}`).join(" | ")} |`)
    console.log(`|---|---|---|${priced.map(() => "---|---|").join("")}`)
    const totals = priced.map(() => 0)
    for (const check of checks) {
      const count = evaluationsPerJob(check)
      const each = priced.map((entry) => entry.cost.get(check.name) ?? Number.NaN)
      each.forEach((value, index) => (totals[index]! += value * count))
      console.log(`| ${check.table} | ${check.name} | ${count} | ${each.map((value) => value.toFixed(2)).join(" | ")} | ${each.map((value) => (value * count).toFixed(1)).join(" | ")} |`)
    }
    console.log(`| **all** | | | ${priced.map(() => "").join(" | ")} | ${totals.map((total) => total.toFixed(0)).join(" | ")} |`)
    for (const entry of running) entry.db.close()
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

void main()
