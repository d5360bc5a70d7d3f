/**
 * Issue 16, R14: `FlightRecorder.build` re-addresses the record it built for
 * the same content instead of sanitizing and measuring it again
 * (internal/flight/recordMemo.ts). A re-addressed record must be exactly the
 * record a fresh build gives for the same event and address — columns, and
 * the body byte for byte as JSON — whatever the caller text (secrets, NFD,
 * U+0000, emptied labels, oversize); the memo must answer for a repeated
 * content (or it saves nothing), and fall back to a build whenever a copy
 * could differ.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { type EventId, isCanonicalId, type JobId, type TraceId, type WorkflowRunId } from "../../src/domain/Ids.js"
import { isVouched } from "../../src/domain/vouched.js"
import { type LibraryEvent, makeBuild } from "../../src/internal/flight/libraryEvents.js"
import { MAX_MEMO_ENTRIES } from "../../src/internal/flight/recordMemo.js"
import * as Redactor from "../../src/internal/flight/Redactor.js"
import { hostileText } from "./fixtures.js"

/** An address whose ids all end in `digit`, at `timestamp`. */
const address = (digit: string, timestamp: DateTime.Utc) => {
  const id = (last: string) => `0190a00${digit}-0000-7000-8000-00000000000${last}`
  return {
    event_id: id("e") as EventId,
    trace_id: id("f") as TraceId,
    job_id: id("a") as JobId,
    run: id("b") as WorkflowRunId,
    timestamp
  }
}
/** Two addresses: the first build's, and the next one's. */
const first = address("0", DateTime.unsafeMake(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))
const next = address("1", DateTime.unsafeMake(Date.UTC(2027, 11, 30, 23, 59, 59, 1)))
type Address = typeof first

/** The events whose records the memo keeps, with caller text `t` and `u` where they carry it, at `address`. */
const events = (t: string, u: string, address: Address): ReadonlyArray<readonly [string, LibraryEvent]> => {
  const envelope = { event_id: address.event_id, timestamp: address.timestamp, trace_id: address.trace_id, job_id: address.job_id }
  return [
    ["lifecycle queued", { kind: "lifecycle", ...envelope, actor: "system", from_state: null, to_state: "queued", attempt: 1 }],
    [
      "lifecycle with a run and a reason",
      { kind: "lifecycle", ...envelope, actor: "human", workflow_run_id: address.run, from_state: "running", to_state: "failed", reason: t, attempt: 3 }
    ],
    ["lifecycle with an empty reason", { kind: "lifecycle", ...envelope, actor: "agent", from_state: "queued", to_state: "cancelled", reason: "" }],
    [
      "capability deny",
      { kind: "capability", ...envelope, capability_id: t, actor_id: u, decision_outcome: "deny" }
    ],
    ["capability allow", { kind: "capability", ...envelope, capability_id: u, actor_id: t, decision_outcome: "allow" }]
  ]
}

/** A record or an error, comparable across builds. */
const outcome = (effect: Effect.Effect<EventRecord, { readonly _tag: string }>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.match(exit, {
      onSuccess: (record) => ({
        ok: true,
        vouched: isVouched(record),
        columns: [record.event_id, DateTime.formatIso(record.timestamp), record.actor, record.type, record.trace_id, record.job_id, record.workflow_run_id],
        // Byte for byte: the same keys in the same order.
        body: JSON.stringify(record.body)
      }),
      onFailure: (cause) => ({ ok: false, error: JSON.stringify(cause) })
    }))

/** A redactor that counts the texts it is given: a re-addressed record sanitizes none. */
const countingRedactor = (rules: ReadonlyArray<Redactor.RedactionRule> = []) => {
  const inner = Redactor.make({ rules })
  let calls = 0
  return {
    redactor: { rules: inner.rules, redact: (text: string) => (calls++, inner.redact(text)) },
    calls: () => calls
  }
}

const maxEventBytes = 4 * 1024
const erase = { name: "erase", pattern: /^ERASE-ME$/, replacement: "" }

const hostile = hostileText

