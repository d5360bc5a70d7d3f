/**
 * The HTTP API (issue 17.2), through the client generated from the same
 * definition, against a real server on a loopback port and a real store.
 * Runs unchanged on SQLite and PostgreSQL.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it, type MockInstance, vi } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { pastClock } from "../../src/cli/demo/pastClock.js"
import { AiJob, type JobRequestInput } from "../../src/domain/AiJob.js"
import type { StoredFlightEvent } from "../../src/domain/LegacyFlightEvent.js"
import type { JobId, WorkflowRunId } from "../../src/domain/Ids.js"
import { FlightRecorder } from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { sleepRealTime } from "../../src/util/sleepRealTime.js"
import { uuid, validEvents } from "../flight/fixtures.js"
import { newestShipped } from "../store/contract/schema.js"
import type { Backend } from "../support/backend.js"
import { anonymousClient, apiServer, send, summarize, TOKEN, typedClient } from "./server.js"

const MISSING = "0190a9d2-7a1e-7c4b-8d2e-00000000beef" as JobId

/** The tag of a failed effect's error (the typed client rebuilds the server's error class). */
const failureTag = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

/**
 * `request`'s answer, and how many calls of `spy` while it ran had a first
 * argument `counted` picks; the spy is restored after it (its record with it).
 */
const sendCounting = (spy: MockInstance, counted: (first: unknown) => boolean, request: HttpClientRequest.HttpClientRequest) =>
  send(request).pipe(
    Effect.map((response) => [response, spy.mock.calls.filter((args) => counted(args[0])).length] as const),
    Effect.ensuring(Effect.sync(() => spy.mockRestore()))
  )

/** A job moved to `stalled` by recovery: claimed, silent for 31 s, recovered. */
const stalledJob = (input: Partial<JobRequestInput> = {}) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const job = yield* jobs.submit(summarize(input))
    yield* jobs.start(job.job_id)
    yield* TestClock.adjust("31 seconds")
    yield* Recovery.recoverStalledRuns()
    return yield* jobs.get(job.job_id)
  })

/** A job its program handed to the user (R6): started, then awaiting validation, then awaiting the user. */
const awaitingUserJob = () =>
  Effect.gen(function*() {
    const jobs = yield* Jobs
    const job = yield* jobs.submit(summarize())
    yield* jobs.start(job.job_id)
    yield* jobs.awaitValidation(job.job_id)
    return yield* jobs.awaitUser(job.job_id, { reason: "needs the user's choice" })
  })

/** A run offered to worker pools is taken by a pool's look, once: the look takes `runId`, the next finds none. */
const takenOnceByPools = (runId: WorkflowRunId | null) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    assert.strictEqual((yield* store.adoptOfferedRun!({}))?.run.id, runId)
    assert.isNull(yield* store.adoptOfferedRun!({}))
  })

/** A lifecycle event's [actor, from, to, reason]; null for any other event. */
const change = (event: StoredFlightEvent) =>
  "to_state" in event && "from_state" in event ? [event.actor, event.from_state, event.to_state, event.reason] as const : null

/** Events of a job of one type, oldest first. */
const eventsOf = (jobId: JobId, type: "system" | "capability_action") =>
  Effect.flatMap(FlightRecorder, (recorder) => Effect.map(recorder.list({ job_id: jobId, types: [type] }), (page) => page.items))

/**
 * JSON strings either side of the 4096 bytes a view inlines (R14): 5002 and
 * 4096 bytes of JSON text, the same on both stores (jsonb's text form spaces
 * only `:` and `,`).
 */
const LONG_PAYLOAD = "x".repeat(5000)
const AT_BOUND = "y".repeat(4094)

/** A job started under a run, for nodes to be written in. */
const startedJob = Effect.gen(function*() {
  const jobs = yield* Jobs
  const job = yield* jobs.submit(summarize())
  const { run } = yield* jobs.start(job.job_id)
  return { job, run }
})

