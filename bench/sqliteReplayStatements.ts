/**
 * The statements a SQLite lifecycle writes per job, as raw prepared
 * better-sqlite3 statements (shared by bench/sqliteReplay.ts and
 * bench/sqliteReplayCost.ts): submit (job and its two events), claim (run,
 * job, two events), heartbeat, complete (job, run, event). Each statement has
 * a name, so a caller can time or count it on its own.
 */
import { uuidv7 } from "../src/domain/uuidv7.js"
import { EVENT_COLUMNS, JOB_COLUMNS, RUN_COLUMNS } from "../src/store/sqlite/rowCodec.js"
import { withServices } from "./app.js"
import { openSqlite, type SqliteDatabase } from "./drivers.js"
import { NEW_JOB, ZERO_METRICS } from "./fixtures.js"
import { oneLifecycle } from "./lifecycle.js"

const placeholders = (n: number) => Array(n).fill("?").join(", ")
const INPUTS = JSON.stringify(NEW_JOB.job_inputs)

export interface EventRow {
  readonly type: string
  readonly actor: string
  readonly has_run: number
  readonly body: string
}

/** A job's five event rows as the store wrote them (one lifecycle through Jobs): the replay writes the same. */
export const capturedEvents = async (filename: string): Promise<ReadonlyArray<EventRow>> => {
  await withServices({ dialect: "sqlite", filename }, oneLifecycle)
  const db = openSqlite(filename, "normal")
  const rows = db.prepare(
    "SELECT type, actor, workflow_run_id IS NOT NULL AS has_run, body FROM flight_recorder_events ORDER BY timestamp, event_id"
  ).all() as unknown as Array<EventRow>
  db.close()
  // Submit writes two (the capability decision and the creation), the claim two, complete one.
  if (rows.length !== 5) throw new Error(`expected a lifecycle's 5 events, got ${rows.length}`)
  return rows
}

export interface ReplayJob {
  readonly id: string
  readonly trace: string
  run: string | null
}

/** One statement of a step: its name and how to run it for a job at a time. */
export interface ReplayStatement {
  readonly name: string
  readonly run: (job: ReplayJob, at: string) => void
}

export type StepName = "submit" | "claim" | "heartbeat" | "complete"

/** Times or counts one statement: `measure(name, work)` must call `work` once. */
export type Measure = (name: string, work: () => void) => void

const direct: Measure = (_name, work) => work()

