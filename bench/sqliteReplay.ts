/**
 * The database's own share of a SQLite lifecycle (issue 16): the statements
 * the store runs per job (submit: job and its two events; claim: run, job,
 * two events; heartbeat; complete: job, run, event — as
 * bench/profileSqliteLifecycle.ts lists them), replayed with raw prepared
 * better-sqlite3 statements on the migrated schema, no Effect and no checks:
 * the floor our store could reach with this schema. The event rows are a
 * real lifecycle's (captured through Jobs first), with fresh ids. `k` jobs' steps share one
 * transaction per step (k = 1: one commit per step, as the store commits
 * now; k > 1: what group commit of k concurrent workers would write). Prints
 * CPU and wall µs per job, commits and WAL frames per job, next to
 * SqlPersistedQueue's figures from bench/compareSqliteSteps.ts. Not part of
 * `npm run bench`.
 *
 *   npx tsx bench/sqliteReplay.ts [jobs] [full|normal]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { EVENT_COLUMNS, JOB_COLUMNS, RUN_COLUMNS } from "../src/store/sqlite/rowCodec.js"
import { migrateTarget, withServices } from "./app.js"
import { oneLifecycle } from "./lifecycle.js"
import { openSqlite } from "./drivers.js"
import { NEW_JOB, ZERO_METRICS } from "./fixtures.js"

const placeholders = (n: number) => Array(n).fill("?").join(", ")
const INPUTS = JSON.stringify(NEW_JOB.job_inputs)
/** A job's four event rows as the store wrote them (one lifecycle through Jobs): the replay writes the same. */
const capturedEvents = async (filename: string) => {
  await withServices({ dialect: "sqlite", filename }, oneLifecycle)
  const db = openSqlite(filename, "normal")
  const rows = db.prepare("SELECT type, actor, workflow_run_id IS NOT NULL AS has_run, body FROM flight_recorder_events ORDER BY timestamp, event_id").all() as Array<
    { readonly type: string; readonly actor: string; readonly has_run: number; readonly body: string }
  >
  db.close()
  return rows
}

const main = async () => {
  const jobs = Number(process.argv[2] ?? 2000)
  const durability = process.argv[3] === "normal" ? "normal" : "full"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-replay-"))
  console.log(`## ${jobs} jobs per k, raw better-sqlite3 on the migrated schema, "${durability}" (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)
  console.log("| jobs per commit (k) | CPU µs per job | wall µs per job | fsynced commits per job (at \"full\") | WAL frames per job |")
  console.log("|---|---|---|---|---|")
  try {
    const events = await capturedEvents(path.join(tmp, "capture.db"))
    // Submit writes two (the capability decision and the creation), the claim two, complete one.
    if (events.length !== 5) throw new Error(`expected a lifecycle's 5 events, got ${events.length}`)
    const [submitted, claimed, completed] = [events.slice(0, 2), events.slice(2, 4), events[4]!]
    for (const k of [1, 2, 4, 8]) {
      const filename = path.join(tmp, `replay-${k}.db`)
      await migrateTarget({ dialect: "sqlite", filename })
      const db = openSqlite(filename, durability)
      const insertJob = db.prepare(`INSERT INTO ai_jobs (${JOB_COLUMNS.join(", ")}) VALUES (${placeholders(JOB_COLUMNS.length)})`)
      const insertEvent = db.prepare(`INSERT INTO flight_recorder_events (${EVENT_COLUMNS.join(", ")}) VALUES (${placeholders(EVENT_COLUMNS.length)})`)
      const insertRun = db.prepare(`INSERT INTO workflow_runs (${RUN_COLUMNS.join(", ")}) VALUES (${placeholders(RUN_COLUMNS.length)})`)
      const startJob = db.prepare(
        "UPDATE ai_jobs SET status = 'running', workflow_run_id = ?, updated_at = ? WHERE id = ? AND status = 'queued' RETURNING *"
      )
      const beat = db.prepare("UPDATE workflow_runs SET last_heartbeat = ?, updated_at = ? WHERE id = ? AND status = 'running' RETURNING *")
      const finishJob = db.prepare(
        "UPDATE ai_jobs SET status = ?, updated_at = ? WHERE id = ? AND status = 'running' AND workflow_run_id IS NOT NULL RETURNING *"
      )
      const finishRun = db.prepare("UPDATE workflow_runs SET status = ?, error_message = ?, updated_at = ? WHERE id = ? AND status = 'running'")
      const event = (row: typeof events[number], job: { id: string; trace: string; run: string | null }, at: string) =>
        insertEvent.run(uuidv7(), at, row.actor, row.type, job.trace, job.id, row.has_run === 1 ? job.run : null, row.body)
      const step = (work: () => void) => db.transaction(work)()
      const lifecycles = (count: number) => {
        for (let done = 0; done < count; done += k) {
          const group = Array.from({ length: k }, () => ({ id: uuidv7(), trace: uuidv7(), run: null as string | null }))
          step(() => {
            for (const job of group) {
              const at = new Date().toISOString()
              insertJob.run(
                job.id, job.trace, null, NEW_JOB.job_kind, "queued", "", null, NEW_JOB.protocol_id, NEW_JOB.profile_id,
                NEW_JOB.capability_profile_id, NEW_JOB.access_mode, NEW_JOB.safety_mode, "[]", "[]", ZERO_METRICS, INPUTS,
                "null", 0, at, at, 1, 1, at, 0, null
              )
              for (const row of submitted) event(row, job, at)
            }
          })
          step(() => {
            for (const job of group) {
              const at = new Date().toISOString()
              job.run = uuidv7()
              insertRun.run(job.run, job.id, "running", at, null, at, at)
              startJob.all(job.run, at, job.id)
              for (const row of claimed) event(row, job, at)
            }
          })
          // The store's heartbeat is its own statement, not fsynced on its own: one per job here too.
          if (durability === "full") db.pragma("synchronous = NORMAL")
          for (const job of group) {
            const at = new Date().toISOString()
            beat.all(at, at, job.run)
          }
          if (durability === "full") db.pragma("synchronous = FULL")
          step(() => {
            for (const job of group) {
              const at = new Date().toISOString()
              finishJob.all("completed", at, job.id)
              finishRun.run("completed", null, at, job.run)
              event(completed, job, at)
            }
          })
        }
      }
      lifecycles(200)
      // WAL frames: a reader holding one snapshot keeps checkpoints from restarting the WAL, so it only grows.
      const reader = openSqlite(filename, durability)
      reader.exec("BEGIN")
      reader.prepare("SELECT count(*) FROM ai_jobs").get()
      const walBefore = fs.statSync(`${filename}-wal`).size
      lifecycles(200)
      const frames = (fs.statSync(`${filename}-wal`).size - walBefore) / (4096 + 24) / 200
      reader.exec("COMMIT")
      reader.close()
      const cpu = process.cpuUsage()
      const wall = performance.now()
      lifecycles(jobs)
      const { system, user } = process.cpuUsage(cpu)
      const commits = 3 / k
      console.log(
        `| ${k} | ${((user + system) / jobs).toFixed(0)} | ${((performance.now() - wall) * 1000 / jobs).toFixed(0)} | ${commits.toFixed(2)} | ${
          frames.toFixed(1)
        } |`
      )
      db.close()
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

void main()
