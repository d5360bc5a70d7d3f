/**
 * Where a PostgreSQL lifecycle's server time goes (issue 16): `jobs`
 * lifecycles at one worker (submit → claim → heartbeat → complete, every
 * audit event) after a warm-up, with `auto_explain` logging every statement
 * — nested ones (trigger bodies) too — with ANALYZE and trigger times, then
 * a summary per statement and per trigger. ANALYZE's timing slows every
 * statement: read shares, not microseconds.
 *
 * Then what a job writes, exactly (h61): per hot table, the row versions
 * that add index entries (inserts and non-HOT updates, pg_stat_user_tables
 * over the measured jobs) times the table's indexes, a partial index's
 * entries counted apart (its predicate: over the stored rows for the append-only
 * events; for jobs and runs, the versions' states are the lifecycle's, printed
 * for the reader to check: queued → running → completed, running → beaten → ended).
 *
 * To measure another tree's code with this tool: a copy of that tree with this
 * file in its bench/ (the tool imports the store from its own tree).
 *
 *   npx tsx bench/explainLifecycle.ts [jobs] [out.log]   # default 200, /tmp/explain-lifecycle.log
 */
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import { migrateTarget, withServices } from "./app.js"
import { connectPg } from "./drivers.js"
import { oneLifecycle } from "./lifecycle.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

/** Sums of one kind of line in the log: count and total ms, by label. */
const tally = (into: Map<string, { count: number; ms: number }>, label: string, ms: number) => {
  const entry = into.get(label) ?? { count: 0, ms: 0 }
  entry.count++
  entry.ms += ms
  into.set(label, entry)
}

/** Each logged plan's statement (first words) and duration, and every trigger's time, summed. */
const summarize = (log: string, jobs: number): string => {
  const statements = new Map<string, { count: number; ms: number }>()
  const triggers = new Map<string, { count: number; ms: number }>()
  for (const block of log.split(/\n(?=\S.*LOG: {2}duration: )/)) {
    const head = /duration: ([\d.]+) ms {2}plan:\n\s*Query Text:\s*([^\n]*)/.exec(block)
    if (head !== null) tally(statements, head[2]!.replace(/\s+/g, " ").slice(0, 90), Number(head[1]))
    for (const trigger of block.matchAll(/Trigger (?:for constraint )?(\S+)(?: on (\S+))?: time=([\d.]+) calls=(\d+)/g)) {
      tally(triggers, `${trigger[1]}${trigger[2] === undefined ? "" : ` on ${trigger[2]}`}`, Number(trigger[3]))
    }
  }
  const table = (title: string, rows: Map<string, { count: number; ms: number }>) =>
    [`| ${title} | per job | µs per job |`, "|---|---|---|", ...[...rows].sort((a, b) => b[1].ms - a[1].ms).map(([label, { count, ms }]) =>
      `| ${label} | ${(count / jobs).toFixed(2)} | ${(ms * 1000 / jobs).toFixed(0)} |`)].join("\n")
  const total = [...statements.values()].reduce((sum, { ms }) => sum + ms, 0)
  return `all statements: ${(total * 1000 / jobs).toFixed(0)} µs per job\n\n${table("statement (nested ones included)", statements)}\n\n${table("trigger", triggers)}`
}

type Client = Awaited<ReturnType<typeof connectPg>>

/**
 * Inserts and non-HOT updates so far, by hot table, and the database's shared
 * buffer accesses (hits and reads: pages the server touched, whatever the
 * load) under "buffers". An idle session flushes its counters within 10 s.
 */
const versionsWritten = async (client: Client): Promise<Map<string, number>> => {
  await new Promise((resolve) => setTimeout(resolve, 11_000))
  const { rows } = await client.query<{ relname: string; n: string }>(`
    SELECT relname, n_tup_ins + n_tup_upd - n_tup_hot_upd AS n FROM pg_stat_user_tables
    WHERE relname IN ('ai_jobs', 'workflow_runs', 'flight_recorder_events')
    UNION ALL
    SELECT 'buffers', blks_hit + blks_read FROM pg_stat_database WHERE datname = current_database()`)
  return new Map(rows.map((row) => [row.relname, Number(row.n)]))
}

