/**
 * R14 in the recorder's own spans (found by an outside probe): an event the
 * recorder refuses is reported with the caller's input quoted (`model_id:
 * Expected string, actual {"apiKey":"sk-live-…"}`), and each
 * `FlightRecorder.<op>` span ended with that raw failure: a tracer's exporter
 * stored the secret the recorder exists to redact. Each span now ends with
 * the failure redacted as the events are, naming its tag, while the caller
 * gets its own error value, untouched. Spans and every log line (DEBUG too)
 * are captured; on SQLite in memory and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"
import type { FlightEventInput } from "../../src/domain/FlightEvent.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { observing } from "../support/observed.js"
import { postgres, sqliteMemory } from "../support/stores.js"
import { withField } from "./fixtures.js"

const SECRET_KEY = "sk-live-ABCDEF0123456789abcdef"
const RAW = /hunter2pw|sk-live-ABCDEF/

/** An `llm_inference` event whose model id is an object holding a key: refused, the refusal quoting it. */
const keyAsModel = withField("llm_inference", { model_id: { apiKey: SECRET_KEY } }) as unknown as FlightEventInput
/** A `system` event whose reason is an object holding a password. */
const passwordAsReason = withField("system", { reason: { password: "hunter2pw" } }) as unknown as FlightEventInput

/** How an ended span's failure reads to a tracer, checked ended with one. */
const failureOf = (span: Tracer.Span): string => {
  assert.strictEqual(span.status._tag, "Ended", span.name)
  const exit = (span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
  assert.isTrue(Exit.isFailure(exit), `${span.name} ended with a failure`)
  return Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
}

/**
 * Runs `op`, refused with `tag`, with every span and log line captured; checks
 * its one `FlightRecorder.<name>` span ended with the failure redacted, naming
 * the tag, and the secret nowhere in what a tracer or logger was handed; gives
 * the caller's own error.
 */
const refused = <E extends { readonly _tag: string; readonly message: string }, R>(name: string, tag: string, op: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const { leaks, observe, spans } = yield* observing
    const error = yield* Effect.flip(observe(op))
    assert.strictEqual(error._tag, tag, name)
    const mine = spans.filter((span) => span.name === `FlightRecorder.${name}`)
    assert.strictEqual(mine.length, 1, spans.map((span) => span.name).join(", "))
    const shown = failureOf(mine[0]!)
    assert.include(shown, tag)
    assert.include(shown, "[REDACTED]")
    assert.deepStrictEqual(leaks(RAW), [])
    // The caller's own error is what the recorder refused the input with: it quotes the input.
    assert.match(error.message, RAW)
    return error
  })

for (const backend of [sqliteMemory, postgres("recorder_spans_redacted")]) {
  describe(`R14 a FlightRecorder.<op> span ends with its failure redacted, on ${backend.name}`, () => {
    const test = (title: string, body: Effect.Effect<void, unknown, FlightRecorder.FlightRecorder>) =>
      it.effect(title, () => body.pipe(Effect.provide(FlightRecorder.layer().pipe(Layer.provide(backend.makeStore())))), 120_000)

    test("R14 FlightRecorder.recordUntrusted refusing a model id that holds a key ends its span redacted; the caller's InvalidEvent quotes it", Effect.gen(function*() {
      const recorder = yield* FlightRecorder.FlightRecorder
      const error = yield* refused("record", "InvalidEvent", recorder.recordUntrusted(keyAsModel))
      assert.instanceOf(error, FlightRecorder.InvalidEvent)
      assert.include(error.message, `model_id: Expected string, actual {"apiKey":"${SECRET_KEY}"}`)
    }))

    test("R14 FlightRecorder.record refusing the same ends its span redacted", Effect.gen(function*() {
      const recorder = yield* FlightRecorder.FlightRecorder
      yield* refused("record", "InvalidEvent", recorder.record(keyAsModel))
    }))

    test("R14 FlightRecorder.recordMany and recordManyUntrusted refusing a reason that holds a password end their spans redacted", Effect.gen(function*() {
      const recorder = yield* FlightRecorder.FlightRecorder
      const error = yield* refused("recordMany", "InvalidEvent", recorder.recordMany([passwordAsReason]))
      assert.include(error.message, `{"password":"hunter2pw"}`)
      yield* refused("recordMany", "InvalidEvent", recorder.recordManyUntrusted([passwordAsReason]))
      // Nothing of either was stored.
      assert.deepStrictEqual((yield* recorder.list()).items, [])
    }))

    test("R14 FlightRecorder.prepare refusing a model id that holds a key ends its span redacted", Effect.gen(function*() {
      const recorder = yield* FlightRecorder.FlightRecorder
      yield* refused("prepare", "InvalidEvent", recorder.prepare(keyAsModel))
    }))

    test("R14 FlightRecorder.list refusing a filter that holds a password ends its span redacted", Effect.gen(function*() {
      const recorder = yield* FlightRecorder.FlightRecorder
      yield* refused("list", "DecodeFailure", recorder.list({ trace_id: { password: "hunter2pw" } } as never))
    }))

    test("R14 FlightRecorder.enforceRetention refusing an option named with a password ends its span redacted; nothing purged", Effect.gen(function*() {
      const recorder = yield* FlightRecorder.FlightRecorder
      yield* refused("enforceRetention", "DecodeFailure", recorder.enforceRetention({ "password=hunter2pw": 1 } as never))
    }))

    test("R14 an event recorded with a key in its text: stored redacted, and no span or log line holds the key", Effect.gen(function*() {
      const { leaks, observe, spans } = yield* observing
      const recorder = yield* FlightRecorder.FlightRecorder
      const stored = yield* observe(recorder.record(withField("system", { reason: `provider refused ${SECRET_KEY}` }) as unknown as FlightEventInput))
      assert.notMatch(JSON.stringify(stored), RAW)
      assert.strictEqual(spans.filter((span) => span.name === "FlightRecorder.record").length, 1)
      assert.deepStrictEqual(leaks(RAW), [])
    }))
  })
}
