/**
 * R16a: a legacy job whose run pointer names no run (the reference schema
 * never enforces it) upgrades with the pointer cleared, the rest of its row
 * intact, and a `system` event of the job saying so — on SQLite and
 * PostgreSQL alike (internal/legacyReferences.ts). A twin of a legacy job is
 * added before the upgrade, the same row but its id and a pointer to no run;
 * after it, the twin must read as its original does, and carry the event.
 * A pointer to another job's run is cleared the same way; ids differing from
 * the row they name in case alone name it, on both stores. A running job's
 * pointer names its one running run instead, or the job is stalled by the
 * upgrade: none stays running with no run that recovery could move it with —
 * nor does a running job whose pointer was empty all along, or named a run of
 * its own that had ended. Each upgrade event carries the job's attempt.
 */
import { assert } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { AiJob } from "../../src/domain/AiJob.js"
import { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "../jobs/services.js"

/** The twin's id, and the run its pointer names, which is not there (upper case: any legacy text is kept as written). */
export const danglingTwin = {
  job: "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed00d",
  run: "DDDDDDDD-DDDD-4DDD-8DDD-DDDDDDDDDDDD"
} as const

/**
 * Adds to the legacy `ai_jobs` behind the client a copy of job `of` with the
 * twin's id and `pointer`: by default the dangling one, null for none.
 */
export const insertDanglingTwin = (of: string, pointer: string | null = danglingTwin.run) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TEMP TABLE twin AS SELECT * FROM ai_jobs WHERE id = ${of}`,
      sql`UPDATE twin SET id = ${danglingTwin.job}, workflow_run_id = ${pointer}`,
      sql`INSERT INTO ai_jobs SELECT * FROM twin`,
      sql`DROP TABLE twin`
    ], { discard: true }))

const encodeJob = Schema.encodeSync(AiJob)

/** Reads the upgraded twin and its original `of` through the store: the same job but for its id and pointer, and its one event. */
export const expectClearedTwin = (of: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const original = encodeJob(yield* store.getJob(JobId.make(of)))
    const twin = encodeJob(yield* store.getJob(JobId.make(danglingTwin.job)))
    assert.isNull(original.workflow_run_id, "the original had no run pointer")
    assert.isNull(twin.workflow_run_id, "the pointer to no run is cleared")
    assert.deepStrictEqual({ ...twin, job_id: of }, original, "the rest of the row is kept")
    const events = (yield* store.listEvents({ job_id: JobId.make(danglingTwin.job) })).items
    assert.strictEqual(events.length, 1, "one event records the repair")
    const [event] = events
    assert.deepStrictEqual([event?.type, event?.actor, event?.trace_id, event?.workflow_run_id], ["system", "system", twin.trace_id, null])
    const body = event?.body as Record<string, unknown>
    assert.deepStrictEqual([body.from_state, body.to_state], [twin.state, twin.state], "the job did not move")
    assert.strictEqual(body.attempt, twin.attempt, "it carries the attempt the job is on")
    assert.include(body.reason, `"${danglingTwin.run}"`, "the reason names the run it named")
    assert.include(body.reason, "cleared")
    assert.strictEqual((yield* store.listEvents({ job_id: JobId.make(of) })).items.length, 0, "no other job is said to be repaired")
  })

/** A legacy job and its own run, which its pointer names and node executions name. */
export interface OwnRun {
  readonly job: string
  readonly run: string
}

/** The legacy PostgreSQL fixture's foreign keys, which the reference's own schema does not have, dropped so raw ids may differ. */
const dropFixtureForeignKeys = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql`ALTER TABLE workflow_runs DROP CONSTRAINT IF EXISTS workflow_runs_job_id_fkey`,
        sql`ALTER TABLE workflow_node_executions DROP CONSTRAINT IF EXISTS workflow_node_executions_workflow_run_id_fkey`
      ),
    orElse: () => Effect.void
  }))

/** A legacy change, named, made with the fixture's foreign keys dropped. */
const caseTweak = <E>(what: string, change: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, E>) =>
  [what, Effect.zipRight(dropFixtureForeignKeys, Effect.flatMap(SqlClient.SqlClient, change))] as const

/** Each reference between `own`'s job, run and nodes written in upper case on one side (the reference's ids are UUID text). */
export const caseOnlyTweaks = ({ job, run }: OwnRun) => [
  caseTweak("the job's run pointer", (sql) => sql`UPDATE ai_jobs SET workflow_run_id = upper(workflow_run_id) WHERE id = ${job}`),
  caseTweak("the job's own id", (sql) => sql`UPDATE ai_jobs SET id = upper(id) WHERE id = ${job}`),
  caseTweak("its run's job id", (sql) => sql`UPDATE workflow_runs SET job_id = upper(job_id) WHERE id = ${run}`),
  caseTweak(
    "its run's node executions' run id",
    (sql) => sql`UPDATE workflow_node_executions SET workflow_run_id = upper(workflow_run_id) WHERE workflow_run_id = ${run}`
  )
]

/** After the upgrade, `own`'s job, run and nodes still name each other, and no repair is claimed. */
export const expectOwnRunKept = ({ job, run }: OwnRun) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    assert.strictEqual<string | null>((yield* store.getJob(JobId.make(job))).workflow_run_id, run, "the pointer still names its own run")
    assert.strictEqual<string>((yield* store.getRun(WorkflowRunId.make(run))).job_id, job, "the run is still its job's")
    assert.isNotEmpty(yield* store.listNodes(WorkflowRunId.make(run)), "the run's node executions are still its")
    assert.deepStrictEqual((yield* store.listEvents({ job_id: JobId.make(job) })).items, [], "no repair is claimed")
  })

/** Two running legacy jobs, each under its own stale run, and an instant at which both runs are stale. */
export interface RunningPair {
  readonly job: string
  readonly run: string
  readonly other: string
  readonly otherRun: string
  readonly allStaleAt: number
}

/** Points `pair.job` at the other job's run, as the reference could leave it. */
export const pointAtOthersRun = (pair: RunningPair) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE ai_jobs SET workflow_run_id = ${pair.otherRun} WHERE id = ${pair.job}`)

