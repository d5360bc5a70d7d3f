/**
 * R14 in traces (found by a task review): a failed program's error reached
 * the `Jobs.run` and `Jobs.node` spans redacted, but every other `Jobs.<op>`
 * span ended with the caller's raw typed error — a `DecodeFailure` quoting a
 * bad input (`{"password":"hunter2pw"}`), an `UnknownProfile` echoing the
 * profile asked for, a move's refused reason — so a tracer's exporter stored
 * the secret the Flight Recorder redacts. Each such span now ends with the
 * failure passed through the recorder's redaction (its name, message and
 * stack), while the caller gets its own error value, untouched: the same
 * tag, fields and message, caught by tag as before. On SQLite in memory and
 * PostgreSQL (a refused profile is audited in the store).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Tracer from "effect/Tracer"
import { UnknownProfile } from "../../src/Capabilities.js"
import { DecodeFailure } from "../../src/domain/Errors.js"
import { Jobs } from "../../src/Jobs.js"
import { postgres, sqliteMemory } from "../support/stores.js"
import { recordingTracer } from "../support/recordingTracer.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

const SECRET_KEY = "sk-live-ABCDEF0123456789abcdef"
const RAW = /hunter2pw|sk-live-ABCDEF/

/** The spans named `name`, each checked ended with a failure; how each failure reads to a tracer (`Cause.pretty`). */
const failuresOf = (spans: ReadonlyArray<Tracer.Span>, name: string): Array<string> =>
  spans.filter((span) => span.name === name).map((span) => {
    assert.strictEqual(span.status._tag, "Ended", name)
    const exit = (span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
    assert.isTrue(Exit.isFailure(exit), `${name} ended with a failure`)
    return Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
  })

for (const backend of [sqliteMemory, postgres("redacted_span_failures")]) {
  describe(`R14 a Jobs.<op> span ends with its failure redacted, on ${backend.name}`, () => {
    it.effect("R14 submit, a refused move, start, pin, addMetrics, await, list and submitMany: each span's failure holds no secret; the caller's error is its own", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recordingTracer
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())

        /**
         * Runs `op` under the recording tracer, refused with `tag`; checks its
         * one `Jobs.<name>` span ended with the failure redacted, still naming the error's tag.
         */
        const refused = <E extends { readonly _tag: string }, T extends E["_tag"]>(name: string, tag: T, op: Effect.Effect<unknown, E>) =>
          Effect.gen(function*() {
            spans.length = 0
            const error = yield* Effect.flip(Effect.withTracer(op, tracer))
            assert.strictEqual(error._tag, tag, name)
            const caught = error as Extract<E, { readonly _tag: T }>
            const shown = failuresOf(spans, `Jobs.${name}`)
            assert.strictEqual(shown.length, 1, `Jobs.${name}: ${spans.map((span) => span.name).join(", ")}`)
            assert.notMatch(shown[0]!, RAW, `Jobs.${name}`)
            assert.include(shown[0]!, "[REDACTED]", `Jobs.${name}`)
            assert.include(shown[0]!, tag, `Jobs.${name}`)
            // No span of the call ended with the secret, nor holds it in an attribute.
            for (const span of spans) {
              const exit = span.status._tag === "Ended" ? span.status.exit : undefined
              if (exit !== undefined && Exit.isFailure(exit)) assert.notMatch(Cause.pretty(exit.cause), RAW, span.name)
              assert.notMatch(JSON.stringify([...span.attributes]), RAW, span.name)
            }
            return caught
          })

        // submit: a DecodeFailure quoting the bad value, as the caller has always seen it.
        const decode = yield* refused("submit", "DecodeFailure", jobs.submit({ ...summarize(), profile_id: { password: "hunter2pw" } } as never))
        // Caught by its tag as a caller catches it: the same value.
        const byTag = yield* jobs.submit({ ...summarize(), profile_id: { password: "hunter2pw" } } as never).pipe(
          Effect.as(undefined),
          Effect.catchTag("DecodeFailure", (error) => Effect.succeed(error)),
          Effect.withTracer(tracer)
        )
        assert.deepStrictEqual(byTag, decode)
        assert.instanceOf(decode, DecodeFailure)
        assert.deepStrictEqual(decode.issues, [{ path: "profile_id", message: "Expected string, actual {\"password\":\"hunter2pw\"}" }])
        assert.strictEqual(decode.message, "Invalid JobRequest:\n  - profile_id: Expected string, actual {\"password\":\"hunter2pw\"}")

        // submit: an UnknownProfile echoing the profile asked for (its refusal audited in the store).
        const profile = yield* refused("submit", "UnknownProfile", jobs.submit({ ...summarize(), capability_profile_id: SECRET_KEY }))
        assert.instanceOf(profile, UnknownProfile)
        assert.strictEqual(profile.profile_id, SECRET_KEY)
        assert.include(profile.message, `"${SECRET_KEY}"`)

        // A move refused for its reason, which holds a secret.
        const move = yield* refused("cancel", "DecodeFailure", jobs.cancel(job.job_id, { reason: { password: "hunter2pw" } as never }))
        assert.deepStrictEqual(move.issues, [{ path: "reason", message: "Expected string, actual {\"password\":\"hunter2pw\"}" }])
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")

        const start = yield* refused("start", "DecodeFailure", jobs.start(job.job_id, { reason: { token: `Bearer ${SECRET_KEY}` } as never }))
        assert.match(start.message, RAW)

        // A secret in an option's or a metric's name.
        const pin = yield* refused("pin", "DecodeFailure", jobs.pin(job.job_id, { [`password=hunter2pw`]: 1 } as never))
        assert.strictEqual(pin.issues[0]!.path, "password=hunter2pw")
        const metrics = yield* refused("addMetrics", "DecodeFailure", jobs.addMetrics(job.job_id, { [`password=hunter2pw`]: 1 } as never))
        assert.strictEqual(metrics.issues[0]!.path, "password=hunter2pw")
        const awaited = yield* refused("await", "DecodeFailure", jobs.await(job.job_id, { [`password=hunter2pw`]: 1 } as never))
        assert.strictEqual(awaited.issues[0]!.path, "password=hunter2pw")
        const listed = yield* refused("list", "DecodeFailure", jobs.list({ [`password=hunter2pw`]: 1 } as never))
        assert.strictEqual(listed.issues[0]!.path, "password=hunter2pw")
        const many = yield* refused("submitMany", "DecodeFailure", jobs.submitMany([{ ...summarize(), profile_id: { password: "hunter2pw" } }] as never))
        assert.match(many.message, RAW)

        // Nothing above changed the job.
        assert.deepStrictEqual(yield* jobs.get(job.job_id), job)
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("R14 a span that succeeds ends with its value as before, and a refused move's span keeps its name and attributes", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recordingTracer
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        const exit = yield* Effect.exit(jobs.complete(job.job_id, { reason: `password=hunter2pw ${SECRET_KEY}` }).pipe(Effect.withTracer(tracer)))
        // Refused for the job's state: the reason is never quoted, the error is the caller's own.
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
        assert.strictEqual(error?._tag === "Some" ? error.value._tag : undefined, "IllegalTransition")
        const [span] = spans.filter((span) => span.name === "Jobs.complete")
        assert.strictEqual(span?.attributes.get("hsk.job_id"), job.job_id)
        assert.isString(span?.attributes.get("code.stacktrace"))
        assert.include(failuresOf(spans, "Jobs.complete")[0]!, "IllegalTransition")

        spans.length = 0
        const got = yield* jobs.get(job.job_id).pipe(Effect.withTracer(tracer))
        const [read] = spans.filter((span) => span.name === "Jobs.get")
        const ended = read?.status._tag === "Ended" ? read.status.exit : undefined
        // The very value the caller got, not a copy.
        assert.isTrue(ended !== undefined && Exit.isSuccess(ended) && ended.value === got)
        assert.strictEqual(read?.attributes.get("hsk.trace_id"), job.trace_id)
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)
  })
}
