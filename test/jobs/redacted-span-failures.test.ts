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
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
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

/**
 * Runs `op` under a recording tracer, refused with `tag`; checks its one
 * `Jobs.<name>` span ended with the failure redacted, still naming the
 * error's tag, and no span of the call holding the secret; gives the
 * caller's own error for the case to check.
 */
const refused = <E extends { readonly _tag: string }, T extends E["_tag"], R>(name: string, tag: T, op: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const { spans, tracer } = yield* recordingTracer
    const error = yield* Effect.flip(Effect.withTracer(op, tracer))
    assert.strictEqual(error._tag, tag, name)
    const shown = failuresOf(spans, `Jobs.${name}`)
    assert.strictEqual(shown.length, 1, `Jobs.${name}: ${spans.map((span) => span.name).join(", ")}`)
    assert.notMatch(shown[0]!, RAW, `Jobs.${name}`)
    assert.include(shown[0]!, "[REDACTED]", `Jobs.${name}`)
    assert.include(shown[0]!, tag, `Jobs.${name}`)
    for (const span of spans) {
      const exit = span.status._tag === "Ended" ? span.status.exit : undefined
      if (exit !== undefined && Exit.isFailure(exit)) assert.notMatch(Cause.pretty(exit.cause), RAW, span.name)
      assert.notMatch(JSON.stringify([...span.attributes]), RAW, span.name)
    }
    return error as Extract<E, { readonly _tag: T }>
  })

/** A queued job, for the cases that act on one. */
const queuedJob = Effect.flatMap(Jobs, (jobs) => jobs.submit(summarize()))

/** A request whose profile_id Schema quotes in its refusal. */
const quotedSecret = () => ({ ...summarize(), profile_id: { password: "hunter2pw" } }) as never

