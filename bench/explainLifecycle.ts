/**
 * Where a PostgreSQL lifecycle's server time goes (issue 16): `jobs`
 * lifecycles at one worker (submit → claim → heartbeat → complete, every
 * audit event) after a warm-up, with `auto_explain` logging every statement
 * — nested ones (trigger bodies) too — with ANALYZE and trigger times, then
 * a summary per statement and per trigger. ANALYZE's timing slows every
 * statement: read shares, not microseconds.
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
    for (const trigger of block.matchAll(/Trigger (\S+)(?: on (\S+))?: time=([\d.]+) calls=(\d+)/g)) {
      tally(triggers, `${trigger[1]}${trigger[2] === undefined ? "" : ` on ${trigger[2]}`}`, Number(trigger[3]))
    }
  }
  const table = (title: string, rows: Map<string, { count: number; ms: number }>) =>
    [`| ${title} | per job | µs per job |`, "|---|---|---|", ...[...rows].sort((a, b) => b[1].ms - a[1].ms).map(([label, { count, ms }]) =>
      `| ${label} | ${(count / jobs).toFixed(2)} | ${(ms * 1000 / jobs).toFixed(0)} |`)].join("\n")
  const total = [...statements.values()].reduce((sum, { ms }) => sum + ms, 0)
  return `all statements: ${(total * 1000 / jobs).toFixed(0)} µs per job\n\n${table("statement (nested ones included)", statements)}\n\n${table("trigger", triggers)}`
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
    await client.end()
    await withServices(target, Effect.gen(function*() {
      yield* Effect.repeatN(oneLifecycle, 99)
      const from = fs.statSync(cluster.logFile).size
      yield* Effect.repeatN(oneLifecycle, jobs - 1)
      const log = fs.readFileSync(cluster.logFile, "utf8").slice(from)
      fs.writeFileSync(out, log)
      console.log(summarize(log, jobs))
      console.log(`\nplans: ${out}`)
    }))
  } finally {
    await cluster.stop()
  }
}

runMain(main)
