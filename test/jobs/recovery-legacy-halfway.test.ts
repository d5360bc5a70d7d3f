/**
 * R9 and R16a on a reference database its own code left half-moved (found by
 * an outside probe). The reference's recovery (`mark_stalled_workflows`)
 * writes the run, then the job, then the event, each on its own, and its
 * finaliser writes the job's status before the run's: a crash between them
 * leaves a job and its run disagreeing (SPEC "Known weaknesses").
 *
 * - JOB_RUNNING: the run already `stalled`, the job still `running` (a crash
 *   inside the reference's recovery). No scan of running runs found it and no
 *   worker claims a running job: it stayed running for ever, with no event.
 * - JOB_COMPLETED: the job `completed`, its run still `running` (a crash inside
 *   the finaliser). Recovery stalled the run with an event naming the job,
 *   running → stalled, while the job stayed completed.
 * - JOB_QUEUED: the job `queued`, a run of it `running` (the reference's own
 *   `test_mark_stalled_workflows` set-up). The same untrue event.
 *
 * Opened with the store's layer (it migrates) and `Recovery.layerStartup`.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { JobId, TraceId } from "../../src/domain/Ids.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore as JobStoreTag, type JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { buildReferencePg, referenceIds, writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { tempDatabaseFile } from "../store/sqlite-support.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { runCli } from "../cli/cli.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep } from "./shared-database.js"

const JOB_COMPLETED = "01940000-0000-7000-8000-00000000000a"
const RUN_COMPLETED = "01940000-0000-7000-8000-0000000000a1"
const JOB_RUNNING = "01940000-0000-7000-8000-00000000000b"
const RUN_RUNNING = "01940000-0000-7000-8000-0000000000b1"
const JOB_QUEUED = "01940000-0000-7000-8000-00000000000c"
const RUN_QUEUED = "01940000-0000-7000-8000-0000000000c1"
const trace = (job: string) => `01940000-0000-7000-8000-0000000000f${job.slice(-1)}`

/** The three half-moved jobs and their runs, written as the reference writes rows, beside its fixture's. */
const writeHalfway = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const job = (id: string, status: string, run: string) =>
    sql.unsafe(`INSERT INTO ai_jobs (id, trace_id, workflow_run_id, job_kind, status, status_reason, protocol_id, profile_id,
      capability_profile_id, access_mode, safety_mode, created_at, updated_at)
      VALUES ('${id}', '${trace(id)}', '${run}', 'doc_summarize', '${status}', '${status}', 'p', 'alice', 'Analyst',
      'analysis_only', 'normal', '2026-01-10 08:00:00', '2026-01-10 08:00:05')`)
  yield* job(JOB_COMPLETED, "completed", RUN_COMPLETED)
  yield* job(JOB_RUNNING, "running", RUN_RUNNING)
  yield* job(JOB_QUEUED, "queued", RUN_QUEUED)
  yield* sql.unsafe(`INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at) VALUES
    ('${RUN_COMPLETED}', '${JOB_COMPLETED}', 'running', '2026-01-10 08:00:04', '2026-01-10 08:00:01', '2026-01-10 08:00:04'),
    ('${RUN_RUNNING}', '${JOB_RUNNING}', 'stalled', '2026-01-10 08:00:04', '2026-01-10 08:00:01', '2026-01-10 08:10:00'),
    ('${RUN_QUEUED}', '${JOB_QUEUED}', 'running', '2026-01-10 08:00:04', '2026-01-10 08:00:01', '2026-01-10 08:00:04')`)
})

/** A reference database with the half-moved rows; `open` makes a store on it (one per process). */
interface Legacy {
  readonly open: () => Layer.Layer<JobStore, unknown>
  /** What the CLI's `--database` takes for it. */
  readonly address: string
}

