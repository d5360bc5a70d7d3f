/**
 * Issue 16.1: what the metrics rule costs a write to ai_jobs.
 *
 * Times N single-row UPDATEs of one job, side by side in one run, each its
 * own transaction with synchronous_commit off for the session (so the fsync of
 * each commit does not drown the server's CPU time, and no update chain grows
 * inside one long transaction), rounds interleaved. On PostgreSQL (a durable throwaway
 * cluster, bench/postgres.ts, migrated with the shipped files) under each form
 * of the rule — the CHECK with 0002's SQL function, the CHECK with 0008's
 * PL/pgSQL function, 0012's triggers on INSERT and UPDATE OF metrics, and no
 * rule (the floor) — for a write that leaves metrics alone and one that
 * rewrites them, one row at a time and 1,000 rows per statement (as
 * recovery's UPDATE of its batch; µs per row). On SQLite (a WAL file through
 * better-sqlite3) with and without its CHECK, to see whether SQLite pays a
 * per-write cost at all. On PostgreSQL each row also gives the server's own
 * CPU per write (the backend's utime + stime from /proc, 10 ms ticks): the
 * figure a loaded machine disturbs least.
 *
 *   npx tsx bench/metricsCheck.ts [N]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { openSqlite } from "./drivers.js"
import { startBenchCluster } from "./postgres.js"

const N = Number(process.argv[2] ?? 2000)
const ROUNDS = 3

const migrations = (dialect: "pg" | "sqlite") => {
  const dir = new URL(`../migrations/${dialect}/`, import.meta.url)
  return readdirSync(dir).filter((f) => /^\d{4}_\w+\.sql$/.test(f)).sort().map((f) => readFileSync(new URL(f, dir), "utf8"))
}

const microsPerWrite = (startedAt: bigint): number => Number(process.hrtime.bigint() - startedAt) / 1000 / N

/** CPU µs a local process has used (user + system), from /proc: the PostgreSQL backend's, by its pid. */
const cpuMicros = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
  // After "(comm) ": state is field 3, utime 14, stime 15 (1-based) — indices 11 and 12 here; ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** The PostgreSQL forms of the rule, each turned on in turn in the same database. */
const pgForms = (): ReadonlyArray<readonly [string, string]> => {
  const texts = migrations("pg")
  const body0002 = /CREATE FUNCTION ai_job_metrics_valid[\s\S]*?\$\$;/.exec(texts[1] ?? "")?.[0]
  const text0008 = texts.find((text) => text.includes("The metrics rule off the hot path"))
  const text0012 = texts.find((text) => text.includes("The metrics rule as a trigger"))
  if (body0002 === undefined || text0008 === undefined || text0012 === undefined) throw new Error("0002's function, 0008 or 0012 not found")
  const noRule = `ALTER TABLE ai_jobs DROP CONSTRAINT IF EXISTS ai_jobs_metrics_check;
    DROP TRIGGER IF EXISTS ai_jobs_metrics_check_insert ON ai_jobs;
    DROP TRIGGER IF EXISTS ai_jobs_metrics_check_update ON ai_jobs;`
  const withCheck = `${noRule} ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_metrics_check CHECK (ai_job_metrics_valid(metrics));`
  return [
    ["before 0008: the CHECK with 0002's function", `${body0002.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")} ${withCheck}`],
    ["0008: the CHECK with its PL/pgSQL function", `${text0008} ${withCheck}`],
    ["0012: triggers on INSERT and UPDATE OF metrics", `${text0008} ${noRule} ${text0012}`],
    ["floor: no metrics rule at all", noRule]
  ]
}

/** A write that leaves metrics alone (a claim, a state move, a pin), and one that rewrites them (the rule must run). */
const statements: ReadonlyArray<readonly [string, string]> = [
  ["metrics untouched", "UPDATE ai_jobs SET updated_at = now(), is_pinned = NOT is_pinned WHERE id = $1"],
  ["metrics rewritten", "UPDATE ai_jobs SET updated_at = now(), metrics = metrics || '{}' WHERE id = $1"]
]

/** Rows of the many-row statements; and those statements: recovery's shape (status moves, metrics kept), and a rewrite of every row's metrics. */
const BULK = 1000
const bulkStatements: ReadonlyArray<readonly [string, string]> = [
  [`${BULK} rows a statement, metrics untouched (µs per row)`, "UPDATE ai_jobs SET updated_at = now(), status = CASE status WHEN 'running' THEN 'stalled' ELSE 'running' END WHERE protocol_id = 'bulk'"],
  [`${BULK} rows a statement, metrics changed (µs per row)`, "UPDATE ai_jobs SET updated_at = now(), metrics = jsonb_set(metrics, '{entities_read}', to_jsonb((metrics ->> 'entities_read')::int + 1)) WHERE protocol_id = 'bulk'"]
]