/**
 * Running legacy jobs whose pointers name no run of their own: `pair.job`
 * (whose one running run is `pair.run`) and its twin (no run at all), made
 * so by `tweak`; and what each one's upgrade event says its pointer named.
 */
export interface BrokenPointers {
  readonly tweak: Effect.Effect<unknown, SqlError, SqlClient.SqlClient>
  readonly jobNamed: string
  readonly twinNamed: string
}

/** `pointAtOthersRun`, and a running twin of `pair.job` with no run of its own, pointing at no run. */
export const crossAndOrphanPointers = (pair: RunningPair): BrokenPointers => ({
  tweak: Effect.zipRight(insertDanglingTwin(pair.job), pointAtOthersRun(pair)),
  jobNamed: `workflow run "${pair.otherRun}", which is job "${pair.other}"'s run, not this job's`,
  twinNamed: `workflow run "${danglingTwin.run}", which is not in workflow_runs`
})

/** What the upgrade event of a running job whose pointer was empty says. */
const EMPTY_POINTER = "this job was running with an empty workflow_run_id"

/**
 * `pair.job` running with its pointer empty all along (its run is there), and
 * its twin so with no run at all: `empty` is NULL, or '' (which 0002 makes NULL).
 */
export const emptyPointers = (pair: RunningPair, empty: null | "" = null): BrokenPointers => ({
  tweak: Effect.zipRight(
    insertDanglingTwin(pair.job, empty),
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE ai_jobs SET workflow_run_id = ${empty} WHERE id = ${pair.job}`)
  ),
  jobNamed: EMPTY_POINTER,
  twinNamed: EMPTY_POINTER
})

/** Adds to the legacy `workflow_runs` a copy of run `of` with id `id`, job `job` and status `status`. */
const copyRun = (of: string, to: { readonly id: string; readonly job: string; readonly status: string }) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TEMP TABLE run_copy AS SELECT * FROM workflow_runs WHERE id = ${of}`,
      sql`UPDATE run_copy SET id = ${to.id}, job_id = ${to.job}, status = ${to.status}`,
      sql`INSERT INTO workflow_runs SELECT * FROM run_copy`,
      sql`DROP TABLE run_copy`
    ], { discard: true }))

