/**
 * Issue 16: a Jobs operation's one span (`withJobSpan`, internal/flight/jobSpan.ts)
 * is the parent of every span made inside the operation — a store
 * transaction's, a user's — and the caller's span is current again once the
 * operation ends, however it ends: success, failure, defect or interruption.
 * (It sets the parent by hand, in fewer Effect operations than
 * `Effect.withParentSpan`.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import { withJobSpan } from "../../src/internal/flight/jobSpan.js"

/** The current span's name, or "none". */
const currentName = Effect.map(Effect.option(Effect.currentSpan), Option.match({ onNone: () => "none", onSome: (span) => span.name }))

/** The parent span's name of a span made now, or "none". */
const parentOfChild = Effect.useSpan("child", (child) =>
  Effect.succeed(Option.match(child.parent, { onNone: () => "none", onSome: (parent) => (parent as Tracer.Span).name ?? "external" })))

describe("issue 16 the Jobs span is the parent inside its operation, and the caller's span after it", () => {
  it.effect("issue 16 spans made inside a Jobs operation are its children; a forked fiber's too", () =>
    Effect.gen(function*() {
      const inside = yield* withJobSpan("Jobs.op", (span) =>
        Effect.gen(function*() {
          span.attribute("hsk.job_id", "j")
          const forked = yield* Effect.fork(parentOfChild)
          return { current: yield* currentName, child: yield* parentOfChild, forked: yield* Fiber.join(forked) }
        }))
      assert.deepStrictEqual(inside, { current: "Jobs.op", child: "Jobs.op", forked: "Jobs.op" })
      assert.strictEqual(yield* currentName, "caller")
      assert.strictEqual(yield* parentOfChild, "caller")
    }).pipe(Effect.withSpan("caller")))

  it.effect("issue 16 after a Jobs operation fails, dies or is interrupted, the caller's span is current again", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.exit(withJobSpan("Jobs.op", () => Effect.fail("no")))
      assert.isTrue(Exit.isFailure(failed))
      assert.strictEqual(yield* currentName, "caller")
      const died = yield* Effect.exit(withJobSpan("Jobs.op", () => Effect.die("boom")))
      assert.isTrue(Exit.isFailure(died))
      assert.strictEqual(yield* currentName, "caller")

      // Interrupted while inside: the fiber's finalizers already see the caller's span.
      const started = yield* Deferred.make<void>()
      const seenByFinalizer = yield* Deferred.make<string>()
      const fiber = yield* Effect.fork(
        withJobSpan("Jobs.op", () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)).pipe(
          Effect.onInterrupt(() => Effect.flatMap(currentName, (name) => Deferred.succeed(seenByFinalizer, name)))
        )
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* Deferred.await(seenByFinalizer), "caller")
      assert.strictEqual(yield* currentName, "caller")
    }).pipe(Effect.withSpan("caller")))

  it.effect("issue 16 with no caller span, none is current after a Jobs operation", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* withJobSpan("Jobs.op", () => currentName), "Jobs.op")
      assert.strictEqual(yield* currentName, "none")
    }))
  // It named where in this package the span was opened, read as the caller's code (found by an outside probe).
  it.effect("issue 16 a failed Jobs span records no code.stacktrace; its failure's span trace still names where the operation was opened, captured once per name", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const fail = withJobSpan("Jobs.stacktraceProbe", (span) => {
        spans.push(span)
        return Effect.fail(new Error("no"))
      })
      const exits = [yield* Effect.exit(fail), yield* Effect.exit(fail)]
      assert.strictEqual(spans.length, 2)
      for (const [i, span] of spans.entries()) {
        assert.strictEqual(span.status._tag, "Ended")
        assert.isFalse(span.attributes.has("code.stacktrace"))
        const exit = exits[i]!
        assert.include(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", "at Jobs.stacktraceProbe (", "the failure's span trace")
        assert.include(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", "job-span.test.ts", "the frame that opened the operation, not jobSpan.ts")
      }
      const ok = yield* withJobSpan("Jobs.stacktraceProbe", (span) => Effect.succeed(span))
      assert.isFalse(ok.attributes.has("code.stacktrace"))
    }))
})
