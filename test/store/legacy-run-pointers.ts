/**
 * R16a: a legacy job whose run pointer names no run (the reference schema
 * never enforces it) upgrades with the pointer cleared, the rest of its row
 * intact, and a `system` event of the job saying so — on SQLite and
 * PostgreSQL alike (internal/legacyReferences.ts). A twin of a legacy job is
 * added before the upgrade, the same row but its id and a pointer to no run;
 * after it, the twin must read as its original does, and carry the event.
 * A pointer to another job's run is cleared the same way; ids differing from
 * the row they name in case alone name it, on both stores.
 */
import { assert } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { AiJob } from "../../src/domain/AiJob.js"
import { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"

/** The twin's id, and the run its pointer names, which is not there (upper case: any legacy text is kept as written). */
export const danglingTwin = {
  job: "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1ed00d",
  run: "DDDDDDDD-DDDD-4DDD-8DDD-DDDDDDDDDDDD"
} as const

/** Adds to the legacy `ai_jobs` behind the client a copy of job `of` with the twin's id and dangling pointer. */
export const insertDanglingTwin = (of: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TEMP TABLE twin AS SELECT * FROM ai_jobs WHERE id = ${of}`,
      sql`UPDATE twin SET id = ${danglingTwin.job}, workflow_run_id = ${danglingTwin.run}`,
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
 * After the upgrade: the pointer to the other job's run is cleared, with one
 * `system` event naming that run and its job; the other job is untouched.
 * Then startup recovery stalls each stale run once, with one
 * `workflow_recovery` each, and moves a job only with its own run.
 */
export const expectCrossPointerCleared = (pair: RunningPair) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const job = yield* store.getJob(JobId.make(pair.job))
    assert.deepStrictEqual([job.state, job.workflow_run_id], ["running", null], "the pointer to another job's run is cleared")
    const [event, ...more] = (yield* store.listEvents({ job_id: JobId.make(pair.job) })).items
    assert.deepStrictEqual(more, [], "one event records the repair")
    assert.deepStrictEqual([event?.type, event?.actor, event?.workflow_run_id], ["system", "system", null])
    const body = event?.body as Record<string, unknown>
    assert.deepStrictEqual([body.from_state, body.to_state], ["running", "running"], "the job did not move")
    assert.include(body.reason, `workflow run "${pair.otherRun}", which is job "${pair.other}"'s run, not this job's`)
    assert.include(body.reason, "cleared")
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
    assert.strictEqual((yield* store.getJob(JobId.make(pair.other))).state, "stalled")
    const otherRecord = recoveries.find((record) => record.workflow_run_id === pair.otherRun)
    assert.strictEqual<string | null | undefined>(otherRecord?.job_id, pair.other, "the other job moved with its run, recorded")
    // Its pointer cleared, the job runs under no run: no run's recovery moves it, nor records it moved.
    assert.strictEqual((yield* store.getJob(JobId.make(pair.job))).state, "running")
    assert.isUndefined(recoveries.find((record) => record.job_id === pair.job))
  })