/** The store's statements per step, prepared on `db`. */
export const replayStatements = (db: SqliteDatabase, events: ReadonlyArray<EventRow>) => {
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
  const event = (name: string, row: EventRow): ReplayStatement => ({
    name,
    run: (job, at) => {
      insertEvent.run(uuidv7(), at, row.actor, row.type, job.trace, job.id, row.has_run === 1 ? job.run : null, row.body)
    }
  })
  const [decided, created, claimedA, claimedB, completed] = events as [EventRow, EventRow, EventRow, EventRow, EventRow]
  const steps: Record<StepName, ReadonlyArray<ReplayStatement>> = {
    submit: [
      {
        name: "submit: INSERT ai_jobs",
        run: (job, at) => {
          insertJob.run(
            job.id, job.trace, null, NEW_JOB.job_kind, "queued", "", null, NEW_JOB.protocol_id, NEW_JOB.profile_id,
            NEW_JOB.capability_profile_id, NEW_JOB.access_mode, NEW_JOB.safety_mode, "[]", "[]", ZERO_METRICS, INPUTS,
            "null", 0, at, at, 1, 1, at, 0, null
          )
        }
      },
      event("submit: INSERT event 1", decided),
      event("submit: INSERT event 2", created)
    ],
    claim: [
      {
        name: "claim: INSERT workflow_runs",
        run: (job, at) => {
          job.run = uuidv7()
          insertRun.run(job.run, job.id, "running", at, null, at, at)
        }
      },
      { name: "claim: UPDATE ai_jobs (queued → running)", run: (job, at) => void startJob.all(job.run, at, job.id) },
      event("claim: INSERT event 1", claimedA),
      event("claim: INSERT event 2", claimedB)
    ],
    heartbeat: [{ name: "heartbeat: UPDATE workflow_runs", run: (job, at) => void beat.all(at, at, job.run) }],
    complete: [
      { name: "complete: UPDATE ai_jobs (running → completed)", run: (job, at) => void finishJob.all("completed", at, job.id) },
      { name: "complete: UPDATE workflow_runs", run: (job, at) => void finishRun.run("completed", null, at, job.run) },
      event("complete: INSERT event", completed)
    ]
  }
  const begin = db.prepare("BEGIN IMMEDIATE")
  const commit = db.prepare("COMMIT")
  const step = (name: StepName, group: ReadonlyArray<ReplayJob>, measure: Measure) => {
    measure(`${name}: BEGIN IMMEDIATE`, () => begin.run())
    for (const job of group) {
      const at = new Date().toISOString()
      for (const statement of steps[name]) measure(statement.name, () => statement.run(job, at))
    }
    measure(`${name}: COMMIT`, () => commit.run())
  }
  /**
   * `count` lifecycles, `k` jobs' steps per transaction (k = 1: one commit per
   * step, as the store commits now; k > 1: what group commit of k concurrent
   * workers writes). The heartbeat is its own statement outside a transaction,
   * committed at `synchronous = NORMAL` as the store does; `onStep` runs after
   * each step (for counting WAL frames per step).
   */
  const lifecycles = (
    count: number,
    options: { readonly k: number; readonly durability: "full" | "normal"; readonly measure?: Measure; readonly onStep?: (step: StepName) => void }
  ) => {
    const { durability, k, measure = direct, onStep = () => {} } = options
    for (let done = 0; done < count; done += k) {
      const group = Array.from({ length: k }, (): ReplayJob => ({ id: uuidv7(), trace: uuidv7(), run: null }))
      step("submit", group, measure)
      onStep("submit")
      step("claim", group, measure)
      onStep("claim")
      if (durability === "full") db.pragma("synchronous = NORMAL")
      for (const job of group) {
        const at = new Date().toISOString()
        for (const statement of steps.heartbeat) measure(statement.name, () => statement.run(job, at))
      }
      if (durability === "full") db.pragma("synchronous = FULL")
      onStep("heartbeat")
      step("complete", group, measure)
      onStep("complete")
    }
  }
  /** Every statement of a lifecycle run on its own (autocommit), one job at a time: what each writes alone. */
  const statementsAlone = (count: number, measure: Measure) => {
    for (let done = 0; done < count; done++) {
      const job: ReplayJob = { id: uuidv7(), trace: uuidv7(), run: null }
      for (const name of ["submit", "claim", "heartbeat", "complete"] as const) {
        const at = new Date().toISOString()
        for (const statement of steps[name]) measure(statement.name, () => statement.run(job, at))
      }
    }
  }
  return { lifecycles, statementsAlone }
}

/** WAL frames written so far (a reader holding a snapshot keeps checkpoints from restarting the WAL: it only grows). */
export const walFrames = (size: number) => size / (4096 + 24)

/** A replay on one database whose CPU per job is sampled round by round. */
export interface CpuSampled {
  readonly lifecycles: ReturnType<typeof replayStatements>["lifecycles"]
  readonly cpu: Array<number>
}

/**
 * `rounds` rounds of `jobs` lifecycles (k = 1) on each entry in turn, the
 * entries interleaved within each round so drift on a loaded machine hits
 * them alike; pushes each round's CPU µs per job (this process) to `cpu`.
 */
export const sampleCpuInterleaved = (entries: ReadonlyArray<CpuSampled>, rounds: number, jobs: number, durability: "full" | "normal") => {
  for (let round = 0; round < rounds; round++) {
    for (const entry of entries) {
      const cpu = process.cpuUsage()
      entry.lifecycles(jobs, { k: 1, durability })
      const { system, user } = process.cpuUsage(cpu)
      entry.cpu.push((user + system) / jobs)
    }
  }
}