const backends: ReadonlyArray<{ readonly name: string; readonly legacy: Effect.Effect<Legacy, unknown, Scope.Scope> }> = [
  {
    name: "SQLite file",
    legacy: Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      yield* Effect.provide(writeHalfway, SqliteClient.layer({ filename, disableWAL: true }))
      return { open: () => SqliteStore.layer({ filename }), address: filename }
    })
  },
  {
    name: "PostgreSQL",
    legacy: Effect.gen(function*() {
      const url = yield* freshPgDatabase("legacy halfway recovery")
      yield* Effect.provide(Effect.zipRight(buildReferencePg, writeHalfway), rawPgClient(url))
      return { open: () => PgStore.layer({ url }), address: url }
    })
  }
]

/** Jobs with startup recovery on a store of `legacy`, built in the current scope. */
const startProcess = (legacy: Legacy) =>
  Effect.map(Layer.build(services(legacy.open(), Recovery.layerStartup())), (context) => ({
    jobs: Context.get(context, Jobs.Jobs),
    recorder: Context.get(context, FlightRecorder.FlightRecorder)
  }))

type Process = Effect.Effect.Success<ReturnType<typeof startProcess>>

/** The job's state and the recovery events of its trace: type, job, run, states. */
const observe = ({ jobs, recorder }: Process, job: string) =>
  Effect.gen(function*() {
    const state = (yield* jobs.get(job as JobId)).state
    const events = (yield* recorder.list({ trace_id: trace(job) as TraceId })).items as ReadonlyArray<Record<string, unknown>>
    const recoveries = events
      .filter((event) => event["type"] === "workflow_recovery")
      .map((event) => ({
        job_id: event["job_id"],
        workflow_run_id: event["workflow_run_id"],
        from: event["from_state"],
        to: event["to_state"],
        actor: event["actor"]
      }))
    const lifecycle = events.filter((event) => event["job_id"] === job && "to_state" in event).map((event) => event["to_state"])
    return { state, recoveries, lifecycle }
  })

