/**
 * The crash campaign (issue 8, part 1): a worker process is killed with
 * SIGKILL at random (seeded) points, again and again, on one database. After
 * every kill the database is audited; every restart runs startup recovery,
 * and the runs that were running at the crash must come back `stalled`
 * exactly once, each with exactly one `workflow_recovery` event.
 *
 * Crash points: while the store opens (the first lifetimes: during the
 * migrations of a fresh database), around the recovery scan, and — most of
 * them — while the worker submits, claims, runs nodes, heartbeats, settles
 * and operates jobs.
 */
import { type Child, is, sleep, startChild } from "./children.js"
import { audit } from "./invariants.js"
import type { WorkerMessage } from "./protocol.js"
import { random } from "./random.js"
import { rowCount, type Snapshot } from "./snapshot.js"

/** Where the campaign runs and how long. */
export interface CrashCampaignOptions {
  /** A SQLite file path or a postgres:// URL, handed to the worker process. */
  readonly database: string
  /** How to snapshot the database from the test process. */
  readonly read: () => Promise<Snapshot>
  /**
   * Waits, after a kill, until the database has finished the dead process's
   * work. On PostgreSQL a transaction whose COMMIT the server received before
   * the kill still commits, later: a snapshot taken before that would miss
   * the run it started, and the next recovery would stall a run the campaign
   * never saw running.
   */
  readonly settle?: () => Promise<void>
  readonly crashes: number
  readonly seed: number
  /** Progress lines (soak). */
  readonly log?: (line: string) => void
}

/** What the campaign did, for RELIABILITY.md. */
export interface CrashCampaignReport {
  readonly kills: number
  readonly killsByPhase: Record<"startup" | "recovery" | "working", number>
  /** Runs that were running at a kill and were later recovered (each checked). */
  readonly runsRecovered: number
  readonly recoveriesVerified: number
  readonly audits: number
  readonly rowsChecked: number
  readonly jobsSubmitted: number
  readonly jobsStored: number
  readonly elapsedMs: number
}

/** The recovery threshold the worker uses (1 s) plus a margin: a restart must not scan before the dead process's heartbeats are stale. */
const RECOVER_DELAY_MS = 1_150

