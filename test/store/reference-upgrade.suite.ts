/**
 * Issue 12: a database written by the reference implementation (built from
 * its own migrations 0001-0010 and rows as its storage writes them, see
 * test/fixtures/referenceDatabase.ts) upgrades in place, and every row reads
 * back through the store's API. One suite, run on SQLite and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { JobStates } from "../../src/domain/JobState.js"
import { MetricNames } from "../../src/domain/JobMetrics.js"
import { JobStore } from "../../src/store/JobStore.js"
import { staleOptions } from "./fixtures.js"
import {
  expectedMillis,
  referenceCounts,
  referenceIds,
  referenceJobs,
  referenceNodes,
  referenceRuns,
  type Written
} from "../fixtures/referenceDatabase.js"

/** What the suite needs from a dialect. */
export interface ReferenceBackend {
  readonly name: string
  /** A store on a freshly written reference database, migrated when the layer is built. */
  readonly upgraded: () => Layer.Layer<JobStore | ReferenceProbe, unknown>
}

/** Raw reads behind the store's back, per dialect. */
export class ReferenceProbe extends Context.Tag("test/ReferenceProbe")<ReferenceProbe, {
  /** Rows in a table. */
  readonly count: (table: string) => Effect.Effect<number, unknown>
}>() {}

const { jobs, runs } = referenceIds
const millis = (instant: DateTime.DateTime): number => DateTime.toEpochMillis(instant)
const instant = (written: Written | null): number | null => (written === null ? null : expectedMillis(written))
const zero: Record<string, number> = Object.fromEntries(MetricNames.map((name) => [name, 0]))

/** Reads every job through listJobs, page by page. */
const listAllJobs = Effect.gen(function*() {
  const store = yield* JobStore
  const all = []
  let cursor: string | undefined
  while (true) {
    const page = yield* store.listJobs({ limit: 3, ...(cursor === undefined ? {} : { cursor }) })
    all.push(...page.items)
    if (page.next_cursor === null) return all
    cursor = page.next_cursor
  }
})

