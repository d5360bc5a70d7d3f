/**
 * Interrupting a real `ai-jobs` at a forced point on PostgreSQL: while its
 * statement waits on a lock the test holds, with the signal delivered before
 * the lock is released — no sleep decides the order. (`signalled` and
 * `output` serve the SQLite twin, interrupt-sqlite.test.ts, too.)
 */
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { connectPg, type PgClient } from "../support/pg-database.js"
import { exitOf, spawnCli } from "./cli.js"

/** What `child` has printed so far, on stdout and stderr. */
export const output = (child: ChildProcess) => {
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  return () => ({ stdout, stderr })
}

/** Whether `signal` (its number) is still pending for the process or any of its threads. */
const pending = (pid: number, signal: number): boolean => {
  const bit = 1n << BigInt(signal - 1)
  let tasks: ReadonlyArray<string>
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return false // the process is gone (a signal ended it): nothing is pending
  }
  const statuses = [`/proc/${pid}/status`, ...tasks.map((task) => `/proc/${pid}/task/${task}/status`)]
  return statuses.some((file) => {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
    return [...text.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((match) => (BigInt(`0x${match[1]}`) & bit) !== 0n)
  })
}

/** Signal numbers, for the kernel's pending masks. */
const SIGNAL_NUMBER = { SIGINT: 2, SIGTERM: 15 } as const

/** Sends `signals` to `child` one at a time, each delivered (no longer pending) before the next. */
export const signalled = async (child: ChildProcess, signals: ReadonlyArray<keyof typeof SIGNAL_NUMBER>): Promise<void> => {
  for (const signal of signals) {
    child.kill(signal)
    while (pending(child.pid!, SIGNAL_NUMBER[signal])) await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Runs `ai-jobs <args>` while `lockSql` (a row's FOR UPDATE, a LOCK TABLE) is held by another transaction:
 * once the CLI's statement waits on that lock, `signals` (default one SIGINT) are sent one at a time,
 * each delivered before the next (an operator's second Ctrl-C), then the lock is released — or, `then:
 * "cancelled"`, the statements waiting on it are cancelled (they fail) and the lock held until the CLI has exited.
 */
export const interruptedUnderLock = async (
  url: string,
  lockSql: string,
  args: ReadonlyArray<string>,
  signals: ReadonlyArray<keyof typeof SIGNAL_NUMBER> = ["SIGINT"],
  options: { readonly then?: "released" | "cancelled" } = {}
) => {
  const holder: PgClient = await connectPg(url)
  const watcher: PgClient = await connectPg(url)
  try {
    await holder.query("BEGIN")
    await holder.query(lockSql)
    const child = await spawnCli([...args, "--database", url])
    const printed = output(child)
    const exited = exitOf(child)
    for (const deadline = Date.now() + 60_000;;) {
      const { rows } = await watcher.query<{ readonly n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
      )
      if (Number(rows[0]?.n) >= 1) break
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`setup: the CLI never waited on the lock: ${printed().stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await signalled(child, signals)
    if (options.then === "cancelled") {
      // Every statement that comes to wait on the lock (a scan's second connection too) is cancelled, until the CLI ends.
      let ended = false
      void exited.then(() => (ended = true))
      while (!ended) {
        await watcher.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    } else {
      await holder.query("COMMIT")
    }
    const code = await exited
    return { code, ...printed() }
  } finally {
    await holder.query("ROLLBACK").catch(() => undefined)
    await holder.end()
    await watcher.end()
  }
}

