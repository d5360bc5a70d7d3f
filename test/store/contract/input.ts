/**
 * Contract: bad input at the port (issue 11, points 4-7). Every store answers
 * the same bad input with the same `DecodeFailure` and changes nothing; ids
 * are canonical (lower case); time bounds and thresholds out of the stored
 * range work the same everywhere.
 */
import { assert, describe } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { NewAiJob } from "../../../src/domain/AiJob.js"
import type { EventRecord } from "../../../src/domain/EventRecord.js"
import { JobId, TraceId, type WorkflowRunId } from "../../../src/domain/Ids.js"
import type { Json } from "../../../src/domain/Json.js"
import type { DecodeFailure } from "../../../src/domain/Errors.js"
import * as FlightRecorder from "../../../src/FlightRecorder.js"
import { auditWith, JobStore } from "../../../src/store/JobStore.js"
import { at, failureOf, ids, jobsIn, encode, newJob, staleBefore, staleOptions, startedJob, eventRecord, expectTag } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

const NIL_UUID = "00000000-0000-0000-0000-000000000000"

/** Keys neither database can store: U+0000, and lone surrogates (high, low). */
const badKeys = ["k\u0000", "\uD800", "x\uDC00y"] as const

/** Text that breaks the text rule. */
const badTexts = ["nul \u0000 inside", "lone \uD800 high", "lone \uDFFF low"] as const

/** Ids no store can hold: malformed, empty, NUL inside, the nil UUID. */
const badIds = ["not-a-uuid", "", "0198c2a4-0000-7000-8000-00000000000\u0000", NIL_UUID] as const

/** A payload with one unstorable key next to a good one: the good one must not be stored alone. */
const withBadKey = (key: string) => ({ [key]: 1, keep: 2 }) as Json

/** The bytes of a job that must not have changed. */
const unchanged = (before: unknown, after: unknown, what: string) => assert.deepStrictEqual(after, before, `${what}: nothing changed`)

