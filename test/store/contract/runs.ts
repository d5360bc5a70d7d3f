/**
 * Contract: workflow runs and their node executions (R8, HSK-WF-001).
 */
import { assert, describe } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { Json } from "../../../src/domain/Json.js"
import type { WorkflowRunId } from "../../../src/domain/Ids.js"
import type { TransitionTarget } from "../../../src/domain/Lifecycle.js"
import { JobStates } from "../../../src/domain/JobState.js"
import type { NodeEndStatus } from "../../../src/domain/WorkflowRun.js"
import { JobStore } from "../../../src/store/JobStore.js"
import { bytesOf, encode, eventRecord, expectTag, failureOf, ids, jobEvent, jobsIn, millis, newJob, payloadSizeCases, STALE_MS, staleOptions, startedJob } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

/** Final run statuses `finishRun` accepts. */
const finalStatuses: ReadonlyArray<Exclude<TransitionTarget, "queued" | "running">> = [
  "awaiting_validation",
  "awaiting_user",
  "completed",
  "completed_with_issues",
  "failed",
  "cancelled",
  "poisoned"
]

/** Every status `finishNode` accepts: the ten job states but queued and running (issue 12.1). */
const nodeEndStatuses = JobStates.filter((status): status is NodeEndStatus => status !== "queued" && status !== "running")

/** JSON that tends to break on the way through a database: nesting, unicode, number forms, camelCase keys. */
const awkwardPayload: Json = {
  text: "naïve café — 日本語 🎉 \"quoted\" back\\slash\nnew line\ttab",
  camelCaseKey: { snake_case_key: ["a", { deeperCamelKey: null }] },
  numbers: [0, 1, -1, 1.5, -0.25, 123456789.125, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e-7, 1e21, 6.02214076e23],
  flags: [true, false, null],
  empty: { object: {}, array: [], string: "" },
  deep: [[[[{ level: 5, list: [[], [[]]] }]]]]
}

/** Every page `read` gives, each after the key of the last item of the one before, until an empty one; each item shown by `show`. */
const pagesOf = <A, K, E, R>(
  read: (after?: K) => Effect.Effect<ReadonlyArray<A>, E, R>,
  keyOf: (item: A) => K,
  show: (item: A) => string
) =>
  Effect.gen(function*() {
    const pages: Array<ReadonlyArray<string>> = []
    let after: K | undefined
    for (;;) {
      const page = yield* read(after)
      if (page.length === 0) return pages
      pages.push(page.map(show))
      after = keyOf(page.at(-1)!)
    }
  })

