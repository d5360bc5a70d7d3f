/**
 * R10 (append-only, no event overwritten): a batch of events with a taken id
 * fails whole with `AlreadyExists`, and names the same id on every store —
 * the first, in the order given, that is stored already or repeats an
 * earlier one of the batch (as `createJobs` names a job's, firstTaken.ts).
 * Found by the differential test
 * (test/reliability/same-behaviour-both-dialects.test.ts): for a batch with
 * a stored id first and a repeated one after it, SQLite named the repeated
 * one, PostgreSQL the stored one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { services } from "../jobs/services.js"
import { validEvents } from "./fixtures.js"

const id = (n: number) => `0190a000-0000-7000-8000-0000000000${String(n).padStart(2, "0")}`
const event = (n: number) => ({ ...validEvents.diagnostic, event_id: id(n) })

for (const backend of [sqliteFile, postgres("record many taken id")] satisfies ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore()) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`a batch of events with a taken id on ${backend.name}`, () => {
    it.effect("R10 recordMany names the first taken id in the order given — stored already or repeated — and writes nothing", () =>
      provide(Effect.gen(function*() {
        const recorder = yield* FlightRecorder.FlightRecorder
        const store = yield* JobStore
        yield* recorder.recordUntrusted(event(1))
        const cases: ReadonlyArray<readonly [ReadonlyArray<number>, number]> = [
          [[1, 2, 2], 1], // stored first, then a repeat: the stored one
          [[3, 3, 1], 3], // a repeat before the stored one: the repeat
          [[4, 1, 5, 5], 1],
          [[6, 7, 6, 1], 6]
        ]
        for (const [batch, taken] of cases) {
          const error = yield* Effect.flip(recorder.recordManyUntrusted(batch.map(event)))
          assert.deepStrictEqual([error._tag, (error as { readonly id?: unknown }).id], ["AlreadyExists", id(taken)], `batch ${batch.join(", ")}`)
        }
        const stored = (yield* store.listEvents({ limit: 100 })).items.map((record) => record.event_id)
        assert.deepStrictEqual(stored, [id(1)], "no batch wrote anything")
      })))
  })
}