/** Each hot table's versions a job and its indexes: full ones take an entry per version, partial ones are listed with their predicate. */
const writesTable = async (client: Client, before: Map<string, number>, after: Map<string, number>, jobs: number): Promise<string> => {
  const { rows } = await client.query<{ tablename: string; indexname: string; predicate: string | null }>(`
    SELECT c.relname AS tablename, i.relname AS indexname, pg_get_expr(x.indpred, x.indrelid) AS predicate
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
    WHERE c.relname IN ('ai_jobs', 'workflow_runs', 'flight_recorder_events') ORDER BY 1, 2`)
  const lines = ["| table | versions a job | full indexes | their entries a job | partial indexes |", "|---|---|---|---|---|"]
  let full = 0
  for (const table of ["ai_jobs", "workflow_runs", "flight_recorder_events"]) {
    const versions = ((after.get(table) ?? 0) - (before.get(table) ?? 0)) / jobs
    const indexes = rows.filter((row) => row.tablename === table)
    const fullCount = indexes.filter((row) => row.predicate === null).length
    full += versions * fullCount
    const partial = indexes.filter((row) => row.predicate !== null).map((row) => `${row.indexname} (${row.predicate})`).join("; ")
    lines.push(`| ${table} | ${versions.toFixed(2)} | ${fullCount} | ${(versions * fullCount).toFixed(2)} | ${partial} |`)
  }
  // Events are never updated: a partial index's share of them is counted over the stored rows.
  const { rows: [events] } = await client.query<{ n: string; with_run: string }>(
    "SELECT count(*) AS n, count(workflow_run_id) AS with_run FROM flight_recorder_events")
  const buffers = ((after.get("buffers") ?? 0) - (before.get("buffers") ?? 0)) / jobs
  lines.push("", `full indexes' entries a job: ${full.toFixed(2)}; events stored with a run: ${events!.with_run} of ${events!.n}`,
    `shared buffer accesses a job: ${buffers.toFixed(1)}`)
  return lines.join("\n")
}

const main = async (): Promise<void> => {
  const jobs = Number(process.argv[2] ?? 200)
  const out = process.argv[3] ?? "/tmp/explain-lifecycle.log"
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("explain_lifecycle")
    const target = { dialect: "pg" as const, url }
    await migrateTarget(target)
    const client = await connectPg(url)
    // An experiment's schema change (an index dropped, made partial), run after the migrations.
    if (process.env.AFTER_MIGRATE !== undefined) await client.query(process.env.AFTER_MIGRATE)
    // For the store's own connections, opened after this.
    for (const setting of ["session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on", "auto_explain.log_triggers = on", "auto_explain.log_nested_statements = on", "auto_explain.log_buffers = on"]) {
      await client.query(`ALTER DATABASE explain_lifecycle SET ${setting}`)
    }
    await withServices(target, Effect.gen(function*() {
      yield* Effect.repeatN(oneLifecycle, 99)
      const before = yield* Effect.promise(() => versionsWritten(client))
      const from = fs.statSync(cluster.logFile).size
      yield* Effect.repeatN(oneLifecycle, jobs - 1)
      const log = fs.readFileSync(cluster.logFile, "utf8").slice(from)
      const after = yield* Effect.promise(() => versionsWritten(client))
      fs.writeFileSync(out, log)
      console.log(summarize(log, jobs))
      console.log(`\nwhat a job writes (the ${jobs} measured):\n${yield* Effect.promise(() => writesTable(client, before, after, jobs))}`)
      console.log(`\nplans: ${out}`)
    }))
    await client.end()
  } finally {
    await cluster.stop()
  }
}

runMain(main)
