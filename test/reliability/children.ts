/**
 * Starting, talking to and killing worker processes (worker-process.ts) from
 * a test. Plain promises: these are real OS processes and real time. The
 * scripts run bundled (test/support/bundle.ts).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { nodeArgsFor, repoRoot } from "../support/bundle.js"
import { parseLine, type WorkerMessage } from "./protocol.js"

const here = path.dirname(fileURLToPath(import.meta.url))
/** The repository root: children run from it so `tsx` resolves the sources. */
export { repoRoot }

/** What a finished CLI run printed and how it exited. */
export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the operator CLI (src/cli/main.ts) with `argv` and waits for it to exit (killed after `timeoutMs`). */
export const runCli = async (argv: ReadonlyArray<string>, env: Record<string, string>, timeoutMs = 60_000): Promise<CliRun> => {
  const args = await nodeArgsFor(path.join(repoRoot, "src", "cli", "main.ts"))
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, ...argv], { cwd: env["HSK_CWD"] ?? repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout = (stdout + chunk).slice(-20_000)
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-20_000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A running child and what it said. */
export interface Child {
  readonly pid: number
  /** Every message received so far, in order. */
  readonly messages: Array<WorkerMessage>
  /** Resolves with the first message (already received or future) matching `predicate`. */
  readonly waitFor: <M extends WorkerMessage>(predicate: (m: WorkerMessage) => m is M, timeoutMs: number) => Promise<M>
  /** Writes one line to the child's stdin. */
  readonly send: (line: string) => void
  /** SIGKILL, then waits until the process is gone. */
  readonly kill: () => Promise<void>
  /** Sends SIGTERM (a graceful stop); does not wait. */
  readonly terminate: () => void
  /** Resolves when the process exits. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** The last few KB of stderr and non-protocol stdout, for failure messages. */
  readonly output: () => string
}

/** Is-message-of-type guard for `waitFor`. */
export const is = <T extends WorkerMessage["t"]>(t: T) => (m: WorkerMessage): m is Extract<WorkerMessage, { t: T }> => m.t === t

/** Starts `script` (a file of this folder) with the given environment. */
export const startChild = async (script: string, env: Record<string, string>): Promise<Child> => {
  const child: ChildProcess = spawn(process.execPath, [...await nodeArgsFor(path.join(here, script))], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  const messages: Array<WorkerMessage> = []
  const listeners = new Set<() => void>()
  let tail = ""
  const keep = (text: string) => {
    tail = (tail + text).slice(-8000)
  }
  let buffered = ""
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      const message = parseLine(line)
      if (message === null) keep(`${line}\n`)
      else {
        messages.push(message)
        for (const listener of [...listeners]) listener()
      }
      newline = buffered.indexOf("\n")
    }
  })
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (chunk: string) => keep(chunk))
  // A child killed while we write to it: its stdin errors with EPIPE, which is expected.
  child.stdin!.on("error", () => {})

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      for (const listener of [...listeners]) listener()
      resolve({ code, signal })
    })
  })
  let isExited = false
  void exited.then(() => {
    isExited = true
  })

  const waitFor = <M extends WorkerMessage>(predicate: (m: WorkerMessage) => m is M, timeoutMs: number): Promise<M> =>
    new Promise<M>((resolve, reject) => {
      const check = () => {
        const found = messages.find(predicate)
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (isExited || child.exitCode !== null || child.signalCode !== null) {
          // Let the exit listener run first so late messages are in.
          setImmediate(() => {
            const late = messages.find(predicate)
            done()
            if (late !== undefined) resolve(late)
            else reject(new Error(`child ${child.pid} exited before the expected message; output:\n${tail}\nmessages: ${JSON.stringify(messages.slice(-5))}`))
          })
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`child ${child.pid}: no expected message within ${timeoutMs} ms; output:\n${tail}\nmessages: ${JSON.stringify(messages.slice(-5))}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        listeners.delete(check)
      }
      listeners.add(check)
      check()
    })

  return {
    pid: child.pid ?? -1,
    messages,
    waitFor,
    send: (line) => {
      if (!isExited) child.stdin!.write(`${line}\n`)
    },
    kill: async () => {
      if (!isExited && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
    },
    terminate: () => {
      if (!isExited && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    },
    exited,
    output: () => tail
  }
}

/** Resolves after `ms` of real time. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