for (const backend of backends) {
  describe(`a reference database left half-moved, on ${backend.name}`, () => {
    it.scopedLive("R9 R16a a job the reference left running under the run its recovery stalled ends stalled, with one workflow_recovery event, before any new job is accepted; it resumes", () =>
      Effect.gen(function*() {
        const process = yield* startProcess(yield* backend.legacy)
        // Waits for startup recovery (R9: no new job before the scan has finished).
        yield* process.jobs.submit(summarize())
        const seen = yield* observe(process, JOB_RUNNING)
        assert.strictEqual(seen.state, "stalled")
        assert.deepStrictEqual(seen.recoveries, [
          { job_id: JOB_RUNNING, workflow_run_id: RUN_RUNNING, from: "running", to: "stalled", actor: "system" }
        ])
        // The job's state is the to_state of its last lifecycle event.
        assert.strictEqual(seen.lifecycle.at(-1), "stalled")
        // Resumable, as a job startup recovery stalled.
        assert.strictEqual((yield* process.jobs.resume(JOB_RUNNING as JobId)).job.state, "running")
        // The fixture's own running job, whose run is stale, is recovered as before.
        const router = yield* process.jobs.get(referenceIds.jobs.routerRunning as JobId)
        assert.strictEqual(router.state, "stalled")
      }), 60_000)

    it.scopedLive("R9 a stale run whose reference job already completed, or is still queued, is stalled alone: its workflow_recovery names the run, not the job, which keeps its state", () =>
      Effect.gen(function*() {
        const process = yield* startProcess(yield* backend.legacy)
        yield* process.jobs.submit(summarize())
        for (const [job, run, state] of [[JOB_COMPLETED, RUN_COMPLETED, "completed"], [JOB_QUEUED, RUN_QUEUED, "queued"]] as const) {
          const seen = yield* observe(process, job)
          assert.strictEqual(seen.state, state, job)
          // The run's event says the run stalled; it claims no move of the job.
          assert.deepStrictEqual(seen.recoveries, [{ job_id: undefined, workflow_run_id: run, from: "running", to: "stalled", actor: "system" }], job)
          assert.notInclude(seen.lifecycle, "stalled", job)
          const runs = (yield* process.jobs.history(job as JobId)).runs.map(({ run }) => [run.id, run.status])
          assert.deepStrictEqual(runs, [[run, "stalled"]], job)
        }
        // The queued job is still claimable: it starts under a new run.
        const started = yield* process.jobs.start(JOB_QUEUED as JobId)
        assert.strictEqual(started.job.state, "running")
        assert.notStrictEqual(started.run.id, RUN_QUEUED)
      }), 60_000)

    it.scopedLive("R9 R10 ai-jobs jobs show lists a run-only workflow_recovery with the job whose run it names, in recorded order", () =>
      Effect.gen(function*() {
        const legacy = yield* backend.legacy
        const process = yield* startProcess(legacy)
        yield* process.jobs.submit(summarize())
        const shown = yield* Effect.promise(() => runCli(["jobs", "show", JOB_COMPLETED, "--json", "--database", legacy.address]))
        assert.strictEqual(shown.code, 0, shown.stderr)
        const events = (JSON.parse(shown.stdout) as { readonly events: ReadonlyArray<Record<string, unknown>> }).events
        const recoveries = events.filter((event) => event["type"] === "workflow_recovery")
        assert.deepStrictEqual(recoveries.map((event) => [event["job_id"], event["workflow_run_id"]]), [[undefined, RUN_COMPLETED]])
        const stamps = events.map((event) => `${String(event["timestamp"])} ${String(event["event_id"])}`)
        assert.deepStrictEqual(stamps, [...stamps].sort())
      }), 90_000)

    it.scopedLive("R9 three processes starting at once on the half-moved database: each stall and its event written once", () =>
      Effect.gen(function*() {
        const legacy = yield* backend.legacy
        const processes = yield* Effect.all([startProcess(legacy), startProcess(legacy), startProcess(legacy)], { concurrency: "unbounded" })
        yield* Effect.forEach(processes, ({ jobs }) => jobs.submit(summarize()), { concurrency: "unbounded", discard: true })
        const [first] = processes
        const running = yield* observe(first!, JOB_RUNNING)
        assert.strictEqual(running.state, "stalled")
        assert.strictEqual(running.recoveries.length, 1)
        for (const job of [JOB_COMPLETED, JOB_QUEUED]) assert.strictEqual((yield* observe(first!, job)).recoveries.length, 1, job)
      }), 60_000)

    it.scopedLive("R9 two recoverers racing on the half-moved job: the second waits for the first, then finds it stalled and moves nothing", () =>
      Effect.gen(function*() {
        const legacy = yield* backend.legacy
        const a = Context.get(yield* Layer.build(legacy.open()), JobStoreTag)
        const b = Context.get(yield* Layer.build(legacy.open()), JobStoreTag)
        const threshold = Duration.seconds(30)
        const firstHolds = yield* Deferred.make<void>()
        // The first recoverer's move is written and held, uncommitted, while the second starts.
        const first = yield* Effect.fork(a.transaction(Effect.zipLeft(
          a.stallJobsUnderStalledRuns!({ threshold }),
          Effect.zipRight(Deferred.succeed(firstHolds, undefined), realSleep(300))
        )))
        yield* Deferred.await(firstHolds)
        const second = yield* b.stallJobsUnderStalledRuns!({ threshold })
        const moved = yield* Fiber.join(first)
        assert.deepStrictEqual(moved.map(({ run }) => run.id), [RUN_RUNNING])
        assert.deepStrictEqual(second, [])
        const events = (yield* b.listEvents({ job_id: JOB_RUNNING as JobId })).items.filter((event) => event.type === "workflow_recovery")
        assert.strictEqual(events.length, 1)
        assert.strictEqual((yield* b.getJob(JOB_RUNNING as JobId)).state, "stalled")
      }), 60_000)
  })
}