/** Runs of `pair.job` and its twin that had ended (copies of `pair.run`, `completed`), which their pointers name. */
const endedRuns = { job: "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed0c1", twin: "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed0c2" } as const

/** What the upgrade event of a running job whose pointer named its own ended run `run` says. */
const endedOwnRun = (run: string) => `workflow run "${run}", its own run, which is "completed", not running`

/**
 * `pair.job` running, its pointer naming a run of its own that had ended
 * while `pair.run` runs; its twin so, with no run running at all.
 */
export const endedOwnPointers = (pair: RunningPair): BrokenPointers => ({
  tweak: Effect.all([
    insertDanglingTwin(pair.job, endedRuns.twin),
    copyRun(pair.run, { id: endedRuns.twin, job: danglingTwin.job, status: "completed" }),
    copyRun(pair.run, { id: endedRuns.job, job: pair.job, status: "completed" }),
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE ai_jobs SET workflow_run_id = ${endedRuns.job} WHERE id = ${pair.job}`)
  ], { discard: true }),
  jobNamed: endedOwnRun(endedRuns.job),
  twinNamed: endedOwnRun(endedRuns.twin)
})

/** The twin's two runs, copies of `pair.run`: both running, so neither says which one the twin ran under. */
const twinRuns = ["0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed0a1", "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed0a2"] as const

/** A running twin of `pair.job` with `pointer` (by default one to no run; null: none), and two running runs of its own. */
export const orphanWithTwoRunningRuns = (pair: RunningPair, pointer: string | null = danglingTwin.run) =>
  Effect.zipRight(
    insertDanglingTwin(pair.job, pointer),
    Effect.forEach(twinRuns, (id) => copyRun(pair.run, { id, job: danglingTwin.job, status: "running" }), { discard: true })
  )

/**
 * After the upgrade of `orphanWithTwoRunningRuns`: no run is guessed, the
 * twin is stalled by the upgrade, with its event; recovery then stalls its
 * two runs alone (their events name no job) and never moves the twin again;
 * the twin resumes.
 */
export const expectAmbiguousTwinStalled = (pair: RunningPair) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const twin = yield* store.getJob(JobId.make(danglingTwin.job))
    assert.deepStrictEqual([twin.state, twin.workflow_run_id], ["stalled", null], "two running runs: no pointer is guessed, the job is stalled")
    const stalled = yield* upgradeEvent(danglingTwin.job, null)
    assert.deepStrictEqual(stalled.states, ["running", "stalled"])
    assert.include(stalled.reason, "or several are")
    yield* TestClock.setTime(pair.allStaleAt)
    const { recovered } = yield* Recovery.recoverStalledRuns({ threshold: "30 seconds" })
    assert.includeMembers<string>(recovered.map((run) => run.id), [...twinRuns])
    const recoveries = (yield* store.listEvents({ types: ["workflow_recovery"], limit: 100 })).items
    const ofTwin = recoveries.filter((record) => twinRuns.some((run) => run === record.workflow_run_id))
    assert.deepStrictEqual(ofTwin.map((record) => record.job_id), [null, null], "each run stalled alone, recorded once")
    assert.strictEqual((yield* store.listEvents({ job_id: JobId.make(danglingTwin.job) })).items.length, 1, "the twin moved once")
    yield* expectResumed(store, [danglingTwin.job], twinRuns)
  })

/** Each of `jobs`, stalled, resumes under a new run, none of `oldRuns`. */
const expectResumed = (store: JobStore["Type"], jobs: ReadonlyArray<string>, oldRuns: ReadonlyArray<string>) =>
  Effect.provide(Effect.forEach(jobs, (id) =>
    Effect.gen(function*() {
      const resumed = yield* (yield* Jobs.Jobs).resume(JobId.make(id))
      assert.strictEqual(resumed.job.state, "running", id)
      assert.strictEqual<string | null>(resumed.job.workflow_run_id, resumed.run.id, "resumed under a new run")
      assert.notInclude<string>(oldRuns, resumed.run.id)
    }), { discard: true }), services(Layer.succeed(JobStore, store)))

/**
 * The job's one event, of the upgrade: a `system` event naming `run` (or no
 * run) and the attempt the job is on; its body's states and reason.
 */
const upgradeEvent = (job: string, run: string | null) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const [event, ...more] = (yield* store.listEvents({ job_id: JobId.make(job) })).items
    assert.deepStrictEqual(more, [], "one event records the repair")
    assert.deepStrictEqual([event?.type, event?.actor, event?.workflow_run_id], ["system", "system", run])
    const body = event?.body as Record<string, unknown>
    assert.strictEqual(body.attempt, (yield* store.getJob(JobId.make(job))).attempt, "it carries the attempt the job is on")
    return { states: [body.from_state, body.to_state], reason: String(body.reason) }
  })

/**
 * After the upgrade of `broken` (`crossAndOrphanPointers`, `emptyPointers`, `endedOwnPointers`):
 * `pair.job`, running, points at its own running run, with one `system`
 * event saying so and what its pointer named; its twin, running with no run
 * of its own, was stalled (its pointer cleared), with one event saying why;
 * the other job is untouched. Then startup recovery stalls each job with its
 * own run, one `workflow_recovery` naming both, exactly once (a second
 * recovery writes nothing); and both stalled jobs resume.
 */
export const expectRunningPointersSettled = (pair: RunningPair, broken: BrokenPointers) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const job = yield* store.getJob(JobId.make(pair.job))
    assert.deepStrictEqual([job.state, job.workflow_run_id], ["running", pair.run], "the pointer names the job's own running run")
    const repointed = yield* upgradeEvent(pair.job, pair.run)
    assert.deepStrictEqual(repointed.states, ["running", "running"], "the job did not move")
    assert.include(repointed.reason, broken.jobNamed)
    assert.include(repointed.reason, `now names workflow run "${pair.run}", this job's one run still running`)
    const twin = yield* store.getJob(JobId.make(danglingTwin.job))
    assert.deepStrictEqual([twin.state, twin.workflow_run_id], ["stalled", null], "running under no run of its own, the twin is stalled")
    const stalled = yield* upgradeEvent(danglingTwin.job, null)
    assert.deepStrictEqual(stalled.states, ["running", "stalled"], "its event records the move")
    assert.include(stalled.reason, broken.twinNamed)
    assert.include(stalled.reason, "moved to stalled")
    const other = yield* store.getJob(JobId.make(pair.other))
    assert.deepStrictEqual([other.state, other.workflow_run_id], ["running", pair.otherRun], "the other job keeps its own run")
    assert.deepStrictEqual((yield* store.listEvents({ job_id: JobId.make(pair.other) })).items, [])

    yield* TestClock.setTime(pair.allStaleAt)
    const { recovered } = yield* Recovery.recoverStalledRuns({ threshold: "30 seconds" })
    const recoveries = (yield* store.listEvents({ types: ["workflow_recovery"], limit: 100 })).items
    const ownerOf = new Map(recovered.map((run): [string, string] => [run.id, run.job_id]))
    assert.includeMembers([...ownerOf.keys()], [pair.run, pair.otherRun])
    assert.sameMembers(recoveries.map((record) => record.workflow_run_id ?? ""), [...ownerOf.keys()], "one workflow_recovery per stalled run")
    for (const record of recoveries) {
      if (record.job_id !== null) assert.strictEqual<string | undefined>(record.job_id, ownerOf.get(record.workflow_run_id ?? ""), "a job moves only with its own run")
    }
    for (const [id, run] of [[pair.job, pair.run], [pair.other, pair.otherRun]] as const) {
      assert.strictEqual((yield* store.getJob(JobId.make(id))).state, "stalled", id)
      const moved = recoveries.filter((record) => record.job_id === id).map((record) => record.workflow_run_id)
      assert.deepStrictEqual<ReadonlyArray<string | null>>(moved, [run], `${id} moved with its own run, recorded once`)
    }
    assert.isUndefined(recoveries.find((record) => record.job_id === danglingTwin.job), "the upgrade, not recovery, stalled the twin")

    const everything = (yield* store.listEvents({ limit: 1000 })).items
    assert.deepStrictEqual((yield* Recovery.recoverStalledRuns({ threshold: "30 seconds" })).recovered, [], "a second recovery finds nothing")
    assert.deepStrictEqual((yield* store.listEvents({ limit: 1000 })).items, everything, "and writes nothing")

    yield* expectResumed(store, [pair.job, danglingTwin.job], [pair.run])
  })
