/**
 * R16 / R16a on SQLite: a database written by the reference implementation
 * upgrades in place through the same migrations a fresh database runs.
 * The legacy file is built from the spec's column list by
 * test/fixtures/legacySqlite.ts, not from our migration 0001.
 */
import { assert, describe, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { AiJob } from "../../src/domain/AiJob.js"
import { JobId, NodeExecutionId, WorkflowRunId } from "../../src/domain/Ids.js"
import { JobStates } from "../../src/domain/JobState.js"
import { NodeExecution, WorkflowRun } from "../../src/domain/WorkflowRun.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import {
  legacyCounts,
  legacyHeartbeats,
  legacyIds,
  type LegacyTweak,
  writeLegacyDatabase
} from "../fixtures/legacySqlite.js"
import { expectTag, failureOf, staleBefore, staleOptions } from "./fixtures.js"
import { expectLegacyInstants, insertLegacyInstantCases } from "./legacy-instants.js"
import {
  caseOnlyTweaks,
  expectAmbiguousTwinStalled,
  expectClearedTwin,
  crossAndOrphanPointers,
  emptyPointers,
  endedOwnPointers,
  expectOwnRunKept,
  expectRunningPointersSettled,
  insertDanglingTwin,
  orphanWithTwoRunningRuns,
  type RunningPair
} from "./legacy-run-pointers.js"
import { expectValuesAtTheLimits, unreadableLegacyCases, valuesAtTheLimits } from "./legacy-row-rules.js"
import {
  rawClient,
  rawNumber,
  rawRows,
  schemaSnapshot,
  shippedSqliteMigrationIds,
  storeWithClient,
  tempDatabaseFile,
  zeroMetrics
} from "./sqlite-support.js"

const { jobs, runs, nodes } = legacyIds
const jobId = (id: string) => JobId.make(id)
const runId = (id: string) => WorkflowRunId.make(id)

const encodeJob = Schema.encodeSync(AiJob)
const encodeRun = Schema.encodeSync(WorkflowRun)
const encodeNode = Schema.encodeSync(NodeExecution)

/** Writes the legacy file, then runs `body` against the store (migrated on build) and its raw client. */
const withUpgradedLegacy = <A, E>(body: Effect.Effect<A, E, JobStore | SqlClient.SqlClient>, tweak?: LegacyTweak) =>
  Effect.scoped(Effect.gen(function*() {
    const filename = yield* tempDatabaseFile("legacy.db")
    yield* writeLegacyDatabase(filename, tweak)
    return yield* Effect.provide(body, storeWithClient(filename))
  }))

const tableCount = (table: string) => rawNumber(`SELECT count(*) AS n FROM ${table}`)


