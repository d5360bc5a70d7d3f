/**
 * `ai-jobs demo` (what `npm start` runs): a tour of the library on a real
 * database — migrate, a crashed worker, startup recovery, capability checks,
 * runs with heartbeats and node history, success and failure — ending in a
 * timeline of jobs and Flight Recorder events.
 *
 * It runs on its own database, `./data/demo.db`, made fresh each time, unless
 * one is named with `--database` (then it adds a round of jobs there): never
 * on whatever `DATABASE_URL` points at. Its output fits the terminal, and 100
 * columns at most.
 */
import * as fs from "node:fs"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type { AiJob } from "../domain/AiJob.js"
import type { StoredFlightEvent } from "../domain/LegacyFlightEvent.js"
import type * as FlightRecorder from "../FlightRecorder.js"
import * as Jobs from "../Jobs.js"
import * as Recovery from "../Recovery.js"
import { JobStore } from "../store/JobStore.js"
import { type Database, databaseOptionWith, migratedVersion, resolve, storeLayer } from "./database.js"
import { pastClock } from "./demo/pastClock.js"
import { newJob, runTests, summarize, transformSheet } from "./demo/jobs.js"
import { jobsTable, shortId, time, timeline } from "./format.js"
import { wrap } from "./layout.js"
import { withProgress } from "./progress.js"
import { collectEvents } from "./queries.js"
import { services } from "./services.js"
import { shellWord } from "./shellWord.js"
import { outputWidth } from "./terminal.js"

/** The demo's own database, made fresh on each run: the demo never writes into a database it was not given. */
export const DEMO_DATABASE = "./data/demo.db"

/** The widest the demo's output gets, even on a wider terminal. */
const MAX_WIDTH = 100

/** How long ago the demo's crashed worker last beat: far beyond the 30 s threshold. */
const CRASH_AGO = "10 minutes"
/** Heartbeats while the demo's jobs run: short, so a sub-second job beats several times. */
const HEARTBEAT = "25 millis"
/** The interval as the demo's text says it. */
const HEARTBEAT_TEXT = "25 ms"

/** Writing the tour at one width: headings, wrapped indented text, and blocks (tables) already fitted. */
interface Page {
  readonly width: number
  readonly heading: (text: string) => Effect.Effect<void>
  /**
   * `text` wrapped under a 3-space indent; continuation lines indented by
   * `hang`, or by 3 where a whole id (never broken) would not fit after it.
   */
  readonly say: (text: string, hang?: string) => Effect.Effect<void>
  /** A block made for `width - 3` columns, indented by 3. */
  readonly block: (text: string) => Effect.Effect<void>
  readonly blank: Effect.Effect<void>
}

/** Columns an id takes on a line: 36, and the `)` or `,` that may follow it. */
const ID_COLUMNS = 37

const page = (width: number): Page => ({
  width,
  heading: (text) => Console.log(wrap(text, width, { hang: "   " })),
  // An id run on under a deeper hang went past a narrow terminal (48–49 columns under COLUMNS=40, found by an outside probe).
  say: (text, hang = "   ") => Console.log(wrap(text, width, { indent: "   ", hang: hang.length + ID_COLUMNS <= width ? hang : "   " })),
  block: (text) => Console.log(text.replace(/^/gm, "   ")),
  blank: Console.log("")
})

/** A process that claimed a job ten minutes ago and died mid-run: its run is still `running`, its heartbeat old. */
const crashedWorker = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const job = yield* jobs.submit(newJob("doc_ingest", { path: "inbox/report.pdf" }, "report.pdf"))
  return yield* jobs.start(job.job_id)
}).pipe(Effect.withClock(pastClock(CRASH_AGO)), Effect.provide(services(Recovery.layerNoStartupRecovery)))

/** Starts a queued job and runs `program` under `Jobs.run`, then reports how its run ended. */
const runJob = <E>(
  out: Page,
  job: AiJob,
  program: (context: Jobs.RunContext) => Effect.Effect<unknown, E, FlightRecorder.FlightRecorder>,
  onSuccess?: Jobs.SuccessState
) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const store = yield* JobStore
    const { run } = yield* jobs.start(job.job_id)
    const outcome = yield* jobs.run(job.job_id, (context) => Effect.asVoid(program(context)), {
      heartbeatInterval: HEARTBEAT,
      ...(onSuccess === undefined ? {} : { onSuccess })
    }).pipe(Effect.either)
    const after = yield* store.getJob(job.job_id)
    const finished = yield* store.getRun(run.id)
    const nodes = yield* store.listNodes(run.id)
    const beatAfterMs = DateTime.toEpochMillis(finished.last_heartbeat) - DateTime.toEpochMillis(finished.created_at)
    yield* out.say(
      `${after.job_kind.padEnd(19)} ${after.state.padEnd(21)} run ${shortId(run.id)}: ${nodes.length} node(s) ` +
        `[${nodes.map((node) => `${node.node_id}:${node.status}`).join(" ")}], last heartbeat ${beatAfterMs} ms after start`,
      " ".repeat(6)
    )
    if (outcome._tag === "Left") yield* out.say(`   error recorded on the job: ${after.error_message ?? "(none)"}`, " ".repeat(6))
    return after
  })

