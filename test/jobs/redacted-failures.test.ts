/**
 * R14 outside the database (found by an outside probe): a program's failure
 * is stored redacted in its job's `error_message`, and the library's own
 * reports of the same failure — a worker pool's WARN line, the `Jobs.run`
 * and `Jobs.node` spans' ends — now hold it redacted too, where they held the
 * raw text (a defect with its stack) for every logger and tracer. The
 * caller's own error value is what its program failed with, untouched. On
 * SQLite (a file) and PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"
import * as Capabilities from "../../src/Capabilities.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { Jobs, layer as jobsLayer } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import * as WakeUp from "../../src/WakeUp.js"
import { redactCause } from "../../src/internal/redactCause.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { recordingTracer } from "../support/recordingTracer.js"
import { observing } from "../support/observed.js"

const SECRET = "password=hunter2pw token sk-live-ABCDEF0123456789abcdef"
const RAW = /hunter2pw|sk-live-ABCDEF/

/** Every log line with its cause (as `Cause.pretty` shows it) and annotations. */
const capturingLines = () => {
  const lines: Array<{ readonly level: string; readonly message: string; readonly cause: string; readonly annotations: Record<string, unknown> }> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { lines, logger: Logger.replace(Logger.defaultLogger, logger) }
}

const recording = recordingTracer

