/**
 * R10, R5: the public `FlightRecorder.build` vouches only for what it checked
 * (found by a regression probe). It trusted every field but caller text:
 * `to_state: "bogus"`, `reason: 42`, a `gc_summary`'s `dry_run: "yes"`, a
 * decision `"maybe"` came back vouched, the store wrote them without a decode,
 * and every `FlightRecorder.list` that met the row failed with CorruptRow; a
 * lifecycle event naming a job under another trace was written, missing from
 * the job's trace; a bad actor or trace id reached the database. Now each is
 * the `InvalidEvent` `record` gives for the same event, nothing is written,
 * and the listing still reads. On SQLite and PostgreSQL.
 */
import { assert, describe } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { TraceId } from "../../src/domain/Ids.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { type Backend, storeTest } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { expectTag, failureOf, newJob } from "../store/fixtures.js"

/** A stored job, the recorder over its store, and a valid event of each kind the probe sent, naming the job. */
const setup = Effect.gen(function*() {
  const store = yield* JobStore
  const recorder = yield* FlightRecorder.make()
  const job = yield* store.createJob(newJob())
  const about = { trace_id: job.trace_id, job_id: job.job_id }
  const valid = {
    lifecycle: { kind: "lifecycle", actor: "system", ...about, from_state: "queued", to_state: "cancelled", reason: "asked" },
    gc_summary: { kind: "gc_summary", items_scanned: 1, items_pruned: 0, items_spared_pinned: 0, items_spared_window: 0, dry_run: false },
    capability: { kind: "capability", ...about, capability_id: "doc.summarize", actor_id: "Analyst", decision_outcome: "allow" }
  } as const satisfies Record<string, FlightRecorder.LibraryEvent>
  return { store, recorder, job, valid }
})

/** Every stored event, as the port lists them. */
const stored = Effect.flatMap(JobStore, (store) => Effect.map(store.listEvents({ limit: 1000 }), (page) => page.items))

/** The event `record` is given for `built`'s body with `changes`: the JSON form of the same event. */
const asRecorded = (built: EventRecord, changes: Record<string, unknown>) => ({ ...built.body, event_id: uuidv7(), ...changes })

const publicBuildContract = (backend: Backend) => {
  const test = storeTest(backend)
  describe(backend.name, () => {
    test("R10 build refuses a field of the wrong type or value as record does (state, reason, dry_run, decision, actor, trace id); nothing written, the log still lists", () =>
      Effect.gen(function*() {
        const { recorder, valid } = yield* setup
        const hostile: ReadonlyArray<readonly [keyof typeof valid, Record<string, unknown>]> = [
          ["lifecycle", { from_state: null, to_state: "bogus" }],
          ["lifecycle", { reason: 42 }],
          ["lifecycle", { actor: "hacker" }],
          ["lifecycle", { trace_id: "not-a-uuid" }],
          ["gc_summary", { dry_run: "yes" }],
          ["capability", { decision_outcome: "maybe" }]
        ]
        const before = yield* stored
        for (const [kind, changes] of hostile) {
          const event = { ...valid[kind], ...changes } as unknown as FlightRecorder.LibraryEvent
          const refused = expectTag(yield* failureOf(recorder.build(event)), "InvalidEvent")
          // The same event as `record` takes it (the JSON of a valid build, the field changed): the same refusal.
          const template = yield* recorder.build(valid[kind])
          const byRecord = expectTag(yield* failureOf(recorder.record(asRecorded(template, changes) as never)), "InvalidEvent")
          assert.deepStrictEqual(refused.reasons, byRecord.reasons, JSON.stringify(changes))
          assert.strictEqual(refused.event_type, byRecord.event_type)
        }
        assert.deepStrictEqual((yield* stored).length, before.length, "nothing written")
        // Every row reads back: no listing fails on what build let through.
        const listed = yield* recorder.list({ limit: 1000 })
        assert.strictEqual(listed.items.length, before.length)
      }))

    test("R5 R10 build naming a stored job under another trace is refused (InvalidEvent at trace_id, both traces), so neither appendEvents nor a change's events can store it", () =>
      Effect.gen(function*() {
        const { job, recorder, store, valid } = yield* setup
        const other = uuidv7() as TraceId
        const refused = expectTag(yield* failureOf(recorder.build({ ...valid.lifecycle, trace_id: other })), "InvalidEvent")
        assert.deepStrictEqual(refused.reasons.map((r) => r.path), ["trace_id"])
        assert.include(refused.reasons[0]!.message, job.trace_id)
        assert.include(refused.reasons[0]!.message, other)
        const byRecord = expectTag(yield* failureOf(recorder.record(asRecorded(yield* recorder.build(valid.lifecycle), { trace_id: other }) as never)), "InvalidEvent")
        assert.deepStrictEqual(refused.reasons, byRecord.reasons)
        // The job's own trace builds, and is written both ways, listed by the job's trace.
        const built = yield* recorder.build(valid.lifecycle)
        yield* store.appendEvents([built])
        const changed = yield* recorder.build({ ...valid.lifecycle, event_id: undefined as never })
        yield* store.transition({ job_id: job.job_id, to: "cancelled", events: auditWith([changed]) })
        const byTrace = yield* recorder.list({ trace_id: job.trace_id })
        assert.includeMembers(byTrace.items.map((e) => e.event_id), [built.event_id, changed.event_id])
        assert.isFalse((yield* stored).some((e) => e.trace_id === other), "no event under the other trace")
      }))

    test("R5 R10 build of a JS caller's event: no trace joins the job's, upper-case ids are stored canonical, a time that is no DateTime.Utc is InvalidEvent", () =>
      Effect.gen(function*() {
        const { job, recorder, store, valid } = yield* setup
        const { trace_id: _, ...untraced } = valid.lifecycle
        const joined = yield* recorder.build(untraced as unknown as FlightRecorder.LibraryEvent)
        assert.strictEqual(joined.trace_id, job.trace_id)
        assert.strictEqual(joined.body.trace_id, job.trace_id)
        const upper = yield* recorder.build({ ...valid.lifecycle, job_id: job.job_id.toUpperCase() as never, trace_id: job.trace_id.toUpperCase() as never })
        assert.deepStrictEqual([upper.job_id, upper.trace_id, upper.body.job_id, upper.body.trace_id], [job.job_id, job.trace_id, job.job_id, job.trace_id])
        yield* store.appendEvents([joined, upper])
        const byJob = yield* recorder.list({ job_id: job.job_id })
        assert.includeMembers(byJob.items.map((e) => e.event_id), [joined.event_id, upper.event_id])
        const before = yield* stored
        for (const changes of [{ timestamp: "2026-01-01T00:00:00Z" }, { run_after: 5 }, { timestamp: DateTime.unsafeMakeZoned(0, { timeZone: "Europe/Paris" }) }]) {
          const refused = expectTag(yield* failureOf(recorder.build({ ...valid.lifecycle, ...changes } as never)), "InvalidEvent")
          assert.deepStrictEqual(refused.reasons, Object.keys(changes).map((path) => ({ path, message: "Expected a DateTime.Utc" })))
        }
        assert.strictEqual((yield* stored).length, before.length)
      }))
  })
}

describe("R10 the public FlightRecorder.build checks every field before it vouches for a record", () => {
  publicBuildContract(sqliteFile)
  publicBuildContract(postgres("public build"))
})
