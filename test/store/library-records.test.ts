/**
 * Issue 16: records the library built and checked itself (`FlightRecorder.build`,
 * `FlightRecorder.prepare`) reach the store without the port decoding them a
 * second time (domain/vouched.ts); a caller's records — a plain object, a
 * copy of a library record, a library record changed after its check — are
 * decoded as ever: bad ones get the same `DecodeFailure`, and nothing is
 * written. Counted by wrapping `decodeWith`, the port's only decoder.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { vi } from "vitest"
import type * as Decode from "../../src/domain/decode.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { TIMESTAMP_RANGE_MS } from "../../src/domain/Timestamp.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import { type Backend, storeTest } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { validEvents } from "../flight/fixtures.js"
import { expectTag, failureOf, newJob } from "./fixtures.js"

/** How many values each decoder (by subject) was given. */
const decodes = vi.hoisted(() => new Map<string, number>())

vi.mock("../../src/domain/decode.js", async (importOriginal) => {
  const original = await importOriginal<typeof Decode>()
  return {
    ...original,
    decodeWith: ((schema, subject) => {
      const decode = original.decodeWith(schema, subject)
      return (input: unknown) => {
        decodes.set(subject, (decodes.get(subject) ?? 0) + 1)
        return decode(input)
      }
    }) satisfies typeof original.decodeWith
  }
})

/** The port's `EventRecord` decodes while `effect` is made and run (the port decodes as a method is called). */
const recordDecodes = <A, E, R>(effect: () => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    decodes.set("EventRecord", 0)
    const result = yield* Effect.suspend(effect)
    return { result, decoded: decodes.get("EventRecord") ?? 0 }
  })

/** A job, and two library records about it: one built (a lifecycle change), one prepared (a caller's event). */
const setup = Effect.gen(function*() {
  const store = yield* JobStore
  const recorder = yield* FlightRecorder.make()
  const job = yield* store.createJob(newJob())
  const built = yield* recorder.build({
    kind: "lifecycle",
    actor: "system",
    trace_id: job.trace_id,
    job_id: job.job_id,
    from_state: "queued",
    to_state: "cancelled",
    reason: "caller asked"
  })
  const prepared = yield* recorder.prepare({ ...validEvents.diagnostic, job_id: job.job_id, trace_id: job.trace_id })
  return { store, job, built, prepared }
})

const storedIds = (records: ReadonlyArray<EventRecord>) =>
  Effect.flatMap(JobStore, (store) =>
    Effect.map(
      Effect.forEach(records, (record) => store.listEvents({ event_id: record.event_id })),
      (pages) => pages.flatMap((page) => page.items.map((item) => item.event_id))
    ))

const libraryRecordsContract = (backend: Backend) => {
  const test = storeTest(backend)
  describe(backend.name, () => {
    test("issue 16 records built or prepared by the Flight Recorder are written without a second decode at the port", () =>
      Effect.gen(function*() {
        const { built, job, prepared, store } = yield* setup
        const appended = yield* recordDecodes(() => store.appendEvents([prepared]))
        assert.strictEqual(appended.decoded, 0, "appendEvents of a prepared record")
        const moved = yield* recordDecodes(() => store.transition({ job_id: job.job_id, to: "cancelled", events: auditWith([built]) }))
        assert.strictEqual(moved.decoded, 0, "a change audited with a built record")
        assert.strictEqual(moved.result.state, "cancelled")
        assert.sameMembers(yield* storedIds([built, prepared]), [built.event_id, prepared.event_id])
      }))

    test("issue 16 a caller's records are decoded at the port: a copy is decoded, a hostile one refused and nothing written", () =>
      Effect.gen(function*() {
        const { built, job, prepared, store } = yield* setup
        // A plain copy carries the same values but not the library's mark: decoded, then written.
        const copy = yield* recordDecodes(() => store.appendEvents([{ ...prepared }]))
        assert.strictEqual(copy.decoded, 1)
        // A hostile record beside a library one: the whole list is decoded and refused, nothing written.
        const hostile = { ...built, body: { ...built.body, extra: Number.NaN } }
        const refused = yield* recordDecodes(() => failureOf(store.appendEvents([built, hostile as EventRecord])))
        assert.strictEqual(refused.decoded, 1)
        expectTag(refused.result, "DecodeFailure")
        const badId = { ...built, event_id: "not-an-id" } as unknown as EventRecord
        expectTag(yield* failureOf(store.transition({ job_id: job.job_id, to: "cancelled", events: auditWith([badId]) })), "DecodeFailure")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued", "the refused change is not made")
        assert.deepStrictEqual(yield* storedIds([built]), [])
      }))

    test("issue 16 a library record cannot be changed after its check: frozen, and a moved timestamp is decoded and refused", () =>
      Effect.gen(function*() {
        const { built, prepared, store } = yield* setup
        for (const record of [built, prepared]) {
          assert.isTrue(Object.isFrozen(record) && Object.isFrozen(record.body))
          assert.throws(() => {
            ;(record.body as Record<string, unknown>).reason = "changed"
          }, TypeError)
          assert.throws(() => {
            ;(record as { job_id: unknown }).job_id = "not-an-id"
          }, TypeError)
        }
        // The timestamp is a DateTime (it caches on itself, so it is not frozen): the port checks it every time.
        ;(built.timestamp as { epochMillis: number }).epochMillis = TIMESTAMP_RANGE_MS.max + 1
        const refused = yield* recordDecodes(() => failureOf(store.appendEvents([built])))
        assert.strictEqual(refused.decoded, 1)
        expectTag(refused.result, "DecodeFailure")
        assert.deepStrictEqual(yield* storedIds([built]), [])
      }))
  })
}

describe("issue 16 library records skip the port's second decode; callers' do not", () => {
  libraryRecordsContract(sqliteFile)
  libraryRecordsContract(postgres("library records"))
})
