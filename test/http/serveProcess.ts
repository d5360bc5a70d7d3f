/**
 * `ai-jobs serve` as a real subprocess: started on a free loopback port,
 * its printed address and console link read from stdout, stopped with
 * SIGINT (the way an operator's Ctrl-C stops it).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Effect from "effect/Effect"
import * as Storage from "../../src/store/DatabaseUrl.js"
import type { JobStore } from "../../src/store/JobStore.js"
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

/** Preloaded with `announceRequests`, the server says on stderr as each request reaches it: `test: request <METHOD> <url>`. */
export const ANNOUNCE_REQUESTS = ["--import", pathToFileURL(path.join(repoRoot, "test", "http", "announceRequests.ts")).href]

/** Starts `ai-jobs serve --port 0 <args>` (Node given `nodeArgs` too) and waits until it prints where it listens. */
export const startServe = (args: ReadonlyArray<string>, env: Record<string, string> = {}, nodeArgs: ReadonlyArray<string> = []): Promise<Served> =>
  new Promise((resolve, reject) => {
    const environment: Record<string, string | undefined> = { ...process.env, ...env }
    delete environment["DATABASE_URL"]
    if (env["AI_JOBS_TOKEN"] === undefined) delete environment["AI_JOBS_TOKEN"]
    const child: ChildProcess = spawn(process.execPath, ["--import", tsx, ...nodeArgs, main, "serve", "--port", "0", ...args], {
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

/** Runs `effect` on the store at `database` (migrating it on the way), in this process. */
export const onStore = <A, E>(database: string, effect: Effect.Effect<A, E, JobStore>) =>
  Effect.runPromise(Effect.provide(effect, Storage.layerFromUrl(database)))

/** A GET, with the bearer token when given; redirects are not followed. */
export const get = (url: string, token?: string) =>
  fetch(url, { redirect: "manual", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

/**
 * `/health` once startup recovery has ended. The server listens while
 * recovery runs (R9: /health says so with a 503, as a load balancer needs;
 * api.suite.ts forces that case), so right after it prints its address a
 * loaded machine may still answer `running`.
 */
export const healthAfterRecovery = async (url: string): Promise<{ readonly status: number; readonly body: Record<string, unknown> }> => {
  const deadline = Date.now() + 60_000
  for (;;) {
    const response = await get(`${url}health`)
    const body = await response.json() as Record<string, unknown>
    if (body["recovery"] !== "running" || Date.now() > deadline) return { status: response.status, body }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** `POST /jobs`: a `doc_summarize` job with `protocol` as its protocol id. */
export const submitJob = (url: string, token: string, protocol: string) =>
  fetch(`${url}jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: jobRequest(protocol)
  })

/** The JSON of a `doc_summarize` job's submission. */
export const jobRequest = (protocol: string): string =>
  JSON.stringify({
    job_kind: "doc_summarize",
    protocol_id: protocol,
    profile_id: "ops",
    capability_profile_id: "Analyst",
    access_mode: "analysis_only",
    safety_mode: "normal"
  })