export const referenceUpgradeSuite = (backend: ReferenceBackend): void => {
  const test = <A, E>(name: string, body: () => Effect.Effect<A, E, JobStore | ReferenceProbe>) =>
    it.effect(name, () => Effect.provide(body(), backend.upgraded()), 60_000)

  describe(`issue 12 a reference database upgrades in place and reads back: ${backend.name}`, () => {
    test("R16 issue 12 every job reads back through listJobs (every page) and getJob, one in each of the ten states", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const listed = yield* listAllJobs
        assert.deepStrictEqual(listed.map((job) => job.job_id).sort(), referenceJobs.map((row) => row.id).sort())
        assert.deepStrictEqual([...new Set(listed.map((job) => job.state))].sort(), [...JobStates].sort())
        for (const row of referenceJobs) {
          const job = yield* store.getJob(JobId.make(row.id))
          assert.strictEqual(job.state, row.status, row.id)
          assert.strictEqual<string>(job.trace_id, row.trace_id)
          assert.strictEqual<string | null>(job.workflow_run_id, row.workflow_run_id)
          assert.strictEqual(job.status_reason, row.status_reason)
          assert.strictEqual(job.error_message, row.error_message)
          assert.strictEqual(job.profile_id, row.profile_id)
          assert.strictEqual(job.capability_profile_id, row.capability_profile_id)
          assert.strictEqual(job.access_mode, row.access_mode)
          assert.strictEqual(job.safety_mode, row.safety_mode)
          assert.strictEqual(job.is_pinned, row.is_pinned === 1)
          assert.deepStrictEqual(job.entity_refs, JSON.parse(row.entity_refs))
          assert.deepStrictEqual(job.job_outputs, row.job_outputs === null ? null : JSON.parse(row.job_outputs))
          assert.deepStrictEqual(job.job_inputs, row.job_inputs === null ? null : JSON.parse(row.job_inputs))
          assert.strictEqual(millis(job.created_at), expectedMillis(row.created_at), `${row.id} created_at`)
          assert.strictEqual(millis(job.updated_at), expectedMillis(row.updated_at), `${row.id} updated_at`)
        }
      }))

    test("R1a R16 issue 12 the term_exec job becomes terminal_exec, both governance_pack_export jobs workflow_run with their protocol", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const term = yield* store.getJob(JobId.make(jobs.termExecFailed))
        assert.deepStrictEqual([term.job_kind, term.protocol_id], ["terminal_exec", "hsk.terminal.v1"])
        for (const id of [jobs.governanceExport, jobs.governanceQueued]) {
          const governance = yield* store.getJob(JobId.make(id))
          assert.deepStrictEqual([governance.job_kind, governance.protocol_id], ["workflow_run", "hsk.governance_pack.export.v0"])
        }
        assert.strictEqual((yield* store.listJobs({ kinds: ["workflow_run"] })).items.length, 2)
        assert.strictEqual((yield* store.listJobs({ kinds: ["terminal_exec"] })).items.length, 1)
      }))

    test("R5 issue 12.2 planned operations written with \"description\": null read back without a description; present ones kept", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const governance = yield* store.getJob(JobId.make(jobs.governanceExport))
        assert.deepStrictEqual(governance.planned_operations, [
          { op_type: "plan", target: { entity_id: "pack-1", entity_kind: "governance_pack" } },
          { op_type: "write", target: { entity_id: "pack-1", entity_kind: "governance_pack" }, description: "materialize" }
        ])
        assert.isFalse("description" in (governance.planned_operations[0] ?? {}))
        const stalled = yield* store.getJob(JobId.make(jobs.editStalled))
        assert.deepStrictEqual(stalled.planned_operations, [{ op_type: "write", target: { entity_id: "doc-2", entity_kind: "document" } }])
        // The pages that hold them decode too.
        assert.strictEqual((yield* store.listJobs({ states: ["completed_with_issues", "stalled"] })).items.length, 2)
      }))

    test("R4 issue 12 metrics: partial objects filled with 0, serde's null object and null counters read as zero", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const metricsOf = (id: string) => Effect.map(store.getJob(JobId.make(id)), (job): Record<string, number> => ({ ...job.metrics }))
        assert.deepStrictEqual(yield* metricsOf(jobs.summarizeCompleted), {
          ...zero, duration_ms: 1200, total_tokens: 310, input_tokens: 250, output_tokens: 60, entities_read: 1
        })
        assert.deepStrictEqual(yield* metricsOf(jobs.termExecFailed), zero)
        assert.deepStrictEqual(yield* metricsOf(jobs.editStalled), { ...zero, duration_ms: 700 })
        assert.deepStrictEqual(yield* metricsOf(jobs.routerRunning), { ...zero, tokens_planner: 12, tokens_executor: 34 })
      }))

    test("R8 R16 issue 12.1 every run and every node execution reads back, nodes in all ten job states", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        let nodeCount = 0
        for (const row of referenceRuns) {
          const [found] = yield* store.listRuns(JobId.make(row.job_id))
          assert.strictEqual<string | undefined>(found?.id, row.id)
          const got = yield* store.getRun(WorkflowRunId.make(row.id))
          assert.strictEqual(got.status, row.status)
          assert.isNull(got.error_message)
          assert.strictEqual(millis(got.last_heartbeat), expectedMillis(row.last_heartbeat), `${row.id} heartbeat`)
          assert.strictEqual(millis(got.created_at), expectedMillis(row.created_at))
          assert.strictEqual(millis(got.updated_at), expectedMillis(row.updated_at))
          const nodes = yield* store.listNodes(got.id)
          const expected = referenceNodes.filter((node) => node.workflow_run_id === row.id)
          nodeCount += nodes.length
          assert.deepStrictEqual(
            nodes.map((node) => ({
              id: node.id as string,
              status: node.status,
              sequence: node.sequence,
              node_type: node.node_type,
              error_message: node.error_message,
              input_payload: node.input_payload,
              output_payload: node.output_payload,
              started_at: millis(node.started_at),
              finished_at: node.finished_at === null ? null : millis(node.finished_at)
            })),
            expected.map((node) => ({
              id: node.id,
              status: node.status,
              sequence: node.sequence,
              node_type: node.node_type,
              error_message: node.error_message,
              input_payload: node.input_payload === null ? null : JSON.parse(node.input_payload),
              output_payload: node.output_payload === null ? null : JSON.parse(node.output_payload),
              started_at: instant(node.started_at),
              finished_at: instant(node.finished_at)
            }))
          )
        }
        assert.strictEqual(nodeCount, referenceCounts.workflow_node_executions)
        assert.deepStrictEqual([...new Set(referenceNodes.map((node) => node.status))].sort(), [...JobStates].sort())
      }))

    test("R16 issue 12 nothing is stranded or lost: row counts kept, the reference's own tables left alone", () =>
      Effect.gen(function*() {
        const probe = yield* ReferenceProbe
        for (const [table, count] of Object.entries(referenceCounts)) assert.strictEqual(yield* probe.count(table), count, table)
        assert.strictEqual(yield* probe.count("_sqlx_migrations"), 10)
        assert.strictEqual(yield* probe.count("workspaces"), 1)
      }))

    test("R16 issue 12 the upgraded database works: the queued governance job is claimed, the running one recovered", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(Date.parse("2026-02-01T00:00:00Z"))
        const claim = yield* store.claimNext()
        assert.strictEqual<string | undefined>(claim?.job.job_id, jobs.governanceQueued)
        const node = yield* store.startNode({ workflow_run_id: WorkflowRunId.make(runs.router), node_id: "after", node_type: "step" })
        assert.strictEqual(node.sequence, 2, "the sequence continues after the reference's nodes")
        const stalled = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 100 })
        assert.deepStrictEqual(stalled.map(({ run }) => run.id as string), [runs.router])
        assert.strictEqual((yield* store.getJob(JobId.make(jobs.routerRunning))).state, "stalled")
      }))
  })
}
