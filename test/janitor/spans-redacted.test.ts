/**
 * R14 in the spans of the module functions outside the recorder (found with
 * an outside probe's harness): `Janitor.prune`, `Janitor.purgeEvents` and
 * `Recovery.recoverStalledRuns` refuse an option they do not know by naming
 * it, and their plain `Effect.fn` spans ended with that raw failure, the
 * secret a key held (`password=hunter2pw`) handed to every tracer. Each now
 * ends with the failure redacted (the recorder's rules, or the default ones
 * when no recorder is in context), naming its tag; the caller's error is
 * unchanged. Spans and every log line (DEBUG too) captured; on SQLite in
 * memory and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Tracer from "effect/Tracer"
import { DecodeFailure } from "../../src/domain/Errors.js"
import * as Janitor from "../../src/Janitor.js"
import * as Recovery from "../../src/Recovery.js"
import { services } from "../jobs/services.js"
import { observing } from "../support/observed.js"
import { postgres, sqliteMemory } from "../support/stores.js"

const RAW = /hunter2pw/
/** Options with one more, named with a secret: refused, the refusal naming it. */
const named = <O extends object>(options: O): O => ({ ...options, "password=hunter2pw": 1 })

/** Runs `op` (refused with a DecodeFailure naming the option) observed; checks its one `name` span ended redacted, and the secret nowhere. */
const refused = <R>(name: string, op: Effect.Effect<unknown, unknown, R>) =>
  Effect.gen(function*() {
    const { leaks, observe, spans } = yield* observing
    const error = yield* Effect.flip(observe(op))
    assert.instanceOf(error, DecodeFailure)
    assert.strictEqual((error as DecodeFailure).issues[0]!.path, "password=hunter2pw")
    const mine = spans.filter((span) => span.name === name)
    assert.strictEqual(mine.length, 1, spans.map((span) => span.name).join(", "))
    const status = mine[0]!.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>
    assert.isTrue(Exit.isFailure(status.exit))
    const shown = Exit.isFailure(status.exit) ? Cause.pretty(status.exit.cause) : ""
    assert.include(shown, "DecodeFailure")
    assert.include(shown, "[REDACTED]")
    assert.deepStrictEqual(leaks(RAW), [])
  })

for (const backend of [sqliteMemory, postgres("service_spans_redacted")]) {
  describe(`R14 Janitor and Recovery spans end with their failure redacted, on ${backend.name}`, () => {
    it.effect("R14 Janitor.prune refusing an option named with a password ends its span redacted", () =>
      refused("Janitor.prune", Effect.flatMap(DateTime.now, (now) => Janitor.prune(named({ olderThan: now, keepNewest: 0 }))))
        .pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("R14 Janitor.purgeEvents refusing an option named with a password ends its span redacted", () =>
      refused("Janitor.purgeEvents", Effect.flatMap(DateTime.now, (now) => Janitor.purgeEvents(named({ cutoff: now }))))
        .pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("R14 Recovery.recoverStalledRuns refusing an option named with a password ends its span redacted", () =>
      refused("Recovery.recoverStalledRuns", Recovery.recoverStalledRuns(named({})))
        .pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("R14 Recovery.recoverStalledRuns with no recorder in context redacts by the default rules", () =>
      refused("Recovery.recoverStalledRuns", Recovery.recoverStalledRuns(named({})))
        .pipe(Effect.provide(backend.makeStore())), 120_000)
  })
}