for (const backend of [sqliteMemory, postgres("redacted_span_failures")]) {
  describe(`R14 a Jobs.<op> span ends with its failure redacted, on ${backend.name}`, () => {
    const test = (title: string, body: Effect.Effect<void, unknown, Jobs>) =>
      it.effect(title, () => body.pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    test("R14 Jobs.submit: a DecodeFailure quoting a secret ends the span redacted; the caller's error quotes it as before, caught by tag", Effect.gen(function*() {
      const jobs = yield* Jobs
      const decode = yield* refused("submit", "DecodeFailure", jobs.submit(quotedSecret()))
      assert.instanceOf(decode, DecodeFailure)
      assert.deepStrictEqual(decode.issues, [{ path: "profile_id", message: "Expected string, actual {\"password\":\"hunter2pw\"}" }])
      assert.strictEqual(decode.message, "Invalid JobRequest:\n  - profile_id: Expected string, actual {\"password\":\"hunter2pw\"}")
      // Caught by its tag as a caller catches it, traced: the same value.
      const { tracer } = yield* recordingTracer
      const byTag = yield* jobs.submit(quotedSecret()).pipe(
        Effect.as(undefined),
        Effect.catchTag("DecodeFailure", (error) => Effect.succeed(error)),
        Effect.withTracer(tracer)
      )
      assert.deepStrictEqual(byTag, decode)
    }))

    test("R14 Jobs.submit: an UnknownProfile echoing the profile asked for ends the span redacted; the caller's error names it", Effect.gen(function*() {
      const jobs = yield* Jobs
      const profile = yield* refused("submit", "UnknownProfile", jobs.submit({ ...summarize(), capability_profile_id: SECRET_KEY }))
      assert.instanceOf(profile, UnknownProfile)
      assert.strictEqual(profile.profile_id, SECRET_KEY)
      assert.include(profile.message, `"${SECRET_KEY}"`)
    }))

    test("R14 Jobs.cancel refused for a reason holding a secret ends the span redacted; the caller's error quotes it; nothing moved", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* queuedJob
      const move = yield* refused("cancel", "DecodeFailure", jobs.cancel(job.job_id, { reason: { password: "hunter2pw" } as never }))
      assert.deepStrictEqual(move.issues, [{ path: "reason", message: "Expected string, actual {\"password\":\"hunter2pw\"}" }])
      assert.deepStrictEqual(yield* jobs.get(job.job_id), job)
    }))

    test("R14 Jobs.start refused for a reason holding a bearer token ends the span redacted", Effect.gen(function*() {
      const jobs = yield* Jobs
      const job = yield* queuedJob
      const start = yield* refused("start", "DecodeFailure", jobs.start(job.job_id, { reason: { token: `Bearer ${SECRET_KEY}` } as never }))
      assert.match(start.message, RAW)
      assert.deepStrictEqual(yield* jobs.get(job.job_id), job)
    }))

    /** An option (or metric) named with a secret: each operation's refusal names it as its issue's path. */
    const named = { "password=hunter2pw": 1 } as never
    const byName: ReadonlyArray<readonly [string, (jobs: Jobs["Type"], job: AiJob) => Effect.Effect<unknown, { readonly _tag: string }>]> = [
      ["pin", (jobs, job) => jobs.pin(job.job_id, named)],
      ["unpin", (jobs, job) => jobs.unpin(job.job_id, named)],
      ["addMetrics", (jobs, job) => jobs.addMetrics(job.job_id, named)],
      ["await", (jobs, job) => jobs.await(job.job_id, named)],
      ["list", (jobs) => jobs.list(named)],
      ["retry", (jobs, job) => jobs.retry(job.job_id, named)]
    ]
    for (const [name, op] of byName) {
      test(`R14 Jobs.${name} refused for an option named with a secret ends its span redacted; the caller's error names it`, Effect.gen(function*() {
        const jobs = yield* Jobs
        const job = yield* queuedJob
        const error = yield* refused(name, "DecodeFailure", op(jobs, job))
        assert.instanceOf(error, DecodeFailure)
        assert.strictEqual((error as DecodeFailure).issues[0]!.path, "password=hunter2pw")
        assert.deepStrictEqual(yield* jobs.get(job.job_id), job)
      }))
    }

    test("R14 Jobs.submitMany refused quoting a secret ends its span redacted", Effect.gen(function*() {
      const jobs = yield* Jobs
      assert.match((yield* refused("submitMany", "DecodeFailure", jobs.submitMany([quotedSecret()]))).message, RAW)
    }))

    /** Operations given a job id that holds a secret: refused (no such id can be a job's), the span naming it. */
    const byId: ReadonlyArray<readonly [string, (jobs: Jobs["Type"], jobId: JobId) => Effect.Effect<unknown, { readonly _tag: string }>]> = [
      ["get", (jobs, jobId) => jobs.get(jobId)],
      ["history", (jobs, jobId) => jobs.history(jobId)],
      ["await", (jobs, jobId) => jobs.await(jobId)],
      ["cancel", (jobs, jobId) => jobs.cancel(jobId)],
      ["start", (jobs, jobId) => jobs.start(jobId)]
    ]
    for (const [name, op] of byId) {
      test(`R14 Jobs.${name} given a job id holding a secret: its failed span's hsk.job_id is redacted; the caller's error is the untraced one`, Effect.gen(function*() {
        const jobs = yield* Jobs
        const { spans, tracer } = yield* recordingTracer
        const given = `password=hunter2pw ${SECRET_KEY}` as JobId
        const error = yield* Effect.flip(Effect.withTracer(op(jobs, given), tracer))
        // The caller's error: the refusal it gets untraced, field for field.
        assert.strictEqual(error._tag, "DecodeFailure")
        const untraced = yield* Effect.flip(op(jobs, given))
        assert.deepStrictEqual({ ...error, message: (error as DecodeFailure).message }, { ...untraced, message: (untraced as DecodeFailure).message })
        const [span] = spans.filter((span) => span.name === `Jobs.${name}`)
        assert.strictEqual(span?.attributes.get("hsk.job_id"), "password=[REDACTED] [REDACTED]")
        for (const span of spans) assert.notMatch(JSON.stringify([...span.attributes]), RAW, span.name)
      }))
    }

    // Found by a regression probe: an id that is no text (a JS caller's object, a whole request) went on the span as it was.
    const objectId = () => ({ password: "hunter2pw", key: SECRET_KEY }) as unknown as JobId
    const byObjectId: ReadonlyArray<readonly [string, string, (jobs: Jobs["Type"]) => Effect.Effect<unknown, { readonly _tag: string }>]> = [
      ["get", "", (jobs) => jobs.get(objectId())],
      ["cancel", "", (jobs) => jobs.cancel(objectId())],
      ["await", "", (jobs) => jobs.await(objectId(), { timeout: 0 })],
      ["fail", "", (jobs) => jobs.fail(objectId(), "e")],
      ["fail", " and an error that is no text", (jobs) => jobs.fail(objectId(), 5 as never)]
    ]
    for (const [name, also, op] of byObjectId) {
      test(`R14 Jobs.${name} given a job id that is an object holding a secret${also}: no span attribute holds it (hsk.job_id says what it was)`, Effect.gen(function*() {
        const jobs = yield* Jobs
        const { spans, tracer } = yield* recordingTracer
        const exit = yield* Effect.exit(Effect.withTracer(op(jobs), tracer))
        assert.isTrue(Exit.isFailure(exit))
        const [span] = spans.filter((span) => span.name === `Jobs.${name}`)
        assert.strictEqual(span?.attributes.get("hsk.job_id"), "(not an id: object)")
        for (const span of spans) assert.notMatch(JSON.stringify([...span.attributes]), RAW, span.name)
      }))
    }

    // Unchanged by the fix (passes before and after, but for code.stacktrace, now left out): what a span shows of a success, and a failure's name and attributes.
    test("R14 a span that succeeds ends with the caller's very value; a refused move's span keeps its name, attributes and error tag", Effect.gen(function*() {
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
      // No code.stacktrace: it named move.ts, not the caller's code (refused-spans.test.ts).
      assert.isFalse(span?.attributes.has("code.stacktrace"))
      assert.include(failuresOf(spans, "Jobs.complete")[0]!, "IllegalTransition")

      spans.length = 0
      const got = yield* jobs.get(job.job_id).pipe(Effect.withTracer(tracer))
      const [read] = spans.filter((span) => span.name === "Jobs.get")
      const ended = read?.status._tag === "Ended" ? read.status.exit : undefined
      // The very value the caller got, not a copy.
      assert.isTrue(ended !== undefined && Exit.isSuccess(ended) && ended.value === got)
      assert.strictEqual(read?.attributes.get("hsk.trace_id"), job.trace_id)
    }))
  })
}