/** Commands to try on the demo's database; the first names it for the rest (a PostgreSQL password shows as ***). */
const commandsHint = (database: Database, examples: { readonly job: AiJob; readonly failed: AiJob; readonly denied: string }) => [
  `export DATABASE_URL=${shellWord(database.target.dialect === "sqlite" ? database.target.filename : database.display)}`,
  "ai-jobs jobs list",
  "ai-jobs jobs list --state failed,stalled",
  `ai-jobs jobs show ${shortId(examples.job.job_id)}`,
  `ai-jobs events --job ${shortId(examples.failed.job_id)}`,
  // A refused request has no job row to abbreviate: its deny events are found by its trace.
  `ai-jobs events --trace ${examples.denied}`,
  `ai-jobs jobs retry ${shortId(examples.failed.job_id)} --reason 'flaky test'`,
  `ai-jobs jobs pin ${shortId(examples.failed.job_id)} --reason 'keep for the review'`,
  "ai-jobs events --type workflow_recovery --json",
  "ai-jobs recover --threshold 30",
  "ai-jobs prune --older-than 30d --keep 100 --dry-run",
  "ai-jobs retention --older-than 7d"
]

const tour = (out: Page, database: Database) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    yield* out.heading(`2. A worker crashes`)
    const crashed = yield* crashedWorker
    yield* out.say(`A worker claimed job ${crashed.job.job_id} (${crashed.job.job_kind}) ${CRASH_AGO} ago, then its process died.`)
    yield* out.say(`Its run ${crashed.run.id} is still ${crashed.run.status}, last heartbeat ${time(crashed.run.last_heartbeat)}.`)
    yield* out.blank

    return yield* Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const gate = yield* Recovery.RecoveryGate
      yield* out.heading("3. The application starts: startup recovery runs first (no job is accepted until it ends)")
      const report = yield* gate.result
      yield* out.say(`Recovered ${report.recovered.length} run(s) silent for more than ${Duration.toSeconds(report.threshold)}s:`)
      const recovery = yield* collectEvents({ job_id: crashed.job.job_id, types: ["workflow_recovery"] }, 10)
      yield* out.block(timeline(recovery.items, out.width - 3))
      const resumed = yield* jobs.resume(crashed.job.job_id, { actor: "human", reason: "operator resumed after the crash" })
      yield* jobs.run(crashed.job.job_id, (context) =>
        context.node({ node_id: "ingest", node_type: "fetch", input: { path: "inbox/report.pdf" } }, Effect.as(Effect.sleep("60 millis"), { pages: 12 })),
        { heartbeatInterval: HEARTBEAT })
      yield* out.say(`An operator resumed it under a new workflow run ${resumed.run.id}; it ran to ${(yield* store.getJob(crashed.job.job_id)).state}.`)
      yield* out.blank

      yield* out.heading("4. Jobs are submitted; the capability policy picks each job's profile before anything is queued")
      const submitted = (label: string, kind: string, profile: string, rest: string) =>
        out.say(`${label.padEnd(8)} ${kind.padEnd(19)} ${profile.padEnd(8)} ${rest}`, " ".repeat(12))
      const submit = (input: ReturnType<typeof newJob>) =>
        jobs.submit(input).pipe(Effect.tap((job) => submitted("queued", job.job_kind, job.capability_profile_id, job.job_id)))
      const summary = yield* submit(newJob("doc_summarize", { document: "plans/q3.md", style: "bullets" }, "plans/q3.md"))
      // A caller may ask for a narrower profile, never a wider one: this summary asks for Coder to run commands.
      const denied = { ...newJob("doc_summarize", { document: "plans/q3.md", then: "rm -rf build" }, "plans/q3.md"), capability_profile_id: "Coder" }
      yield* jobs.submit(denied).pipe(
        Effect.flatMap(() => Effect.dieMessage("a summary job was allowed to escalate to the Coder profile")),
        Effect.catchTag("EscalationDenied", (error) => submitted("DENIED", "doc_summarize", "Coder", `${error._tag}: ${error.message} (trace ${denied.trace_id})`))
      )
      const sheet = yield* submit(newJob("sheet_transform", { sheet: "budget.xlsx" }, "budget.xlsx"))
      const tests = yield* submit(newJob("terminal_exec", { command: "npm test -- --run" }, "workspace"))
      const bundle = yield* submit(newJob("debug_bundle_export", { include_payloads: false }, "incident-7"))
      yield* out.blank

      yield* out.heading(`5. Jobs run under Jobs.run: nodes recorded with input/output, a heartbeat every ${HEARTBEAT_TEXT}`)
      yield* runJob(out, summary, summarize)
      yield* runJob(out, sheet, transformSheet, "completed_with_issues")
      const failed = yield* runJob(out, tests, runTests)
      const cancelled = yield* jobs.cancel(bundle.job_id, { actor: "human", reason: "no longer needed" })
      yield* out.say(`${cancelled.job_kind.padEnd(19)} ${cancelled.state.padEnd(21)} by an operator, before it started`)
      yield* out.blank

      yield* out.heading("6. Timeline of this round")
      const round = [crashed.job, summary, sheet, tests, bundle]
      const current = yield* Effect.forEach(round, (job) => store.getJob(job.job_id))
      yield* out.block(jobsTable(current, out.width - 3))
      yield* out.blank
      const traces = [...round.map((job) => job.trace_id), denied.trace_id as AiJob["trace_id"]]
      const events = (yield* Effect.forEach(traces, (trace_id) => collectEvents({ trace_id }, 1000)))
        .flatMap((page) => page.items)
        .sort(byTime)
      yield* out.block(timeline(events, out.width - 3))
      yield* out.blank

      const total = yield* store.listJobs({ limit: 1000 })
      yield* out.heading("7. Inspect it yourself")
      yield* out.say(
        `Database: ${database.display} (${database.target.dialect}; ${total.items.length}${total.next_cursor === null ? "" : "+"} job(s) in total)`
      )
      if (database.target.dialect === "sqlite" && database.target.filename === ":memory:") {
        // No other command can open it: it is gone when this process ends.
        yield* out.say("It was in memory and is gone when the demo ends: run the demo on a file (ai-jobs demo) to inspect its jobs.")
      } else {
        yield* out.say("Try these (ai-jobs is this package's bin; in a checkout, npx tsx src/cli/main.ts instead):")
        for (const line of commandsHint(database, { job: summary, failed, denied: denied.trace_id })) yield* out.say(`  ${line}`, " ".repeat(7))
      }
    }).pipe(Effect.provide(services(Recovery.layerStartup())))
  })

