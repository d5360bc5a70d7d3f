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
 * CPU and wall µs per job, commits and WAL frames per job (and per step),
 * next to SqlPersistedQueue's figures from bench/compareSqliteSteps.ts. Not
 * part of `npm run bench`. bench/sqliteReplayCost.ts breaks the same replay
 * down per statement and per index, CHECK and trigger; bench/sqliteReplayChecks.ts
 * per CHECK (and migration 0013's gain, schema at 0011 against 0013).
 *
 *   npx tsx bench/sqliteReplay.ts [jobs] [full|normal]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { migrateTarget } from "./app.js"
import { openSqlite } from "./drivers.js"
import { capturedEvents, replayStatements, type StepName, walFrames } from "./sqliteReplayStatements.js"

const main = async () => {
  const jobs = Number(process.argv[2] ?? 2000)
  const durability = process.argv[3] === "normal" ? "normal" : "full"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-replay-"))
  console.log(`## ${jobs} jobs per k, raw better-sqlite3 on the migrated schema, "${durability}" (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`)
  console.log("| jobs per commit (k) | CPU µs per job | wall µs per job | fsynced commits per job (at \"full\") | WAL frames per job | frames per job: submit / claim / heartbeat / complete |")
  console.log("|---|---|---|---|---|---|")
  try {
    const events = await capturedEvents(path.join(tmp, "capture.db"))
    for (const k of [1, 2, 4, 8]) {
      const filename = path.join(tmp, `replay-${k}.db`)
      await migrateTarget({ dialect: "sqlite", filename })
      const db = openSqlite(filename, durability)
      const { lifecycles } = replayStatements(db, events)
      lifecycles(200, { k, durability })
      // The WAL only grows while frames are counted: no checkpoint, and a reader's snapshot keeps it from restarting.
      db.pragma("wal_autocheckpoint = 0")
      const reader = openSqlite(filename, durability)
      reader.exec("BEGIN")
      reader.prepare("SELECT count(*) FROM ai_jobs").get()
      const walSize = () => fs.statSync(`${filename}-wal`).size
      const byStep = new Map<StepName, number>()
      let last = walSize()
      const walBefore = last
      lifecycles(200, {
        k,
        durability,
        onStep: (step) => {
          const now = walSize()
          byStep.set(step, (byStep.get(step) ?? 0) + walFrames(now - last))
          last = now
        }
      })
      const frames = walFrames(walSize() - walBefore) / 200
      reader.exec("COMMIT")
      reader.close()
      db.pragma("wal_autocheckpoint = 1000")
      const cpu = process.cpuUsage()
      const wall = performance.now()
      lifecycles(jobs, { k, durability })
      const { system, user } = process.cpuUsage(cpu)
      const perStep = (["submit", "claim", "heartbeat", "complete"] as const).map((step) => ((byStep.get(step) ?? 0) / 200).toFixed(1)).join(" / ")
      console.log(
        `| ${k} | ${((user + system) / jobs).toFixed(0)} | ${((performance.now() - wall) * 1000 / jobs).toFixed(0)} | ${(3 / k).toFixed(2)} | ${
          frames.toFixed(1)
        } | ${perStep} |`
      )
      db.close()
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

void main()