/** How an ended span's failure reads to a tracer (`Cause.pretty` of its exit's cause), or "" if it succeeded. */
const endedWith = (span: Tracer.Span): string => {
  assert.strictEqual(span.status._tag, "Ended", span.name)
  const exit = (span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
  return Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
}

for (const backend of [sqliteFile, postgres("redacted_failures")]) {
  describe(`R14 a program's failure reaches logs and spans redacted, on ${backend.name}`, () => {
    it.live("R14 a pool logs a failed or dying program's cause redacted, as its job stores it, with its annotations", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const failing = yield* jobs.submit(summarize())
        const dying = yield* jobs.submit(summarize())
        const { lines, logger } = capturingLines()
        yield* Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({
            concurrency: 1,
            pollInterval: "50 millis",
            handler: (ctx) =>
              ctx.job.job_id === failing.job_id ? Effect.fail(`upstream said: ${SECRET}`) : Effect.dieMessage(`boom ${SECRET}`)
          })
          yield* jobs.await(failing.job_id, { timeout: "30 seconds" })
          yield* jobs.await(dying.job_id, { timeout: "30 seconds" })
        })).pipe(Effect.provide(logger))

        assert.strictEqual((yield* jobs.get(failing.job_id)).error_message, "upstream said: password=[REDACTED] token [REDACTED]")
        for (const job of [failing, dying]) {
          const warned = lines.filter((line) => line.level === "WARN" && line.message.includes(`job ${job.job_id}`))
          assert.strictEqual(warned.length, 1, JSON.stringify(lines))
          assert.notMatch(warned[0]!.cause, RAW)
          assert.include(warned[0]!.cause, "password=[REDACTED] token [REDACTED]")
          assert.strictEqual(warned[0]!.annotations["job_id"], job.job_id)
        }
        assert.deepStrictEqual(lines.filter((line) => RAW.test(JSON.stringify(line))), [])
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("R14 the Jobs.run and Jobs.node spans end with the failure redacted; the caller gets its own error value", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recording
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const mine = { message: `upstream said: ${SECRET}`, password: "hunter2pw" }
        const nodeError = new Error(`node said: ${SECRET}`)
        let nodeFailedWith: unknown
        const failed = yield* Effect.exit(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            nodeFailedWith = yield* Effect.flip(ctx.node({ node_id: "n1", node_type: "llm" }, Effect.fail(nodeError)))
            return yield* Effect.fail(mine)
          })).pipe(Effect.withTracer(tracer)))
        // The caller's own values, as its program failed with them (Effect wraps a failure in a span-carrying Proxy).
        assert.strictEqual(Cause.originalError(nodeFailedWith), nodeError)
        assert.strictEqual(Cause.originalError(Option.getOrUndefined(Exit.isFailure(failed) ? Cause.failureOption(failed.cause) : Option.none())), mine)
        assert.deepStrictEqual(Exit.isFailure(failed) ? Cause.failureOption(failed.cause) : undefined, Option.some(mine))

        const dead = yield* jobs.submit(summarize())
        yield* jobs.start(dead.job_id)
        const died = yield* Effect.exit(jobs.run(dead.job_id, () => Effect.sync(() => {
          throw new Error(`thrown: ${SECRET}`)
        })).pipe(Effect.withTracer(tracer)))
        assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))

        const named = (name: string) => spans.filter((span) => span.name === name)
        assert.strictEqual(named("Jobs.run").length, 2)
        assert.strictEqual(named("Jobs.node").length, 1)
        for (const span of [...named("Jobs.run"), ...named("Jobs.node")]) {
          const shown = endedWith(span)
          assert.include(shown, "password=[REDACTED] token [REDACTED]", span.name)
          assert.notMatch(shown, RAW, span.name)
        }
        // No span of the library's ended with the secret, nor holds it in an attribute.
        for (const span of spans) {
          assert.notMatch(endedWith(span), RAW, span.name)
          assert.notMatch(JSON.stringify([...span.attributes]), RAW, span.name)
        }
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.effect("R14 at DEBUG, a run whose program fails or dies leaves its secret in no log line, span attribute or span event (Effect's unhandled-error line of the program's fiber)", () =>
      Effect.gen(function*() {
        const { leaks, lines, observe, spans } = yield* observing
        const jobs = yield* Jobs
        const failing = yield* jobs.submit(summarize())
        yield* jobs.start(failing.job_id)
        const mine = new Error(`provider refused key ${SECRET}`)
        const failed = yield* Effect.exit(observe(jobs.run(failing.job_id, () => Effect.fail(mine))))
        assert.deepStrictEqual(Exit.isFailure(failed) ? Option.map(Cause.failureOption(failed.cause), Cause.originalError) : undefined, Option.some(mine))
        const dying = yield* jobs.submit(summarize())
        yield* jobs.start(dying.job_id)
        const died = yield* Effect.exit(observe(jobs.run(dying.job_id, () => Effect.dieMessage(`boom ${SECRET}`))))
        assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
        // The capture sees DEBUG lines from inside a run: a line the program logs is there.
        const logged = yield* jobs.submit(summarize())
        yield* jobs.start(logged.job_id)
        yield* observe(jobs.run(logged.job_id, () => Effect.logDebug("program says hello")))

        assert.strictEqual((yield* jobs.get(failing.job_id)).error_message, "provider refused key password=[REDACTED] token [REDACTED]")
        assert.strictEqual((yield* jobs.get(dying.job_id)).state, "failed")
        assert.strictEqual(spans.filter((span) => span.name === "Jobs.run").length, 3)
        assert.isTrue(lines.some((line) => line.includes("program says hello")), JSON.stringify(lines))
        assert.deepStrictEqual(leaks(RAW), [])
      }).pipe(Effect.provide(services(backend.makeStore()))), 120_000)

    it.live("R14 at DEBUG, a pool whose program fails with text only a caller's redaction rule matches logs and traces it redacted by that rule", () =>
      Effect.gen(function*() {
        const { leaks, observe } = yield* observing
        const jobs = yield* Jobs
        const job = yield* jobs.submit(summarize())
        yield* observe(Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({ concurrency: 1, pollInterval: "50 millis", handler: () => Effect.fail(new Error("bad token acme_tok_abc123xyz")) })
          yield* jobs.await(job.job_id, { timeout: "30 seconds" })
        })))
        assert.strictEqual((yield* jobs.get(job.job_id)).error_message, "bad token [ACME]")
        assert.deepStrictEqual(leaks(/acme_tok_abc123xyz/), [])
      }).pipe(Effect.provide(jobsLayer().pipe(
        Layer.provideMerge(Recovery.layerNoStartupRecovery),
        Layer.provideMerge(WakeUp.layerPollOnly),
        Layer.provideMerge(FlightRecorder.layer({ redactionRules: [{ name: "acme", pattern: /acme_tok_[a-z0-9]+/g, replacement: "[ACME]" }] })),
        Layer.provideMerge(Capabilities.layerDefault),
        Layer.provideMerge(backend.makeStore())
      ))), 120_000)
  })
}

describe("R14 redactCause (the failure the library's logs and spans show)", () => {
  it("R14 a failure whose reading throws is shown as undescribable, and the stack trace limit is as before", () => {
    const limit = Error.stackTraceLimit
    const refuse = () => {
      throw new Error("no")
    }
    // Every read throws: Effect's own printer throws on it, with the stack trace limit still lowered.
    const hostile = new Proxy({}, { get: refuse, has: refuse, ownKeys: refuse, getOwnPropertyDescriptor: refuse, getPrototypeOf: refuse })
    const shown = Cause.pretty(redactCause(Cause.fail(hostile), (text) => text))
    assert.include(shown, "a failure that could not be described")
    assert.strictEqual(Error.stackTraceLimit, limit)
  })
})