/** Runs the campaign; throws an Error listing every violation at the first audit that finds one. */
export const runCrashCampaign = async (options: CrashCampaignOptions): Promise<CrashCampaignReport> => {
  const started = Date.now()
  const rng = random(options.seed)
  const submitted = new Set<string>()
  const intended = new Set<string>()
  /** Runs that were running at a kill and not yet seen recovered. */
  const pending = new Set<string>()
  const killsByPhase = { startup: 0, recovery: 0, working: 0 }
  let runsRecovered = 0
  let recoveriesVerified = 0
  let audits = 0
  let rowsChecked = 0
  let lastKillAt = 0
  let jobsStored = 0
  /** Whether some worker has opened the store: its migrations committed, the tables exist. */
  let migrated = false

  const check = (snapshot: Snapshot, quiescent: boolean, context: string) => {
    audits += 1
    rowsChecked += rowCount(snapshot)
    jobsStored = snapshot.jobs.length
    const problems = audit(snapshot, { quiescent, submitted, intended })
    if (problems.length > 0) {
      throw new Error(`crash campaign (seed ${options.seed}), ${context}:\n  ${problems.slice(0, 40).join("\n  ")}`)
    }
  }

  const absorb = (child: Child, context: string) => {
    for (const message of child.messages) {
      if (message.t === "intent") intended.add(message.job)
      if (message.t === "submitted") submitted.add(message.job)
    }
    const bad = child.messages.filter((m): m is Extract<WorkerMessage, { t: "error" | "fatal" }> => m.t === "error" || m.t === "fatal")
    if (bad.length > 0) throw new Error(`crash campaign (seed ${options.seed}), ${context}: the worker reported\n${JSON.stringify(bad.slice(0, 3), null, 2)}\n${child.output()}`)
  }

  /** After a restart's recovery: exactly the crashed runs are stalled, each once, and the whole database holds. */
  const verifyRecovery = async (recovered: ReadonlyArray<string>, context: string) => {
    const snapshot = await options.read()
    const status = new Map(snapshot.runs.map((run) => [run.id, run.status]))
    const strays = recovered.filter((id) => !pending.has(id))
    if (strays.length > 0) throw new Error(`${context}: recovery stalled runs that were not running at a crash: ${strays.join(", ")} (seed ${options.seed})`)
    const missed = [...pending].filter((id) => status.get(id) !== "stalled")
    if (missed.length > 0) throw new Error(`${context}: runs running at the crash not stalled after recovery: ${missed.map((id) => `${id}=${status.get(id)}`).join(", ")} (seed ${options.seed})`)
    check(snapshot, true, context)
    runsRecovered += pending.size
    recoveriesVerified += 1
    pending.clear()
  }

  const lifetime = async (index: number) => {
    const recoverAt = lastKillAt + RECOVER_DELAY_MS
    const child = await startChild("worker-process.ts", {
      HSK_MODE: "crash",
      HSK_DATABASE: options.database,
      HSK_SEED: String(rng.int(1, 2 ** 31 - 1)),
      HSK_RECOVER_AT: String(recoverAt)
    })
    const context = `lifetime ${index} (pid ${child.pid})`
    if (index >= 4 && !migrated) throw new Error(`${context}: no worker managed to open (migrate) the database in four lifetimes (seed ${options.seed})`)
    try {
      // Phase of this crash: mostly while working; sometimes while the store
      // opens (the first two lifetimes open a fresh database: their migrations), or around the recovery scan.
      // Until a worker has opened the store, a later lifetime is not killed at startup: on a loaded machine
      // a run of startup kills could otherwise keep the migrations from ever committing (and trip the guard above).
      const phase = index < 2 ? "startup" : migrated && rng.chance(0.06) ? "startup" : rng.chance(0.1) ? "recovery" : "working"
      if (phase === "startup") {
        await sleep(rng.int(50, 1_200))
      } else if (phase === "recovery") {
        await child.waitFor(is("ready"), 60_000)
        await sleep(Math.max(0, recoverAt - Date.now() + rng.int(-40, 40)))
      } else {
        const recovered = await child.waitFor(is("recovered"), 60_000)
        await verifyRecovery(recovered.runs, `${context}, after recovery`)
        child.send("go")
        await sleep(rng.int(20, 1_000))
      }
      await child.kill()
      lastKillAt = Date.now()
      await options.settle?.()
      killsByPhase[phase] += 1
      if (child.messages.some(is("ready"))) migrated = true
      absorb(child, context)
      // A recovery that reported before the kill left the database as it reported (no `go` was sent).
      const reported = phase !== "working" ? child.messages.find(is("recovered")) : undefined
      if (reported !== undefined) await verifyRecovery(reported.runs, `${context}, recovery reported before the kill`)
      const snapshot = await options.read().catch((error: unknown) => {
        // Until a worker has opened the store (its migrations committed) there may be no tables yet.
        if (!migrated && /no such table|does not exist/i.test(String(error))) return null
        throw error
      })
      if (snapshot !== null) {
        check(snapshot, false, `${context}, after SIGKILL in phase ${phase}`)
        for (const run of snapshot.runs) if (run.status === "running") pending.add(run.id)
      }
    } catch (error) {
      await child.kill()
      throw error
    }
  }

  for (let index = 0; index < options.crashes; index++) {
    await lifetime(index)
    if (options.log !== undefined && (index + 1) % 25 === 0) {
      options.log(`crash campaign ${options.database.startsWith("postgres") ? "pg" : "sqlite"}: ${index + 1}/${options.crashes} kills, ${runsRecovered} runs recovered, ${jobsStored} jobs, ${Math.round((Date.now() - started) / 1000)} s`)
    }
  }

  // One last restart: recover what the last kill left, audit, and leave cleanly.
  const final = await startChild("worker-process.ts", {
    HSK_MODE: "crash",
    HSK_DATABASE: options.database,
    HSK_SEED: "1",
    HSK_RECOVER_AT: String(lastKillAt + RECOVER_DELAY_MS)
  })
  try {
    const recovered = await final.waitFor(is("recovered"), 60_000)
    await verifyRecovery(recovered.runs, "final restart")
    final.send("stop")
    await final.exited
    absorb(final, "final restart")
  } finally {
    await final.kill()
  }

  return {
    kills: options.crashes,
    killsByPhase,
    runsRecovered,
    recoveriesVerified,
    audits,
    rowsChecked,
    jobsSubmitted: submitted.size,
    jobsStored,
    elapsedMs: Date.now() - started
  }
}
