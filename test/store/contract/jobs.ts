/**
 * Contract: creating, reading and listing jobs (R5, R1a, R4).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cause from "effect/Cause"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../../src/domain/AiJob.js"
import { JobId } from "../../../src/domain/Ids.js"
import { MetricNames } from "../../../src/domain/JobMetrics.js"
import { JobStore } from "../../../src/store/JobStore.js"
import { at, byEventId, encode, eventRecord, expectTag, failureOf, ids, jobEvent, millis, newJob } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The expected listing order: created_at, then job_id. */
const byCreatedThenId = (a: AiJob, b: AiJob): number =>
  millis(a.created_at) - millis(b.created_at) || (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0)

const jobIdsOf = (jobs: ReadonlyArray<AiJob>): Array<string> => jobs.map((job) => job.job_id)

/** Job contract tests. */
export const jobContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("createJob", () => {
    test("R5 createJob stores a queued job with zeroed metrics, generated uuids and no run", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const job = yield* store.createJob(newJob({ job_inputs: { doc: "a" }, entity_refs: [{ entity_id: "d1", entity_kind: "document" }] }))
        assert.strictEqual(job.state, "queued")
        assert.match(job.job_id, UUID)
        assert.match(job.trace_id, UUID)
        assert.notStrictEqual<string>(job.job_id, job.trace_id)
        assert.isNull(job.workflow_run_id)
        assert.deepStrictEqual(encode.job(job).metrics, Object.fromEntries(MetricNames.map((name) => [name, 0])))
        assert.strictEqual(job.status_reason, "")
        assert.isNull(job.error_message)
        assert.isNull(job.job_outputs)
        assert.deepStrictEqual(job.job_inputs, { doc: "a" })
        assert.isFalse(job.is_pinned)
        const read = yield* store.getJob(job.job_id)
        assert.deepStrictEqual(encode.job(read), encode.job(job))
      }))

    test("R5 createJob generates a different job_id and trace_id each time", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const a = yield* store.createJob(newJob())
        const b = yield* store.createJob(newJob())
        assert.notStrictEqual(a.job_id, b.job_id)
        assert.notStrictEqual(a.trace_id, b.trace_id)
      }))

    test("R5 createJob honours a given job_id and trace_id", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const traceId = ids.trace()
        const job = yield* store.createJob(newJob({ job_id: jobId, trace_id: traceId }))
        assert.strictEqual(job.job_id, jobId)
        assert.strictEqual(job.trace_id, traceId)
        assert.strictEqual((yield* store.getJob(jobId)).trace_id, traceId)
      }))

    test("R1a createJob stores a job decoded from the term_exec alias as terminal_exec", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const input = newJob({ job_kind: "term_exec" })
        assert.strictEqual(input.job_kind, "terminal_exec")
        const job = yield* store.createJob(input)
        assert.strictEqual(job.job_kind, "terminal_exec")
        assert.strictEqual((yield* store.getJob(job.job_id)).job_kind, "terminal_exec")
        const listed = yield* store.listJobs({ kinds: ["terminal_exec"] })
        assert.deepStrictEqual(jobIdsOf(listed.items), [job.job_id])
      }))

    test("R5 createJob keeps every given field as given", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const input = newJob({
          job_kind: "debug_bundle_export",
          protocol_id: "hsk.debug.v1",
          profile_id: "p-ü",
          capability_profile_id: "Operator",
          access_mode: "apply_scoped",
          safety_mode: "strict",
          entity_refs: [{ entity_id: "e1", entity_kind: "doc" }, { entity_id: "e2", entity_kind: "sheet" }],
          planned_operations: [
            { op_type: "read", target: { entity_id: "e1", entity_kind: "doc" } },
            { op_type: "write", target: { entity_id: "e2", entity_kind: "sheet" }, description: "fill column B" }
          ],
          job_inputs: { nested: { list: [1, "two", null, true] } },
          status_reason: "submitted by test",
          is_pinned: true
        })
        const job = yield* store.createJob(input)
        const read = encode.job(yield* store.getJob(job.job_id))
        assert.strictEqual(read.job_kind, "debug_bundle_export")
        assert.strictEqual(read.protocol_id, "hsk.debug.v1")
        assert.strictEqual(read.profile_id, "p-ü")
        assert.strictEqual(read.capability_profile_id, "Operator")
        assert.strictEqual(read.access_mode, "apply_scoped")
        assert.strictEqual(read.safety_mode, "strict")
        assert.deepStrictEqual(read.entity_refs, input.entity_refs)
        assert.deepStrictEqual(read.planned_operations, input.planned_operations)
        assert.deepStrictEqual(read.job_inputs, { nested: { list: [1, "two", null, true] } })
        assert.strictEqual(read.status_reason, "submitted by test")
        assert.isTrue(read.is_pinned)
      }))

    test("R5 createJob sets created_at and updated_at to the Clock's now", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const now = Date.UTC(2026, 0, 19, 23, 59, 37, 328)
        yield* TestClock.setTime(now)
        const job = yield* store.createJob(newJob())
        assert.strictEqual(millis(job.created_at), now)
        assert.strictEqual(millis(job.updated_at), now)
        const read = yield* store.getJob(job.job_id)
        assert.strictEqual(millis(read.created_at), now)
        assert.strictEqual(millis(read.updated_at), now)
      }))

    test("R5 createJob stores timestamps exactly across the supported range, 1970 to 9999", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (const ms of [0, 1, Date.UTC(2000, 1, 29, 12, 0, 0, 5), Date.UTC(9999, 11, 31, 23, 59, 59, 999)]) {
          yield* TestClock.setTime(ms)
          const job = yield* store.createJob(newJob())
          const read = yield* store.getJob(job.job_id)
          assert.strictEqual(millis(read.created_at), ms)
          assert.strictEqual(millis(read.updated_at), ms)
        }
      }))

    test("R5 createJob with a taken job_id fails with AlreadyExists and leaves the first job intact", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const first = yield* store.createJob(newJob({ job_id: jobId, protocol_id: "first" }))
        const error = expectTag(yield* failureOf(store.createJob(newJob({ job_id: jobId, protocol_id: "second" }))), "AlreadyExists")
        assert.strictEqual(error.entity, "job")
        assert.strictEqual(error.id, jobId)
        assert.deepStrictEqual(encode.job(yield* store.getJob(jobId)), encode.job(first))
      }))

    test("R10 createJob writes its events in the same transaction", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const traceId = ids.trace()
        const events = [
          eventRecord({ job_id: jobId, trace_id: traceId }),
          eventRecord({ job_id: jobId, trace_id: traceId, type: "capability_action", actor: "agent" })
        ]
        yield* store.createJob(newJob({ job_id: jobId, trace_id: traceId }), { events: () => events })
        const stored = yield* store.listEvents({ job_id: jobId })
        assert.deepStrictEqual(byEventId(stored.items), byEventId(events))
      }))

    test("R10 createJob that fails (duplicate id) writes none of its events", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const existing = yield* store.createJob(newJob())
        const event = jobEvent(existing)
        yield* failureOf(store.createJob(newJob({ job_id: existing.job_id }), { events: () => [event] }))
        const stored = yield* store.listEvents({ event_id: event.event_id })
        assert.deepStrictEqual(stored.items, [])
        const all = yield* store.listEvents()
        assert.deepStrictEqual(all.items, [])
      }))
  })

  describe("getJob", () => {
    test("R5 getJob of an unknown id fails with NotFound naming the job", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const error = expectTag(yield* failureOf(store.getJob(jobId)), "NotFound")
        assert.strictEqual(error.entity, "job")
        assert.strictEqual(error.id, jobId)
      }))
  })

  describe("findJobIds", () => {
    // j1's short id (its last 8 digits) is the start of j3's id; j1 and j2 share their first 4 digits.
    const j1 = JobId.make("11111111-2222-4333-8444-5555fd5b541b")
    const j2 = JobId.make("11112222-3333-4444-8555-66667777abcd")
    const j3 = JobId.make("fd5b541b-0000-4000-8000-000000000001")

    test("R5 findJobIds finds jobs by the start of their id (4+ digits) or its end (8+ digits, the short id), dashes and case ignored", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (const id of [j2, j3, j1]) yield* store.createJob(newJob({ job_id: id }))
        const find = (text: string, limit?: number) => store.findJobIds(text, limit === undefined ? undefined : { limit })
        assert.deepStrictEqual(yield* find("fd5b541b"), [j1, j3], "j1's short id, and the start of j3: both, in id order")
        assert.deepStrictEqual(yield* find("5555fd5b541b"), [j1], "a longer ending")
        assert.deepStrictEqual(yield* find("8444-5555FD5B541B"), [j1], "an ending across a dash, upper case")
        assert.deepStrictEqual(yield* find("FD5B-541B-0000"), [j3], "a start with dashes anywhere")
        assert.deepStrictEqual(yield* find("1111"), [j1, j2])
        assert.deepStrictEqual(yield* find("1111", 1), [j1], "at most limit ids")
        assert.deepStrictEqual(yield* find("11112"), [j2])
        assert.deepStrictEqual(yield* find(j1), [j1], "a whole id")
        assert.deepStrictEqual(yield* find("5b541b"), [], "under 8 digits: only a start, and no id starts so")
        assert.deepStrictEqual(yield* find("22224333"), [], "digits from the middle of an id match nothing")
        assert.deepStrictEqual(yield* find("abcd0000"), [])
      }))

    test("R5 findJobIds refuses a malformed abbreviation with DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.createJob(newJob({ job_id: j1 }))
        for (const text of ["", "abc", "fd5b541g", "1111 2222", `${j1}0`, "%", "1111%"]) {
          const error = expectTag(yield* failureOf(store.findJobIds(text)), "DecodeFailure")
          assert.strictEqual(error.subject, "abbreviated id", text)
        }
        // A limit no page size can be (NaN from an unset environment variable quietly became 10).
        for (const limit of [Number.NaN, 0, -1, 2.5, Infinity]) {
          const error = expectTag(yield* failureOf(store.findJobIds("fd5b541b", { limit })), "DecodeFailure")
          assert.deepStrictEqual(error.issues.map((issue) => issue.path), ["limit"], String(limit))
        }
        assert.deepStrictEqual(yield* store.findJobIds("fd5b541b", { limit: 5000 }), [j1], "a large limit is capped, not refused")
      }))
  })

  describe("listJobs", () => {
    test("R5 listJobs of an empty store is an empty last page", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const page = yield* store.listJobs()
        assert.deepStrictEqual(page.items, [])
        assert.isNull(page.next_cursor)
      }))

    test("R5 listJobs orders by created_at, then job_id, oldest first", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const created: Array<AiJob> = []
        // Three instants, several jobs each, created out of order: id breaks the ties.
        for (const ms of [3_000, 1_000, 2_000, 1_000, 3_000, 2_000, 1_000]) {
          yield* TestClock.setTime(ms)
          created.push(yield* store.createJob(newJob()))
        }
        const page = yield* store.listJobs()
        assert.deepStrictEqual(jobIdsOf(page.items), jobIdsOf([...created].sort(byCreatedThenId)))
        assert.isNull(page.next_cursor)
      }))

    test("R5 listJobs orders by instant across milliseconds, seconds, days and years", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const instants = [
          Date.UTC(2026, 0, 1, 0, 0, 0, 0),
          Date.UTC(2025, 11, 31, 23, 59, 59, 999),
          10_000,
          9_999,
          Date.UTC(2026, 0, 1, 0, 0, 0, 1),
          Date.UTC(2100, 5, 15, 8, 30, 0, 0),
          999
        ]
        const created: Array<AiJob> = []
        for (const ms of instants) {
          yield* TestClock.setTime(ms)
          created.push(yield* store.createJob(newJob()))
        }
        assert.deepStrictEqual(jobIdsOf((yield* store.listJobs()).items), jobIdsOf([...created].sort(byCreatedThenId)))
        assert.deepStrictEqual(
          jobIdsOf((yield* store.listJobs({ created_after: at(Date.UTC(2025, 6, 1)) })).items),
          jobIdsOf(created.filter((job) => millis(job.created_at) > Date.UTC(2025, 6, 1)).sort(byCreatedThenId))
        )
      }))

    test("R5 listJobs filters by states", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const queued = yield* store.createJob(newJob())
        const running = yield* store.createJob(newJob())
        yield* store.transition({ job_id: running.job_id, to: "running" })
        const cancelled = yield* store.createJob(newJob())
        yield* store.transition({ job_id: cancelled.job_id, to: "cancelled" })
        assert.sameMembers(jobIdsOf((yield* store.listJobs({ states: ["queued", "cancelled"] })).items), [queued.job_id, cancelled.job_id])
        assert.sameMembers(jobIdsOf((yield* store.listJobs({ states: ["running"] })).items), [running.job_id])
        assert.deepStrictEqual((yield* store.listJobs({ states: ["poisoned"] })).items, [])
      }))

    test("R5 listJobs filters by kinds", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const edit = yield* store.createJob(newJob({ job_kind: "doc_edit" }))
        const term = yield* store.createJob(newJob({ job_kind: "terminal_exec" }))
        yield* store.createJob(newJob({ job_kind: "doc_ingest" }))
        assert.sameMembers(jobIdsOf((yield* store.listJobs({ kinds: ["doc_edit", "terminal_exec"] })).items), [edit.job_id, term.job_id])
        assert.deepStrictEqual((yield* store.listJobs({ kinds: ["spec_router"] })).items, [])
      }))

    test("R5 listJobs filters by created range", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobs: Array<AiJob> = []
        for (const ms of [1_000, 2_000, 3_000, 4_000]) {
          yield* TestClock.setTime(ms)
          jobs.push(yield* store.createJob(newJob()))
        }
        const [j1, j2, j3, j4] = jobs as [AiJob, AiJob, AiJob, AiJob]
        assert.deepStrictEqual(jobIdsOf((yield* store.listJobs({ created_after: at(1_500) })).items), [j2.job_id, j3.job_id, j4.job_id])
        assert.deepStrictEqual(jobIdsOf((yield* store.listJobs({ created_before: at(2_500) })).items), [j1.job_id, j2.job_id])
        assert.deepStrictEqual(
          jobIdsOf((yield* store.listJobs({ created_after: at(1_500), created_before: at(3_500) })).items),
          [j2.job_id, j3.job_id]
        )
      }))

    test("R5 listJobs filters by trace_id", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const traceId = ids.trace()
        const a = yield* store.createJob(newJob({ trace_id: traceId }))
        yield* store.createJob(newJob())
        assert.deepStrictEqual(jobIdsOf((yield* store.listJobs({ trace_id: traceId })).items), [a.job_id])
      }))

    test("R5 listJobs filters by workflow_run_id", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const a = yield* store.createJob(newJob())
        const b = yield* store.createJob(newJob())
        const runA = yield* store.createRun(a.job_id)
        const runB = yield* store.createRun(b.job_id)
        yield* store.transition({ job_id: a.job_id, to: "running", workflow_run_id: runA.id })
        yield* store.transition({ job_id: b.job_id, to: "running", workflow_run_id: runB.id })
        assert.deepStrictEqual(jobIdsOf((yield* store.listJobs({ workflow_run_id: runA.id })).items), [a.job_id])
        assert.deepStrictEqual((yield* store.listJobs({ workflow_run_id: ids.run() })).items, [])
      }))

    test("R5 listJobs combines filters with AND", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const traceId = ids.trace()
        yield* TestClock.setTime(1_000)
        yield* store.createJob(newJob({ job_kind: "doc_edit", trace_id: traceId }))
        yield* TestClock.setTime(2_000)
        const match = yield* store.createJob(newJob({ job_kind: "doc_edit", trace_id: traceId }))
        yield* store.createJob(newJob({ job_kind: "doc_rewrite", trace_id: traceId }))
        const cancelled = yield* store.createJob(newJob({ job_kind: "doc_edit", trace_id: traceId }))
        yield* store.transition({ job_id: cancelled.job_id, to: "cancelled" })
        yield* store.createJob(newJob({ job_kind: "doc_edit" }))
        const page = yield* store.listJobs({
          states: ["queued"],
          kinds: ["doc_edit"],
          trace_id: traceId,
          created_after: at(1_500)
        })
        assert.deepStrictEqual(jobIdsOf(page.items), [match.job_id])
      }))

    test("R5 listJobs pages with keyset cursors: 25 jobs by 10 give 10, 10, 5 with no gaps or duplicates", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const created: Array<AiJob> = []
        // Five jobs per instant, so page boundaries fall between equal created_at values.
        for (let i = 0; i < 25; i++) {
          yield* TestClock.setTime(1_000 * Math.floor(i / 5))
          created.push(yield* store.createJob(newJob()))
        }
        const sizes: Array<number> = []
        const seen: Array<string> = []
        let cursor: string | null = null
        for (let pages = 0; pages < 10; pages++) {
          const page: { items: ReadonlyArray<AiJob>; next_cursor: string | null } = yield* store.listJobs(
            cursor === null ? { limit: 10 } : { limit: 10, cursor }
          )
          sizes.push(page.items.length)
          seen.push(...jobIdsOf(page.items))
          cursor = page.next_cursor
          if (cursor === null) break
        }
        assert.deepStrictEqual(sizes, [10, 10, 5])
        assert.isNull(cursor)
        assert.deepStrictEqual(seen, jobIdsOf([...created].sort(byCreatedThenId)))
      }))

    test("R5 listJobs with order desc lists newest first and pages back with keyset cursors: 25 by 10 give 10, 10, 5", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const created: Array<AiJob> = []
        // Five jobs per instant, created out of time order: page boundaries fall between equal created_at values.
        for (let i = 0; i < 25; i++) {
          yield* TestClock.setTime(1_000 * ((i * 3) % 5))
          created.push(yield* store.createJob(newJob({ job_kind: i % 2 === 0 ? "doc_edit" : "doc_rewrite" })))
        }
        const pages = (filter: { readonly kinds?: ReadonlyArray<"doc_edit"> }) =>
          Effect.gen(function*() {
            const sizes: Array<number> = []
            const seen: Array<string> = []
            let cursor: string | null = null
            for (let n = 0; n < 10; n++) {
              const page: { items: ReadonlyArray<AiJob>; next_cursor: string | null } = yield* store.listJobs({
                ...filter,
                order: "desc",
                limit: 10,
                ...(cursor === null ? {} : { cursor })
              })
              sizes.push(page.items.length)
              seen.push(...jobIdsOf(page.items))
              cursor = page.next_cursor
              if (cursor === null) break
            }
            return { sizes, seen }
          })
        const newestFirst = [...created].sort(byCreatedThenId).reverse()
        assert.deepStrictEqual(yield* pages({}), { sizes: [10, 10, 5], seen: jobIdsOf(newestFirst) })
        const edits = newestFirst.filter((job) => job.job_kind === "doc_edit")
        assert.deepStrictEqual(yield* pages({ kinds: ["doc_edit"] }), { sizes: [10, 3], seen: jobIdsOf(edits) })
        assert.deepStrictEqual(jobIdsOf((yield* store.listJobs({ order: "asc", limit: 3 })).items), jobIdsOf([...created].sort(byCreatedThenId).slice(0, 3)))
      }))

    test("R5 listJobs pages 100 jobs by default", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (let i = 0; i < 101; i++) yield* store.createJob(newJob())
        const first = yield* store.listJobs()
        assert.strictEqual(first.items.length, 100)
        assert.isNotNull(first.next_cursor)
        const rest = yield* store.listJobs({ cursor: first.next_cursor ?? "" })
        assert.strictEqual(rest.items.length, 1)
        assert.isNull(rest.next_cursor)
      }))

    test("R5 listJobs pages keep the filters", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const edits: Array<AiJob> = []
        for (let i = 0; i < 7; i++) {
          yield* TestClock.setTime(i * 100)
          edits.push(yield* store.createJob(newJob({ job_kind: "doc_edit" })))
          yield* store.createJob(newJob({ job_kind: "doc_rewrite" }))
        }
        const first = yield* store.listJobs({ kinds: ["doc_edit"], limit: 4 })
        assert.isNotNull(first.next_cursor)
        const second = yield* store.listJobs({ kinds: ["doc_edit"], limit: 4, cursor: first.next_cursor ?? "" })
        assert.isNull(second.next_cursor)
        assert.deepStrictEqual([...jobIdsOf(first.items), ...jobIdsOf(second.items)], jobIdsOf(edits.sort(byCreatedThenId)))
      }))

    test("R5 listJobs gives no cursor on a last page that is exactly full", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (let i = 0; i < 4; i++) yield* store.createJob(newJob())
        const page = yield* store.listJobs({ limit: 4 })
        assert.strictEqual(page.items.length, 4)
        assert.isNull(page.next_cursor, "nothing follows, so this is the last page")
      }))

    test("R5 a cursor is only the exact text a page gave: with characters added or inserted, padded, or its key respelt, listJobs and listEvents fail with DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (let i = 0; i < 3; i++) yield* store.createJob(newJob())
        const jobsCursor = (yield* store.listJobs({ limit: 1 })).next_cursor!
        yield* store.appendEvents([eventRecord(), eventRecord()])
        const eventsCursor = (yield* store.listEvents({ limit: 1 })).next_cursor!
        const respelt = (cursor: string, change: (json: string) => string) =>
          Buffer.from(change(Buffer.from(cursor, "base64url").toString("utf8")), "utf8").toString("base64url")
        const variants = (cursor: string) => [
          `${cursor}!!!`,
          `${cursor}====`,
          `${cursor.slice(0, 8)} ${cursor.slice(8)}`,
          `${cursor.slice(0, 8)}%${cursor.slice(8)}`,
          respelt(cursor, (json) => json.replaceAll(",", ", ")),
          respelt(cursor, (json) => json.replace(/Z"/, "+00:00\"")),
          respelt(cursor, (json) => json.replace(/\.(\d{3})Z"/, ".$1000Z\""))
        ]
        assert.strictEqual((yield* store.listJobs({ cursor: jobsCursor })).items.length, 2, "the cursor as given works")
        assert.strictEqual((yield* store.listEvents({ cursor: eventsCursor })).items.length, 1, "the cursor as given works")
        for (const cursor of variants(jobsCursor)) {
          assert.notStrictEqual(cursor, jobsCursor)
          expectTag(yield* failureOf(store.listJobs({ cursor })), "DecodeFailure")
        }
        for (const cursor of variants(eventsCursor)) {
          expectTag(yield* failureOf(store.listEvents({ cursor })), "DecodeFailure")
        }
      }))

    test("R5 listJobs with a cursor that no page returned fails with DecodeFailure, not a defect", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.createJob(newJob())
        for (const cursor of ["not a cursor", "bm9wZQ", Buffer.from("[1,2,3]").toString("base64url")]) {
          const exit = yield* Effect.exit(store.listJobs({ cursor }))
          assert.isTrue(Exit.isFailure(exit), `cursor ${cursor} must be refused`)
          if (Exit.isFailure(exit)) {
            assert.isFalse(Cause.isDie(exit.cause), `cursor ${cursor}: a defect instead of a typed error: ${Cause.pretty(exit.cause)}`)
            const failure = Cause.failureOption(exit.cause)
            assert.strictEqual(failure._tag === "Some" ? failure.value._tag : "none", "DecodeFailure")
          }
        }
      }))
  })
}