const benchPg = async (): Promise<ReadonlyArray<readonly [string, ReadonlyArray<number>]>> => {
  const cpu = new Map<string, Array<number>>()
  const cluster = await startBenchCluster()
  try {
    const client = new pg.Client({ connectionString: await cluster.createDatabase("metrics_check") })
    await client.connect()
    try {
      for (const text of migrations("pg")) await client.query(text)
      const backend = Number((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid)
      await client.query("SET synchronous_commit = off")
      const id = "00000000-0000-7000-8000-000000000001"
      await client.query(`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id,
        capability_profile_id, access_mode, safety_mode, created_at, updated_at)
        VALUES ($1, gen_random_uuid(), 'doc_edit', 'queued', 'p', 'default', 'Analyst', 'analysis_only', 'normal', now(), now())`, [id])
      await client.query(`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id,
        capability_profile_id, access_mode, safety_mode, created_at, updated_at)
        SELECT gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'running', 'bulk', 'default', 'Analyst', 'analysis_only', 'normal', now(), now()
        FROM generate_series(1, ${BULK})`)
      await client.query("CREATE INDEX ON ai_jobs (protocol_id)")
      const results = new Map<string, Array<number>>()
      // Forms interleaved round by round, so load on the machine falls on all alike.
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, ddl] of pgForms()) {
          await client.query(ddl)
          for (const [what, text] of statements) {
            const cpuAt = cpuMicros(backend)
            const startedAt = process.hrtime.bigint()
            for (let i = 0; i < N; i++) await client.query({ name: what, text, values: [id] })
            const key = `${name}, ${what}`
            results.set(key, [...(results.get(key) ?? []), microsPerWrite(startedAt)])
            cpu.set(key, [...(cpu.get(key) ?? []), (cpuMicros(backend) - cpuAt) / N])
          }
          for (const [what, text] of bulkStatements) {
            const statements = Math.max(1, Math.round(N / 100))
            const cpuAt = cpuMicros(backend)
            const startedAt = process.hrtime.bigint()
            for (let i = 0; i < statements; i++) await client.query({ name: what, text })
            const key = `${name}, ${what}`
            results.set(key, [...(results.get(key) ?? []), Number(process.hrtime.bigint() - startedAt) / 1000 / statements / BULK])
            cpu.set(key, [...(cpu.get(key) ?? []), (cpuMicros(backend) - cpuAt) / statements / BULK])
            // Keep the table small between forms: the rounds' dead rows would weigh on later forms.
            await client.query("VACUUM ai_jobs")
          }
        }
      }
      return [...[...results].map(([key, samples]) => [`${key}, wall`, samples] as const), ...[...cpu].map(([key, samples]) => [`${key}, server CPU`, samples] as const)]
    } finally {
      await client.end()
    }
  } finally {
    await cluster.stop()
  }
}

const benchSqlite = (): ReadonlyArray<readonly [string, ReadonlyArray<number>]> => {
  const dir = mkdtempSync(join(tmpdir(), "hsk-metrics-check-"))
  try {
    const results = new Map<string, Array<number>>()
    const forms = [["CHECK of 0002 (as shipped)", false], ["the same table without the CHECK", true]] as const
    const dbs = forms.map(([, strip], i) => {
      const db = openSqlite(join(dir, `${i}.db`))
      for (const text of migrations("sqlite")) {
        db.exec(strip ? text.replace(/CONSTRAINT ai_jobs_metrics_valid CHECK \([\s\S]*?'\$\.validators_run_count'\) BETWEEN 0 AND 4294967295\s*\)/, "") : text)
      }
      db.prepare(`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
        access_mode, safety_mode, created_at, updated_at) VALUES ('j', 't', 'doc_edit', 'queued', 'p', 'default', 'Analyst',
        'analysis_only', 'normal', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`).run()
      return db
    })
    const hasCheck = dbs.map((db) => /ai_jobs_metrics_valid CHECK/.test(String(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'ai_jobs'").get()?.["sql"])))
    if (hasCheck[0] !== true || hasCheck[1] !== false) throw new Error(`SQLite forms not as intended: ${JSON.stringify(hasCheck)}`)
    for (let round = 0; round < ROUNDS; round++) {
      forms.forEach(([name], i) => {
        const update = dbs[i]!.prepare("UPDATE ai_jobs SET updated_at = ?, is_pinned = 1 - is_pinned WHERE id = 'j'")
        dbs[i]!.exec("BEGIN")
        const startedAt = process.hrtime.bigint()
        for (let n = 0; n < N; n++) update.run(new Date(n).toISOString())
        dbs[i]!.exec("COMMIT")
        results.set(name, [...(results.get(name) ?? []), microsPerWrite(startedAt)])
      })
    }
    for (const db of dbs) db.close()
    return [...results]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const print = (title: string, rows: ReadonlyArray<readonly [string, ReadonlyArray<number>]>) => {
  console.log(`\n${title} — ${N} single-row UPDATEs, µs per UPDATE (median of ${ROUNDS} interleaved rounds)`)
  for (const [name, samples] of rows) {
    const sorted = [...samples].sort((a, b) => a - b)
    console.log(`  ${name.padEnd(104)} ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1).padStart(8)}   (rounds: ${samples.map((s) => s.toFixed(1)).join(", ")})`)
  }
}

console.log(`load average at start: ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`)
print("PostgreSQL (durable cluster, one connection, prepared statement, synchronous_commit off; wall, then the backend's CPU)", await benchPg())
print("SQLite (file, WAL, better-sqlite3, one transaction per round)", benchSqlite())
console.log(`load average at end: ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`)
