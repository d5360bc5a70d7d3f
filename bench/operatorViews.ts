/**
 * What an operator's view of one job with a long history costs: `ai-jobs jobs
 * show <id> --json` and `GET /jobs/:id` of `ai-jobs serve`, each a real
 * process (the CLI bundled as the tests bundle it), on SQLite (a file) and on
 * PostgreSQL (a throwaway cluster). The job: 20,000 events of its own (each
 * naming its run, as a worker's do), one run of 500 node executions whose
 * input and output payloads are 1000-key objects, and 1000-key job inputs.
 * Prints each view's wall time, its process's peak RSS and the answer's size.
 *
 *   npx tsx bench/operatorViews.ts [events] [nodes]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { Json } from "../src/domain/Json.js"
import { FlightRecorder } from "../src/FlightRecorder.js"
import { Jobs } from "../src/Jobs.js"
import * as Storage from "../src/store/DatabaseUrl.js"
import { JobStore } from "../src/store/JobStore.js"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { nodeArgsFor, repoRoot } from "../test/support/bundle.js"
import { services } from "../test/jobs/services.js"
import { startBenchCluster } from "./postgres.js"

const EVENTS = Number(process.argv[2] ?? 20_000)
const NODES = Number(process.argv[3] ?? 500)
const KEYS = 1000

/** A job any policy admits (test/jobs/jobs.suite.ts's `summarize`, which this process cannot import: it loads Vitest). */
const REQUEST = { job_kind: "doc_summarize", protocol_id: "bench", profile_id: "bench", access_mode: "analysis_only", safety_mode: "normal" } as const

const payload = (tag: string): Json => Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`${tag}_key_${i}`, `value ${i} of ${tag}`]))

const seed = (url: string) =>
  Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const jobs = yield* Jobs
      const store = yield* JobStore
      const recorder = yield* FlightRecorder
      const job = yield* jobs.submit({ ...REQUEST, job_inputs: payload("job") })
      const { run } = yield* jobs.start(job.job_id)
      for (let i = 0; i < NODES; i++) {
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: `node-${i}`, node_type: "step", input_payload: payload(`in${i}`) })
        yield* store.finishNode(node.id, { status: "completed", output_payload: payload(`out${i}`) })
      }
      // A millisecond apart, from EVENTS ms ago: the job's history in recorded order.
      const start = Date.now() - EVENTS
      for (let from = 0; from < EVENTS; from += 1000) {
        yield* recorder.recordMany(Array.from({ length: Math.min(1000, EVENTS - from) }, (_, i) => ({
          type: "diagnostic" as const,
          actor: "system" as const,
          event_id: uuidv7(),
          timestamp: new Date(start + from + i).toISOString(),
          diagnostic_id: `d${from + i}`,
          job_id: job.job_id,
          trace_id: job.trace_id,
          workflow_run_id: run.id
        })))
      }
      if (process.env["HSK_OPERATOR_VIEWS_SQLITE"] === url) fs.writeFileSync(`${url}.job`, job.job_id)
      return job.job_id as string
    }),
    services(Storage.layerFromUrl(url) as Layer.Layer<JobStore>)
  ) as Effect.Effect<string>)

const main = path.join(repoRoot, "src", "cli", "main.ts")
const tsx = pathToFileURL(path.join(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href

/** `ai-jobs <args>` under GNU time: seconds, peak RSS in MiB, bytes on stdout. */
const timedCli = async (args: ReadonlyArray<string>) => {
  const line = [process.execPath, ...await nodeArgsFor(main), ...args]
  return new Promise<string>((resolve, reject) =>
    execFile("/usr/bin/time", ["-f", "%e %U %S %M", ...line], { maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(stderr))
      const [seconds, user, system, kib] = stderr.trim().split("\n").at(-1)!.split(" ")
      resolve(`${seconds} s (CPU ${(Number(user) + Number(system)).toFixed(1)} s), peak RSS ${(Number(kib) / 1024).toFixed(0)} MiB, ${(stdout.length / 1e6).toFixed(2)} MB out`)
    }))
}

/** `GET /jobs/:id` of a fresh `ai-jobs serve`: seconds, the server's peak RSS before and after, bytes answered. */
const timedDetail = async (database: string, jobId: string) => {
  // Through tsx, as test/http/serveProcess.ts starts it: the bundle has no console files to serve.
  const child: ChildProcess = spawn(process.execPath, ["--import", tsx, main, "serve", "--port", "0", "--database", database], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const link = await new Promise<string>((resolve) => {
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const found = /console {2}(\S+)/.exec(out)?.[1]
      if (found !== undefined) resolve(found)
    })
  })
  const base = new URL(link)
  const token = base.hash.replace(/^#token=/, "")
  const peak = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024
  const before = peak()
  const started = performance.now()
  const answer = await fetch(new URL(`/jobs/${jobId}`, base), { headers: { authorization: `Bearer ${token}` } })
  const body = await answer.text()
  const seconds = (performance.now() - started) / 1000
  const after = peak()
  child.kill("SIGINT")
  return `${answer.status} in ${seconds.toFixed(2)} s, server peak RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB, ${(body.length / 1e6).toFixed(2)} MB out`
}

const measure = async (name: string, database: string, seeded?: string) => {
  const began = performance.now()
  const jobId = seeded ?? await seed(database)
  console.log(`${name}: job ${jobId}: ${EVENTS} events, ${NODES} nodes (seeded in ${((performance.now() - began) / 1000).toFixed(1)} s)`)
  console.log(`${name}: jobs show --json   ${await timedCli(["jobs", "show", jobId, "--json", "--database", database])}`)
  console.log(`${name}: jobs show (table)  ${await timedCli(["jobs", "show", jobId, "--database", database])}`)
  console.log(`${name}: GET /jobs/:id      ${await timedDetail(database, jobId)}`)
}

// HSK_OPERATOR_VIEWS_SQLITE=<file>: a SQLite file seeded by an earlier run is measured again (its job id beside it).
const kept = process.env["HSK_OPERATOR_VIEWS_SQLITE"]
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsk-operator-views-"))
try {
  if (kept === undefined) await measure("SQLite", path.join(dir, "jobs.db"))
  else if (fs.existsSync(`${kept}.job`)) await measure("SQLite", kept, fs.readFileSync(`${kept}.job`, "utf8"))
  else {
    await measure("SQLite", kept)
  }
  const cluster = await startBenchCluster()
  try {
    await measure("PostgreSQL", await cluster.createDatabase("operator_views"))
  } finally {
    await cluster.stop()
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