const insertLegacy = (table: string, row: Record<string, string | number | null>): LegacyTweak =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO ${sql(table)} ${sql.insert(row)}`)

const legacyJob = (overrides: Record<string, string | number | null>) =>
  insertLegacy("ai_jobs", {
    id: "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1e00ff",
    trace_id: "7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c00ff",
    job_kind: "doc_edit",
    status: "queued",
    protocol_id: "p",
    profile_id: "p",
    capability_profile_id: "Analyst",
    access_mode: "analysis_only",
    safety_mode: "normal",
    created_at: "2024-03-01 12:00:00",
    updated_at: "2024-03-01 12:00:00",
    ...overrides
  })

const legacyNode = (overrides: Record<string, string | number | null>) =>
  insertLegacy("workflow_node_executions", {
    id: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b00ff",
    workflow_run_id: runs.spaceForm,
    node_id: "extra",
    node_type: "tool",
    status: "completed",
    sequence: 7,
    started_at: "2024-03-01 12:00:10",
    ...overrides
  })

describe("SQLite legacy upgrade (R16, R16a)", () => {
  it.effect("R16a the fixture is really legacy: legacy kinds, NULL metrics, both timestamp forms, no migrations table", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("legacy.db")
      yield* writeLegacyDatabase(filename)
      yield* Effect.provide(Effect.gen(function*() {
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE job_kind IN ('term_exec','doc_test','governance_pack_export')"), 3)
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE metrics IS NULL"), 1)
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM workflow_runs WHERE last_heartbeat LIKE '____-__-__ __:__:__'"), 2)
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM sqlite_master WHERE name = 'ai_job_model_migrations'"), 0)
      }), rawClient(filename))
    })))

  it.effect("R16 upgrade in place: row counts unchanged and no legacy kind stranded", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      assert.strictEqual(yield* tableCount("ai_jobs"), legacyCounts.ai_jobs)
      assert.strictEqual(yield* tableCount("workflow_runs"), legacyCounts.workflow_runs)
      assert.strictEqual(yield* tableCount("workflow_node_executions"), legacyCounts.workflow_node_executions)
      assert.strictEqual(
        yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE job_kind IN ('term_exec','doc_test','governance_pack_export')"),
        0
      )
      // No half-done rebuild left behind.
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'legacy_%'"), 0)
      assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
      assert.deepStrictEqual(yield* rawRows("PRAGMA integrity_check"), [{ integrity_check: "ok" }])
    })))

  // The reference's own migration 0014 adds a table pointing at ai_jobs. The rebuild renamed ai_jobs and dropped it,
  // and with foreign keys on SQLite pointed that table at the renamed one and emptied it by cascade (found by an
  // outside probe: 150 rows to 0, the table left referencing "legacy_ai_jobs", every insert into it failing).
  it.effect("R16 a table of the reference's we do not own that references ai_jobs keeps every row and its reference to ai_jobs", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("legacy-mcp.db")
      yield* writeLegacyDatabase(filename)
      yield* Effect.provide(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ai_job_mcp_fields (
          job_id TEXT PRIMARY KEY NOT NULL REFERENCES ai_jobs(id) ON DELETE CASCADE,
          mcp_server_id TEXT, mcp_call_id TEXT, mcp_progress_token TEXT)`)
        yield* sql.unsafe("INSERT INTO ai_job_mcp_fields (job_id, mcp_server_id) SELECT id, 'server-' || id FROM ai_jobs")
        const before = yield* rawRows("SELECT * FROM ai_job_mcp_fields ORDER BY job_id")
        assert.strictEqual(before.length, legacyCounts.ai_jobs)
        assert.isAbove((yield* SqliteStore.migrate).length, 0)
        assert.deepStrictEqual(yield* rawRows("SELECT * FROM ai_job_mcp_fields ORDER BY job_id"), before, "every row kept, as it was")
        const [table] = yield* rawRows<{ readonly sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'ai_job_mcp_fields'")
        assert.include(table?.sql, "REFERENCES ai_jobs(id)", "still pointing at ai_jobs")
        assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
        assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_keys"), [{ foreign_keys: 1 }], "foreign keys on again after the run")
        // The table works: its rows still follow their job.
        yield* sql.unsafe("DELETE FROM ai_job_mcp_fields")
        yield* sql.unsafe("INSERT INTO ai_job_mcp_fields (job_id) SELECT id FROM ai_jobs LIMIT 1")
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_job_mcp_fields"), 1)
      }), rawClient(filename))
    })))

  it.effect("R16 every upgraded row decodes through the store: getJob, listJobs, listRuns, listNodes", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const listed = yield* store.listJobs({ limit: 1000 })
      assert.strictEqual(listed.items.length, legacyCounts.ai_jobs)
      let runCount = 0
      let nodeCount = 0
      for (const id of Object.values(jobs)) {
        const job = yield* store.getJob(jobId(id))
        assert.strictEqual<string>(job.job_id, id)
        const jobRuns = yield* store.listRuns(job.job_id)
        runCount += jobRuns.length
        for (const run of jobRuns) nodeCount += (yield* store.listNodes(run.id)).length
      }
      assert.strictEqual(runCount, legacyCounts.workflow_runs)
      assert.strictEqual(nodeCount, legacyCounts.workflow_node_executions)
      assert.deepStrictEqual<unknown>(
        (yield* store.listNodes(runId(runs.spaceForm))).map((node) => [node.id, node.sequence]),
        [[nodes.plan, 0], [nodes.write, 1]]
      )
    })))

  it.effect("R16 R1a kinds normalised: term_exec, doc_test, governance_pack_export (with its protocol id)", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const term = yield* store.getJob(jobId(jobs.termExec))
      assert.strictEqual(term.job_kind, "terminal_exec")
      assert.strictEqual(term.protocol_id, "hsk.terminal.v1", "other rows keep their protocol id")
      assert.strictEqual((yield* store.getJob(jobId(jobs.docTest))).job_kind, "doc_summarize")
      const governance = yield* store.getJob(jobId(jobs.governance))
      assert.strictEqual(governance.job_kind, "workflow_run")
      assert.strictEqual(governance.protocol_id, "hsk.governance_pack.export.v0")
      assert.strictEqual((yield* store.getJob(jobId(jobs.docEdit))).job_kind, "doc_edit")
      assert.strictEqual((yield* store.getJob(jobId(jobs.terminal))).job_kind, "terminal_exec")
      const raw = yield* rawRows<{ readonly id: string; readonly job_kind: string; readonly protocol_id: string }>(
        "SELECT id, job_kind, protocol_id FROM ai_jobs WHERE id = ?",
        [jobs.governance]
      )
      assert.deepStrictEqual(raw, [{ id: jobs.governance, job_kind: "workflow_run", protocol_id: "hsk.governance_pack.export.v0" }])
    })))

  it.effect("R4 R16 metrics: NULL and empty become zero, partial objects are filled, null members count as missing", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const metricsOf = (id: string) => Effect.map(store.getJob(jobId(id)), (job) => encodeJob(job).metrics)
      assert.deepStrictEqual(yield* metricsOf(jobs.termExec), zeroMetrics, "NULL")
      assert.deepStrictEqual(yield* metricsOf(jobs.governance), zeroMetrics, "empty string")
      assert.deepStrictEqual(yield* metricsOf(jobs.docTest), { ...zeroMetrics, duration_ms: 1500, total_tokens: 42 })
      assert.deepStrictEqual(yield* metricsOf(jobs.terminal), { ...zeroMetrics, entities_read: 3 })
      assert.deepStrictEqual(yield* metricsOf(jobs.docEdit), {
        duration_ms: 9_007_199_254_740_991,
        total_tokens: 4_294_967_295,
        input_tokens: 3,
        output_tokens: 4,
        tokens_planner: 5,
        tokens_executor: 6,
        entities_read: 7,
        entities_written: 8,
        validators_run_count: 9
      })
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE metrics IS NULL"), 0)
    })))

  it.effect("R16 NULL arrays, reasons and pin flags become their empty values; other fields are kept", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const docTest = yield* store.getJob(jobId(jobs.docTest))
      assert.deepStrictEqual(docTest.entity_refs, [])
      assert.deepStrictEqual(docTest.planned_operations, [])
      assert.strictEqual(docTest.status_reason, "")
      assert.isFalse(docTest.is_pinned)
      assert.strictEqual<string | null>(docTest.workflow_run_id, runs.spaceForm)
      const docEdit = encodeJob(yield* store.getJob(jobId(jobs.docEdit)))
      assert.deepStrictEqual(docEdit.entity_refs, [{ entity_id: "doc-1", entity_kind: "document" }])
      assert.deepStrictEqual(docEdit.planned_operations, [
        { op_type: "write", target: { entity_id: "doc-1", entity_kind: "document" }, description: "fix typos" }
      ])
      assert.isTrue(docEdit.is_pinned)
      assert.strictEqual(docEdit.access_mode, "apply_scoped")
      assert.strictEqual(docEdit.safety_mode, "strict")
      const term = yield* store.getJob(jobId(jobs.termExec))
      assert.deepStrictEqual(term.job_inputs, { cmd: "ls -la" })
      assert.deepStrictEqual(term.job_outputs, { exit_code: 0 })
      assert.strictEqual(term.status_reason, "exit 0")
      assert.strictEqual<string>(term.trace_id, legacyIds.traces.termExec)
      assert.isNull((yield* store.getRun(runId(runs.finished))).error_message, "legacy runs had no error_message")
      const exec = (yield* store.listNodes(runId(runs.finished)))[0]
      assert.deepStrictEqual(exec === undefined ? null : encodeNode(exec).input_payload, ["ls", "-la"])
      assert.strictEqual(exec?.error_message, "exit 1")
    })))

  it.effect("R16a timestamps in both legacy forms become the one stored form, exactly", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const jobTimes = yield* rawRows<{ readonly id: string; readonly created_at: string; readonly updated_at: string }>(
        "SELECT id, created_at, updated_at FROM ai_jobs ORDER BY id"
      )
      assert.deepStrictEqual(jobTimes, [
        // `YYYY-MM-DD HH:MM:SS` is UTC; `+02:00` is two hours ahead of it.
        { id: jobs.termExec, created_at: "2024-03-01T12:00:00.000Z", updated_at: "2024-03-01T12:00:00.000Z" },
        // Z, and microseconds cut to milliseconds.
        { id: jobs.docTest, created_at: "2024-03-01T12:00:00.000Z", updated_at: "2024-03-01T12:00:00.123Z" },
        { id: jobs.governance, created_at: "2024-03-02T08:30:15.000Z", updated_at: "2024-03-02T08:30:15.000Z" },
        // A fraction with a negative offset.
        { id: jobs.docEdit, created_at: "2024-03-01T12:00:00.500Z", updated_at: "2024-03-01T12:00:05.000Z" },
        { id: jobs.terminal, created_at: "2024-03-01T11:59:00.000Z", updated_at: "2024-03-01T11:59:00.000Z" }
      ])
      const runTimes = yield* rawRows("SELECT id, last_heartbeat, created_at, updated_at FROM workflow_runs ORDER BY id")
      assert.deepStrictEqual(runTimes, [
        { id: runs.finished, last_heartbeat: "2024-03-01T11:00:00.000Z", created_at: "2024-03-01T11:00:00.000Z", updated_at: "2024-03-01T11:05:00.000Z" },
        { id: runs.spaceForm, last_heartbeat: "2024-03-01T12:00:30.000Z", created_at: "2024-03-01T12:00:00.000Z", updated_at: "2024-03-01T12:00:30.000Z" },
        { id: runs.zuluForm, last_heartbeat: "2024-03-01T12:00:05.000Z", created_at: "2024-03-01T12:00:00.000Z", updated_at: "2024-03-01T12:00:05.000Z" },
        { id: runs.offsetForm, last_heartbeat: "2024-03-01T12:00:02.000Z", created_at: "2024-03-01T11:59:00.000Z", updated_at: "2024-03-01T12:00:02.000Z" }
      ])
      const nodeTimes = yield* rawRows("SELECT id, started_at, finished_at FROM workflow_node_executions ORDER BY id")
      assert.deepStrictEqual(nodeTimes, [
        { id: nodes.plan, started_at: "2024-03-01T12:00:01.000Z", finished_at: "2024-03-01T12:00:02.250Z" },
        { id: nodes.write, started_at: "2024-03-01T12:00:03.000Z", finished_at: null },
        { id: nodes.exec, started_at: "2024-03-01T11:00:01.000Z", finished_at: "2024-03-01T11:00:02.000Z" }
      ])
      // And the store reads them as the same instants.
      const store = yield* JobStore
      const docEdit = yield* store.getJob(jobId(jobs.docEdit))
      assert.strictEqual(DateTime.toEpochMillis(docEdit.created_at), Date.parse("2024-03-01T07:00:00.500-05:00"))
      const offsetRun = yield* store.getRun(runId(runs.offsetForm))
      assert.strictEqual(encodeRun(offsetRun).last_heartbeat, "2024-03-01T12:00:02.000Z")
    })))

  it.effect("R16 issue 12 a legacy fraction finer than a millisecond is cut, as on PostgreSQL: .123999 is .123, .999999999 stays in its second", () =>
    withUpgradedLegacy(expectLegacyInstants, insertLegacyInstantCases))

  it.effect("R9 R16a findStaleRuns orders and filters correctly across the two old heartbeat forms", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      // The trap is real: as raw text the space form sorts before both RFC 3339 beats, though it is the newest.
      assert.isTrue(legacyHeartbeats.spaceForm < legacyHeartbeats.zuluForm && legacyHeartbeats.zuluForm < legacyHeartbeats.offsetForm)
      assert.isTrue(Date.parse(`${legacyHeartbeats.spaceForm.replace(" ", "T")}Z`) > Date.parse(legacyHeartbeats.zuluForm))
      assert.isTrue(Date.parse(legacyHeartbeats.zuluForm) > Date.parse(legacyHeartbeats.offsetForm))

      const store = yield* JobStore
      const staleIds = (olderThanMs: number) =>
        Effect.map(
          Effect.flatMap(staleBefore(olderThanMs), (heartbeatBefore) => store.findStaleRuns({ heartbeatBefore })),
          (found): Array<string> => found.map((run) => run.id)
        )

      // 12:00:40 with a 30 s threshold: the cutoff is 12:00:10. Raw text would wrongly pick the
      // space form (12:00:30) and miss the +02:00 one (12:00:02).
      yield* TestClock.setTime(Date.parse("2024-03-01T12:00:40Z"))
      assert.deepStrictEqual(yield* staleIds(30_000), [runs.offsetForm, runs.zuluForm])
      // Later, all three, oldest heartbeat first: the reverse of their raw text order.
      yield* TestClock.setTime(Date.parse("2024-03-01T12:01:10Z"))
      assert.deepStrictEqual(yield* staleIds(30_000), [runs.offsetForm, runs.zuluForm, runs.spaceForm])
      // The boundary is strict: a beat exactly at the cutoff is not stale.
      yield* TestClock.setTime(Date.parse("2024-03-01T12:01:00Z"))
      assert.deepStrictEqual(yield* staleIds(30_000), [runs.offsetForm, runs.zuluForm])

      const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10 })
      assert.deepStrictEqual(moved.map(({ run, trace_id }): Array<string> => [run.id, trace_id]), [
        [runs.offsetForm, legacyIds.traces.terminal],
        [runs.zuluForm, legacyIds.traces.docEdit]
      ])
      assert.strictEqual((yield* store.getJob(jobId(jobs.terminal))).state, "stalled")
      assert.strictEqual((yield* store.getJob(jobId(jobs.docTest))).state, "running")
    })))

  it.effect("R16 the upgraded database works as a store: claim the legacy queued job, prune with cascades", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      yield* TestClock.setTime(Date.parse("2024-04-01T00:00:00Z"))
      const claim = yield* store.claimNext()
      assert.strictEqual<string | undefined>(claim?.job.job_id, jobs.governance)
      assert.strictEqual(claim?.job.workflow_run_id, claim?.run.id)
      // The finished term_exec job (completed, unpinned, old) goes with its run and node.
      const pruned = yield* store.pruneJobs({ olderThan: DateTime.unsafeMake("2024-03-15T00:00:00Z"), keepNewest: 0 })
      assert.strictEqual(pruned.pruned, 1)
      expectTag(yield* failureOf(store.getJob(jobId(jobs.termExec))), "NotFound")
      expectTag(yield* failureOf(store.getRun(runId(runs.finished))), "NotFound")
      expectTag(yield* failureOf(store.finishNode(NodeExecutionId.make(nodes.exec), { status: "completed" })), "NotFound")
      assert.deepStrictEqual(yield* rawRows("PRAGMA foreign_key_check"), [])
    })))

  it.effect("R16 running migrate again is a no-op: nothing applied, schema and rows unchanged", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const schemaBefore = yield* schemaSnapshot
      const rowsBefore = yield* rawRows("SELECT * FROM ai_jobs ORDER BY id")
      const applied = yield* rawRows<{ readonly migration_id: number }>("SELECT migration_id FROM ai_job_model_migrations ORDER BY migration_id")
      assert.deepStrictEqual(applied.map((row) => row.migration_id), shippedSqliteMigrationIds)
      assert.deepStrictEqual(yield* SqliteStore.migrate, [])
      assert.deepStrictEqual(yield* SqliteStore.migrate, [])
      assert.deepStrictEqual(yield* schemaSnapshot, schemaBefore)
      assert.deepStrictEqual(yield* rawRows("SELECT * FROM ai_jobs ORDER BY id"), rowsBefore)
      assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_job_model_migrations"), shippedSqliteMigrationIds.length)
    })))

  it.effect("R16 a fresh database and an upgraded legacy one end with the same schema (one migration path)", () =>
    Effect.gen(function*() {
      const upgraded = yield* withUpgradedLegacy(schemaSnapshot)
      const fresh = yield* Effect.provide(schemaSnapshot, storeWithClient(":memory:"))
      assert.deepStrictEqual(upgraded, fresh)
      assert.isTrue(fresh.some((entry) => entry.name === "flight_recorder_events_refuse_delete"))
    }))

  it.effect("R8 R16 issue 12.1 legacy node executions in every job state upgrade and read back", () =>
    withUpgradedLegacy(Effect.gen(function*() {
      const store = yield* JobStore
      const nodes = yield* store.listNodes(runId(runs.zuluForm))
      assert.deepStrictEqual(nodes.map((node) => [node.sequence, node.status]), JobStates.map((status, index) => [index, status]))
    }), Effect.forEach(JobStates, (status, index) =>
      legacyNode({ id: `9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b01${String(index).padStart(2, "0")}`, workflow_run_id: runs.zuluForm, status, sequence: index }))))
})

