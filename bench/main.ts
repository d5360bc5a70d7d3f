/**
 * `npm run bench` (`-- --quick` for a smoke run): starts a throwaway
 * PostgreSQL cluster with durable settings, runs every benchmark in one
 * process (the memory section's worker in a child process, the statements
 * section on a cluster of its own), recording the load average at the start
 * and end of each section, writes bench/results.json and renders
 * BENCHMARKS.md from it.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import type { BenchContext } from "./app.js"
import * as Create from "./create.js"
import { connectPg, openSqlite } from "./drivers.js"
import * as Durability from "./durability.js"
import { FULL, loadAverage, machine, makeLog, type Measurement, QUICK, type Section } from "./harness.js"
import * as Lifecycle from "./lifecycle.js"
import * as Memory from "./memory.js"
import * as Pickup from "./pickup.js"
import { benchDirectory, projectRoot, RUNTIME } from "./paths.js"
import { SERVER_SETTINGS, startBenchCluster } from "./postgres.js"
import * as Queries from "./queries.js"
import * as Recorder from "./recorder.js"
import * as Recovery from "./recovery.js"
import { renderReport, type Results, type SectionRun } from "./report.js"
import * as Statements from "./statements.js"
import { runMain } from "./runMain.js"

const sections: Record<Section, (ctx: BenchContext) => Promise<Array<Measurement>>> = {
  create: Create.run,
  lifecycle: Lifecycle.run,
  recovery: Recovery.run,
  recorder: Recorder.run,
  queries: Queries.run,
  pickup: Pickup.run,
  durability: Durability.run,
  statements: Statements.run,
  memory: Memory.run
}

const main = async (): Promise<void> => {
  const described = machine()
  const args = process.argv.slice(2)
  const mode = args.includes("--quick") ? QUICK : FULL
  // `--only create,queries` runs a subset (for profiling); the report then covers that subset.
  const onlyArg = args.find((a) => a.startsWith("--only="))?.slice("--only=".length)
  const only = onlyArg === undefined ? Object.keys(sections) : onlyArg.split(",")
  const unknown = only.filter((name) => !Object.hasOwn(sections, name))
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(", ")}; sections: ${Object.keys(sections).join(", ")}`)
  const log = makeLog()
  const started = performance.now()
  log(`mode ${mode.name}; sections ${only.join(", ")}`)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-bench-"))
  const cluster = await startBenchCluster()
  const measurements: Array<Measurement> = []
  const sectionRuns: Array<SectionRun> = []
  let databases: Results["databases"] = { postgres: "?", postgresSettings: [], postgresStartOptions: [], sqlite: "?", sqliteSettings: [] }
  try {
    const client = await connectPg(cluster.url)
    const settings = await client.query<{ name: string; setting: string; unit: string | null }>(
      `SELECT name, setting, unit FROM pg_settings
       WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'max_wal_size', 'max_connections')
       ORDER BY name`
    )
    const version = (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? "?"
    await client.end()
    const sqlite = openSqlite(path.join(tmp, "version.db"))
    const sqliteVersion = String((sqlite.prepare("SELECT sqlite_version() AS v").get() ?? {})["v"])
    sqlite.close()
    // Read back from the store's own connection: what every SQLite figure outside the durability section ran at.
    const store = await Durability.storeSettings(path.join(tmp, "settings.db"))
    databases = {
      postgres: version,
      postgresSettings: settings.rows.map((r) => `${r.name}=${r.setting}${r.unit !== null && r.unit !== "" ? ` (${r.unit})` : ""}`),
      postgresStartOptions: SERVER_SETTINGS.map(([k, v]) => `${k}=${v}`),
      sqlite: sqliteVersion,
      sqliteSettings: [`journal_mode=${store.journalMode}`, `synchronous=${store.synchronous}`],
      sqliteDurability: store.durability
    }
    log(`PostgreSQL ${version}, SQLite ${sqliteVersion}`)
    const ctx: BenchContext = { mode, log, cluster, tmp }
    for (const [name, run] of Object.entries(sections)) {
      if (!only.includes(name)) continue
      const loadAtStart = loadAverage()
      log(`== ${name} (load average ${loadAtStart})`)
      const sectionStarted = performance.now()
      measurements.push(...await run(ctx))
      sectionRuns.push({
        section: name as Section,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadAverage(),
        durationS: Math.round((performance.now() - sectionStarted) / 1000),
        runtime: RUNTIME
      })
    }
  } finally {
    await cluster.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  const durationS = (performance.now() - started) / 1000
  // `--only=... --keep-others`: the sections not run keep their figures from the previous results.json.
  const previous = args.includes("--keep-others") ? previousResults() : undefined
  const kept = (previous?.measurements ?? []).filter((m) => !only.includes(m.section))
  const keptRuns = (previous?.sections ?? []).filter((r) => !only.includes(r.section)).map((run) => ({
    ...run,
    keptFrom: run.keptFrom ?? { mode: previous!.mode, date: previous!.machine.date }
  }))
  const results: Results = {
    mode: mode.name,
    config: mode,
    machine: { ...described, loadAverageAtEnd: loadAverage(), runtime: RUNTIME },
    databases,
    durationS: Math.round(durationS),
    sections: [...keptRuns, ...sectionRuns],
    measurements: [...kept, ...measurements]
  }
  fs.writeFileSync(path.join(benchDirectory, "results.json"), JSON.stringify(results, null, 2) + "\n")
  fs.writeFileSync(path.join(projectRoot, "BENCHMARKS.md"), renderReport(results, readAnalysis()))
  log(`done in ${durationS.toFixed(0)} s: bench/results.json, BENCHMARKS.md`)
}

/** The previous run's results, if any. */
const previousResults = (): Results | undefined => {
  const file = path.join(benchDirectory, "results.json")
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as Results : undefined
}

/** The hand-written analysis (profiles, where the time goes), included in the report. */
const readAnalysis = (): string => {
  const file = path.join(benchDirectory, "analysis.md")
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
}

runMain(main)