/** Input contract tests. */
export const inputContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("bad input at the port", () => {
    test("R5 a JSON key holding U+0000 or a lone surrogate is refused as DecodeFailure wherever JSON enters, never dropped", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
        for (const key of badKeys) {
          const nested = { list: [1, { deeper: withBadKey(key) }] } as Json
          expectTag(yield* failureOf(store.createJob({ ...newJob(), job_inputs: withBadKey(key) })), "DecodeFailure")
          expectTag(yield* failureOf(store.createJob({ ...newJob(), job_inputs: nested })), "DecodeFailure")
          expectTag(yield* failureOf(store.createJob({
            ...newJob(),
            entity_refs: [{ entity_id: "e", entity_kind: "doc", [key]: 1 }]
          } as unknown as NewAiJob)), "DecodeFailure")
          expectTag(yield* failureOf(store.createJob({
            ...newJob(),
            planned_operations: [{ op_type: "read", target: { entity_id: "e", entity_kind: "doc", [key]: 1 } }]
          } as unknown as NewAiJob)), "DecodeFailure")
          expectTag(yield* failureOf(store.updateJob(job.job_id, { job_outputs: withBadKey(key) })), "DecodeFailure")
          expectTag(yield* failureOf(store.startNode({
            workflow_run_id: run.id, node_id: "m", node_type: "step", input_payload: nested
          })), "DecodeFailure")
          expectTag(yield* failureOf(store.finishNode(node.id, { status: "completed", output_payload: withBadKey(key) })), "DecodeFailure")
          const event = eventRecord()
          expectTag(yield* failureOf(store.appendEvents([{ ...event, body: { ...event.body, [key]: 1 } }])), "DecodeFailure")
        }
        assert.strictEqual((yield* store.listJobs()).items.length, 1, "no job was created")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)).job_outputs, null)
        assert.deepStrictEqual((yield* store.listNodes(run.id)).map((n) => [n.node_id, n.status, n.output_payload]), [["n", "running", null]])
        assert.strictEqual((yield* store.listEvents()).items.length, 0)
      }))

    test("R5 an array with a hole is refused as DecodeFailure wherever JSON enters, never stored as null", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        // eslint-disable-next-line no-sparse-arrays
        const holed = [1, , 3] as unknown as Json
        const nested = { list: [{ deeper: holed }] } as Json
        expectTag(yield* failureOf(store.createJob({ ...newJob(), job_inputs: holed })), "DecodeFailure")
        expectTag(yield* failureOf(store.createJob({ ...newJob(), job_inputs: nested })), "DecodeFailure")
        expectTag(yield* failureOf(store.updateJob(job.job_id, { job_outputs: nested })), "DecodeFailure")
        expectTag(yield* failureOf(store.startNode({
          workflow_run_id: run.id, node_id: "m", node_type: "step", input_payload: holed
        })), "DecodeFailure")
        const event = eventRecord()
        expectTag(yield* failureOf(store.appendEvents([{ ...event, body: { ...event.body, list: holed } }])), "DecodeFailure")
        assert.strictEqual((yield* store.listJobs()).items.length, 1, "no job was created")
        assert.deepStrictEqual(encode.job(yield* store.getJob(job.job_id)).job_outputs, null)
        assert.strictEqual((yield* store.listNodes(run.id)).length, 0)
        assert.strictEqual((yield* store.listEvents()).items.length, 0)
      }))

    test("R5 -0 in JSON is returned as 0, as every store keeps it: the job returned is the job read back", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const created = yield* store.createJob({ ...newJob(), job_inputs: { n: -0, list: [-0, 1] } })
        assert.isFalse(Object.is((created.job_inputs as { n: number }).n, -0), "the returned job says 0")
        assert.deepStrictEqual(encode.job(yield* store.getJob(created.job_id)), encode.job(created))
        const top = yield* store.createJob({ ...newJob(), job_inputs: -0 })
        assert.isTrue(Object.is(top.job_inputs, 0))
        assert.deepStrictEqual(encode.job(yield* store.getJob(top.job_id)), encode.job(top))
      }))

    test("R5 text that breaks the text rule is DecodeFailure from every write that stores text, and changes nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob()
        const node = yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
        const jobBefore = encode.job(yield* store.getJob(job.job_id))
        const runBefore = encode.run(yield* store.getRun(run.id))
        for (const text of badTexts) {
          expectTag(yield* failureOf(store.updateJob(job.job_id, { status_reason: text })), "DecodeFailure")
          expectTag(yield* failureOf(store.updateJob(job.job_id, { error_message: text })), "DecodeFailure")
          expectTag(yield* failureOf(store.transition({ job_id: job.job_id, to: "failed", error_message: text })), "DecodeFailure")
          expectTag(yield* failureOf(store.transition({ job_id: job.job_id, to: "cancelled", status_reason: text })), "DecodeFailure")
          expectTag(yield* failureOf(store.finishRun(run.id, "failed", { error_message: text })), "DecodeFailure")
          expectTag(yield* failureOf(store.finishNode(node.id, { status: "failed", error_message: text })), "DecodeFailure")
          expectTag(yield* failureOf(store.startNode({ workflow_run_id: run.id, node_id: text, node_type: "step" })), "DecodeFailure")
          expectTag(yield* failureOf(store.endStalledRunNodes(run.id, { status: "cancelled", error_message: text })), "DecodeFailure")
        }
        unchanged(jobBefore, encode.job(yield* store.getJob(job.job_id)), "job")
        unchanged(runBefore, encode.run(yield* store.getRun(run.id)), "run")
        assert.deepStrictEqual((yield* store.listNodes(run.id)).map((n) => [n.status, n.error_message]), [["running", null]])
      }))

    test("R6 a malformed id (not a UUID, empty, NUL inside, the nil UUID) is DecodeFailure from every method that takes one", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const { job } = yield* startedJob()
        for (const raw of badIds) {
          const id = raw as JobId
          const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
            ["getJob", store.getJob(id)],
            ["transition", store.transition({ job_id: id, to: "cancelled" })],
            ["updateJob", store.updateJob(id, { status_reason: "x" })],
            ["setPinned", store.setPinned(id, true)],
            ["createRun", store.createRun(id)],
            ["listRuns", store.listRuns(id)],
            ["getRun", store.getRun(raw as WorkflowRunId)],
            ["finishRun", store.finishRun(raw as WorkflowRunId, "failed")],
            ["heartbeat", store.heartbeat(raw as WorkflowRunId)],
            ["listNodes", store.listNodes(raw as WorkflowRunId)],
            ["listNodeSummaries", store.listNodeSummaries(raw as WorkflowRunId, { inlineBytes: 10 })],
            ["startNode", store.startNode({ workflow_run_id: raw as WorkflowRunId, node_id: "n", node_type: "t" })],
            ["finishNode", store.finishNode(raw as never, { status: "completed" })],
            ["endStalledRunNodes", store.endStalledRunNodes(raw as WorkflowRunId, { status: "cancelled", error_message: "x" })],
            ["listJobs by trace", store.listJobs({ trace_id: raw as TraceId })],
            ["listEvents by job", store.listEvents({ job_id: id })],
            ["listEvents by event id", store.listEvents({ event_id: raw as EventRecord["event_id"] })],
            ["createJob with the id", store.createJob({ ...newJob(), job_id: id })]
          ]
          for (const [name, call] of calls) {
            const error = yield* failureOf(call)
            assert.strictEqual((error as { readonly _tag?: unknown })._tag, "DecodeFailure", `${name}(${JSON.stringify(raw)})`)
          }
        }
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "nothing moved")
        assert.strictEqual((yield* store.listJobs()).items.length, 1)
      }))

    test("R6 an upper-case UUID names the same job as its lower-case form, and every answer is lower case", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const lower = JobId.make(crypto.randomUUID())
        const trace = TraceId.make(crypto.randomUUID())
        const created = yield* store.createJob({
          ...newJob(),
          job_id: lower.toUpperCase() as JobId,
          trace_id: trace.toUpperCase() as TraceId
        })
        assert.strictEqual(created.job_id, lower)
        assert.strictEqual(created.trace_id, trace)
        assert.strictEqual((yield* store.getJob(lower.toUpperCase() as JobId)).job_id, lower)
        assert.strictEqual((yield* store.getJob(lower)).trace_id, trace)
        const twin = expectTag(yield* failureOf(store.createJob({ ...newJob(), job_id: lower })), "AlreadyExists")
        assert.strictEqual(twin.id, lower)
        assert.deepStrictEqual((yield* store.listJobs({ trace_id: trace.toUpperCase() as TraceId })).items.map((j) => j.job_id), [lower])
        const moved = yield* store.transition({ job_id: lower.toUpperCase() as JobId, to: "cancelled" })
        assert.strictEqual(moved.job_id, lower)
        const event = eventRecord({ trace_id: trace.toUpperCase() as TraceId, job_id: lower.toUpperCase() as JobId })
        yield* store.appendEvents([event])
        const [listed] = (yield* store.listEvents({ job_id: lower })).items
        assert.strictEqual(listed?.job_id, lower)
        assert.strictEqual(listed?.trace_id, trace)
      }))

    test("R10 R11 an event whose body is no event (a gc_summary missing a field, an unknown field, a wrong-typed one, an envelope not the record's) is DecodeFailure naming its index and field, from appendEvents and a change's events; nothing is written and every listing still reads", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const recorder = yield* FlightRecorder.make()
        const job = yield* store.createJob(newJob())
        const good = eventRecord({ job_id: job.job_id, trace_id: job.trace_id, timestamp: at(1_000) })
        const without = (body: EventRecord["body"], key: string) => Object.fromEntries(Object.entries(body).filter(([k]) => k !== key))
        const bad: ReadonlyArray<readonly [string, (body: EventRecord["body"]) => EventRecord["body"], string]> = [
          ["a gc_summary without items_pruned", (body) => without(body, "items_pruned"), "1.body.items_pruned"],
          ["an unknown field", (body) => ({ ...body, extra: 1 }), "1.body.extra"],
          ["a wrong-typed field", (body) => ({ ...body, dry_run: "no" }), "1.body.dry_run"],
          ["a body naming another job", (body) => ({ ...body, job_id: ids.job() }), "1.body.job_id"]
        ]
        for (const [what, spoil, path] of bad) {
          const valid = eventRecord({ timestamp: at(2_000), job_id: job.job_id, trace_id: job.trace_id })
          const record = { ...valid, body: spoil(valid.body) }
          const refused = yield* failureOf(store.appendEvents([good, record]))
          expectTag(refused, "DecodeFailure")
          assert.deepStrictEqual((refused as DecodeFailure).issues.map((issue) => issue.path), [path], what)
          // A change audited with it is refused the same way, and not made.
          const audited = yield* failureOf(store.transition({ job_id: job.job_id, to: "cancelled", events: auditWith([record]) }))
          expectTag(audited, "DecodeFailure")
          assert.deepStrictEqual((audited as DecodeFailure).issues.map((issue) => issue.path), [path.replace(/^1/, "0")], what)
        }
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued", "no refused change was made")
        assert.strictEqual((yield* store.listEvents()).items.length, 0, "nothing of a refused batch was written")
        // The log still reads for everyone: a good event after the refusals lists, through the recorder too.
        yield* store.appendEvents([good])
        assert.deepStrictEqual((yield* recorder.list()).items.map((event) => event.event_id), [good.event_id])
      }))

    test("R11 the nil UUID is refused as an event id or a trace id, and nothing is stored", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        expectTag(yield* failureOf(store.appendEvents([eventRecord({ event_id: NIL_UUID as EventRecord["event_id"] })])), "DecodeFailure")
        expectTag(yield* failureOf(store.appendEvents([eventRecord({ trace_id: NIL_UUID as TraceId })])), "DecodeFailure")
        expectTag(yield* failureOf(store.createJob({ ...newJob(), trace_id: NIL_UUID as TraceId })), "DecodeFailure")
        assert.strictEqual((yield* store.listEvents()).items.length, 0)
        assert.strictEqual((yield* store.listJobs()).items.length, 0)
      }))

    test("R7 limits, keepNewest, batch sizes and heartbeat ages that are not whole numbers in range are DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const [done] = yield* jobsIn("completed", 1)
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 1.5]) {
          expectTag(yield* failureOf(store.listJobs({ limit: bad })), "DecodeFailure")
          expectTag(yield* failureOf(store.listEvents({ limit: bad })), "DecodeFailure")
          expectTag(yield* failureOf(store.purgeEventsBatch({ before: at(1_000), batchSize: bad })), "DecodeFailure")
        }
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, 2.5]) {
          expectTag(yield* failureOf(store.pruneJobs({ olderThan: at(10 ** 12), keepNewest: bad })), "DecodeFailure")
          expectTag(yield* failureOf(store.stallStaleRuns({ ...(yield* staleOptions()), limit: bad })), "DecodeFailure")
          expectTag(yield* failureOf(store.findStaleRuns({ heartbeatBefore: yield* staleBefore(), limit: bad })), "DecodeFailure")
        }
        for (const bad of [Number.NaN, -1, "yesterday"]) {
          const heartbeatBefore = bad as unknown as DateTime.Utc
          expectTag(yield* failureOf(store.findStaleRuns({ heartbeatBefore })), "DecodeFailure")
          expectTag(yield* failureOf(store.stallStaleRuns({ heartbeatBefore, threshold: Duration.seconds(30), limit: 10 })), "DecodeFailure")
        }
        expectTag(
          yield* failureOf(store.stallStaleRuns({ heartbeatBefore: yield* staleBefore(), threshold: Duration.infinity, limit: 10 })),
          "DecodeFailure"
        )
        expectTag(yield* failureOf(store.listJobs({ created_after: "yesterday" as unknown as DateTime.Utc })), "DecodeFailure")
        assert.strictEqual((yield* store.getJob(done!.job_id)).state, "completed", "nothing was pruned")
        assert.strictEqual((yield* store.listJobs({ limit: 5_000 })).items.length, 1, "a page size above 1000 is capped, not refused")
      }))

    test("R7 far-past and far-future bounds and huge stale thresholds give the same answers on every store", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* TestClock.setTime(Date.UTC(2030, 0, 1))
        const farPast = DateTime.unsafeMake(Date.UTC(-2000, 0, 1))
        const farFuture = DateTime.unsafeMake(Date.UTC(200_000, 0, 1))
        const { job } = yield* startedJob()
        // In the past of the database's clock too: a purge deletes nothing newer than its own moment (migration 0028).
        yield* store.appendEvents([eventRecord({ timestamp: DateTime.unsafeMake(Date.UTC(2020, 0, 1)) })])
        assert.deepStrictEqual((yield* store.listJobs({ created_after: farPast, created_before: farFuture })).items.map((j) => j.job_id), [job.job_id])
        assert.strictEqual((yield* store.listJobs({ created_before: farPast })).items.length, 0)
        assert.strictEqual((yield* store.listEvents({ since: farPast, until: farFuture })).items.length, 1)
        assert.strictEqual((yield* store.listEvents({ until: farPast })).items.length, 0)
        for (const age of [1e12 * 1000, Number.MAX_SAFE_INTEGER * 1000, Number.MAX_VALUE]) {
          const heartbeatBefore = yield* staleBefore(age)
          assert.deepStrictEqual(yield* store.findStaleRuns({ heartbeatBefore }), [], `nothing is ${age} ms old`)
          assert.deepStrictEqual(yield* store.stallStaleRuns({ heartbeatBefore, threshold: Duration.millis(age), limit: 10 }), [])
        }
        assert.strictEqual((yield* store.pruneJobs({ olderThan: farPast, keepNewest: 0 })).pruned, 0)
        assert.strictEqual(yield* store.purgeEventsBatch({ before: farPast, batchSize: 10 }), 0)
        assert.strictEqual(yield* store.purgeEventsBatch({ before: farFuture, batchSize: 10 }), 1)
        yield* store.transition({ job_id: job.job_id, to: "cancelled" })
        assert.strictEqual((yield* store.pruneJobs({ olderThan: farFuture, keepNewest: 0, dryRun: true })).pruned, 1)
        assert.strictEqual((yield* store.pruneJobs({ olderThan: farFuture, keepNewest: 0 })).pruned, 1)
      }))
  })
}