describe("SQLite legacy upgrade of references the reference schema leaves unchecked (R16a)", () => {
  it.effect("R16a a job whose run pointer names no run upgrades with it cleared, the rest of the row intact, and a system event of the job says so", () =>
    withUpgradedLegacy(expectClearedTwin(jobs.governance), insertDanglingTwin(jobs.governance)))

  const crossed: RunningPair = {
    job: jobs.docTest,
    run: runs.spaceForm,
    other: jobs.docEdit,
    otherRun: runs.zuluForm,
    allStaleAt: Date.parse("2024-03-01T12:01:10Z")
  }
  const crossedPointers = crossAndOrphanPointers(crossed)
  it.effect("R16a R9 a running job whose run pointer names another job's run, or no run, ends the upgrade under its own running run or stalled, each with a system event; recovery stalls each job with its own run once, recorded; both resume", () =>
    withUpgradedLegacy(expectRunningPointersSettled(crossed, crossedPointers), crossedPointers.tweak))

  for (const [what, empty] of [["NULL", emptyPointers(crossed)], ["''", emptyPointers(crossed, "")]] as const) {
    it.effect(`R16a R9 a running job whose run pointer was empty (${what}) all along ends the upgrade under its one running run, or stalled when it has no run, each with a system event carrying its attempt; recovery stalls the first with its run once, recorded; both resume`, () =>
      withUpgradedLegacy(expectRunningPointersSettled(crossed, empty), empty.tweak))
  }

  const ended = endedOwnPointers(crossed)
  it.effect("R16a R9 a running job whose run pointer names a run of its own that had ended ends the upgrade under its one running run, or stalled when none runs, each with a system event carrying its attempt; recovery stalls the first with its run once, recorded; both resume", () =>
    withUpgradedLegacy(expectRunningPointersSettled(crossed, ended), ended.tweak))

  it.effect("R16a R9 a running job whose run pointer names no run and which has two running runs of its own is stalled by the upgrade, no run guessed; recovery stalls its runs alone; it resumes", () =>
    withUpgradedLegacy(expectAmbiguousTwinStalled(crossed), orphanWithTwoRunningRuns(crossed)))

  it.effect("R16a R9 a running job whose run pointer was empty all along and which has two running runs of its own is stalled by the upgrade, no run guessed; recovery stalls its runs alone; it resumes", () =>
    withUpgradedLegacy(expectAmbiguousTwinStalled(crossed), orphanWithTwoRunningRuns(crossed, null)))

  for (const [what, tweak] of caseOnlyTweaks({ job: jobs.termExec, run: runs.finished })) {
    it.effect(`R16a ${what} differing in case alone still names its row: the upgrade keeps it, as on PostgreSQL`, () =>
      withUpgradedLegacy(expectOwnRunKept({ job: jobs.termExec, run: runs.finished }), tweak))
  }
})

