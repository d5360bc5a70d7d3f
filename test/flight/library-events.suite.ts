/**
 * Issue 16: the events the library writes itself are built by fixed-shape
 * constructors (internal/flight/libraryEvents.ts), not decoded. This suite
 * drives every path that writes one — submit accepted and refused, claim
 * (admitted and refused), start, run with nodes and heartbeats, complete,
 * fail, retry with backoff and by hand, release on interrupt, cancel, poison,
 * the review states, a security violation, recovery's stall and resume, pin
 * and unpin, a Janitor pass — then reads back every stored event and decodes
 * it as a `FlightEvent` (R10–R12): none may fail, and the indexed columns
 * must say what the body says.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import { formatIssues } from "../../src/domain/Errors.js"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import * as Janitor from "../../src/Janitor.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { summarize } from "../jobs/jobs.suite.js"
import { newJob } from "../store/fixtures.js"
import { services } from "../jobs/services.js"

const retry = { kinds: { doc_summarize: { maxAttempts: 2, backoff: { initial: "10 seconds", factor: 2, max: "1 hour", jitter: 0 } } } } as const

const decodeEvent = Schema.decodeUnknownEither(FlightEvent, { errors: "all", onExcessProperty: "error" })

/** Every stored event, oldest first, page by page. */
const everyEvent = Effect.gen(function*() {
  const store = yield* JobStore
  const events: Array<EventRecord> = []
  let cursor: string | null | undefined
  do {
    const page = yield* store.listEvents({ limit: 100, ...(cursor ? { cursor } : {}) })
    events.push(...page.items)
    cursor = page.next_cursor
  } while (cursor !== null)
  return events
})

/** What an event is, for the coverage check: its type and the change or decision it records. */
const kindOf = (event: EventRecord): string => {
  const body = event.body
  switch (event.type) {
    case "system":
      return body.event_type === "meta.gc_summary" ? "gc_summary" : `${body.from_state}->${body.to_state}`
    case "capability_action":
      return `capability ${body.decision_outcome}`
    default:
      return event.type
  }
}

