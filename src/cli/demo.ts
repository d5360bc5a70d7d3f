/**
 * `ai-jobs demo` (what `npm start` runs): a tour of the library on a real
 * database — migrate, a crashed worker, startup recovery, capability checks,
 * runs with heartbeats and node history, success and failure — ending in a
 * timeline of jobs and Flight Recorder events. Each run adds a new round of
 * jobs, so it can be re-run on the same database.
 */
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Capabilities from "../Capabilities.js"
import type { AiJob } from "../domain/AiJob.js"
import type { StoredFlightEvent } from "../domain/LegacyFlightEvent.js"
import type { JobId } from "../domain/Ids.js"
import * as FlightRecorder from "../FlightRecorder.js"
import * as Jobs from "../Jobs.js"
import * as Recovery from "../Recovery.js"
import { JobStore } from "../store/JobStore.js"
import { databaseOption, type Database, DEFAULT_DATABASE, resolve, storeLayer } from "./database.js"
import { pastClock } from "./demo/pastClock.js"
import { newJob, runTests, summarize, transformSheet } from "./demo/jobs.js"
import { jobsTable, shortId, time, timeline } from "./format.js"
import { withProgress } from "./progress.js"
import { collectEvents } from "./queries.js"

/** How long ago the demo's crashed worker last beat: far beyond the 30 s threshold. */
const CRASH_AGO = "10 minutes"
/** Heartbeats while the demo's jobs run: short, so a sub-second job beats several times. */
const HEARTBEAT = "25 millis"

const say = (...lines: ReadonlyArray<string>) => Console.log(lines.join("\n"))
const indent = (text: string) => text.replace(/^/gm, "   ")

/** The services over the store in context, with the given recovery gate: one "process" of an application. */
const services = (gate: Layer.Layer<Recovery.RecoveryGate, never, JobStore | FlightRecorder.FlightRecorder>) =>
  Jobs.layer.pipe(
    Layer.provideMerge(gate),
    Layer.provideMerge(FlightRecorder.layer()),
    Layer.provideMerge(Capabilities.layerDefault)
  )

/** A process that claimed a job ten minutes ago and died mid-run: its run is still `running`, its heartbeat old. */
const crashedWorker = Effect.gen(function*() {
  const jobs = yield* Jobs.Jobs
  const job = yield* jobs.submit(newJob("doc_ingest", { path: "inbox/report.pdf" }, "report.pdf"))
  return yield* jobs.start(job.job_id)
}).pipe(Effect.withClock(pastClock(CRASH_AGO)), Effect.provide(services(Recovery.layerNoStartupRecovery)))

/** Starts a queued job and runs `program` under `Jobs.run`, then reports how its run ended. */
const runJob = <E>(job: AiJob, program: (context: Jobs.RunContext) => Effect.Effect<unknown, E, FlightRecorder.FlightRecorder>, onSuccess?: Jobs.SuccessState) =>
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
    const line = `${after.job_kind.padEnd(19)} ${after.state.padEnd(21)} run ${shortId(run.id)}: ${nodes.length} node(s) ` +
      `[${nodes.map((node) => `${node.node_id}:${node.status}`).join(" ")}], last heartbeat ${beatAfterMs} ms after start`
    yield* say(indent(line))
    if (outcome._tag === "Left") yield* say(indent(`   error recorded on the job: ${after.error_message ?? "(none)"}`))
    return after
  })

const commandsHint = (database: Database, examples: { readonly jobId: JobId; readonly failedId: JobId }) => {
  const db = database.target.dialect === "sqlite" && database.target.filename === DEFAULT_DATABASE
    ? ""
    : ` --database '${database.target.dialect === "sqlite" ? database.target.filename : database.display}'`
  return [
    `ai-jobs jobs list${db}`,
    `ai-jobs jobs list --state failed,stalled${db}`,
    `ai-jobs jobs show ${examples.jobId}${db}`,
    `ai-jobs events --job ${examples.failedId}${db}`,
    `ai-jobs events --type workflow_recovery --json${db}`,
    `ai-jobs recover --threshold 30${db}`,
    `ai-jobs prune --older-than 30d --keep 100 --dry-run${db}`,
    `ai-jobs retention --older-than 7d${db}`
  ]
}