describe("SQLite legacy values at the domain's limits (R16a)", () => {
  it.effect("R16a a legacy job with job_inputs nested 64 deep, a duration of 2^53 - 1 and a null metric upgrades, reads back as written, and lists", () =>
    withUpgradedLegacy(
      expectValuesAtTheLimits(jobs.docEdit),
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(valuesAtTheLimits(jobs.docEdit)))
    ))
})

const missingJob = "0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1e0bad"
const missingRun = "5e1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f0bad"

describe("SQLite legacy upgrade refuses what it cannot convert (R16)", () => {
  const cases: ReadonlyArray<readonly [string, LegacyTweak, string]> = [
    ["an unknown kind", legacyJob({ job_kind: "mystery_kind" }), "ai_jobs_job_kind_valid"],
    ["an unknown state", legacyJob({ status: "paused" }), "ai_jobs_status_valid"],
    ["a timestamp in neither legacy form", legacyJob({ created_at: "yesterday" }), "ai_jobs_created_at_form"],
    ["a calendar date that does not exist", legacyJob({ updated_at: "2024-02-30 10:00:00" }), "ai_jobs_updated_at_form"],
    ["an hour 24", legacyJob({ updated_at: "2024-03-01 24:00:00" }), "ai_jobs_updated_at_form"],
    // A value the domain could not read back is refused before the rebuild, naming the row (legacy-row-rules.ts).
    [
      "a negative metric",
      legacyJob({ metrics: "{\"total_tokens\":-1}" }),
      "ai_jobs row \"0b2f8d6e-1c1a-4d3e-9a51-1d6a3c1e00ff\", column metrics: total_tokens: Expected an integer between 0 and 4294967295"
    ],
    ["metrics that are not JSON", legacyJob({ metrics: "lots" }), "malformed JSON"],
    ["an entity_refs that is not an array", legacyJob({ entity_refs: "{\"entity_id\":\"x\"}" }), "ai_jobs_entity_refs_array"],
    ["a missing trace id", legacyJob({ trace_id: null }), "NOT NULL constraint failed: ai_jobs.trace_id"],
    // A run is its job's and a node its run's: named by their ids, not SQLite's rowids.
    [
      "a run naming no job",
      insertLegacy("workflow_runs", { id: "5e1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f00ff", job_id: missingJob, status: "completed", last_heartbeat: "2024-03-01 12:00:00" }),
      `workflow run "5e1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f00ff" names job "${missingJob}", which is not in ai_jobs`
    ],
    [
      "a node execution naming no run",
      legacyNode({ workflow_run_id: missingRun }),
      `node execution "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b00ff" names workflow run "${missingRun}", which is not in workflow_runs`
    ],
    // A nullable column must not turn an unreadable value into NULL.
    ["a node finish time that is not one", legacyNode({ finished_at: "later" }), "workflow_node_executions_finished_at_form"],
    ["a node status that is not one", legacyNode({ status: "done" }), "workflow_node_executions_status_valid"],
    ...unreadableLegacyCases({ job: jobs.docEdit, node: nodes.plan, sibling: nodes.write, siblingSequence: 1 }).map(
      ({ corrupt, expected, what }) => [what, Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(corrupt)), expected] as const
    )
  ]

  for (const [what, tweak, expected] of cases) {
    it.effect(`R16 ${what} fails the migration loudly (${expected}) and leaves the legacy database untouched`, () =>
      Effect.scoped(Effect.gen(function*() {
        const filename = yield* tempDatabaseFile("legacy.db")
        yield* writeLegacyDatabase(filename, tweak)
        yield* Effect.provide(Effect.gen(function*() {
          const before = yield* schemaSnapshot
          const rowsBefore = yield* rawRows("SELECT * FROM ai_jobs ORDER BY id")
          const error = expectTag(yield* failureOf(SqliteStore.migrate), "MigrationFailed")
          assert.deepStrictEqual([error.migration_id, error.migration_name], [2, "current_schema"])
          // A reference to no row, or a value the domain could not read, is refused before the rebuild, naming the row:
          // no statement of the file ran.
          if (expected.includes(", which is not in ") || expected.includes(", column ")) assert.isNull(error.statement)
          else assert.isNumber(error.statement, "names the failing statement")
          assert.include(error.message, "0002_current_schema")
          assert.include(error.message, expected)
          // All or nothing: the legacy tables and rows are as they were, nothing recorded as applied.
          assert.deepStrictEqual(yield* schemaSnapshot, before)
          assert.deepStrictEqual(yield* rawRows("SELECT * FROM ai_jobs ORDER BY id"), rowsBefore)
          assert.strictEqual(
            yield* rawNumber("SELECT count(*) AS n FROM ai_jobs WHERE job_kind IN ('term_exec','doc_test','governance_pack_export')"),
            3
          )
        }), rawClient(filename))
      })))
  }

  it.effect("R16 a failed upgrade also fails building the store layer, with MigrationFailed", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("legacy.db")
      yield* writeLegacyDatabase(filename, legacyJob({ job_kind: "mystery_kind" }))
      const error = yield* failureOf(Effect.provide(JobStore, SqliteStore.layer({ filename })))
      assert.strictEqual(expectTag(error, "MigrationFailed").migration_id, 2)
    })))
})
