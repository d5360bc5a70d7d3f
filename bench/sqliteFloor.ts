/**
 * The SQLite lifecycle's ceiling (issue 16): how close to SqlPersistedQueue
 * could our store get if it spent no JavaScript at all? Our statements per
 * job (bench/sqliteReplayStatements.ts: submit, claim, heartbeat, complete
 * with their events, one commit per step, the heartbeat unsynced as the store
 * writes it) replayed with raw prepared better-sqlite3 statements on the
 * migrated schema, against SqlPersistedQueue's whole cycle (offer → take →
 * complete, its JavaScript included, as section 2 measures it), one job at a
 * time, interleaved round by round in one process at the same durability.
 * The replay also runs on a file created with 2048-byte pages (every commit
 * writes each page it dirtied whole to the WAL, and a job dirties ~55), and
 * on one without the Flight Recorder's secondary indexes (`EVENT_INDEXES`).
 *
 *   npx tsx bench/sqliteFloor.ts [rounds] [jobs] [full|normal]
 *
 * Prints per system the median wall and CPU µs per job and the WAL bytes per
 * job, and the queue's wall ÷ the replay's: the best "ours ÷ queue" ratio
 * this schema allows at one worker. Not part of `npm run bench`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { migrateTarget } from "./app.js"
import * as PersistedQueueBench from "./baselines/persistedQueue.js"
import { openSqlite } from "./drivers.js"
import { runMain } from "./runMain.js"
import { capturedEvents, replayStatements } from "./sqliteReplayStatements.js"
import { median } from "./trees.js"

const Database = createRequire(import.meta.url)("better-sqlite3") as new (filename: string) => {
  pragma(source: string): unknown
  exec(source: string): void
  close(): void
}

interface PerJob {
  readonly wall: Array<number>
  readonly cpu: Array<number>
  readonly walBytes: Array<number>
}

const perJob = (): PerJob => ({ wall: [], cpu: [], walBytes: [] })

/** Runs `work` (`jobs` lifecycles) and pushes its wall, CPU and WAL growth per job. */
const sample = async (into: PerJob, wal: string, jobs: number, work: () => Promise<void> | void) => {
  const walBefore = fs.existsSync(wal) ? fs.statSync(wal).size : 0
  const cpu = process.cpuUsage()
  const wall = performance.now()
  await work()
  const { system, user } = process.cpuUsage(cpu)
  into.wall.push((performance.now() - wall) * 1000 / jobs)
  into.cpu.push((user + system) / jobs)
  // Checkpoints are off while sampling, so the WAL only grows.
  into.walBytes.push((fs.statSync(wal).size - walBefore) / jobs)
}

/**
 * The Flight Recorder's secondary indexes (by time, job, trace, type, run):
 * dropped in the "lean events" variant, which measures what a commit would
 * cost if events went to an append table indexed later in batches (the index
 * trade bench/analysis.md names) — the hot path of that design only, not its
 * batch indexing, and a schema the store does not ship.
 */
const EVENT_INDEXES = ["by_time", "by_job", "by_trace", "by_type", "by_run_time"].map((name) => `flight_recorder_events_${name}`)

interface Variant {
  readonly name: string
  readonly pageSize: number
  readonly leanEvents: boolean
}

const VARIANTS: ReadonlyArray<Variant> = [
  { name: "our statements, raw (page 4096)", pageSize: 4096, leanEvents: false },
  { name: "our statements, raw (page 2048)", pageSize: 2048, leanEvents: false },
  { name: "our statements, raw, lean events (page 4096; not shipped)", pageSize: 4096, leanEvents: true }
]

/** A fresh migrated file with `pageSize`-byte pages (set before the first table exists), the event indexes dropped if `leanEvents`. */
const replayFile = async (filename: string, { leanEvents, pageSize }: Variant, durability: "full" | "normal") => {
  const pre = new Database(filename)
  pre.pragma(`page_size = ${pageSize}`)
  pre.exec("CREATE TABLE page_size_fixed (a); DROP TABLE page_size_fixed")
  pre.close()
  await migrateTarget({ dialect: "sqlite", filename, durability })
  const db = openSqlite(filename, durability)
  if (leanEvents) for (const index of EVENT_INDEXES) db.exec(`DROP INDEX ${index}`)
  db.pragma("wal_autocheckpoint = 0")
  return db
}

const main = async () => {
  const rounds = Number(process.argv[2] ?? 5)
  const jobs = Number(process.argv[3] ?? 500)
  const durability = process.argv[4] === "normal" ? "normal" : "full"
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-floor-"))
  const loadBefore = os.loadavg()[0] ?? 0
  try {
    const events = await capturedEvents(path.join(tmp, "capture.db"))
    const replays = await Promise.all(VARIANTS.map(async (variant, i) => {
      const filename = path.join(tmp, `replay-${i}.db`)
      const db = await replayFile(filename, variant, durability)
      const { lifecycles } = replayStatements(db, events)
      lifecycles(200, { k: 1, durability })
      return { name: variant.name, db, wal: `${filename}-wal`, lifecycles, figures: perJob() }
    }))
    const queueFile = path.join(tmp, "queue.db")
    const queue = ManagedRuntime.make(
      PersistedQueueBench.layer.pipe(Layer.provideMerge(PersistedQueueBench.sqliteClient(queueFile, durability)))
    )
    const cycles = (count: number) =>
      queue.runPromise(Effect.flatMap(PersistedQueueBench.makeQueue, (q) => Effect.repeatN(PersistedQueueBench.queueCycle(q), count - 1)))
    await cycles(200)
    // Checkpoints are per connection: off on the queue's own one, so its WAL only grows too.
    await queue.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("PRAGMA wal_autocheckpoint = 0")))
    const queueFigures = perJob()
    for (let round = 0; round < rounds; round++) {
      // The order rotates round by round, so drift on a loaded machine hits every system alike.
      const systems = replays.length + 1
      const order = Array.from({ length: systems }, (_, i) => (i + round) % systems)
      for (const which of order) {
        if (which < replays.length) {
          const replay = replays[which]!
          await sample(replay.figures, replay.wal, jobs, () => replay.lifecycles(jobs, { k: 1, durability }))
        } else {
          await sample(queueFigures, `${queueFile}-wal`, jobs, () => cycles(jobs))
        }
      }
    }
    const queueWall = median(queueFigures.wall)
    console.log(`## SQLite lifecycle floor, "${durability}", ${rounds} rounds of ${jobs} jobs, one at a time (load ${loadBefore.toFixed(2)} → ${(os.loadavg()[0] ?? 0).toFixed(2)})`)
    console.log("| system | wall µs per job | CPU µs per job | WAL KiB per job | queue's wall ÷ this |")
    console.log("|---|---|---|---|---|")
    const row = (name: string, figures: PerJob) =>
      console.log(
        `| ${name} | ${median(figures.wall).toFixed(0)} | ${median(figures.cpu).toFixed(0)} | ${(median(figures.walBytes) / 1024).toFixed(1)} | ${
          (queueWall / median(figures.wall)).toFixed(2)
        }× |`
      )
    for (const replay of replays) row(replay.name, replay.figures)
    row("SqlPersistedQueue offer → take → complete", queueFigures)
    for (const replay of replays) replay.db.close()
    await queue.dispose()
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

runMain(main)
