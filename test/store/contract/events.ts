/**
 * Contract: the Flight Recorder sink (R10, R11, R13): exact round trips,
 * filters, ordering, keyset pages, all-or-nothing appends and batched purges.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { EventRecord } from "../../../src/domain/EventRecord.js"
import { type EventFilter, type JobFilter, JobStore, type Page } from "../../../src/store/JobStore.js"
import { at, byEventId, encode, eventRecord, expectTag, failureOf, ids, newJob } from "../fixtures.js"
import { type Backend, storeTest } from "../../support/backend.js"

/** Expected order: timestamp, then event_id. */
const ascending = (a: EventRecord, b: EventRecord): number =>
  a.timestamp.epochMillis - b.timestamp.epochMillis || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0)

const idsOf = (events: ReadonlyArray<EventRecord>): Array<string> => events.map((event) => event.event_id)

/** Reads every page of `filter` with page size `limit`; returns the page sizes and the events in order. */
const readAllPages = (filter: EventFilter, limit: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const sizes: Array<number> = []
    const events: Array<EventRecord> = []
    let cursor: string | null = null
    for (let pages = 0; pages < 20; pages++) {
      const page: Page<EventRecord> = yield* store.listEvents(cursor === null ? { ...filter, limit } : { ...filter, limit, cursor })
      sizes.push(page.items.length)
      events.push(...page.items)
      cursor = page.next_cursor
      if (cursor === null) break
    }
    return { sizes, events, cursor }
  })