export const runApiSuite = (backend: Backend) => {
  const withApi = <A, E, R>(effect: Effect.Effect<A, E, R>, options: Parameters<typeof apiServer>[1] = {}) =>
    Effect.provide(effect, apiServer(backend.makeStore(), options) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`HTTP API on ${backend.name}`, () => {
    it.effect("17.2 every route answers through the typed client: health, submit (201), list, show, events", () =>
      withApi(Effect.gen(function*() {
        const api = yield* typedClient()
        const health = yield* api.health.health()
        assert.deepStrictEqual({ ...health, version: "-" }, {
          status: "ok",
          database: "reachable",
          schema_version: newestShipped((yield* JobStore).dialect),
          recovery: "finished",
          version: "-"
        })

        const [job, response] = yield* api.jobs.submit({ payload: summarize({ status_reason: "first" }), withResponse: true })
        assert.strictEqual(response.status, 201)
        assert.strictEqual(job.state, "queued")
        assert.strictEqual(job.status_reason, "first")
        assert.strictEqual((yield* (yield* Jobs).get(job.job_id)).state, "queued", "the job is stored")

        const page = yield* api.jobs.list({ urlParams: {} })
        assert.deepStrictEqual(page.items.map((item) => item.job_id), [job.job_id])
        assert.isNull(page.next_cursor)

        const detail = yield* api.jobs.get({ path: { job_id: job.job_id } })
        assert.strictEqual(detail.job.job_id, job.job_id)
        assert.deepStrictEqual(detail.runs, [])
        assert.deepStrictEqual(detail.events.map((event) => event.type), ["capability_action", "system"])
        assert.isNull(detail.events_next_cursor)

        const events = yield* api.events.list({ urlParams: { job_id: job.job_id } })
        assert.deepStrictEqual(events.items.map((event) => event.event_id), detail.events.map((event) => event.event_id))
      })))

    it.effect("17.2 GET /jobs/:id returns the runs with their node executions in order, and the events", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* jobs.run(job.job_id, (context) =>
          Effect.zipRight(
            context.node({ node_id: "fetch", node_type: "io", input: { doc: "d1" } }, Effect.succeed({ bytes: 10 })),
            context.node({ node_id: "summarize", node_type: "llm", input: null }, Effect.succeed({ summary: "s" }))
          ))
        const api = yield* typedClient()
        const detail = yield* api.jobs.get({ path: { job_id: job.job_id } })
        assert.strictEqual(detail.job.state, "completed")
        assert.strictEqual(detail.runs.length, 1)
        const run = detail.runs[0]!
        assert.strictEqual(run.status, "completed")
        assert.deepStrictEqual(run.nodes.map((node) => [node.sequence, node.node_id, node.status, node.output_payload]), [
          [0, "fetch", "completed", { bytes: 10 }],
          [1, "summarize", "completed", { summary: "s" }]
        ])
        assert.deepStrictEqual(
          detail.events.flatMap((event) => change(event)?.[2] ?? []),
          ["queued", "running", "completed"]
        )
      })))

    it.effect("R14 GET /jobs/:id gives a node's payload inline only up to 4096 bytes of JSON text; a longer one is null beside an output_payload_ref { bytes, href }, and GET /runs/:id/nodes/:sequence (the href) gives that node in full", () =>
      withApi(Effect.gen(function*() {
        const store = yield* JobStore
        const { job, run } = yield* startedJob
        const [long, atBound] = [LONG_PAYLOAD, AT_BOUND]
        const first = yield* store.startNode({ workflow_run_id: run.id, node_id: "fetch", node_type: "io", input_payload: { doc: "d1" } })
        yield* store.finishNode(first.id, { status: "completed", output_payload: long })
        yield* store.startNode({ workflow_run_id: run.id, node_id: "write", node_type: "llm", input_payload: atBound })
        const api = yield* typedClient()
        const detail = yield* api.jobs.get({ path: { job_id: job.job_id } })
        const href = `/runs/${run.id}/nodes/0`
        assert.deepStrictEqual(
          detail.runs[0]!.nodes.map((node) => [node.node_id, node.input_payload, node.input_payload_ref, node.output_payload, node.output_payload_ref]),
          [["fetch", { doc: "d1" }, null, null, { bytes: 5002, href }], ["write", atBound, null, null, null]]
        )
        // The href, as a client follows it, and the typed client's route: the node in full, as the store reads it.
        const [stored] = yield* store.listNodes(run.id)
        const followed = yield* send(HttpClientRequest.get(href).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.deepStrictEqual([followed.status, followed.body?.["output_payload"], followed.body?.["node_id"]], [200, long, "fetch"])
        assert.deepStrictEqual(yield* api.runs.node({ path: { workflow_run_id: run.id, sequence: 0 } }), stored!)
        assert.strictEqual((yield* api.runs.node({ path: { workflow_run_id: run.id, sequence: 1 } })).input_payload, atBound)
      })))

    it.effect("R14 GET /runs/:id/nodes pages give a node's payload inline only up to 4096 bytes of JSON text, as a job's detail does: a longer one is null beside its { bytes, href } ref, past a cursor too; the served OpenAPI document says so", () =>
      withApi(Effect.gen(function*() {
        const store = yield* JobStore
        const { run } = yield* startedJob
        const [long, atBound] = [LONG_PAYLOAD, AT_BOUND]
        const first = yield* store.startNode({ workflow_run_id: run.id, node_id: "fetch", node_type: "io", input_payload: long })
        yield* store.finishNode(first.id, { status: "completed", output_payload: atBound })
        const second = yield* store.startNode({ workflow_run_id: run.id, node_id: "write", node_type: "llm", input_payload: { doc: "d1" } })
        yield* store.finishNode(second.id, { status: "completed", output_payload: long })
        const href = (sequence: number) => `/runs/${run.id}/nodes/${sequence}`
        const payloads = (items: unknown) =>
          (items as ReadonlyArray<Record<string, unknown>>).map((node) => [node["node_id"], node["input_payload"], node["input_payload_ref"], node["output_payload"], node["output_payload_ref"]])
        // The wire, as any client reads it: the first page, and a page past a cursor (the store's `after`).
        const page = yield* send(HttpClientRequest.get(`/runs/${run.id}/nodes`).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.deepStrictEqual([page.status, page.body?.["next_cursor"]], [200, null])
        assert.deepStrictEqual(payloads(page.body?.["items"]), [
          ["fetch", null, { bytes: 5002, href: href(0) }, atBound, null],
          ["write", { doc: "d1" }, null, null, { bytes: 5002, href: href(1) }]
        ])
        const after = yield* send(HttpClientRequest.get(`/runs/${run.id}/nodes?cursor=0&limit=1`).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.deepStrictEqual([after.status, after.body?.["next_cursor"]], [200, null])
        assert.deepStrictEqual(payloads(after.body?.["items"]), [["write", { doc: "d1" }, null, null, { bytes: 5002, href: href(1) }]])
        // The typed client decodes the page with the same refs, and the href gives the node in full.
        const api = yield* typedClient()
        const typed = yield* api.runs.nodes({ path: { workflow_run_id: run.id }, urlParams: { limit: 1 } })
        assert.deepStrictEqual([typed.items[0]!.input_payload_ref, typed.next_cursor], [{ bytes: 5002, href: href(0) }, "0"])
        const followed = yield* send(HttpClientRequest.get(href(1)).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.deepStrictEqual([followed.status, followed.body?.["output_payload"]], [200, long])
        // The served document: a page's items are the detail's node summaries, refs and all.
        const openApi = yield* send(HttpClientRequest.get("/openapi.json").pipe(HttpClientRequest.bearerToken(TOKEN)))
        const schemas = (openApi.body?.["components"] as { readonly schemas: Record<string, { readonly properties?: Record<string, unknown> }> }).schemas
        assert.deepStrictEqual(schemas["NodePage"]?.properties?.["items"], { type: "array", items: { $ref: "#/components/schemas/NodeSummary" } })
        assert.includeMembers(Object.keys(schemas["NodeSummary"]?.properties ?? {}), ["input_payload_ref", "output_payload_ref"])
      })))

    it.effect("17.2 GET /jobs/:id of a job with more than 1000 events returns the first 1000 and an events_next_cursor that GET /events continues from", () =>
      withApi(Effect.gen(function*() {
        const api = yield* typedClient()
        const store = yield* JobStore
        const job = yield* api.jobs.submit({ payload: summarize() })
        const own = (yield* store.listEvents({ job_id: job.job_id })).items.map((event) => event.event_id)
        const later = Array.from({ length: 1000 }, (_, i) => ({
          ...validEvents.diagnostic,
          event_id: uuid(),
          timestamp: new Date(1_000_000 + i).toISOString(),
          job_id: job.job_id,
          trace_id: job.trace_id
        }))
        yield* (yield* FlightRecorder).recordManyUntrusted(later)
        const all = [...own, ...later.map((event) => event.event_id)]
        const detail = yield* api.jobs.get({ path: { job_id: job.job_id } })
        assert.deepStrictEqual(detail.events.map((event) => event.event_id), all.slice(0, 1000))
        assert.isNotNull(detail.events_next_cursor)
        const rest = yield* api.events.list({ urlParams: { job_id: job.job_id, cursor: detail.events_next_cursor! } })
        assert.deepStrictEqual(rest.items.map((event) => event.event_id), all.slice(1000))
        assert.isNull(rest.next_cursor)
      })))

    it.effect("R14 GET /jobs/:id of a run with more than 1000 nodes holds its first 1000 in sequence order and a nodes_next_cursor; GET /runs/:id/nodes reads the rest page by page, no gap, no repeat; a run of exactly 1000 is not cut", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const api = yield* typedClient()
        /** A running job whose run has `count` nodes. */
        const withNodes = (count: number) =>
          Effect.gen(function*() {
            const job = yield* jobs.submit(summarize())
            const { run } = yield* jobs.start(job.job_id)
            // One commit for them all: a thousand commits of their own take long on a SQLite file.
            yield* store.transaction(Effect.forEach(
              Array.from({ length: count }, (_, i) => `n${i}`),
              (node_id) => store.startNode({ workflow_run_id: run.id, node_id, node_type: "step" }),
              { discard: true }
            ))
            return { job, run }
          })
        const big = yield* withNodes(1003)
        const detail = yield* api.jobs.get({ path: { job_id: big.job.job_id } })
        const [run] = detail.runs
        assert.deepStrictEqual(run!.nodes.map((node) => node.node_id), Array.from({ length: 1000 }, (_, i) => `n${i}`))
        assert.isNotNull(run!.nodes_next_cursor)
        assert.isNull(detail.runs_next_cursor)

        const rest: Array<string> = []
        let cursor: string | null = run!.nodes_next_cursor
        while (cursor !== null) {
          const page: { readonly items: ReadonlyArray<{ readonly node_id: string }>; readonly next_cursor: string | null } = yield* api.runs.nodes({ path: { workflow_run_id: big.run.id }, urlParams: { cursor, limit: 2 } })
          rest.push(...page.items.map((node) => node.node_id))
          cursor = page.next_cursor
        }
        assert.deepStrictEqual(rest, ["n1000", "n1001", "n1002"])
        const first = yield* api.runs.nodes({ path: { workflow_run_id: big.run.id }, urlParams: {} })
        assert.deepStrictEqual(first.items.map((node) => node.sequence), Array.from({ length: 100 }, (_, i) => i), "100 a page by default")

        const exact = yield* withNodes(1000)
        const [whole] = (yield* api.jobs.get({ path: { job_id: exact.job.job_id } })).runs
        assert.strictEqual(whole!.nodes.length, 1000)
        assert.isNull(whole!.nodes_next_cursor, "exactly 1000 nodes: nothing more")
      })), 120_000)

    it.effect("R14 GET /jobs/:id of a job with more than 100 runs holds its first 100, oldest first, and a runs_next_cursor; GET /jobs/:id/runs reads the rest page by page, no gap, no repeat; exactly 100 is not cut", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const api = yield* typedClient()
        /** A job with `count` runs, made at `count` instants (a job's runs are unbounded: each retry or resume makes one). */
        const withRuns = (count: number) =>
          Effect.gen(function*() {
            const job = yield* jobs.submit(summarize())
            const runs: Array<string> = []
            for (let i = 0; i < count; i++) {
              yield* TestClock.adjust(i % 3 === 0 ? "1 second" : "0 millis")
              runs.push((yield* store.createRun(job.job_id)).id)
            }
            return { job, runs: (yield* store.listRuns(job.job_id)).map((run) => run.id) }
          })
        const many = yield* withRuns(104)
        const detail = yield* api.jobs.get({ path: { job_id: many.job.job_id } })
        assert.deepStrictEqual(detail.runs.map((run) => run.id), many.runs.slice(0, 100))
        assert.isNotNull(detail.runs_next_cursor)
        const rest: Array<string> = []
        let cursor: string | null = detail.runs_next_cursor
        while (cursor !== null) {
          const page: { readonly items: ReadonlyArray<{ readonly id: string }>; readonly next_cursor: string | null } = yield* api.jobs.runs({ path: { job_id: many.job.job_id }, urlParams: { cursor, limit: 3 } })
          rest.push(...page.items.map((run) => run.id))
          cursor = page.next_cursor
        }
        assert.deepStrictEqual(rest, many.runs.slice(100))

        const exact = yield* withRuns(100)
        const whole = yield* api.jobs.get({ path: { job_id: exact.job.job_id } })
        assert.deepStrictEqual(whole.runs.map((run) => run.id), exact.runs)
        assert.isNull(whole.runs_next_cursor, "exactly 100 runs: nothing more")
      })), 120_000)

    it.effect("R14 the run and node pages refuse a bad cursor or limit (400, nothing read), answer 404 for a job or run that is not there, and an empty page for a node cursor past the last node however large; GET /runs/:id/nodes/:sequence is 404 for a run or node not there, 400 for a sequence that is not decimal digits up to 2^53 - 1", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        yield* store.startNode({ workflow_run_id: run.id, node_id: "n0", node_type: "step" })
        const authed = HttpClientRequest.bearerToken(TOKEN)
        const answer = (path: string) => Effect.map(send(HttpClientRequest.get(path).pipe(authed)), (r) => [r.status, r.body?.["_tag"]])
        for (const query of ["cursor=-1", "cursor=1.5", "cursor=01", "cursor=abc", "cursor=", "cursor=99999999999999999999", "limit=0", "limit=1001", "limit=1e3", "curser=1"]) {
          assert.deepStrictEqual(yield* answer(`/runs/${run.id}/nodes?${query}`), [400, "HttpApiDecodeError"], query)
        }
        for (const query of ["cursor=1", "cursor=not-a-run", "limit=0", "limit=x", "curser=1"]) {
          assert.deepStrictEqual(yield* answer(`/jobs/${job.job_id}/runs?${query}`), [400, "HttpApiDecodeError"], query)
        }
        assert.deepStrictEqual(yield* answer(`/runs/${MISSING}/nodes`), [404, "NotFound"])
        assert.deepStrictEqual(yield* answer(`/runs/${run.id}/nodes/0`), [200, undefined])
        assert.deepStrictEqual(yield* answer(`/runs/${MISSING}/nodes/0`), [404, "NotFound"])
        for (const sequence of ["1", "2147483648", String(Number.MAX_SAFE_INTEGER)]) {
          assert.deepStrictEqual(yield* answer(`/runs/${run.id}/nodes/${sequence}`), [404, "NotFound"], sequence)
        }
        for (const sequence of ["-1", "01", "1.5", "x", "1e3", "99999999999999999999"]) {
          assert.deepStrictEqual(yield* answer(`/runs/${run.id}/nodes/${sequence}`), [400, "HttpApiDecodeError"], sequence)
        }
        assert.deepStrictEqual(yield* answer(`/runs/not-a-run/nodes/0`), [400, "HttpApiDecodeError"])
        assert.deepStrictEqual(yield* answer(`/jobs/${MISSING}/runs`), [404, "NotFound"])
        const upper = yield* send(HttpClientRequest.get(`/jobs/${job.job_id}/runs?cursor=${run.id.toUpperCase()}`).pipe(authed))
        assert.deepStrictEqual([upper.status, upper.body?.["items"]], [200, []], "an upper-case run id is the same run")
        // Another job's run, or a run id that is no run, is no cursor of this job's runs: refused, never an
        // empty page with no next cursor (which says the job has no more runs) nor a page placed by it.
        const other = yield* jobs.submit(summarize())
        const { run: otherRun } = yield* jobs.start(other.job_id)
        for (const cursor of [otherRun.id, MISSING]) {
          assert.deepStrictEqual(yield* answer(`/jobs/${job.job_id}/runs?cursor=${cursor}`), [400, "DecodeFailure"], cursor)
        }
        // A cursor past PostgreSQL's integer sequence column (up to 2^53 − 1) is past the last node: an empty page, on both stores.
        for (const cursor of [0, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
          const nodes = yield* send(HttpClientRequest.get(`/runs/${run.id}/nodes?cursor=${cursor}`).pipe(authed))
          assert.deepStrictEqual([nodes.status, nodes.body?.["items"], nodes.body?.["next_cursor"]], [200, [], null], `cursor ${cursor}`)
        }
      })))

    it.effect("R8 HSK-WF-001 an operator's cancel, fail or resume through the API ends the node a stalled run left running, in the move", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const api = yield* typedClient()
        /** A stalled job whose run had node `n1` running when recovery took it. */
        const stalledMidNode = Effect.gen(function*() {
          const job = yield* jobs.submit(summarize())
          const { run } = yield* jobs.start(job.job_id)
          yield* store.startNode({ workflow_run_id: run.id, node_id: "n1", node_type: "llm" })
          yield* TestClock.adjust("31 seconds")
          yield* Recovery.recoverStalledRuns()
          assert.strictEqual((yield* store.listNodes(run.id))[0]?.status, "running", "recovery ends no node")
          return { job, run }
        })
        const nodeOf = (run: { readonly id: WorkflowRunId }) =>
          Effect.map(store.listNodes(run.id), ([node]) => [node?.status, node?.error_message, node?.finished_at === null])

        const cancelled = yield* stalledMidNode
        yield* api.jobs.cancel({ path: { job_id: cancelled.job.job_id }, payload: { reason: "not needed" } })
        assert.deepStrictEqual(yield* nodeOf(cancelled.run), ["cancelled", "not needed", false])

        const failed = yield* stalledMidNode
        yield* api.jobs.fail({ path: { job_id: failed.job.job_id }, payload: { reason: "tool hung" } })
        assert.deepStrictEqual(yield* nodeOf(failed.run), ["failed", "tool hung", false])

        const resumed = yield* stalledMidNode
        yield* api.jobs.resume({ path: { job_id: resumed.job.job_id }, payload: { reason: "worker replaced" } })
        assert.deepStrictEqual(yield* nodeOf(resumed.run), ["stalled", "worker replaced", false])
        assert.strictEqual((yield* store.getRun(resumed.run.id)).status, "stalled")
      })))

    it.effect("17.2 operator actions are guarded transitions with a human event: resume, cancel, retry, pin, unpin", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const api = yield* typedClient()

        const stalled = yield* stalledJob()
        assert.strictEqual(stalled.state, "stalled")
        const resumed = yield* api.jobs.resume({ path: { job_id: stalled.job_id }, payload: { reason: "worker replaced" } })
        assert.strictEqual(resumed.state, "running")
        assert.notStrictEqual(resumed.workflow_run_id, stalled.workflow_run_id, "a resume runs under a new workflow run (R6c)")
        assert.strictEqual((yield* store.listRuns(stalled.job_id)).length, 2)
        // The new run is offered to worker pools: a pool's look takes it, once.
        yield* takenOnceByPools(resumed.workflow_run_id)
        const lastResume = (yield* eventsOf(stalled.job_id, "system")).at(-1)!
        assert.deepStrictEqual(
          change(lastResume),
          ["human", "stalled", "running", "worker replaced"]
        )

        const cancelled = yield* api.jobs.cancel({ path: { job_id: stalled.job_id }, payload: {} })
        assert.strictEqual(cancelled.state, "cancelled")

        const failing = yield* jobs.submit(summarize())
        yield* jobs.start(failing.job_id)
        yield* jobs.fail(failing.job_id, "boom")
        const retried = yield* api.jobs.retry({ path: { job_id: failing.job_id }, payload: { reason: "transient" } })
        assert.strictEqual(retried.state, "queued")
        assert.strictEqual(retried.status_reason, "transient")

        const pinned = yield* api.jobs.pin({ path: { job_id: failing.job_id }, payload: { reason: "evidence" } })
        assert.isTrue(pinned.is_pinned)
        const unpinned = yield* api.jobs.unpin({ path: { job_id: failing.job_id }, payload: {} })
        assert.isFalse(unpinned.is_pinned)
        const tail = (yield* eventsOf(failing.job_id, "system")).slice(-3)
        assert.deepStrictEqual(tail.map((event) => change(event)?.filter((_, i) => i !== 1)), [
          ["human", "queued", "transient"],
          ["human", "queued", "pinned: evidence"],
          ["human", "queued", "unpinned"]
        ])

        // An empty body is an action without a reason, as curl -X POST sends it.
        const bare = yield* send(HttpClientRequest.post(`/jobs/${failing.job_id}/cancel`).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.strictEqual(bare.status, 200, bare.text)
        assert.strictEqual(bare.body?.["state"], "cancelled")
      })))

    it.effect("R6 17.2 POST /jobs/:id/rework: a job awaiting the user runs again under a new workflow run offered to worker pools, a human event; any other state is 409 IllegalTransition naming rework and awaiting_user, nothing changed", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const api = yield* typedClient()
        const waiting = yield* awaitingUserJob()
        assert.strictEqual(waiting.state, "awaiting_user")
        const reworked = yield* api.jobs.rework({ path: { job_id: waiting.job_id }, payload: { reason: "user chose option B" } })
        assert.deepStrictEqual([reworked.state, reworked.status_reason], ["running", "user chose option B"])
        const runs = yield* store.listRuns(waiting.job_id)
        assert.strictEqual(runs.length, 2)
        assert.notStrictEqual(reworked.workflow_run_id, waiting.workflow_run_id, "a rework runs under a new workflow run (R6c)")
        assert.strictEqual(runs[1]?.id, reworked.workflow_run_id)
        // Offered to worker pools, as a resume's run is: a pool's look takes it, once.
        yield* takenOnceByPools(reworked.workflow_run_id)
        assert.deepStrictEqual(change((yield* eventsOf(waiting.job_id, "system")).at(-1)!), ["human", "awaiting_user", "running", "user chose option B"])

        // Refused: a running job (the one just reworked) and a queued one, through the client and on the wire.
        const events = (yield* eventsOf(waiting.job_id, "system")).length
        const refused = yield* Effect.flip(api.jobs.rework({ path: { job_id: waiting.job_id }, payload: {} }))
        assert.strictEqual(refused._tag, "IllegalTransition")
        assert.deepStrictEqual(
          refused._tag === "IllegalTransition" ? [refused.from, refused.to, refused.operation, refused.accepts] : [],
          ["running", "running", "rework", ["awaiting_user"]]
        )
        const queued = yield* jobs.submit(summarize())
        const raw = yield* send(HttpClientRequest.post(`/jobs/${queued.job_id}/rework`).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.strictEqual(raw.status, 409, raw.text)
        assert.deepStrictEqual(
          [raw.body?.["_tag"], raw.body?.["from"], raw.body?.["to"], raw.body?.["operation"], raw.body?.["accepts"]],
          ["IllegalTransition", "queued", "running", "rework", ["awaiting_user"]]
        )
        assert.match(String(raw.body?.["message"]), /rework moves only a job that is awaiting_user to running/)
        assert.strictEqual((yield* jobs.get(queued.job_id)).state, "queued", "a refused rework changes nothing")
        assert.strictEqual((yield* store.listRuns(queued.job_id)).length, 0)
        assert.strictEqual((yield* eventsOf(waiting.job_id, "system")).length, events)
        assert.strictEqual(yield* failureTag(api.jobs.rework({ path: { job_id: MISSING }, payload: {} })), "NotFound")

        // Resume stays stalled's alone: it refuses a job awaiting the user, naming its own state.
        const other = yield* awaitingUserJob()
        const notResumed = yield* Effect.flip(api.jobs.resume({ path: { job_id: other.job_id }, payload: {} }))
        assert.deepStrictEqual(
          notResumed._tag === "IllegalTransition" ? [notResumed.from, notResumed.operation, notResumed.accepts] : [notResumed._tag],
          ["awaiting_user", "resume", ["stalled"]]
        )
        assert.strictEqual((yield* jobs.get(other.job_id)).state, "awaiting_user")
      })))

    it.effect("R6 17.2 fail, then retry: a stalled job goes back to the queue worker pools claim from, each a human event; failing a finished job is 409", () =>
      withApi(Effect.gen(function*() {
        const api = yield* typedClient()
        const stalled = yield* stalledJob()
        const failed = yield* api.jobs.fail({ path: { job_id: stalled.job_id }, payload: { reason: "worker host lost" } })
        assert.deepStrictEqual([failed.state, failed.error_message, failed.status_reason], ["failed", "worker host lost", "worker host lost"])
        const queued = yield* api.jobs.retry({ path: { job_id: stalled.job_id }, payload: {} })
        assert.strictEqual(queued.state, "queued")
        assert.deepStrictEqual((yield* eventsOf(stalled.job_id, "system")).slice(-2).map(change), [
          ["human", "stalled", "failed", "worker host lost"],
          ["human", "failed", "queued", undefined]
        ])
        yield* api.jobs.cancel({ path: { job_id: stalled.job_id }, payload: {} })
        const refused = yield* Effect.flip(api.jobs.fail({ path: { job_id: stalled.job_id }, payload: {} }))
        assert.strictEqual(refused._tag, "IllegalTransition")
      })))

    it.effect("17.2 auth: every route but /health refuses no token, a wrong one and a non-Bearer header with 401 Unauthorized, and changes nothing", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const id = job.job_id
        const anonymous = yield* anonymousClient
        const wrong = yield* typedClient("test-token-0123456789-abcdeF")
        for (const client of [anonymous, wrong]) {
          const tags = yield* Effect.all([
            failureTag(client.jobs.submit({ payload: summarize() })),
            failureTag(client.jobs.list({ urlParams: {} })),
            failureTag(client.jobs.get({ path: { job_id: id } })),
            failureTag(client.jobs.cancel({ path: { job_id: id }, payload: {} })),
            failureTag(client.jobs.retry({ path: { job_id: id }, payload: {} })),
            failureTag(client.jobs.resume({ path: { job_id: id }, payload: {} })),
            failureTag(client.jobs.rework({ path: { job_id: id }, payload: {} })),
            failureTag(client.jobs.pin({ path: { job_id: id }, payload: {} })),
            failureTag(client.jobs.unpin({ path: { job_id: id }, payload: {} })),
            failureTag(client.events.list({ urlParams: {} }))
          ])
          assert.deepStrictEqual(tags, Array(10).fill("Unauthorized"))
          assert.strictEqual((yield* anonymous.health.health()).status, "ok", "/health needs no token")
        }
        const after = yield* jobs.get(id)
        assert.strictEqual(after.state, "queued")
        assert.isFalse(after.is_pinned)
        assert.strictEqual((yield* jobs.list()).items.length, 1, "no refused submit was stored")

        for (const authorization of [`Basic ${TOKEN}`, `Token ${TOKEN}`, `Bearer${TOKEN}`, `Bearer ${TOKEN}x`, `xxxxxxx${TOKEN}`, ""]) {
          const refused = yield* send(HttpClientRequest.get("/jobs").pipe(HttpClientRequest.setHeader("authorization", authorization)))
          assert.strictEqual(refused.status, 401, authorization)
          assert.strictEqual(refused.body?.["_tag"], "Unauthorized")
          assert.isString(refused.body?.["message"])
        }
        const schemeCaseInsensitive = yield* send(HttpClientRequest.get("/jobs").pipe(HttpClientRequest.setHeader("authorization", `bearer ${TOKEN}`)))
        assert.strictEqual(schemeCaseInsensitive.status, 200)

        const openApiRefused = yield* send(HttpClientRequest.get("/openapi.json"))
        assert.strictEqual(openApiRefused.status, 401)
        const openApi = yield* send(HttpClientRequest.get("/openapi.json").pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.strictEqual(openApi.status, 200)
        const paths = Object.keys((openApi.body?.["paths"] ?? {}) as object).sort()
        assert.deepStrictEqual(paths, [
          "/events", "/health", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/cancel", "/jobs/{job_id}/fail", "/jobs/{job_id}/pin",
          "/jobs/{job_id}/resume", "/jobs/{job_id}/retry", "/jobs/{job_id}/rework", "/jobs/{job_id}/runs", "/jobs/{job_id}/unpin", "/runs/{workflow_run_id}/nodes",
          "/runs/{workflow_run_id}/nodes/{sequence}"
        ])
        // The console's files carry no data and load without the token (the page then asks for it).
        const page = yield* send(HttpClientRequest.get("/console/"))
        assert.strictEqual(page.status, 200)
        // README: scripts and styles from the server itself only — no 'unsafe-inline' or other source beside 'self'.
        const csp = page.headers["content-security-policy"] ?? ""
        const sources = (directive: string) => csp.split(";").map((part) => part.trim().split(/\s+/)).find(([name]) => name === directive)?.slice(1)
        assert.deepStrictEqual([sources("script-src"), sources("style-src")], [["'self'"], ["'self'"]], csp)
      })))

    it.effect("17.2 POST /jobs applies the capability policy of Jobs.submit: an escalation is 403 EscalationDenied, nothing queued, each denial recorded", () =>
      withApi(Effect.gen(function*() {
        const api = yield* typedClient()
        // The policy runs terminal_exec under Coder; Analyst grants what Coder does not, so asking for it is an escalation.
        const denied = yield* Effect.flip(api.jobs.submit({
          payload: summarize({ job_kind: "terminal_exec", capability_profile_id: "Analyst", job_id: MISSING })
        }))
        assert.strictEqual(denied._tag, "EscalationDenied")
        const excess = denied._tag === "EscalationDenied" ? [...denied.excess] : []
        assert.include(excess, "export.debug_bundle")
        assert.deepStrictEqual((yield* (yield* Jobs).list()).items, [], "a denied job is never queued")
        const decisions = yield* eventsOf(MISSING, "capability_action")
        assert.deepStrictEqual(
          decisions.map((event) => event.type === "capability_action" ? event.decision_outcome : ""),
          excess.map(() => "deny"),
          "one deny event per grant beyond the policy's profile"
        )

        const raw = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyUnsafeJson(summarize({ capability_profile_id: "Coder" }))
        ))
        assert.strictEqual(raw.status, 403)
        assert.strictEqual(raw.body?.["_tag"], "EscalationDenied")

        const unknown = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyUnsafeJson(summarize({ capability_profile_id: "Nobody" }))
        ))
        assert.strictEqual(unknown.status, 422)
        assert.strictEqual(unknown.body?.["_tag"], "UnknownProfile")

        // The legacy alias is read as terminal_exec (R1a) and allowed for a Coder.
        const alias = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyUnsafeJson(summarize({ job_kind: "term_exec", capability_profile_id: "Coder" }))
        ))
        assert.strictEqual(alias.status, 201, alias.text)
        assert.strictEqual(alias.body?.["job_kind"], "terminal_exec")
      })))

    it.effect("R15 R18 POST /jobs (found by an outside attacker's probe): mallory's refused job_id is 409 AlreadyExists for alice, nothing written; a job posted is_pinned has the pin's event after its queued one", () =>
      withApi(Effect.gen(function*() {
        const post = (body: unknown) =>
          send(HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bearerToken(TOKEN), HttpClientRequest.bodyUnsafeJson(body)))
        const id = "0190a9d2-7a1e-7c4b-8d2e-00000000ca11" as JobId
        const mallory = yield* post(summarize({ job_id: id, profile_id: "mallory", capability_profile_id: "Coder" }))
        assert.strictEqual(mallory.status, 403, mallory.text)
        const denies = yield* eventsOf(id, "capability_action")
        assert.deepStrictEqual(denies.map((event) => event.type === "capability_action" ? [event.actor_id, event.decision_outcome] : []), [
          ["mallory", "deny"], ["mallory", "deny"], ["mallory", "deny"]
        ])
        const alice = yield* post(summarize({ job_id: id, profile_id: "alice" }))
        assert.strictEqual(alice.status, 409, alice.text)
        assert.deepStrictEqual([alice.body?.["_tag"], alice.body?.["entity"], alice.body?.["id"], alice.body?.["refused_request"]], ["AlreadyExists", "job", id, true])
        assert.strictEqual((yield* send(HttpClientRequest.get(`/jobs/${id}`).pipe(HttpClientRequest.bearerToken(TOKEN)))).status, 404, "no job under the id")
        assert.deepStrictEqual(yield* eventsOf(id, "capability_action"), denies, "nothing recorded")
        assert.deepStrictEqual(yield* eventsOf(id, "system"), [])

        const pinned = yield* post(summarize({ is_pinned: true }))
        assert.strictEqual(pinned.status, 201, pinned.text)
        const detail = yield* (yield* typedClient()).jobs.get({ path: { job_id: pinned.body?.["job_id"] as JobId } })
        assert.isTrue(detail.job.is_pinned)
        assert.deepStrictEqual(detail.events.map((event) => change(event) ?? event.type), [
          "capability_action",
          ["system", null, "queued", undefined],
          ["system", "queued", "queued", "pinned"]
        ])
      })))

    it.effect("R18 GET /jobs/:id of a pruned job is 404 NotFound saying it was pruned (its audit trail still names it); an id nothing names is a plain 404", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const store = yield* JobStore
        const old = yield* Effect.flatMap(jobs.submit(summarize()), (job) => jobs.cancel(job.job_id)).pipe(Effect.withClock(pastClock("40 days")))
        const pruned = yield* store.pruneJobs({ olderThan: DateTime.unsafeMake(Date.now() - 30 * 86_400_000), keepNewest: 0 })
        assert.isAtLeast(pruned.pruned, 1)
        const authed = HttpClientRequest.bearerToken(TOKEN)
        const gone = yield* send(HttpClientRequest.get(`/jobs/${old.job_id}`).pipe(authed))
        assert.deepStrictEqual([gone.status, gone.body?.["_tag"], gone.body?.["id"], gone.body?.["pruned"]], [404, "NotFound", old.job_id, true], gone.text)
        assert.match(String(gone.body?.["message"]), /the job was pruned; the audit trail kept of it still names it/)
        const library = yield* Effect.flip(jobs.get(old.job_id))
        assert.deepStrictEqual([library._tag, library._tag === "NotFound" ? library.pruned : undefined], ["NotFound", true])
        const never = yield* send(HttpClientRequest.get(`/jobs/${MISSING}`).pipe(authed))
        assert.deepStrictEqual([never.status, never.body?.["_tag"], never.body?.["pruned"]], [404, "NotFound", undefined], never.text)
      })))

    it.effect("17.2 errors keep their tag and status: 404 NotFound, 409 IllegalTransition, 409 AlreadyExists, 400 for bad ids, filters, cursors and bodies", () =>
      withApi(Effect.gen(function*() {
        const api = yield* typedClient()
        const jobs = yield* Jobs
        const queued = yield* jobs.submit(summarize())
        const authed = HttpClientRequest.bearerToken(TOKEN)

        const missing = yield* Effect.flip(api.jobs.get({ path: { job_id: MISSING } }))
        assert.strictEqual(missing._tag, "NotFound")
        assert.strictEqual((yield* send(HttpClientRequest.get(`/jobs/${MISSING}`).pipe(authed))).status, 404)
        assert.strictEqual(yield* failureTag(api.jobs.resume({ path: { job_id: MISSING }, payload: {} })), "NotFound")

        const illegal = yield* Effect.flip(api.jobs.retry({ path: { job_id: queued.job_id }, payload: {} }))
        assert.strictEqual(illegal._tag, "IllegalTransition")
        assert.deepStrictEqual(illegal._tag === "IllegalTransition" ? [illegal.from, illegal.to] : [], ["queued", "queued"])
        const illegalRaw = yield* send(HttpClientRequest.post(`/jobs/${queued.job_id}/resume`).pipe(authed, HttpClientRequest.bodyUnsafeJson({})))
        assert.strictEqual(illegalRaw.status, 409)
        assert.deepStrictEqual([illegalRaw.body?.["_tag"], illegalRaw.body?.["from"], illegalRaw.body?.["to"]], ["IllegalTransition", "queued", "running"])
        assert.match(String(illegalRaw.body?.["message"]), /cannot go from queued to running/)
        assert.strictEqual((yield* jobs.get(queued.job_id)).state, "queued", "a refused action changes nothing")

        const taken = yield* send(HttpClientRequest.post("/jobs").pipe(authed, HttpClientRequest.bodyUnsafeJson(summarize({ job_id: queued.job_id }))))
        assert.deepStrictEqual([taken.status, taken.body?.["_tag"]], [409, "AlreadyExists"])

        const badRequests: Array<[HttpClientRequest.HttpClientRequest, string]> = [
          [HttpClientRequest.get("/jobs/not-a-uuid"), "HttpApiDecodeError"],
          [HttpClientRequest.get("/jobs?state=running,sleeping"), "HttpApiDecodeError"],
          [HttpClientRequest.get("/jobs?limit=0"), "HttpApiDecodeError"],
          [HttpClientRequest.get("/jobs?limit=1001"), "HttpApiDecodeError"],
          [HttpClientRequest.get("/jobs?created_after=yesterday"), "HttpApiDecodeError"],
          [HttpClientRequest.get("/events?type=gossip"), "HttpApiDecodeError"],
          [HttpClientRequest.get("/jobs?cursor=forged"), "DecodeFailure"],
          [HttpClientRequest.get("/events?cursor=forged"), "DecodeFailure"],
          [HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bodyText("{not json", "application/json")), "MalformedBody"],
          [HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bodyUnsafeJson({ job_kind: "doc_test" })), "HttpApiDecodeError"],
          [HttpClientRequest.post(`/jobs/${queued.job_id}/cancel`).pipe(HttpClientRequest.bodyUnsafeJson({ reason: "nul\u0000" })), "HttpApiDecodeError"],
          [HttpClientRequest.post(`/jobs/${queued.job_id}/cancel`).pipe(HttpClientRequest.bodyUnsafeJson({ reason: "x".repeat(70_000) })), "DecodeFailure"]
        ]
        for (const [request, tag] of badRequests) {
          const response = yield* send(request.pipe(authed))
          assert.deepStrictEqual([response.status, response.body?.["_tag"]], [400, tag], `${request.method} ${request.url}: ${response.text.slice(0, 300)}`)
        }
        assert.strictEqual((yield* jobs.get(queued.job_id)).state, "queued")
        assert.strictEqual((yield* jobs.list()).items.length, 1, "no bad request stored anything")
      })))

    it.effect("17.2 a reason over 4,000 characters (under the body limit) on cancel, fail or pin is 400 DecodeFailure naming reason and its bound; nothing changes", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const queued = yield* jobs.submit(summarize())
        const authed = HttpClientRequest.bearerToken(TOKEN)
        for (const action of ["cancel", "fail", "pin"]) {
          const response = yield* send(
            HttpClientRequest.post(`/jobs/${queued.job_id}/${action}`).pipe(authed, HttpClientRequest.bodyUnsafeJson({ reason: "r".repeat(72_000) }))
          )
          assert.deepStrictEqual(
            [response.status, response.body?.["_tag"], response.body?.["issues"]],
            [400, "DecodeFailure", [{ path: "reason", message: "Expected at most 4000 characters, actual 72000" }]],
            `${action}: ${response.text.slice(0, 300)}`
          )
        }
        const after = yield* jobs.get(queued.job_id)
        assert.deepStrictEqual([after.state, after.is_pinned], ["queued", false])
        assert.strictEqual((yield* eventsOf(queued.job_id, "system")).length, 1, "only the submit's event")
      })))

    it.effect("17.2 README the served OpenAPI document says what the server accepts: an action's body optional, its reason at most 4,000 characters, every page's limit 1 to 1000", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const queued = yield* jobs.submit(summarize())
        const authed = HttpClientRequest.bearerToken(TOKEN)
        const doc = (yield* send(HttpClientRequest.get("/openapi.json").pipe(authed))).body as {
          readonly paths: Record<string, Record<string, { readonly requestBody?: { readonly required?: boolean }; readonly parameters?: ReadonlyArray<{ readonly name: string; readonly schema: object }> }>>
          readonly components: { readonly schemas: Record<string, { readonly anyOf: ReadonlyArray<{ readonly properties?: Record<string, object> }> }> }
        }
        // Found by a README truth audit: every action's body was `required: true`, though none at all is taken as {} (200).
        const actions = ["resume", "rework", "retry", "fail", "cancel", "pin", "unpin"]
        assert.deepStrictEqual(actions.map((action) => doc.paths[`/jobs/{job_id}/${action}`]?.["post"]?.requestBody?.required), actions.map(() => false))
        const bare = yield* send(HttpClientRequest.post(`/jobs/${queued.job_id}/pin`).pipe(authed))
        assert.strictEqual(bare.status, 200, bare.text)
        // ... its reason had no bound, though 4,001 characters are refused.
        const reason = doc.components.schemas["ActionRequest"]?.anyOf.find((member) => member.properties)?.properties?.["reason"]
        assert.deepStrictEqual(reason, { $ref: "#/components/schemas/Text", maxLength: 4000 })
        for (const [length, status] of [[4_000, 200], [4_001, 400]] as const) {
          const answer = yield* send(HttpClientRequest.post(`/jobs/${queued.job_id}/pin`).pipe(authed, HttpClientRequest.bodyUnsafeJson({ reason: "😀".repeat(length) })))
          assert.strictEqual(answer.status, status, `${length} characters: ${answer.text.slice(0, 200)}`)
        }
        // ... and each page's limit was only `^[0-9]+$`, though 0 and 1001 are refused.
        const limit = { type: "integer", minimum: 1, maximum: 1000, description: "Page size, 1 to 1000 (default 100)" }
        const paged = ["/jobs", "/events", "/jobs/{job_id}/runs", "/runs/{workflow_run_id}/nodes"]
        assert.deepStrictEqual(paged.map((path) => doc.paths[path]?.["get"]?.parameters?.find((parameter) => parameter.name === "limit")?.schema), paged.map(() => limit))
        for (const [value, status] of [["0", 400], ["1", 200], ["1000", 200], ["1001", 400]] as const) {
          assert.deepStrictEqual(
            [(yield* send(HttpClientRequest.get(`/jobs?limit=${value}`).pipe(authed))).status, (yield* send(HttpClientRequest.get(`/events?limit=${value}`).pipe(authed))).status],
            [status, status],
            `limit=${value}`
          )
        }
      })))

    it.effect("17.2 request size limit: 413 PayloadTooLarge over it, 411 LengthRequired without a Content-Length, 401 first without a token", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const big = JSON.stringify(summarize({ job_inputs: { text: "x".repeat(5_000) } }))
        const declared = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyText(big, "application/json")
        ))
        assert.deepStrictEqual([declared.status, declared.body?.["_tag"], declared.body?.["limit_bytes"]], [413, "PayloadTooLarge", 4096])
        // The limit is the largest body taken: exactly 4,096 bytes is accepted, one more is 413.
        const sized = (bytes: number) => {
          const empty = Buffer.byteLength(JSON.stringify(summarize({ job_inputs: { text: "" } })))
          return JSON.stringify(summarize({ job_inputs: { text: "x".repeat(bytes - empty) } }))
        }
        const atLimit = yield* send(HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bearerToken(TOKEN), HttpClientRequest.bodyText(sized(4096), "application/json")))
        assert.strictEqual(atLimit.status, 201, atLimit.text)
        const pastLimit = yield* send(HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bearerToken(TOKEN), HttpClientRequest.bodyText(sized(4097), "application/json")))
        assert.deepStrictEqual([pastLimit.status, pastLimit.body?.["_tag"]], [413, "PayloadTooLarge"])

        // No Content-Length (chunked): refused before reading, whatever its size, so no body is ever read unbounded.
        const chunks = Stream.make(new TextEncoder().encode("{"), new TextEncoder().encode("}"))
        const streamed = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyStream(chunks, { contentType: "application/json" })
        ))
        assert.deepStrictEqual([streamed.status, streamed.body?.["_tag"]], [411, "LengthRequired"])

        const anonymous = yield* send(HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bodyText(big, "application/json")))
        assert.deepStrictEqual([anonymous.status, anonymous.body?.["_tag"]], [401, "Unauthorized"], "the token is checked before the body is read")

        const small = yield* send(HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyUnsafeJson(summarize({ job_inputs: { text: "x".repeat(1_000) } }))
        ))
        assert.strictEqual(small.status, 201, small.text)
        assert.strictEqual((yield* jobs.list()).items.length, 2, "the body at the limit and the small one")
      }), { maxBodyBytes: 4096 }))

    it.effect("17.2 POST /jobs parses its body once: the body check's parse is the value the route decodes (a 95,000-key body was parsed twice on the event loop, ~100 ms each)", () =>
      withApi(Effect.gen(function*() {
        const body = JSON.stringify(summarize({ job_inputs: { prompt: "parsed once", nested: [{ a: 1 }] } }))
        // Every JSON.parse of the body's text while the request runs.
        const [response, parsesOfBody] = yield* sendCounting(vi.spyOn(JSON, "parse"), (text) => text === body, HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyText(body, "application/json")
        ))
        assert.strictEqual(response.status, 201, response.text)
        assert.deepStrictEqual(response.body?.["job_inputs"], { prompt: "parsed once", nested: [{ a: 1 }] })
        assert.strictEqual(parsesOfBody, 1, "the body's text is parsed once")
        assert.deepStrictEqual((yield* (yield* Jobs).list()).items.map((job) => job.job_inputs), [{ prompt: "parsed once", nested: [{ a: 1 }] }])
      })))

    it.effect("17.2 POST /jobs walks the job's inputs twice — the API's shape check, then Jobs.submit's — and its 201 answer not again (it walked them twice more: ~110 ms each for 95,000 keys)", () =>
      withApi(Effect.gen(function*() {
        const inputs = { walked: "inputs", nested: [{ a: 1 }] }
        // Each walk of the inputs lists the keys of each object in them once; counted for the object at their top.
        const [response, walks] = yield* sendCounting(vi.spyOn(Object, "keys"), (object) => typeof object === "object" && object !== null && Object.hasOwn(object, "walked"), HttpClientRequest.post("/jobs").pipe(
          HttpClientRequest.bearerToken(TOKEN),
          HttpClientRequest.bodyUnsafeJson(summarize({ job_inputs: inputs }))
        ))
        assert.strictEqual(response.status, 201, response.text)
        assert.deepStrictEqual(response.body?.["job_inputs"], inputs)
        assert.strictEqual(walks, 2, "the API's check and Jobs.submit's")
        const [stored] = (yield* (yield* Jobs).list()).items
        assert.deepStrictEqual(response.body, JSON.parse(JSON.stringify(Schema.encodeSync(AiJob)(stored!))), "the answer is the job as the platform encodes it")
      })))

    it.effect("17.2 cursor paging: 25 jobs by 10, newest first by default, no gaps or duplicates, filters kept; oldest first on request", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const api = yield* typedClient()
        const created: Array<AiJob> = []
        for (let i = 0; i < 25; i++) {
          yield* TestClock.setTime(1_000 * Math.floor(i / 4))
          created.push(yield* jobs.submit(summarize({ job_kind: "doc_edit" })))
          yield* jobs.submit(summarize({ job_kind: "doc_rewrite" }))
        }
        const pages: Array<ReadonlyArray<string>> = []
        let cursor: string | undefined
        for (let i = 0; i < 10; i++) {
          const page: { readonly items: ReadonlyArray<AiJob>; readonly next_cursor: string | null } = yield* api.jobs.list({
            urlParams: { job_kind: ["doc_edit"], limit: 10, ...(cursor === undefined ? {} : { cursor }) }
          })
          pages.push(page.items.map((job) => job.job_id))
          if (page.next_cursor === null) break
          cursor = page.next_cursor
        }
        assert.deepStrictEqual(pages.map((page) => page.length), [10, 10, 5])
        // Ids are time-ordered (UUIDv7), so newest first is the reverse of creation.
        assert.deepStrictEqual(pages.flat(), created.map((job) => job.job_id).reverse())
        const oldest = yield* api.jobs.list({ urlParams: { job_kind: ["doc_edit"], order: "asc", limit: 3 } })
        assert.deepStrictEqual(oldest.items.map((job) => job.job_id), created.slice(0, 3).map((job) => job.job_id))

        const events: Array<string> = []
        cursor = undefined
        for (let i = 0; i < 20; i++) {
          const page: { readonly items: ReadonlyArray<{ readonly event_id: string }>; readonly next_cursor: string | null } =
            yield* api.events.list({ urlParams: { type: ["system"], limit: 7, ...(cursor === undefined ? {} : { cursor }) } })
          events.push(...page.items.map((event) => event.event_id))
          if (page.next_cursor === null) break
          cursor = page.next_cursor
        }
        assert.strictEqual(events.length, 50, "one system event per submitted job")
        assert.strictEqual(new Set(events).size, 50)
      })))

    it.effect("17.2 a cursor is tied to its listing and order: a /jobs cursor on /events is 400, /events?limit=2 then ?cursor=C continues ascending, ?cursor=C&order=desc is 400; /jobs cursors continue their own order", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const authed = HttpClientRequest.bearerToken(TOKEN)
        const submitted: Array<string> = []
        for (let i = 0; i < 4; i++) {
          yield* TestClock.setTime(1_000 * i)
          submitted.push((yield* jobs.submit(summarize())).job_id)
        }
        const get = (url: string) => send(HttpClientRequest.get(url).pipe(authed))
        const page = (response: { readonly body: Record<string, unknown> | null }) =>
          response.body as { readonly items: ReadonlyArray<Record<string, unknown>>; readonly next_cursor: string | null }
        const query = (cursor: string) => encodeURIComponent(cursor)

        // A /jobs cursor is no /events cursor, and the other way round.
        const jobsCursor = page(yield* get("/jobs?limit=2")).next_cursor!
        const eventsFirst = page(yield* get("/events?limit=2"))
        const eventsCursor = eventsFirst.next_cursor!
        for (const url of [`/events?cursor=${query(jobsCursor)}`, `/jobs?cursor=${query(eventsCursor)}`]) {
          const refused = yield* get(url)
          assert.deepStrictEqual([refused.status, refused.body?.["_tag"]], [400, "DecodeFailure"], `${url}: ${refused.text.slice(0, 300)}`)
        }

        // The events cursor continues ascending, its page's order; asking for desc with it is refused.
        const all = page(yield* get("/events?limit=100")).items.map((event) => event["event_id"])
        const next = yield* get(`/events?cursor=${query(eventsCursor)}&limit=2`)
        assert.strictEqual(next.status, 200, next.text)
        assert.deepStrictEqual(page(next).items.map((event) => event["event_id"]), all.slice(2, 4))
        const reversed = yield* get(`/events?cursor=${query(eventsCursor)}&order=desc`)
        assert.deepStrictEqual([reversed.status, reversed.body?.["_tag"]], [400, "DecodeFailure"], reversed.text.slice(0, 300))
        assert.include(reversed.text, "in asc order, not desc")

        // /jobs: newest first by default, and a cursor of an oldest-first page continues oldest first without order=asc.
        const newest = yield* get(`/jobs?cursor=${query(jobsCursor)}`)
        assert.deepStrictEqual(page(newest).items.map((job) => job["job_id"]), [submitted[1], submitted[0]])
        const ascCursor = page(yield* get("/jobs?order=asc&limit=2")).next_cursor!
        const oldest = yield* get(`/jobs?cursor=${query(ascCursor)}`)
        assert.strictEqual(oldest.status, 200, oldest.text)
        assert.deepStrictEqual(page(oldest).items.map((job) => job["job_id"]), [submitted[2], submitted[3]])
        const conflicting = yield* get(`/jobs?cursor=${query(ascCursor)}&order=desc`)
        assert.deepStrictEqual([conflicting.status, conflicting.body?.["_tag"]], [400, "DecodeFailure"])

        // Only the exact text a page gave is a cursor: Node's decoder would skip the added characters.
        for (const forged of [`${ascCursor}!!!`, `${ascCursor}====`, `${ascCursor.slice(0, 8)} ${ascCursor.slice(8)}`]) {
          const refused = yield* get(`/jobs?cursor=${query(forged)}`)
          assert.deepStrictEqual([refused.status, refused.body?.["_tag"]], [400, "DecodeFailure"], `${forged}: ${refused.text.slice(0, 300)}`)
        }
      })))

    it.effect("17.2 filters: jobs by state, kind (term_exec read as terminal_exec), creation time and trace; events by id, job, trace, run, type and time", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        const api = yield* typedClient()
        yield* TestClock.setTime(10_000)
        const early = yield* jobs.submit(summarize())
        yield* TestClock.setTime(20_000)
        const term = yield* jobs.submit(summarize({ job_kind: "terminal_exec", capability_profile_id: "Coder" }))
        yield* TestClock.setTime(30_000)
        const late = yield* jobs.submit(summarize())
        yield* jobs.start(late.job_id)
        const ids = (page: { readonly items: ReadonlyArray<AiJob> }) => page.items.map((job) => job.job_id)

        assert.deepStrictEqual(ids(yield* api.jobs.list({ urlParams: { state: ["running"] } })), [late.job_id])
        assert.deepStrictEqual(ids(yield* api.jobs.list({ urlParams: { state: ["queued", "running"] } })), [late.job_id, term.job_id, early.job_id])
        const aliased = yield* send(HttpClientRequest.get("/jobs?job_kind=term_exec").pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.deepStrictEqual(((aliased.body?.["items"] ?? []) as Array<{ job_id: string }>).map((job) => job.job_id), [term.job_id])
        const window = yield* send(HttpClientRequest.get(
          "/jobs?created_after=1970-01-01T00:00:15Z&created_before=1970-01-01T00:00:25Z"
        ).pipe(HttpClientRequest.bearerToken(TOKEN)))
        assert.deepStrictEqual(((window.body?.["items"] ?? []) as Array<{ job_id: string }>).map((job) => job.job_id), [term.job_id])
        assert.deepStrictEqual(ids(yield* api.jobs.list({ urlParams: { trace_id: early.trace_id } })), [early.job_id])

        const all = (yield* api.events.list({ urlParams: {} })).items
        const first = all[0]!
        assert.deepStrictEqual((yield* api.events.list({ urlParams: { event_id: first.event_id } })).items.map((e) => e.event_id), [first.event_id])
        const ofLate = yield* api.events.list({ urlParams: { job_id: late.job_id } })
        // Submit decides the capability and queues; start decides it again and moves to running (issue 13.3).
        assert.deepStrictEqual(ofLate.items.map((event) => event.type), ["capability_action", "system", "capability_action", "system"])
        assert.isTrue((yield* api.events.list({ urlParams: { trace_id: term.trace_id } })).items.every((event) => event.job_id === term.job_id))
        const running = (yield* jobs.get(late.job_id)).workflow_run_id!
        assert.deepStrictEqual(
          (yield* api.events.list({ urlParams: { workflow_run_id: running } })).items.map((event) => change(event)?.[2]),
          ["running"]
        )
        // Three submits decide one capability each, and starting the late job decides its capability again.
        assert.strictEqual((yield* api.events.list({ urlParams: { type: ["capability_action"] } })).items.length, 4)
        const since = yield* send(HttpClientRequest.get("/events?since=1970-01-01T00:00:20Z&until=1970-01-01T00:00:30Z&order=desc")
          .pipe(HttpClientRequest.bearerToken(TOKEN)))
        const sinceEvents = (since.body?.["items"] ?? []) as Array<{ job_id: string; timestamp: string }>
        assert.isAbove(sinceEvents.length, 0)
        assert.isTrue(sinceEvents.every((event) => event.job_id === term.job_id), "only the events of [20 s, 30 s)")
      })))

    it.effect("17.2 a time bound with digits past the millisecond falls on the right side of a whole-millisecond row: since and until round up ([since, until) is kept), created_before rounds up, created_after down", () =>
      withApi(Effect.gen(function*() {
        const jobs = yield* Jobs
        yield* TestClock.setTime(20_000)
        const job = yield* jobs.submit(summarize())
        const stamped = (yield* eventsOf(job.job_id, "system")).length + (yield* eventsOf(job.job_id, "capability_action")).length
        assert.isAbove(stamped, 0, "the submit's events, all at 20.000 s")
        const items = (url: string) =>
          Effect.map(send(HttpClientRequest.get(url).pipe(HttpClientRequest.bearerToken(TOKEN))), (response) => {
            assert.strictEqual(response.status, 200, `${url}: ${response.text.slice(0, 300)}`)
            return (response.body?.["items"] ?? []) as ReadonlyArray<Record<string, unknown>>
          })
        // 20.0005 s is after the events at 20.000 s: since leaves them out, until keeps them.
        assert.strictEqual((yield* items("/events?since=1970-01-01T00:00:20.0005Z")).length, 0, "since 20.0005 s")
        assert.strictEqual((yield* items("/events?until=1970-01-01T00:00:20.0005Z")).length, stamped, "until 20.0005 s")
        assert.strictEqual((yield* items("/events?since=1970-01-01T00:00:19.9995Z&until=1970-01-01T00:00:20.000000001Z")).length, stamped)
        assert.strictEqual((yield* items("/events?until=1970-01-01T00:00:20.000000Z")).length, 0, "until 20.000000 s is 20 s: its events are not before it")
        // The job, created at 20.000 s, is before 20.0005 s and after 19.9995 s.
        assert.deepStrictEqual((yield* items("/jobs?created_before=1970-01-01T00:00:20.0005Z")).map((row) => row["job_id"]), [job.job_id])
        assert.deepStrictEqual((yield* items("/jobs?created_after=1970-01-01T00:00:19.9995Z")).map((row) => row["job_id"]), [job.job_id])
        assert.deepStrictEqual((yield* items("/jobs?created_after=1970-01-01T00:00:20.0005Z")).length, 0)
      })))

    it.effect("17.2 two operators resuming one stalled job at once: exactly one 200, the others 409, one new run and one event", () =>
      withApi(Effect.gen(function*() {
        const store = yield* JobStore
        const stalled = yield* stalledJob()
        const api = yield* typedClient()
        const outcomes = yield* Effect.all(
          Array.from({ length: 8 }, (_, i) =>
            Effect.either(api.jobs.resume({ path: { job_id: stalled.job_id }, payload: { reason: `operator ${i}` } }))),
          { concurrency: "unbounded" }
        )
        const wins = outcomes.filter((outcome) => outcome._tag === "Right")
        const losses = outcomes.flatMap((outcome) => outcome._tag === "Left" ? [outcome.left._tag] : [])
        assert.strictEqual(wins.length, 1)
        assert.deepStrictEqual(losses, Array(7).fill("IllegalTransition"))
        assert.strictEqual((yield* store.listRuns(stalled.job_id)).length, 2, "the stalled run and one new run")
        const resumes = (yield* eventsOf(stalled.job_id, "system")).filter((event) => change(event)?.[1] === "stalled")
        assert.strictEqual(resumes.length, 1)
      })))

    it.effect("R9 17.2 /health is 503 Unhealthy while startup recovery runs, and 200 once it has finished", () =>
      Effect.gen(function*() {
        const latch = yield* Deferred.make<void>()
        const storeContext = yield* Layer.build(backend.makeStore())
        const real = Context.get(storeContext, JobStore)
        // Recovery's first batch waits for the latch before its transaction begins, so the
        // database stays free to answer (a single SQLite connection would queue behind it).
        const slowStore = Layer.succeed(JobStore, {
          ...real,
          stallStaleRuns: (options) => Effect.zipRight(Deferred.await(latch), real.stallStaleRuns(options))
        })
        yield* Effect.gen(function*() {
          const api = yield* typedClient()
          const running = yield* Effect.flip(api.health.health())
          assert.strictEqual(running._tag, "Unhealthy")
          assert.deepStrictEqual(running._tag === "Unhealthy" ? [running.status, running.database, running.recovery] : [], ["unavailable", "reachable", "running"])
          const raw = yield* send(HttpClientRequest.get("/health"))
          assert.deepStrictEqual([raw.status, raw.body?.["_tag"], raw.body?.["recovery"]], [503, "Unhealthy", "running"])
          yield* Deferred.succeed(latch, undefined)
          const gate = yield* Recovery.RecoveryGate
          yield* gate.await
          const ok = yield* api.health.health()
          assert.deepStrictEqual([ok.status, ok.recovery], ["ok", "finished"])
        }).pipe(Effect.provide(apiServer(slowStore, { gate: Recovery.layerStartup() })))
      }).pipe(Effect.scoped))

    /** The store with its `schemaVersion` counted (`checks()`) and held until `release`, the wait wrapped by `hold`. */
    const heldHealthCheck = (hold: (wait: Effect.Effect<void>) => Effect.Effect<void>) =>
      Effect.gen(function*() {
        const real = Context.get(yield* Layer.build(backend.makeStore()), JobStore)
        let count = 0
        const release = yield* Deferred.make<void>()
        const held = Layer.succeed(JobStore, {
          ...real,
          schemaVersion: Effect.suspend(() => {
            count++
            return Effect.zipRight(hold(Deferred.await(release)), real.schemaVersion)
          })
        })
        return { checks: () => count, held, release }
      })

    /**
     * Until `n` sleeps due `ms` from now are armed on the TestClock, however long that takes in real time
     * (the test's timeout bounds it). Not "long enough" of real time: on a loaded machine some of 40
     * /health calls came after 300 ms, after the held check was released, and started checks of their own
     * (CI-like load: 5 checks, not 2).
     */
    const untilSleepsArmed = (ms: number, n: number) =>
      Effect.gen(function*() {
        const due = (yield* Clock.currentTimeMillis) + ms
        while (Chunk.size(Chunk.filter(yield* TestClock.sleeps(), (at) => at === due)) < n) yield* sleepRealTime(5)
      })

    /** Until `n` /health calls wait for a check: each waiting call has its 5 s limit armed on the TestClock. */
    const untilCallsWait = (n: number) => untilSleepsArmed(5_000, n)

    it.effect("17.2 /health: concurrent calls share one database check, so a flood of them cannot fill the pool and read a healthy database as unreachable", () =>
      Effect.gen(function*() {
        // Each check is counted and held until released: a check per call would count one per call held.
        const { checks, held, release } = yield* heldHealthCheck((wait) => wait)
        yield* Effect.gen(function*() {
          const calls = yield* Effect.forEach(Array.from({ length: 40 }), () => Effect.fork(send(HttpClientRequest.get("/health"))))
          // Every call has arrived and waits, while the first check is held: none of them may start another.
          yield* untilCallsWait(40)
          assert.strictEqual(checks(), 1, "one database check for 40 concurrent calls")
          yield* Deferred.succeed(release, undefined)
          const answers = yield* Effect.forEach(calls, (call) => Effect.map(call.await, (exit) => exit._tag === "Success" ? [exit.value.status, exit.value.body?.["database"]] : ["failed"]))
          assert.deepStrictEqual(new Set(answers.map((answer) => JSON.stringify(answer))), new Set([JSON.stringify([200, "reachable"])]))
          // Once it ended, the next call asks the database again: no answer is kept past its check.
          assert.strictEqual((yield* send(HttpClientRequest.get("/health"))).status, 200)
          assert.strictEqual(checks(), 2)
        }).pipe(Effect.provide(apiServer(held)))
      }).pipe(Effect.scoped))

    it.effect("17.2 /health answers 503 unreachable once its 5 s have passed even while the database's check cannot be cut short, and calls meanwhile share that one check", () =>
      Effect.gen(function*() {
        // A query that, interrupted, still runs to its end (as a PostgreSQL statement blocked on a lock did).
        const { checks, held: hung, release } = yield* heldHealthCheck(Effect.uninterruptible)
        yield* Effect.gen(function*() {
          const first = yield* Effect.fork(send(HttpClientRequest.get("/health")))
          // The 5 s wait armed on the TestClock, then the clock moved past it: the answer needs no release.
          yield* untilCallsWait(1)
          yield* TestClock.adjust("5 seconds")
          const answer = yield* Fiber.join(first)
          assert.deepStrictEqual([answer.status, answer.body?.["database"]], [503, "unreachable"])
          // The check is still running: the next call waits for it rather than sending another query.
          const second = yield* Effect.fork(send(HttpClientRequest.get("/health")))
          yield* untilCallsWait(1)
          assert.strictEqual(checks(), 1)
          yield* Deferred.succeed(release, undefined)
          assert.deepStrictEqual([(yield* Fiber.join(second)).status, checks()], [200, 1])
        }).pipe(Effect.provide(apiServer(hung)))
      }).pipe(Effect.scoped))

    it.effect("R9 17.2 /health is 503 when startup recovery failed — 200 once a later try gets through — or the database does not answer", () =>
      Effect.gen(function*() {
        const storeContext = yield* Layer.build(backend.makeStore())
        const real = Context.get(storeContext, JobStore)
        const disk = new StorageError({ operation: "test", cause: new Error("disk on fire") })
        const failedRecovery = Layer.succeed(JobStore, { ...real, stallStaleRuns: () => Effect.fail(disk) })
        // What a client sees once the first try failed: /health 503 saying so, and POST /jobs why intake is closed.
        const seesIntakeClosed = Effect.gen(function*() {
          const api = yield* typedClient()
          yield* Effect.flip((yield* Recovery.RecoveryGate).await)
          const failed = yield* Effect.flip(api.health.health())
          assert.deepStrictEqual(failed._tag === "Unhealthy" ? [failed.database, failed.recovery] : [], ["reachable", "failed"])
          assert.strictEqual(yield* failureTag(api.jobs.submit({ payload: summarize() })), "RecoveryFailed")
          return api
        })
        yield* Effect.gen(function*() {
          yield* seesIntakeClosed
          const raw = yield* send(HttpClientRequest.post("/jobs").pipe(HttpClientRequest.bearerToken(TOKEN), HttpClientRequest.bodyUnsafeJson(summarize())))
          assert.strictEqual(raw.status, 503)
        }).pipe(Effect.provide(apiServer(failedRecovery, { gate: Recovery.layerStartup() })))

        // The database back a moment later: the next try gets through, and intake opens without a restart.
        let down = true
        const brieflyDown = Layer.succeed(JobStore, { ...real, stallStaleRuns: (options) => down ? Effect.fail(disk) : real.stallStaleRuns(options) })
        yield* Effect.gen(function*() {
          const api = yield* seesIntakeClosed
          down = false
          // The next try armed on the TestClock (due 1 s after the failure), then the clock moved to it. Both
          // waits last as long as they take: a fixed number of 5 ms looks (2 s) was a budget a loaded machine overran.
          yield* untilSleepsArmed(1_000, 1)
          yield* TestClock.adjust("1 second")
          const gate = yield* Recovery.RecoveryGate
          while ((yield* gate.status) !== "finished") yield* sleepRealTime(5)
          const ok = yield* api.health.health()
          assert.deepStrictEqual([ok.status, ok.recovery], ["ok", "finished"])
          assert.strictEqual((yield* api.jobs.submit({ payload: summarize() })).state, "queued")
        }).pipe(Effect.provide(apiServer(brieflyDown, { gate: Recovery.layerStartup({ retries: 0 }) })))

        const unreachable = Layer.succeed(JobStore, { ...real, schemaVersion: Effect.fail(disk) })
        yield* Effect.gen(function*() {
          const failed = yield* Effect.flip((yield* typedClient()).health.health())
          assert.deepStrictEqual(failed._tag === "Unhealthy" ? [failed.database, failed.schema_version] : [], ["unreachable", null])
        }).pipe(Effect.provide(apiServer(unreachable)))
      }).pipe(Effect.scoped))
  })
}