const byTime = (a: StoredFlightEvent, b: StoredFlightEvent) => {
  const delta = DateTime.toEpochMillis(a.timestamp) - DateTime.toEpochMillis(b.timestamp)
  return delta !== 0 ? delta : a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0
}

/** Removes the demo database and its WAL files, so the tour starts from nothing. */
const freshDemoDatabase = Effect.sync(() => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(`${DEMO_DATABASE}${suffix}`, { force: true })
})

/** The `demo` command. */
export const demoCommand = Command.make("demo", {
  database: databaseOptionWith(
    `Run the tour on this database and add its jobs there: a SQLite file path, sqlite:<path>, or postgres://user:pass@host:port/db. ` +
      `Without it, the demo uses its own ${DEMO_DATABASE}, made fresh each time (never DATABASE_URL).`
  )
}, (options) =>
  Effect.scoped(Effect.gen(function*() {
    const given = Option.isSome(options.database)
    const database = yield* resolve(given ? options.database : Option.some(DEMO_DATABASE))
    const out = page(Math.min(outputWidth(), MAX_WIDTH))
    yield* out.heading(`ai-jobs demo — durable, auditable AI jobs on ${database.target.dialect === "pg" ? "PostgreSQL" : "SQLite"} (${database.display})`)
    if (!given && (process.env["DATABASE_URL"] ?? "") !== "") {
      yield* out.heading("(DATABASE_URL is not used by the demo: name a database with --database to run it there.)")
    }
    yield* out.blank
    yield* out.heading("1. Migrate")
    if (!given) yield* freshDemoDatabase
    // One store for the whole tour (also for :memory:); the services on top are built per "process".
    const store = yield* Layer.build(storeLayer(database, { migrate: true, create: true, inMemory: true })).pipe(withProgress("migrating"))
    yield* Effect.provide(migratedVersion(database), store)
    yield* out.say("The schema is up to date (fresh and legacy databases take the same migration path).")
    yield* out.blank
    // The tour tells what recovery did itself: its log line would only repeat it.
    yield* tour(out, database).pipe(Effect.provide(store), Logger.withMinimumLogLevel(LogLevel.Warning))
  }))).pipe(Command.withDescription(
    `A guided tour on a real database (its own ${DEMO_DATABASE} unless --database names one): crash, recovery, capabilities, runs, timeline.`
  ))