/** Flight Recorder sink contract tests. */
export const eventContract = (backend: Backend): void => {
  const test = storeTest(backend)

  describe("appendEvents / listEvents", () => {
    test("R11 appendEvents and listEvents round-trip records exactly, body included", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        // Free JSON where an event holds it (an edit's applied suggestions): nesting, unicode, escapes, fractions.
        const rich = eventRecord({
          timestamp: at(Date.UTC(2026, 0, 19, 23, 59, 37, 328)),
          actor: "human",
          type: "editor_edit",
          job_id: ids.job(),
          workflow_run_id: ids.run(),
          body: {
            editor_surface: "monaco",
            path: "notes-ü-1.md",
            ops: [{ range: { startLine: 1, startColumn: 0, endLine: 2, endColumn: 3 } }],
            applied_suggestions: [{
              latency_ms: 12.5,
              camelCaseKey: { nested_key: [1, "zwei", null, true, { "🎉": "emoji key" }] },
              list: [],
              note: "line\nbreak \"quotes\" \\ backslash"
            }],
            wsids: []
          }
        })
        const bare = eventRecord({ timestamp: at(1_000) })
        yield* store.appendEvents([rich, bare])
        const page = yield* store.listEvents()
        assert.deepStrictEqual(page.items.map(encode.event), [bare, rich].map(encode.event))
        assert.isNull(page.next_cursor)
      }))

    test("R10 appendEvents of an empty batch stores nothing and succeeds", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.appendEvents([])
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))

    test("R10 listEvents filters by event_id, job_id, trace_id and workflow_run_id", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const jobId = ids.job()
        const traceId = ids.trace()
        const runId = ids.run()
        const a = eventRecord({ job_id: jobId, trace_id: traceId, timestamp: at(1_000) })
        const b = eventRecord({ job_id: jobId, trace_id: traceId, workflow_run_id: runId, timestamp: at(2_000) })
        const c = eventRecord({ trace_id: traceId, timestamp: at(3_000) })
        const d = eventRecord({ timestamp: at(4_000) })
        yield* store.appendEvents([a, b, c, d])
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ event_id: c.event_id })).items), [c.event_id])
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ job_id: jobId })).items), [a.event_id, b.event_id])
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ trace_id: traceId })).items), [a.event_id, b.event_id, c.event_id])
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ workflow_run_id: runId })).items), [b.event_id])
        assert.deepStrictEqual((yield* store.listEvents({ event_id: ids.event() })).items, [])
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ trace_id: traceId, job_id: jobId, workflow_run_id: runId })).items), [b.event_id])
      }))

    test("R10 listEvents with job_id null lists only the events that name no job, filtered in the statement: a page of a run's is filled with them past its job's events", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const runId = ids.run()
        const jobId = ids.job()
        // The run's job's own events first, then the two that name the run alone (a legacy run's recovery):
        // a filter applied after the page was read would find none in a first page of two.
        const own = Array.from({ length: 5 }, (_, i) => eventRecord({ job_id: jobId, workflow_run_id: runId, timestamp: at(1_000 + i) }))
        const alone = [2_000, 3_000].map((ms) => eventRecord({ workflow_run_id: runId, timestamp: at(ms) }))
        const elsewhere = eventRecord({ workflow_run_id: ids.run(), timestamp: at(1_500) })
        yield* store.appendEvents([...own, ...alone, elsewhere])
        const page = yield* store.listEvents({ workflow_run_id: runId, job_id: null, limit: 2 })
        assert.deepStrictEqual(idsOf(page.items), idsOf(alone))
        assert.isNull(page.next_cursor)
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ job_id: null })).items), [elsewhere.event_id, ...idsOf(alone)])
      }))

    test("R12 listEvents filters by types", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const recovery = eventRecord({ type: "workflow_recovery", job_id: ids.job(), workflow_run_id: ids.run(), timestamp: at(1_000) })
        const llm = eventRecord({ type: "llm_inference", actor: "agent", timestamp: at(2_000) })
        const system = eventRecord({ type: "system", timestamp: at(3_000) })
        yield* store.appendEvents([recovery, llm, system])
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ types: ["workflow_recovery", "system"] })).items), [recovery.event_id, system.event_id])
        assert.deepStrictEqual((yield* store.listEvents({ types: ["security_violation"] })).items, [])
      }))

    test("R10 listEvents filters by time range", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = [1_000, 2_000, 3_000, 4_000].map((ms) => eventRecord({ timestamp: at(ms) }))
        yield* store.appendEvents(events)
        const [e1, e2, e3, e4] = events as [EventRecord, EventRecord, EventRecord, EventRecord]
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ since: at(1_500) })).items), idsOf([e2, e3, e4]))
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ until: at(2_500) })).items), idsOf([e1, e2]))
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ since: at(1_500), until: at(3_500) })).items), idsOf([e2, e3]))
      }))

    test("R10 time bounds at and past both edges of the stored range select what they say: an until or created_before one millisecond past 9999-12-31T23:59:59.999Z keeps the rows stamped then", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const FIRST = 0
        const LAST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
        const first = eventRecord({ timestamp: at(FIRST) })
        const last = eventRecord({ timestamp: at(LAST) })
        yield* store.appendEvents([first, last])
        const events = (filter: EventFilter) => Effect.map(store.listEvents(filter), (page) => idsOf(page.items))
        const both = idsOf([first, last])
        // Just past each edge and far past it: the clamp must not move a bound across a stored row.
        for (const past of [1, 86_400_000 * 365]) {
          assert.deepStrictEqual(yield* events({ until: at(LAST + past) }), both, `until ${past} ms past the last instant`)
          assert.deepStrictEqual(yield* events({ since: at(LAST + past) }), [], `since ${past} ms past the last instant`)
          assert.deepStrictEqual(yield* events({ since: at(FIRST - past) }), both, `since ${past} ms before 1970`)
          assert.deepStrictEqual(yield* events({ until: at(FIRST - past) }), [], `until ${past} ms before 1970`)
        }
        assert.deepStrictEqual(yield* events({ until: at(LAST) }), idsOf([first]))
        assert.deepStrictEqual(yield* events({ since: at(LAST) }), idsOf([last]))
        assert.deepStrictEqual(yield* events({ until: at(FIRST) }), [])
        assert.deepStrictEqual(yield* events({ since: at(FIRST) }), both)

        const early = yield* store.createJob(newJob(), { at: at(FIRST) })
        const late = yield* store.createJob(newJob(), { at: at(LAST) })
        const jobs = (filter: JobFilter) => Effect.map(store.listJobs(filter), (page) => page.items.map((job) => job.job_id))
        const all = [early.job_id, late.job_id]
        for (const past of [1, 86_400_000 * 365]) {
          assert.deepStrictEqual(yield* jobs({ created_before: at(LAST + past) }), all, `created_before ${past} ms past the last instant`)
          assert.deepStrictEqual(yield* jobs({ created_after: at(LAST + past) }), [], `created_after ${past} ms past the last instant`)
          assert.deepStrictEqual(yield* jobs({ created_after: at(FIRST - past) }), all, `created_after ${past} ms before 1970`)
          assert.deepStrictEqual(yield* jobs({ created_before: at(FIRST - past) }), [], `created_before ${past} ms before 1970`)
        }
        assert.deepStrictEqual(yield* jobs({ created_before: at(LAST) }), [early.job_id])
        assert.deepStrictEqual(yield* jobs({ created_after: at(LAST - 1) }), [late.job_id])
        assert.deepStrictEqual(yield* jobs({ created_after: at(FIRST) }), [late.job_id])
      }))

    test("R10 listEvents orders by timestamp then event_id, ascending by default and descending on request", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = [3_000, 1_000, 2_000, 1_000, 3_000, 1_000].map((ms) => eventRecord({ timestamp: at(ms) }))
        yield* store.appendEvents(events)
        const sorted = [...events].sort(ascending)
        assert.deepStrictEqual(idsOf((yield* store.listEvents()).items), idsOf(sorted))
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ order: "asc" })).items), idsOf(sorted))
        assert.deepStrictEqual(idsOf((yield* store.listEvents({ order: "desc" })).items), idsOf(sorted.reverse()))
      }))

    test("R10 listEvents pages with keyset cursors in both orders: 25 by 10 give 10, 10, 5", () =>
      Effect.gen(function*() {
        const traceId = ids.trace()
        // Five events per instant, so page boundaries fall between equal timestamps; plus noise another filter drops.
        const events = Array.from({ length: 25 }, (_, i) => eventRecord({ trace_id: traceId, timestamp: at(1_000 * Math.floor(i / 5)) }))
        const store = yield* JobStore
        yield* store.appendEvents([...events, ...Array.from({ length: 5 }, () => eventRecord())])
        const sorted = [...events].sort(ascending)

        const asc = yield* readAllPages({ trace_id: traceId }, 10)
        assert.deepStrictEqual(asc.sizes, [10, 10, 5])
        assert.isNull(asc.cursor)
        assert.deepStrictEqual(idsOf(asc.events), idsOf(sorted))

        const desc = yield* readAllPages({ trace_id: traceId, order: "desc" }, 10)
        assert.deepStrictEqual(desc.sizes, [10, 10, 5])
        assert.deepStrictEqual(idsOf(desc.events), idsOf([...sorted].reverse()))
      }))

    test("R10 listEvents with a cursor that no page returned fails with DecodeFailure, not a defect", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.appendEvents([eventRecord()])
        const error = yield* failureOf(store.listEvents({ cursor: "definitely not a cursor" }))
        assert.strictEqual((error as { readonly _tag?: unknown })._tag, "DecodeFailure")
      }))

    test("R5 R10 a cursor is tied to its listing: a jobs cursor given to listEvents, or an events cursor to listJobs, fails with DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        for (let i = 0; i < 3; i++) yield* store.createJob(newJob())
        yield* store.appendEvents(Array.from({ length: 3 }, (_, i) => eventRecord({ timestamp: at(1_000 * i) })))
        const jobsCursor = (yield* store.listJobs({ limit: 2 })).next_cursor
        const eventsCursor = (yield* store.listEvents({ limit: 2 })).next_cursor
        assert.isNotNull(jobsCursor)
        assert.isNotNull(eventsCursor)
        for (const [listing, error] of [
          ["listEvents", yield* failureOf(store.listEvents({ cursor: jobsCursor! }))],
          ["listJobs", yield* failureOf(store.listJobs({ cursor: eventsCursor! }))]
        ] as const) {
          const failure = expectTag(error, "DecodeFailure")
          assert.strictEqual(failure.subject, "cursor", listing)
          assert.match(failure.issues[0]?.message ?? "", /^Not a cursor returned by a previous page of (jobs|events)/, listing)
        }
        // Each still continues its own listing.
        assert.strictEqual((yield* store.listJobs({ cursor: jobsCursor! })).items.length, 1)
        assert.strictEqual((yield* store.listEvents({ cursor: eventsCursor! })).items.length, 1)
      }))

    test("R5 R10 a cursor continues in the order of the page that gave it; an explicit order that differs fails with DecodeFailure", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = Array.from({ length: 5 }, (_, i) => eventRecord({ timestamp: at(1_000 * i) }))
        yield* store.appendEvents(events)
        const sorted = [...events].sort(ascending)
        for (let i = 0; i < 5; i++) {
          yield* TestClock.setTime(i * 100)
          yield* store.createJob(newJob())
        }
        const jobsAsc = (yield* store.listJobs({ order: "asc" })).items.map((job) => job.job_id)

        for (const order of ["asc", "desc"] as const) {
          const inOrder = order === "asc" ? idsOf(sorted) : idsOf([...sorted].reverse())
          const first = yield* store.listEvents({ order, limit: 2 })
          const cursor = first.next_cursor!
          assert.deepStrictEqual(idsOf((yield* store.listEvents({ cursor })).items), inOrder.slice(2), `${order} without order: continues ${order}`)
          assert.deepStrictEqual(idsOf((yield* store.listEvents({ cursor, order })).items), inOrder.slice(2), `${order} with the same order`)
          const other = order === "asc" ? "desc" : "asc"
          const failure = expectTag(yield* failureOf(store.listEvents({ cursor, order: other })), "DecodeFailure")
          assert.deepStrictEqual([failure.subject, failure.issues[0]?.path], ["cursor", "order"])
          assert.include(failure.issues[0]?.message ?? "", `in ${order} order, not ${other}`)

          const jobsInOrder = order === "asc" ? jobsAsc : [...jobsAsc].reverse()
          const jobsFirst = yield* store.listJobs({ order, limit: 2 })
          const jobsCursor = jobsFirst.next_cursor!
          assert.deepStrictEqual((yield* store.listJobs({ cursor: jobsCursor })).items.map((job) => job.job_id), jobsInOrder.slice(2), `jobs ${order} without order`)
          expectTag(yield* failureOf(store.listJobs({ cursor: jobsCursor, order: other })), "DecodeFailure")
        }
      }))

    test("R5 R10 a cursor whose id is spelt in upper case continues exactly where the page that gave it ends (ids are compared lower-case)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        // One instant for every row, so the id alone orders them: the case of the cursor's id is what decides.
        const events = Array.from({ length: 6 }, () => eventRecord({ timestamp: at(1_000) }))
        yield* store.appendEvents(events)
        yield* TestClock.setTime(500)
        for (let i = 0; i < 6; i++) yield* store.createJob(newJob())
        const upperCased = (cursor: string): string => {
          const [listing, order, instant, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
          assert.match(id, /[a-f]/, "the id has letters to upper-case")
          return Buffer.from(JSON.stringify([listing, order, instant, id.toUpperCase()]), "utf8").toString("base64url")
        }
        for (const order of ["asc", "desc"] as const) {
          const eventsCursor = (yield* store.listEvents({ order, limit: 2 })).next_cursor!
          const rest = idsOf((yield* store.listEvents({ cursor: eventsCursor })).items)
          assert.strictEqual(rest.length, 4, `events ${order}`)
          assert.deepStrictEqual(idsOf((yield* store.listEvents({ cursor: upperCased(eventsCursor) })).items), rest, `events ${order}`)

          const jobsCursor = (yield* store.listJobs({ order, limit: 2 })).next_cursor!
          const jobsRest = (yield* store.listJobs({ cursor: jobsCursor })).items.map((job) => job.job_id)
          assert.strictEqual(jobsRest.length, 4, `jobs ${order}`)
          assert.deepStrictEqual(
            (yield* store.listJobs({ cursor: upperCased(jobsCursor) })).items.map((job) => job.job_id),
            jobsRest,
            `jobs ${order}`
          )
        }
      }))

    test("R5 R10 a cursor of the former format ([timestamp, id], no listing or order) is refused as one no page gave", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const record = eventRecord({ timestamp: at(1_000) })
        yield* store.appendEvents([record, eventRecord({ timestamp: at(2_000) })])
        const former = Buffer.from(JSON.stringify(["1970-01-01T00:00:01.000Z", record.event_id]), "utf8").toString("base64url")
        for (const error of [yield* failureOf(store.listEvents({ cursor: former })), yield* failureOf(store.listJobs({ cursor: former }))]) {
          assert.strictEqual(expectTag(error, "DecodeFailure").issues[0]?.message, "Not a cursor returned by a previous page")
        }
      }))

    test("R5 a cursor carries no filters: given other filters, it continues after its key among the rows they select (documented)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const made: Array<string> = []
        for (let i = 0; i < 6; i++) {
          yield* TestClock.setTime(i * 100)
          made.push((yield* store.createJob(newJob({ job_kind: i % 2 === 0 ? "doc_edit" : "doc_rewrite" }))).job_id)
        }
        const cursor = (yield* store.listJobs({ order: "asc", limit: 2 })).next_cursor!
        const edits = yield* store.listJobs({ kinds: ["doc_edit"], cursor })
        assert.deepStrictEqual(edits.items.map((job) => job.job_id), [made[2], made[4]])
      }))

    test("R10 appendEvents with an event_id already stored fails with AlreadyExists and stores nothing of the batch", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const original = eventRecord({ timestamp: at(1_000) })
        yield* store.appendEvents([original])
        const before = eventRecord({ timestamp: at(2_000) })
        const clash = eventRecord({ event_id: original.event_id, timestamp: at(3_000), type: "diagnostic" })
        const after = eventRecord({ timestamp: at(4_000) })
        const error = expectTag(yield* failureOf(store.appendEvents([before, clash, after])), "AlreadyExists")
        assert.strictEqual(error.entity, "event")
        assert.strictEqual(error.id, original.event_id)
        assert.deepStrictEqual((yield* store.listEvents()).items.map(encode.event), [encode.event(original)])
      }))

    test("R10 appendEvents with the same event_id twice in one batch fails with AlreadyExists and stores nothing", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const first = eventRecord({ timestamp: at(1_000) })
        const other = eventRecord({ timestamp: at(1_500) })
        const again = eventRecord({ event_id: first.event_id, timestamp: at(2_000) })
        expectTag(yield* failureOf(store.appendEvents([first, other, again])), "AlreadyExists")
        assert.deepStrictEqual((yield* store.listEvents()).items, [])
      }))

    test("R10 a page limit above 1000 gives 1000 items and a cursor to the rest (README: above 1000 gives 1000 in the library)", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = Array.from({ length: 1001 }, (_, i) => eventRecord({ timestamp: at(1_000 + i) }))
        yield* store.appendEvents(events)
        const first = yield* store.listEvents({ limit: 5000 })
        assert.strictEqual(first.items.length, 1000)
        assert.deepStrictEqual(idsOf(first.items), idsOf(events.slice(0, 1000)))
        assert.isNotNull(first.next_cursor)
        const rest = yield* store.listEvents({ limit: 5000, cursor: first.next_cursor! })
        assert.deepStrictEqual(idsOf(rest.items), [events[1000]!.event_id])
        assert.isNull(rest.next_cursor)
      }))
  })

  describe("purgeEventsBatch", () => {
    test("R13 purgeEventsBatch deletes at most batchSize events strictly older than before, and returns the count", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = Array.from({ length: 10 }, (_, i) => eventRecord({ timestamp: at((i + 1) * 1_000) }))
        yield* store.appendEvents(events)
        const before = at(5_000)
        assert.strictEqual(yield* store.purgeEventsBatch({ before, batchSize: 3 }), 3)
        assert.strictEqual(yield* store.purgeEventsBatch({ before, batchSize: 3 }), 1)
        assert.strictEqual(yield* store.purgeEventsBatch({ before, batchSize: 3 }), 0)
        const left = (yield* store.listEvents()).items
        assert.deepStrictEqual(byEventId(left), byEventId(events.slice(4)), "the event at exactly `before` and all later ones stay")
      }))

    test("R13 purgeEventsBatch on nothing old deletes 0 and keeps every event", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = [eventRecord({ timestamp: at(10_000) }), eventRecord({ timestamp: at(20_000) })]
        yield* store.appendEvents(events)
        assert.strictEqual(yield* store.purgeEventsBatch({ before: at(10_000), batchSize: 100 }), 0)
        assert.strictEqual((yield* store.listEvents()).items.length, 2)
      }))

    test("R13 purgeEventsBatch applies each call's own cutoff", () =>
      Effect.gen(function*() {
        const store = yield* JobStore
        const events = Array.from({ length: 4 }, (_, i) => eventRecord({ timestamp: at((i + 1) * 1_000) }))
        yield* store.appendEvents(events)
        assert.strictEqual(yield* store.purgeEventsBatch({ before: at(3_500), batchSize: 1 }), 1)
        assert.strictEqual(yield* store.purgeEventsBatch({ before: at(1_500), batchSize: 10 }), 0, "an earlier cutoff deletes nothing more")
        assert.strictEqual(yield* store.purgeEventsBatch({ before: at(3_500), batchSize: 10 }), 2)
        assert.deepStrictEqual(idsOf((yield* store.listEvents()).items), idsOf(events.slice(3)))
      }))
  })
}