const tour = (database: Database) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    yield* say(`2. A worker crashes`)
    const crashed = yield* crashedWorker
    yield* say(indent([
      `A worker claimed job ${crashed.job.job_id} (${crashed.job.job_kind}) ${CRASH_AGO} ago, then its process died.`,
      `Its run ${crashed.run.id} is still ${crashed.run.status}, last heartbeat ${time(crashed.run.last_heartbeat)}.`
    ].join("\n")), "")

    return yield* Effect.gen(function*() {
      const jobs = yield* Jobs.Jobs
      const gate = yield* Recovery.RecoveryGate
      yield* say("3. The application starts: startup recovery runs first (no job is accepted until it ends)")
      const report = yield* gate.result
      yield* say(indent(`Recovered ${report.recovered.length} run(s) silent for more than ${report.thresholdSecs}s:`))
      const recovery = yield* collectEvents({ job_id: crashed.job.job_id, types: ["workflow_recovery"] }, 10)
      yield* say(indent(timeline(recovery.items)))
      const resumed = yield* jobs.resume(crashed.job.job_id, { actor: "human", reason: "operator resumed after the crash" })
      yield* jobs.run(crashed.job.job_id, (context) =>
        context.node({ node_id: "ingest", node_type: "fetch", input: { path: "inbox/report.pdf" } }, Effect.as(Effect.sleep("60 millis"), { pages: 12 })),
        { heartbeatInterval: HEARTBEAT })
      yield* say(indent(`An operator resumed it under a new workflow run ${resumed.run.id}; it ran to ${(yield* store.getJob(crashed.job.job_id)).state}.`), "")

      yield* say("4. Jobs are submitted; the capability policy picks each job's profile before anything is queued")
      const submit = (input: ReturnType<typeof newJob>) =>
        jobs.submit(input).pipe(
          Effect.tap((job) => say(indent(`queued   ${job.job_kind.padEnd(19)} ${job.capability_profile_id.padEnd(8)} ${job.job_id}`)))
        )
      const summary = yield* submit(newJob("doc_summarize", { document: "plans/q3.md", style: "bullets" }, "plans/q3.md"))
      // A caller may ask for a narrower profile, never a wider one: this summary asks for Coder to run commands.
      const denied = { ...newJob("doc_summarize", { document: "plans/q3.md", then: "rm -rf build" }, "plans/q3.md"), capability_profile_id: "Coder" }
      yield* jobs.submit(denied).pipe(
        Effect.flatMap(() => Effect.dieMessage("a summary job was allowed to escalate to the Coder profile")),
        Effect.catchTag("EscalationDenied", (error) =>
          say(indent(`DENIED   ${"doc_summarize".padEnd(19)} ${"Coder".padEnd(8)} ${error._tag}: ${error.message}`)))
      )
      const sheet = yield* submit(newJob("sheet_transform", { sheet: "budget.xlsx" }, "budget.xlsx"))
      const tests = yield* submit(newJob("terminal_exec", { command: "npm test -- --run" }, "workspace"))
      const bundle = yield* submit(newJob("debug_bundle_export", { include_payloads: false }, "incident-7"))
      yield* say("")

      yield* say(`5. Jobs run under Jobs.run: nodes recorded with input/output, a heartbeat every ${HEARTBEAT}`)
      yield* runJob(summary, summarize)
      yield* runJob(sheet, transformSheet, "completed_with_issues")
      const failed = yield* runJob(tests, runTests)
      const cancelled = yield* jobs.cancel(bundle.job_id, { actor: "human", reason: "no longer needed" })
      yield* say(indent(`${cancelled.job_kind.padEnd(19)} ${cancelled.state.padEnd(21)} by an operator, before it started`), "")

      yield* say("6. Timeline of this round")
      const round = [crashed.job, summary, sheet, tests, bundle]
      const current = yield* Effect.forEach(round, (job) => store.getJob(job.job_id))
      yield* say(indent(jobsTable(current)), "")
      const traces = [...round.map((job) => job.trace_id), denied.trace_id as AiJob["trace_id"]]
      const events = (yield* Effect.forEach(traces, (trace_id) => collectEvents({ trace_id }, 1000)))
        .flatMap((page) => page.items)
        .sort(byTime)
      yield* say(indent(timeline(events)), "")

      const total = yield* store.listJobs({ limit: 1000 })
      yield* say(
        "7. Inspect it yourself",
        indent([
          `Database: ${database.display} (${database.target.dialect}; ${total.items.length}${total.next_cursor === null ? "" : "+"} job(s) in total)`,
          "Commands (ai-jobs is this package's bin; from a checkout: npx tsx src/cli/main.ts <command>):",
          ...commandsHint(database, { jobId: summary.job_id, failedId: failed.job_id }).map((line) => `  ${line}`)
        ].join("\n"))
      )
    }).pipe(Effect.provide(services(Recovery.layerStartup())))
  })

const byTime = (a: StoredFlightEvent, b: StoredFlightEvent) => {
  const delta = DateTime.toEpochMillis(a.timestamp) - DateTime.toEpochMillis(b.timestamp)
  return delta !== 0 ? delta : a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0
}

/** The `demo` command. */
export const demoCommand = Command.make("demo", { database: databaseOption }, (options) =>
  Effect.scoped(Effect.gen(function*() {
    const database = yield* resolve(options.database)
    yield* say(`ai-jobs demo — durable, auditable AI jobs on ${database.target.dialect === "pg" ? "PostgreSQL" : "SQLite"} (${database.display})`, "")
    yield* say("1. Migrate")
    // One store for the whole tour (also for :memory:); the services on top are built per "process".
    const store = yield* Layer.build(storeLayer(database, { migrate: true, create: true })).pipe(withProgress("migrating"))
    yield* say(indent("The schema is up to date (fresh and legacy databases take the same migration path)."), "")
    yield* tour(database).pipe(Effect.provide(store))
  }))).pipe(Command.withDescription("A guided tour on a real database (default ./data/handshake.db): crash, recovery, capabilities, runs, timeline."))