export const runLibraryEventsSuite = (backend: Backend) => {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(
      effect,
      services(backend.makeStore(), undefined, undefined, { retry }) as Layer.Layer<Exclude<R, never>, unknown>
    )

  describe(`issue 16 library-built events on ${backend.name}`, () => {
    it.effect("issue 16 R10 every event the library writes, on every path that writes one, decodes as FlightEvent", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))

        // Submit refused (deny decisions, no job) and accepted (allow decisions, null → queued).
        const refused = yield* Effect.flip(jobs.submit(summarize({ job_kind: "terminal_exec", capability_profile_id: "Analyst" })))
        assert.strictEqual(refused._tag, "EscalationDenied")

        // Claim, run with a node (its start and finish) and a heartbeat, complete.
        const done = yield* jobs.submit(summarize())
        const claimed = yield* jobs.claimNext()
        assert.strictEqual(claimed?.job.job_id, done.job_id)
        yield* jobs.run(done.job_id, (ctx) => ctx.node({ node_id: "n1", node_type: "llm", input: { q: 1 } }, Effect.succeed({ a: 2 })))

        // A failed attempt is retried after its backoff; the last one stays failed; an operator retries it by hand.
        const flaky = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* Effect.either(jobs.run(flaky.job_id, () => Effect.fail("model timed out")))
        assert.strictEqual((yield* jobs.get(flaky.job_id)).state, "queued")
        yield* TestClock.adjust("11 seconds")
        yield* jobs.claimNext()
        yield* Effect.exit(jobs.run(flaky.job_id, () => Effect.die("boom")))
        assert.strictEqual((yield* jobs.get(flaky.job_id)).state, "failed")
        yield* jobs.retry(flaky.job_id, { actor: "human", reason: "operator retry" })
        // Interrupted: released back to queued; then claimed again and cancelled while running.
        yield* jobs.claimNext()
        const started = yield* Deferred.make<void>()
        const interrupted = yield* Effect.fork(jobs.run(flaky.job_id, () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(interrupted)
        assert.strictEqual((yield* jobs.get(flaky.job_id)).state, "queued")
        yield* jobs.claimNext()
        yield* jobs.cancel(flaky.job_id, { actor: "human", reason: "Authorization: Bearer abc.def.ghi" })
        yield* jobs.pin(flaky.job_id, { actor: "human", reason: "kept" })
        yield* jobs.unpin(flaky.job_id)

        // Poisoned by an operator while running; poisoned by a reported security violation.
        const poisoned = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* jobs.poison(poisoned.job_id, { reason: "bad content" })
        const violating = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        const violation = yield* Effect.flip(jobs.run(violating.job_id, (ctx) =>
          ctx.securityViolation({ violation: "prompt_injection", detail: "key sk-abcdefghijklmnopqrstuvwx in the prompt" })))
        assert.strictEqual(violation._tag, "SecurityViolation")

        // Start by name; the review states; rework; completed with issues.
        const reviewed = yield* jobs.submit(summarize())
        yield* jobs.start(reviewed.job_id)
        yield* jobs.awaitValidation(reviewed.job_id)
        yield* jobs.awaitUser(reviewed.job_id)
        yield* jobs.rework(reviewed.job_id, { reason: "user answered" })
        yield* jobs.completeWithIssues(reviewed.job_id)

        // Recovery stalls a run whose heartbeat is old; an operator resumes it and fails it.
        const stalled = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* TestClock.adjust("31 seconds")
        const recovery = yield* Recovery.recoverStalledRuns()
        assert.strictEqual(recovery.recovered.length, 1)
        yield* jobs.resume(stalled.job_id, { actor: "human" })
        yield* jobs.fail(stalled.job_id, "gave up")

        // A stored job the policy no longer admits is failed at claim, with its deny decisions.
        yield* store.createJob(newJob({ capability_profile_id: "SuperUser" }))
        assert.isNull(yield* jobs.claimNext())

        // A Janitor pass: its summary event.
        yield* TestClock.adjust("40 days")
        const report = yield* Janitor.prune({
          olderThan: DateTime.subtract(yield* DateTime.now, { days: 1 }),
          keepNewest: 0,
          eventsPurged: 0
        })
        assert.isAbove(report.pruned, 0)

        const events = yield* everyEvent
        const failures: Array<string> = []
        for (const event of events) {
          const decoded = decodeEvent(event.body)
          if (Either.isLeft(decoded)) {
            failures.push(`${kindOf(event)}: ${JSON.stringify(formatIssues(decoded.left))}`)
            continue
          }
          const body = decoded.right
          // The indexed columns are the body's own fields.
          assert.strictEqual(body.event_id, event.event_id)
          assert.strictEqual(body.type, event.type)
          assert.strictEqual(body.actor, event.actor)
          assert.strictEqual(body.trace_id, event.trace_id)
          assert.strictEqual(body.job_id ?? null, event.job_id)
          assert.strictEqual(body.workflow_run_id ?? null, event.workflow_run_id)
          assert.strictEqual(DateTime.toEpochMillis(body.timestamp), DateTime.toEpochMillis(event.timestamp))
        }
        assert.deepStrictEqual(failures, [])

        // Every kind of library event was written (so none escaped the check above).
        const kinds = new Set(events.map(kindOf))
        for (
          const kind of [
            "capability deny",
            "capability allow",
            "null->queued",
            "queued->running",
            "running->completed",
            "running->failed",
            "failed->queued",
            "running->queued",
            "running->cancelled",
            "cancelled->cancelled",
            "running->poisoned",
            "security_violation",
            "running->awaiting_validation",
            "awaiting_validation->awaiting_user",
            "awaiting_user->running",
            "running->completed_with_issues",
            "workflow_recovery",
            "stalled->running",
            "queued->failed",
            "gc_summary"
          ]
        ) assert.isTrue(kinds.has(kind), `no ${kind} event was written`)

        // Caller text went through the redactor on the way.
        const stored = JSON.stringify(events.map((event) => event.body))
        assert.notInclude(stored, "abc.def.ghi")
        assert.notInclude(stored, "sk-abcdefghijklmnopqrstuvwx")
      })), 120_000)
  })
}