/** Run and node contract tests. */
export const runContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("workflow runs", () => {
    test("R8 createRun creates a running run with its heartbeat at now and leaves the job as it is", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        yield* TestClock.setTime(42_000)
        const event = jobEvent(job)
        const run = yield* store.createRun(job.job_id, { events: () => [event] })
        assert.strictEqual(run.job_id, job.job_id)
        assert.strictEqual(run.status, "running")
        assert.isNull(run.error_message)
        assert.strictEqual(millis(run.last_heartbeat), 42_000)
        assert.strictEqual(millis(run.created_at), 42_000)
        assert.strictEqual(millis(run.updated_at), 42_000)
        assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run))
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)), encode.job(job), "createRun does not change the job")
        assert.strictEqual((yield* store.listEvents({ event_id: event.event_id })).items.length, 1)
      }))

    test("R6 R8 createRun at an instant before its job's last change begins at that change, as a claim does; its heartbeat is the clock's reading; its records are of the run as stored", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(7_200_000)
        const job = yield* store.createJob(newJob())
        yield* TestClock.setTime(7_300_000)
        const bodies: Array<unknown> = []
        const run = yield* store.createRun(job.job_id, {
          at: DateTime.unsafeMake(3_600_000),
          events: (created) => {
            bodies.push(millis(created.created_at))
            return [jobEvent(job)]
          }
        })
        assert.deepStrictEqual([millis(run.created_at), millis(run.updated_at), millis(run.last_heartbeat)], [7_200_000, 7_200_000, 7_300_000])
        assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(run))
        assert.deepStrictEqual(bodies, [7_200_000], "the records are built from the run as stored")
        // An instant after the job's last change is kept as given.
        const later = yield* store.createRun(job.job_id, { at: DateTime.unsafeMake(7_250_000) })
        assert.deepStrictEqual([millis(later.created_at), millis(later.updated_at), millis(later.last_heartbeat)], [7_250_000, 7_250_000, 7_300_000])
        assert.deepStrictEqual(encode.run(yield* store.getRun(later.id)), encode.run(later))
      }))

    test("R8 createRun for an unknown job fails with NotFound and writes no event", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const error = expectTag(yield* failureOf(store.createRun(jobId, { events: () => [eventRecord({ job_id: jobId })] })), "NotFound")
        assert.strictEqual(error.entity, "job")
        assert.strictEqual(error.id, jobId)
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))

    test("R8 getRun of an unknown run fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const runId = ids.run()
        const error = expectTag(yield* failureOf(store.getRun(runId)), "NotFound")
        assert.strictEqual(error.entity, "workflow_run")
        assert.strictEqual(error.id, runId)
      }))

    test("R6c listRuns gives one job's runs, oldest first", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const other = yield* store.createJob(newJob())
        const runs = []
        for (const ms of [1_000, 2_000, 3_000]) {
          yield* TestClock.setTime(ms)
          runs.push(yield* store.createRun(job.job_id))
          yield* store.createRun(other.job_id)
        }
        assert.deepStrictEqual((yield* store.listRuns(job.job_id)).map(encode.run), runs.map(encode.run))
        assert.deepStrictEqual(yield* store.listRuns(ids.job()), [])
      }))

    test("R14 listRuns reads a job's runs page by page, oldest first (runs made at one instant by id), after the last one read", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        const other = yield* store.createJob(newJob())
        const runs = []
        for (const ms of [1_000, 2_000, 2_000, 2_000, 3_000]) {
          yield* TestClock.setTime(ms)
          runs.push(yield* store.createRun(job.job_id))
          yield* store.createRun(other.job_id)
        }
        const all = (yield* store.listRuns(job.job_id)).map((run) => run.id)
        const pages = yield* pagesOf((after?: WorkflowRunId) => store.listRuns(job.job_id, { limit: 2, after }), (run) => run.id, (run) => run.id)
        assert.deepStrictEqual(pages, [all.slice(0, 2), all.slice(2, 4), all.slice(4)])
        assert.sameMembers([...all], runs.map((run) => run.id))
        assert.deepStrictEqual((yield* store.listRuns(job.job_id, { after: all[0]! })).map((run) => run.id), all.slice(1), "no limit: the rest")
        assert.deepStrictEqual(yield* store.listRuns(job.job_id, { after: ids.run(), limit: 2 }), [], "after a run id that is no run: none")
      }))

    test("R8 heartbeat moves last_heartbeat to the Clock's now", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        yield* TestClock.adjust(12_345)
        const now = yield* Clock.currentTimeMillis
        const beaten = yield* store.heartbeat(run.id)
        assert.strictEqual(millis(beaten.last_heartbeat), now)
        assert.strictEqual(beaten.status, "running")
        assert.strictEqual(millis(beaten.created_at), millis(run.created_at))
        assert.strictEqual(millis((yield* store.getRun(run.id)).last_heartbeat), now)
      }))

    test("R8 heartbeat of an unknown run fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const runId = ids.run()
        const error = expectTag(yield* failureOf(store.heartbeat(runId)), "NotFound")
        assert.strictEqual(error.entity, "workflow_run")
        assert.strictEqual(error.id, runId)
      }))

    test("R8 finishRun ends a running run with each final status and its error message", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob())
        for (const status of finalStatuses) {
          const run = yield* store.createRun(job.job_id)
          yield* TestClock.adjust(1_000)
          const event = jobEvent(job, { workflow_run_id: run.id })
          const finished = yield* store.finishRun(run.id, status, { error_message: `ended ${status}`, events: () => [event] })
          assert.strictEqual(finished.status, status)
          assert.strictEqual(finished.error_message, `ended ${status}`)
          assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(finished))
          assert.strictEqual((yield* store.listEvents({ event_id: event.event_id })).items.length, 1, `${status}: event written`)
        }
        const plain = yield* store.createRun(job.job_id)
        assert.isNull((yield* store.finishRun(plain.id, "completed")).error_message)
      }))

    test("R8 finishRun of an unknown run fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const runId = ids.run()
        const error = expectTag(yield* failureOf(store.finishRun(runId, "completed")), "NotFound")
        assert.strictEqual(error.entity, "workflow_run")
        assert.strictEqual(error.id, runId)
      }))

    test("R8 heartbeat and finishRun of a finished run fail with RunNotActive naming its status, and change nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const finished = yield* store.finishRun(run.id, "failed", { error_message: "first end" })
        yield* TestClock.adjust(5_000)
        const beat = expectTag(yield* failureOf(store.heartbeat(run.id)), "RunNotActive")
        assert.deepStrictEqual({ id: beat.workflow_run_id, status: beat.status }, { id: run.id, status: "failed" })
        const event = eventRecord({ workflow_run_id: run.id })
        const again = expectTag(
          yield* failureOf(store.finishRun(run.id, "completed", { events: () => [event] })),
          "RunNotActive"
        )
        assert.deepStrictEqual({ id: again.workflow_run_id, status: again.status }, { id: run.id, status: "failed" })
        assert.deepStrictEqual(encode.run(yield* store.getRun(run.id)), encode.run(finished))
        assert.deepStrictEqual((yield* store.listEvents({ event_id: event.event_id })).items, [])
      }))

    test("R9 heartbeat and finishRun of a stalled run fail with RunNotActive: a late worker cannot revive it", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const [job] = yield* jobsIn("stalled", 1)
        const runId = job?.workflow_run_id
        if (runId == null) return assert.fail("setup: the stalled job points at its run")
        const error = expectTag(yield* failureOf(store.heartbeat(runId)), "RunNotActive")
        assert.strictEqual(error.status, "stalled")
        const finish = expectTag(yield* failureOf(store.finishRun(runId, "completed")), "RunNotActive")
        assert.strictEqual(finish.status, "stalled")
        assert.strictEqual((yield* store.getRun(runId)).status, "stalled")
      }))
  })

  describe("node executions", () => {
    test("R8 startNode numbers a run's nodes 0, 1, 2, … and each run starts at 0", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const { run: otherRun } = yield* startedJob()
        const sequences: Array<number> = []
        for (const name of ["plan", "fetch", "write", "check"]) {
          sequences.push((yield* store.startNode({ workflow_run_id: run.id, node_id: name, node_type: "step" })).sequence)
        }
        assert.deepStrictEqual(sequences, [0, 1, 2, 3])
        assert.strictEqual((yield* store.startNode({ workflow_run_id: otherRun.id, node_id: "plan", node_type: "step" })).sequence, 0)
      }))

    test("R8 startNode records a running node with its input and start time", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        yield* TestClock.setTime(77_000)
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n1", node_type: "llm", input_payload: { prompt: "hi" } })
        assert.strictEqual(node.workflow_run_id, run.id)
        assert.strictEqual(node.node_id, "n1")
        assert.strictEqual(node.node_type, "llm")
        assert.strictEqual(node.status, "running")
        assert.deepStrictEqual(node.input_payload, { prompt: "hi" })
        assert.isNull(node.output_payload)
        assert.isNull(node.error_message)
        assert.strictEqual(millis(node.started_at), 77_000)
        assert.isNull(node.finished_at)
        const bare = yield* store.startNode({ workflow_run_id: run.id, node_id: "n2", node_type: "tool" })
        assert.isNull(bare.input_payload, "no input given: null")
      }))

    test("R8 HSK-WF-001 endStalledRunNodes ends only a stalled run's running nodes, at now, in sequence order; the run stays stalled; any other run's nodes are untouched", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(10_000)
        const { job, run } = yield* startedJob()
        const { run: live } = yield* startedJob()
        const done = yield* store.startNode({ workflow_run_id: run.id, node_id: "done", node_type: "step" })
        yield* store.finishNode(done.id, { status: "completed", output_payload: { ok: true } })
        yield* store.startNode({ workflow_run_id: run.id, node_id: "a", node_type: "llm" })
        yield* store.startNode({ workflow_run_id: run.id, node_id: "b", node_type: "tool" })
        const liveNode = yield* store.startNode({ workflow_run_id: live.id, node_id: "a", node_type: "llm" })
        // Not stalled yet: nothing is ended.
        assert.deepStrictEqual(yield* store.endStalledRunNodes(run.id, { status: "cancelled", error_message: "too early" }), [])
        yield* store.heartbeat(live.id)
        yield* TestClock.setTime(10_000 + STALE_MS + 1)
        yield* store.heartbeat(live.id)
        const stalled = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: 10 })
        assert.deepStrictEqual(stalled.map((s) => s.run.id), [run.id])
        yield* TestClock.setTime(90_000)
        const ended = yield* store.endStalledRunNodes(run.id, { status: "cancelled", error_message: "run stalled, job cancelled" })
        assert.deepStrictEqual(
          ended.map((n) => [n.node_id, n.status, n.error_message, n.finished_at === null ? null : millis(n.finished_at)]),
          [["a", "cancelled", "run stalled, job cancelled", 90_000], ["b", "cancelled", "run stalled, job cancelled", 90_000]]
        )
        assert.deepStrictEqual(
          (yield* store.listNodes(run.id)).map((n) => [n.node_id, n.status, n.output_payload]),
          [["done", "completed", { ok: true }], ["a", "cancelled", null], ["b", "cancelled", null]]
        )
        assert.strictEqual((yield* store.getRun(run.id)).status, "stalled")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled", "the job is its caller's to move")
        // Asked again: nothing is left running.
        assert.deepStrictEqual(yield* store.endStalledRunNodes(run.id, { status: "failed", error_message: "again" }), [])
        assert.deepStrictEqual(yield* store.endStalledRunNodes(live.id, { status: "failed", error_message: "not stalled" }), [])
        assert.strictEqual((yield* store.listNodes(live.id))[0]?.status, "running")
        assert.strictEqual((yield* store.finishNode(liveNode.id, { status: "completed" })).status, "completed")
        // A paused status would leave the node open with finished_at stamped: refused.
        expectTag(yield* failureOf(store.endStalledRunNodes(run.id, { status: "awaiting_user" as "failed", error_message: "x" })), "DecodeFailure")
        expectTag(yield* failureOf(store.endStalledRunNodes(run.id, { status: "running" as "failed", error_message: "x" })), "DecodeFailure")
      }))

    test("R8 startNode for an unknown run fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const runId = ids.run()
        const error = expectTag(yield* failureOf(store.startNode({ workflow_run_id: runId, node_id: "n", node_type: "t" })), "NotFound")
        assert.strictEqual(error.entity, "workflow_run")
        assert.strictEqual(error.id, runId)
      }))

    test("R8 finishNode records completed with output, failed with error, cancelled, each with its finish time", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const a = yield* store.startNode({ workflow_run_id: run.id, node_id: "a", node_type: "step", input_payload: [1] })
        const b = yield* store.startNode({ workflow_run_id: run.id, node_id: "b", node_type: "step" })
        const c = yield* store.startNode({ workflow_run_id: run.id, node_id: "c", node_type: "step" })
        yield* TestClock.setTime(90_000)
        const done = yield* store.finishNode(a.id, { status: "completed", output_payload: { answer: 42 } })
        assert.strictEqual(done.status, "completed")
        assert.deepStrictEqual(done.output_payload, { answer: 42 })
        assert.deepStrictEqual(done.input_payload, [1], "input kept")
        assert.isNull(done.error_message)
        assert.strictEqual(done.finished_at === null ? null : millis(done.finished_at), 90_000)
        const failed = yield* store.finishNode(b.id, { status: "failed", error_message: "tool crashed" })
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.error_message, "tool crashed")
        assert.isNull(failed.output_payload)
        const cancelled = yield* store.finishNode(c.id, { status: "cancelled" })
        assert.strictEqual(cancelled.status, "cancelled")
        assert.deepStrictEqual(
          (yield* store.listNodes(run.id)).map(encode.node),
          [done, failed, cancelled].map(encode.node)
        )
      }))

    test("R8 issue 12.1 a node execution ends in any job state but queued and running, as the reference writes them", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const finished = []
        for (const status of nodeEndStatuses) {
          const node = yield* store.startNode({ workflow_run_id: run.id, node_id: status, node_type: "step" })
          const ended = yield* store.finishNode(node.id, { status, error_message: `ended ${status}` })
          assert.strictEqual(ended.status, status)
          finished.push(ended)
        }
        assert.deepStrictEqual(
          (yield* store.listNodes(run.id)).map((node) => [node.node_id, node.status, node.error_message]),
          nodeEndStatuses.map((status) => [status, status, `ended ${status}`])
        )
        assert.deepStrictEqual((yield* store.listNodes(run.id)).map(encode.node), finished.map(encode.node))
      }))

    test("R8 finishNode of an unknown node fails with NotFound", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const nodeId = ids.node()
        const error = expectTag(yield* failureOf(store.finishNode(nodeId, { status: "completed" })), "NotFound")
        assert.strictEqual(error.entity, "node_execution")
        assert.strictEqual(error.id, nodeId)
      }))

    test("R8 listNodes gives one run's nodes in sequence order", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const { run: otherRun } = yield* startedJob()
        const nodes = []
        for (let i = 0; i < 6; i++) {
          nodes.push(yield* store.startNode({ workflow_run_id: run.id, node_id: `node-${i}`, node_type: "step" }))
          yield* store.startNode({ workflow_run_id: otherRun.id, node_id: `other-${i}`, node_type: "step" })
        }
        // Finish out of order: the listing still follows the sequence.
        for (const node of [nodes[4], nodes[1], nodes[5]]) {
          if (node !== undefined) yield* store.finishNode(node.id, { status: "completed" })
        }
        const listed = yield* store.listNodes(run.id)
        assert.deepStrictEqual(listed.map((n) => n.sequence), [0, 1, 2, 3, 4, 5])
        assert.deepStrictEqual(listed.map((n) => n.node_id), nodes.map((n) => n.node_id))
        assert.deepStrictEqual(yield* store.listNodes(ids.run()), [])
      }))

    test("R14 listNodes reads a run's nodes page by page: the first `limit` in sequence order, then after the last one read, with no gap or repeat", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const { run: otherRun } = yield* startedJob()
        for (let i = 0; i < 7; i++) {
          yield* store.startNode({ workflow_run_id: run.id, node_id: `node-${i}`, node_type: "step" })
          yield* store.startNode({ workflow_run_id: otherRun.id, node_id: `other-${i}`, node_type: "step" })
        }
        const pages = yield* pagesOf((after?: number) => store.listNodes(run.id, { limit: 3, after }), (node) => node.sequence, (node) => node.node_id)
        assert.deepStrictEqual(pages, [["node-0", "node-1", "node-2"], ["node-3", "node-4", "node-5"], ["node-6"]])
        assert.deepStrictEqual((yield* store.listNodes(run.id, { limit: 7 })).map(encode.node), (yield* store.listNodes(run.id)).map(encode.node))
        assert.deepStrictEqual((yield* store.listNodes(run.id, { after: 4 })).map((node) => node.sequence), [5, 6], "no limit: the rest")
        assert.deepStrictEqual(yield* store.listNodes(run.id, { after: 6, limit: 3 }), [])
        assert.deepStrictEqual(yield* store.listNodes(ids.run(), { limit: 3 }), [])
      }))

    test("R14 every whole number the port admits, past what a PostgreSQL integer column holds (2^31 up to 2^53 − 1), is a defined answer: a node cursor past the last sequence is no more nodes, a limit that large is no limit", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        yield* store.startNode({ workflow_run_id: run.id, node_id: "only", node_type: "step" })
        const past = [2 ** 31 - 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER]
        for (const huge of past) {
          assert.deepStrictEqual(yield* store.listNodes(run.id, { after: huge, limit: 2 }), [], `after ${huge}: no more nodes`)
          assert.deepStrictEqual(yield* store.listNodes(run.id, { after: huge }), [], `after ${huge}, no limit: no more nodes`)
          assert.lengthOf(yield* store.listNodes(run.id, { limit: huge }), 1, `limit ${huge}`)
          assert.lengthOf(yield* store.listRuns(job.job_id, { limit: huge }), 1, `runs limit ${huge}`)
          assert.isAtLeast((yield* store.listJobs({ limit: huge })).items.length, 1, `jobs limit ${huge}`)
          yield* store.listEvents({ limit: huge })
          const stale = { heartbeatBefore: DateTime.unsafeMake(0), limit: huge }
          assert.deepStrictEqual(yield* store.findStaleRuns(stale), [], `findStaleRuns limit ${huge}`)
          assert.deepStrictEqual(yield* store.stallStaleRuns({ ...stale, threshold: Duration.minutes(1) }), [], `stallStaleRuns limit ${huge}`)
          const pruned = yield* store.pruneJobs({ olderThan: DateTime.unsafeMake(0), keepNewest: huge, batchSize: huge, dryRun: true })
          assert.strictEqual(pruned.pruned, 0, `pruneJobs keepNewest and batchSize ${huge}`)
          assert.strictEqual(yield* store.purgeEventsBatch({ before: DateTime.unsafeMake(0), batchSize: huge }), 0, `purgeEventsBatch ${huge}`)
        }
      }))

    test("R14 a bad page of listNodes or listRuns (negative, fractional, huge, not a number, a misspelt key, a bad run id) is a DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        yield* store.startNode({ workflow_run_id: run.id, node_id: "only", node_type: "step" })
        const bad: ReadonlyArray<unknown> = [
          { limit: 0 },
          { limit: -1 },
          { limit: 1.5 },
          { limit: 2 ** 53 },
          { limit: Number.POSITIVE_INFINITY },
          { limit: Number.NaN },
          { limit: "10" },
          { limt: 10 }
        ]
        for (const page of [...bad, { after: -1 }, { after: 0.5 }, { after: 1e300 }, { after: "0" }]) {
          expectTag(yield* failureOf(store.listNodes(run.id, page as never)), "DecodeFailure")
        }
        for (const page of [...bad, { after: "not-a-run" }, { after: 3 }]) {
          expectTag(yield* failureOf(store.listRuns(job.job_id, page as never)), "DecodeFailure")
        }
        assert.lengthOf(yield* store.listNodes(run.id, { limit: 1 }), 1, "the store still answers")
      }))

    test("R14 listNodeSummaries gives a payload inline only when its stored JSON text is at most inlineBytes bytes (bytes, not characters); a longer one is null with its length, the rest of the node as listNodes reads it", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const { run: otherRun } = yield* startedJob()
        // A JSON string's text is the same on both stores (jsonb's text form spaces only `:` and `,`):
        // 3 + 2 × 100 = 203 bytes, 103 characters.
        const wide = `x${"é".repeat(100)}`
        const bytes = Buffer.byteLength(JSON.stringify(wide))
        assert.strictEqual(bytes, 203)
        const small = yield* store.startNode({ workflow_run_id: run.id, node_id: "small", node_type: "step", input_payload: "ab" })
        yield* store.finishNode(small.id, { status: "completed", output_payload: wide })
        yield* store.startNode({ workflow_run_id: run.id, node_id: "big", node_type: "step", input_payload: wide })
        yield* store.startNode({ workflow_run_id: run.id, node_id: "none", node_type: "step" })
        yield* store.startNode({ workflow_run_id: otherRun.id, node_id: "other", node_type: "step", input_payload: wide })
        const full = yield* store.listNodes(run.id)
        const summaries = (inlineBytes: number) => store.listNodeSummaries(run.id, { inlineBytes })
        // At the bound: every payload inline, the nodes exactly as listNodes gives them.
        assert.deepStrictEqual(
          (yield* summaries(bytes)).map(encode.node),
          full.map(encode.node)
        )
        for (const summary of yield* summaries(bytes)) {
          assert.deepStrictEqual([summary.input_payload_bytes, summary.output_payload_bytes], [null, null])
        }
        // One byte under it: the wide payloads left out, each with its length; the small one still inline.
        const cut = yield* summaries(bytes - 1)
        assert.deepStrictEqual(
          cut.map((node) => [node.node_id, node.input_payload, node.input_payload_bytes, node.output_payload, node.output_payload_bytes]),
          [["small", "ab", null, null, bytes], ["big", null, bytes, null, null], ["none", null, null, null, null]]
        )
        // Everything but the payloads is listNodes' node.
        const rest = ({ input_payload: _i, output_payload: _o, ...fields }: typeof full[number]) => encode.node({ ...fields, input_payload: null, output_payload: null })
        assert.deepStrictEqual(cut.map(rest), full.map(rest))
        // Zero: every payload left out (none is shorter than a byte); paged as listNodes is.
        assert.deepStrictEqual((yield* summaries(0)).map((node) => node.input_payload_bytes), [4, bytes, null])
        assert.deepStrictEqual(
          (yield* store.listNodeSummaries(run.id, { inlineBytes: 0, after: 0, limit: 1 })).map((node) => node.node_id),
          ["big"]
        )
        assert.deepStrictEqual(yield* store.listNodeSummaries(ids.run(), { inlineBytes: 10 }), [])
      }))

    // Found by a review: PostgreSQL sized a payload by jsonb's text, which spells 1e300 in 301 digits and
    // spaces `:` and `,` — 14 × 1e300 (99 bytes as written) was "4242 bytes, left out" there, inline on SQLite.
    test("R14 listNodeSummaries sizes a payload by the compact JSON text the library wrote, on both stores alike: numbers as JavaScript spells them, no spaces added, escapes and multibyte text as bytes; at the bound inline, a byte over it left out with that size", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const cases = payloadSizeCases()
        assert.strictEqual(bytesOf(cases[0]![1]), 99)
        assert.strictEqual(bytesOf(cases[2]![1]), 4096)
        for (const [node_id, payload] of cases) {
          const node = yield* store.startNode({ workflow_run_id: run.id, node_id, node_type: "step", input_payload: payload })
          yield* store.finishNode(node.id, { status: "completed", output_payload: payload })
        }
        for (const [node_id, payload] of cases) {
          const bytes = bytesOf(payload)
          const [inline] = (yield* store.listNodeSummaries(run.id, { inlineBytes: bytes })).filter((node) => node.node_id === node_id)
          assert.deepStrictEqual(
            [inline?.input_payload, inline?.input_payload_bytes, inline?.output_payload, inline?.output_payload_bytes],
            [payload, null, payload, null],
            `${node_id} at its size, ${bytes} bytes`
          )
          const [cut] = (yield* store.listNodeSummaries(run.id, { inlineBytes: bytes - 1 })).filter((node) => node.node_id === node_id)
          assert.deepStrictEqual(
            [cut?.input_payload, cut?.input_payload_bytes, cut?.output_payload, cut?.output_payload_bytes],
            [null, bytes, null, bytes],
            `${node_id} a byte under its size`
          )
        }
      }))

    test("R14 a bad page of listNodeSummaries (a bound that is negative, fractional, not a number or missing, a bad limit or cursor, a misspelt key) is a DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        yield* store.startNode({ workflow_run_id: run.id, node_id: "only", node_type: "step" })
        const bad: ReadonlyArray<unknown> = [
          {},
          { inlineBytes: -1 },
          { inlineBytes: 1.5 },
          { inlineBytes: "10" },
          { inlineBytes: Number.NaN },
          { inlineBytes: 10, limit: 0 },
          { inlineBytes: 10, after: -1 },
          { inlineBytes: 10, limt: 1 },
          { inlinebytes: 10 }
        ]
        for (const page of bad) {
          expectTag(yield* failureOf(store.listNodeSummaries(run.id, page as never)), "DecodeFailure")
        }
        expectTag(yield* failureOf(store.listNodeSummaries("not-a-run" as never, { inlineBytes: 10 })), "DecodeFailure")
        assert.lengthOf(yield* store.listNodeSummaries(run.id, { inlineBytes: 10 }), 1, "the store still answers")
      }))

    test("R8 node payloads round-trip exactly: nested JSON, unicode, numbers, camelCase keys", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob()
        const started = yield* store.startNode({ workflow_run_id: run.id, node_id: "p", node_type: "step", input_payload: awkwardPayload })
        assert.deepStrictEqual(started.input_payload, awkwardPayload)
        yield* store.finishNode(started.id, { status: "completed", output_payload: awkwardPayload })
        const [read] = yield* store.listNodes(run.id)
        assert.deepStrictEqual(read?.input_payload, awkwardPayload)
        assert.deepStrictEqual(read?.output_payload, awkwardPayload)
        for (const scalar of ["just a string", 3.25, true, null, ["array", "at", "top"]] as const) {
          const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "s", node_type: "step", input_payload: scalar })
          const [again] = (yield* store.listNodes(run.id)).filter((n) => n.id === node.id)
          assert.deepStrictEqual(again?.input_payload, scalar)
        }
      }))

    test("R8 payloads holding U+0000 are refused alike by every backend as bad input (the domain's Json refuses them; PostgreSQL cannot store them)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const payload = { "key\u0000": "before\u0000after", list: ["\u0000"] } as unknown as Json
        const { run } = yield* startedJob()
        const nodeError = yield* Effect.flip(
          store.startNode({ workflow_run_id: run.id, node_id: "nul", node_type: "step", input_payload: payload })
        )
        assert.strictEqual(nodeError._tag, "DecodeFailure")
        assert.deepStrictEqual(yield* store.listNodes(run.id), [])
        const jobError = yield* Effect.flip(store.createJob({ ...newJob(), job_inputs: payload }))
        assert.strictEqual(jobError._tag, "DecodeFailure")
        assert.strictEqual((yield* store.listJobs()).items.length, 1, "only the started job exists")
      }))

    test("R5 job inputs and outputs round-trip exactly", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob({ job_inputs: awkwardPayload }))
        yield* store.updateJob(job.job_id, { job_outputs: awkwardPayload })
        const read = yield* store.getJob(job.job_id)
        assert.deepStrictEqual(read.job_inputs, awkwardPayload)
        assert.deepStrictEqual(read.job_outputs, awkwardPayload)
      }))
  })
}
