/**
 * `ai-jobs serve` as a real subprocess: started on a free loopback port,
 * its printed address and console link read from stdout, stopped with
 * SIGINT (the way an operator's Ctrl-C stops it).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { repoRoot } from "../cli/cli.js"

const main = path.join(repoRoot, "src", "cli", "main.ts")
const tsx = pathToFileURL(path.join(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href

/** A running server. */
export interface Served {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  /** The console link as printed (with `#token=` when the token was generated). */
  readonly consoleLink: string
  /** Everything printed so far. */
  readonly output: () => string
  /** What it printed so far to stdout, and to stderr. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** Sends SIGINT (an operator's Ctrl-C), or `signal` (a service manager's SIGTERM), and resolves with the exit code. */
  readonly stop: (signal?: "SIGINT" | "SIGTERM") => Promise<number | null>
}

/** Starts `ai-jobs serve --port 0 <args>` and waits until it prints where it listens. */
export const startServe = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Served> =>
  new Promise((resolve, reject) => {
    const environment: Record<string, string | undefined> = { ...process.env, ...env }
    delete environment["DATABASE_URL"]
    if (env["AI_JOBS_TOKEN"] === undefined) delete environment["AI_JOBS_TOKEN"]
    const child: ChildProcess = spawn(process.execPath, ["--import", tsx, main, "serve", "--port", "0", ...args], {
      cwd: repoRoot,
      env: environment,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`ai-jobs serve did not start within 90 s:\n${stdout}\n${stderr}`))
    }, 90_000)
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      const url = /on (http:\/\/\S+\/)\n/.exec(stdout)?.[1]
      const consoleLink = /console {2}(\S+)/.exec(stdout)?.[1]
      if (url === undefined || consoleLink === undefined) return
      clearTimeout(timer)
      resolve({
        url,
        consoleLink,
        output: () => stdout + stderr,
        stdout: () => stdout,
        stderr: () => stderr,
        stop: (signal = "SIGINT") => {
          child.kill(signal)
          return exited
        }
      })
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`ai-jobs serve exited with ${code} before listening:\n${stdout}\n${stderr}`))
    })
  })