describe("issue 16 the recorder re-addresses a record built for the same content (R14)", () => {
  it.effect("issue 16 R14 for hostile caller text, a re-addressed record (or error) is exactly a fresh build's", () =>
    Effect.gen(function*() {
      let copies = 0
      for (const t of hostile) {
        for (const u of hostile) {
          const counting = countingRedactor([erase])
          const warm = makeBuild({ redactor: counting.redactor, maxEventBytes })
          for (const [, event] of events(t, u, first)) yield* Effect.exit(warm(event))
          const built = counting.calls()
          for (const [name, event] of events(t, u, next)) {
            const fresh = makeBuild({ redactor: Redactor.make({ rules: [erase] }), maxEventBytes })
            assert.deepStrictEqual(yield* outcome(warm(event)), yield* outcome(fresh(event)), `${name} with ${JSON.stringify(t)} / ${JSON.stringify(u)}`)
          }
          if (counting.calls() === built) copies++
        }
      }
      // Where every event of the pair was stored (no refusal), the second round was all copies.
      assert.isAbove(copies, 0)
    }))

  it.effect("issue 16 a repeated content is copied, not sanitized again; a new content is built", () =>
    Effect.gen(function*() {
      const counting = countingRedactor()
      const build = makeBuild({ redactor: counting.redactor, maxEventBytes })
      const [failed, deny] = [1, 3].map((i) => events("a reason", "Analyst", first)[i]![1])
      yield* build(failed!)
      yield* build(deny!)
      const afterFirst = counting.calls()
      assert.isAbove(afterFirst, 0)
      for (const i of [1, 3]) yield* build(events("a reason", "Analyst", next)[i]![1])
      assert.strictEqual(counting.calls(), afterFirst, "the failed and deny records were copies")
      yield* build({ ...failed!, reason: "another reason" } as LibraryEvent)
      assert.isAbove(counting.calls(), afterFirst, "another reason is built")
    }))

  it.effect("issue 16 a copy that could differ is built instead: a time of another width, a run where there was none, an odd id", () =>
    Effect.gen(function*() {
      const counting = countingRedactor()
      const warm = makeBuild({ redactor: counting.redactor, maxEventBytes })
      const fresh = makeBuild({ redactor: Redactor.make(), maxEventBytes })
      const [, withRun] = events("r", "p", first)[1]!
      yield* warm(withRun)
      const odd: ReadonlyArray<LibraryEvent> = [
        // Year 10000: a longer time text.
        { ...withRun, timestamp: DateTime.unsafeMake(253402300800000) } as LibraryEvent,
        { ...withRun, workflow_run_id: null } as LibraryEvent,
        { ...withRun, job_id: first.job_id.toUpperCase() as JobId } as LibraryEvent,
        { ...withRun, event_id: "not-an-id" as EventId } as LibraryEvent,
        // One odd id repeated in every place (a finish's placeholders repeat the job id): checked, not taken on trust.
        (() => {
          const upper = first.job_id.toUpperCase()
          return { ...withRun, job_id: upper, trace_id: upper, workflow_run_id: upper } as LibraryEvent
        })(),
        { ...withRun, trace_id: next.job_id as string as TraceId, job_id: next.job_id, workflow_run_id: "not-a-run" as WorkflowRunId } as LibraryEvent
      ]
      for (const event of odd) {
        const before = counting.calls()
        assert.deepStrictEqual(yield* outcome(warm(event)), yield* outcome(fresh(event)))
        assert.isAbove(counting.calls(), before, "built, not copied")
      }
    }))

  it.effect("issue 16 a finish's record, its job id repeated as trace and run (endRun.ts makeFinishRunning), is copied and is exactly a fresh build's", () =>
    Effect.gen(function*() {
      const counting = countingRedactor()
      const warm = makeBuild({ redactor: counting.redactor, maxEventBytes })
      const fresh = makeBuild({ redactor: Redactor.make(), maxEventBytes })
      const finish = (at: Address): LibraryEvent => ({
        kind: "lifecycle",
        actor: "system",
        timestamp: at.timestamp,
        job_id: at.job_id,
        trace_id: at.job_id as string as TraceId,
        workflow_run_id: at.job_id as string as WorkflowRunId,
        from_state: "running",
        to_state: "completed",
        attempt: 100
      })
      yield* warm(finish(first))
      const before = counting.calls()
      // Without an event id of its own: the builder's fresh one.
      const copy = yield* outcome(warm(finish(next)))
      assert.strictEqual(counting.calls(), before, "copied, not built")
      const built = yield* outcome(fresh(finish(next)))
      // Each has its own fresh event id: equal once it is set aside.
      const unaddressed = (record: typeof copy) => {
        if (!("columns" in record)) return record
        const eventId = String(record.columns[0])
        return { ...record, columns: record.columns.slice(1), body: record.body.replace(eventId, "E"), eventIdCanonical: isCanonicalId(eventId) }
      }
      assert.deepStrictEqual(unaddressed(copy), unaddressed(built))
      assert.deepInclude(unaddressed(copy), { ok: true, vouched: true, eventIdCanonical: true })
    }))

  it.effect("issue 16 the memo is bounded: the oldest content is dropped first", () =>
    Effect.gen(function*() {
      const counting = countingRedactor()
      const build = makeBuild({ redactor: counting.redactor, maxEventBytes })
      const withReason = (reason: string, address: Address) => events(reason, "p", address)[1]![1]
      for (let i = 0; i <= MAX_MEMO_ENTRIES; i++) yield* build(withReason(`reason ${i}`, first))
      const before = counting.calls()
      yield* build(withReason(`reason ${MAX_MEMO_ENTRIES}`, next))
      assert.strictEqual(counting.calls(), before, "the newest is still remembered")
      yield* build(withReason("reason 0", next))
      assert.isAbove(counting.calls(), before, "the oldest was dropped")
    }))
})
