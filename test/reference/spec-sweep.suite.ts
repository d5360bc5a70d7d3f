/**
 * A sweep of SPEC.md's requirements written from the spec, not from the code:
 * each test names the requirement it checks and uses the public API only
 * (plus a raw SQL client to look at what the database holds), run unchanged
 * on each store.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import {
  Capabilities,
  FlightEvent,
  FlightRecorder,
  Janitor,
  type JobId,
  Lifecycle,
  type JobState,
  Jobs,
  JobStore,
  Recovery,
  WakeUp
} from "../../src/index.js"
import type { Backend } from "../support/backend.js"

const NOW = Date.parse("2026-03-01T00:00:00.000Z")

const summarize = {
  job_kind: "doc_summarize",
  protocol_id: "hsk.spec-sweep.v1",
  profile_id: "tester",
  access_mode: "analysis_only",
  safety_mode: "normal"
} as const

/** Jobs over `backend`'s store, polling, no startup recovery: the recorder's and Jobs' options as given. */
const appOver = (backend: Backend, recorder: FlightRecorder.FlightRecorderConfig = {}, options: Jobs.Options = {}) =>
  Jobs.layer(options).pipe(
    Layer.provideMerge(Recovery.layerNoStartupRecovery),
    Layer.provideMerge(WakeUp.layerPollOnly),
    Layer.provideMerge(FlightRecorder.layer(recorder)),
    Layer.provideMerge(Capabilities.layerDefault),
    Layer.provideMerge(backend.makeStoreWithSql())
  )

/** Everything the database holds about jobs, runs and events, as text, to compare before and after. */
const snapshot = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* sql`SELECT * FROM ai_jobs ORDER BY id`
  const runs = yield* sql`SELECT * FROM workflow_runs ORDER BY id`
  const events = yield* sql`SELECT event_id FROM flight_recorder_events ORDER BY event_id`
  return JSON.stringify({ jobs, runs, events })
})

type Method = "complete" | "completeWithIssues" | "awaitValidation" | "awaitUser" | "cancel" | "poison" | "retry" | "fail" | "start" | "resume" | "rework"

/** Where each Jobs method takes a job, and from which states the spec's table allows it. */
const methods: ReadonlyArray<{ readonly method: Method; readonly to: JobState; readonly from: ReadonlyArray<JobState> }> = [
  { method: "complete", to: "completed", from: ["running", "awaiting_validation", "awaiting_user"] },
  { method: "completeWithIssues", to: "completed_with_issues", from: ["running", "awaiting_validation", "awaiting_user"] },
  { method: "awaitValidation", to: "awaiting_validation", from: ["running"] },
  { method: "awaitUser", to: "awaiting_user", from: ["awaiting_validation"] },
  { method: "cancel", to: "cancelled", from: ["queued", "running", "awaiting_validation", "awaiting_user", "stalled"] },
  { method: "poison", to: "poisoned", from: ["running", "awaiting_validation", "failed"] },
  { method: "retry", to: "queued", from: ["failed"] },
  { method: "fail", to: "failed", from: ["queued", "running", "awaiting_validation", "awaiting_user", "stalled"] },
  { method: "start", to: "running", from: ["queued"] },
  { method: "resume", to: "running", from: ["stalled"] },
  { method: "rework", to: "running", from: ["awaiting_user"] }
]

const states: ReadonlyArray<JobState> = [
  "queued",
  "running",
  "stalled",
  "awaiting_validation",
  "awaiting_user",
  "completed",
  "completed_with_issues",
  "failed",
  "cancelled",
  "poisoned"
]

const call = (jobs: Jobs.Jobs["Type"], method: Method, id: JobId) => {
  switch (method) {
    case "fail":
      return jobs.fail(id, "boom")
    case "start":
    case "resume":
    case "rework":
      return Effect.map(jobs[method](id), (claim) => claim.job)
    default:
      return jobs[method](id)
  }
}

/** A job brought to `state` through the public API. */
const jobIn = (state: JobState) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.Jobs
    const job = yield* jobs.submit(summarize)
    const id = job.job_id
    if (state === "queued") return id
    if (state === "failed") {
      yield* jobs.fail(id, "boom")
      return id
    }
    if (state === "cancelled") {
      yield* jobs.cancel(id)
      return id
    }
    yield* jobs.start(id)
    switch (state) {
      case "running":
        return id
      case "stalled": {
        yield* TestClock.adjust(Duration.seconds(120))
        yield* Recovery.recoverStalledRuns()
        return id
      }
      case "poisoned":
        yield* jobs.poison(id)
        return id
      case "completed":
        yield* jobs.complete(id)
        return id
      case "completed_with_issues":
        yield* jobs.completeWithIssues(id)
        return id
      default:
        break
    }
    yield* jobs.awaitValidation(id)
    if (state === "awaiting_validation") return id
    yield* jobs.awaitUser(id)
    return id
  })

export const runSpecSweep = (backend: Backend) =>
  describe(`spec sweep on ${backend.name}`, { concurrent: backend.concurrent ?? false }, () => {
    for (const { from, method, to } of methods) {
      it.effect(`R6 ${method} (→ ${to}) is allowed exactly from ${from.join(", ")}; refused elsewhere with IllegalTransition, nothing written`, () =>
        Effect.gen(function*() {
          yield* TestClock.setTime(NOW)
          const jobs = yield* Jobs.Jobs
          for (const state of states) {
            const id = yield* jobIn(state)
            assert.strictEqual((yield* jobs.get(id)).state, state)
            yield* TestClock.adjust(Duration.seconds(1))
            const before = yield* snapshot
            const result = yield* Effect.either(call(jobs, method, id))
            if (from.includes(state)) {
              assert.isTrue(Either.isRight(result), `${method} from ${state}: ${JSON.stringify(result)}`)
              assert.strictEqual((yield* jobs.get(id)).state, to)
            } else {
              assert.isTrue(Either.isLeft(result), `${method} from ${state} should be refused`)
              const error = (result as Either.Left<{ readonly _tag: string }, unknown>).left
              assert.strictEqual(error._tag, "IllegalTransition", `${method} from ${state}: ${JSON.stringify(error)}`)
              assert.strictEqual(yield* snapshot, before, `${method} from ${state} wrote something`)
            }
          }
        }).pipe(Effect.provide(appOver(backend))), 120_000)
    }

    it.effect("R6 the store's transition refuses every edge outside the table (to every target but stalled), nothing written", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const store = yield* JobStore.JobStore
        const table: Record<JobState, ReadonlyArray<JobState>> = {
          queued: ["running", "cancelled", "failed"],
          running: ["awaiting_validation", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"],
          awaiting_validation: ["awaiting_user", "completed", "completed_with_issues", "failed", "cancelled", "poisoned"],
          awaiting_user: ["running", "completed", "completed_with_issues", "failed", "cancelled"],
          stalled: ["running", "failed", "cancelled"],
          failed: ["queued", "poisoned"],
          completed: [],
          completed_with_issues: [],
          cancelled: [],
          poisoned: []
        }
        for (const state of states) {
          for (const to of states) {
            if (to === "stalled" || table[state].includes(to)) continue
            const id = yield* jobIn(state)
            const before = yield* snapshot
            const result = yield* Effect.either(store.transition({ job_id: id, to: to as Exclude<JobState, "stalled"> }))
            assert.isTrue(Either.isLeft(result), `${state} → ${to} should be refused`)
            assert.strictEqual((result as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "IllegalTransition", `${state} → ${to}`)
            assert.strictEqual(yield* snapshot, before, `${state} → ${to} wrote something`)
          }
        }
      }).pipe(Effect.provide(appOver(backend))), 240_000)

    it.effect("R1a term_exec is read as terminal_exec and written nowhere: row, events, listing by the alias", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const sql = yield* SqlClient.SqlClient
        const job = yield* jobs.submitUntrusted({ ...summarize, job_kind: "term_exec" })
        assert.strictEqual(job.job_kind, "terminal_exec")
        const [many] = yield* jobs.submitMany([{ ...summarize, job_kind: "term_exec" as "terminal_exec" }])
        assert.strictEqual(many!.job_kind, "terminal_exec")
        const listed = yield* jobs.list({ kinds: ["term_exec" as "terminal_exec"] })
        assert.strictEqual(listed.items.length, 2)
        const claim = yield* jobs.claimNext({ kinds: ["term_exec" as "terminal_exec"] })
        assert.isNotNull(claim)
        yield* jobs.run(claim!.job.job_id, () => Effect.succeed({ ok: true }))
        const dump = JSON.stringify([
          yield* sql`SELECT * FROM ai_jobs`,
          yield* sql`SELECT * FROM workflow_runs`,
          yield* sql`SELECT * FROM flight_recorder_events`
        ])
        assert.notInclude(dump, "term_exec")
        const history = yield* jobs.history(job.job_id)
        assert.notInclude(JSON.stringify(history), "term_exec")
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R4 a new job's metrics are the nine counters at zero, in the row and as read", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const sql = yield* SqlClient.SqlClient
        const job = yield* jobs.submit(summarize)
        const zero = {
          duration_ms: 0, total_tokens: 0, input_tokens: 0, output_tokens: 0, tokens_planner: 0,
          tokens_executor: 0, entities_read: 0, entities_written: 0, validators_run_count: 0
        }
        assert.deepStrictEqual({ ...job.metrics }, zero)
        const rows = yield* sql<{ readonly metrics: unknown }>`SELECT metrics FROM ai_jobs`
        const stored = typeof rows[0]!.metrics === "string" ? JSON.parse(rows[0]!.metrics) : rows[0]!.metrics
        assert.deepStrictEqual(stored, zero)
        const refused = yield* Effect.either(jobs.addMetrics(job.job_id, { total_tokens: -1 }))
        assert.isTrue(Either.isLeft(refused))
        assert.deepStrictEqual({ ...(yield* jobs.get(job.job_id)).metrics }, zero)
        const added = yield* jobs.addMetrics(job.job_id, { total_tokens: 5 })
        assert.strictEqual(added.metrics.total_tokens, 5)
        assert.strictEqual(added.metrics.input_tokens, 0)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R9 recovery: one workflow_recovery event per stale run, exact shape, once only, runs and jobs stalled", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const job = yield* jobs.submit(summarize)
        const claim = yield* jobs.start(job.job_id)
        yield* TestClock.adjust(Duration.seconds(46))
        const report = yield* Recovery.recoverStalledRuns({ threshold: Duration.seconds(45) })
        assert.strictEqual(report.recovered.length, 1)
        yield* TestClock.adjust(Duration.seconds(10))
        const again = yield* Recovery.recoverStalledRuns({ threshold: Duration.seconds(45) })
        assert.strictEqual(again.recovered.length, 0)
        const events = (yield* recorder.list({ types: ["workflow_recovery"] })).items
        assert.strictEqual(events.length, 1)
        const event = events[0]! as unknown as Record<string, unknown>
        assert.deepStrictEqual(
          Object.keys(event).sort(),
          ["actor", "event_id", "from_state", "job_id", "last_heartbeat_ts", "reason", "threshold_secs", "timestamp", "to_state", "trace_id", "type", "workflow_run_id"]
        )
        assert.strictEqual(event.actor, "system")
        assert.strictEqual(event.workflow_run_id, claim.run.id)
        assert.strictEqual(event.job_id, job.job_id)
        assert.strictEqual(event.trace_id, job.trace_id)
        assert.strictEqual(event.from_state, "running")
        assert.strictEqual(event.to_state, "stalled")
        assert.strictEqual(event.threshold_secs, 45)
        assert.strictEqual(typeof event.reason, "string")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
        const runs = (yield* jobs.history(job.job_id)).runs
        assert.strictEqual(runs[0]!.run.status, "stalled")
        // stored body too
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ readonly body: unknown }>`SELECT body FROM flight_recorder_events WHERE type = 'workflow_recovery'`
        const body = typeof rows[0]!.body === "string" ? JSON.parse(rows[0]!.body) : rows[0]!.body
        assert.deepStrictEqual(Object.keys(body).sort(), Object.keys(event).sort())
        assert.strictEqual(body.last_heartbeat_ts, new Date(NOW).toISOString())
        assert.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/)
        assert.strictEqual(body.threshold_secs, 45)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R9 a heartbeat exactly the threshold old is not stale; a millisecond more is", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        yield* TestClock.adjust(Duration.seconds(30))
        const none = yield* Recovery.recoverStalledRuns()
        assert.strictEqual(none.recovered.length, 0)
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "running")
        yield* TestClock.adjust(Duration.millis(1))
        const one = yield* Recovery.recoverStalledRuns()
        assert.strictEqual(one.recovered.length, 1)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R13 default retention is 7 days: an event exactly 7 days old stays, one a millisecond older is purged and counted", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const diag = (ms: number) => ({
          type: "diagnostic" as const,
          event_id: crypto.randomUUID(),
          timestamp: new Date(ms).toISOString(),
          actor: "system" as const,
          diagnostic_id: "d1"
        })
        const week = 7 * 24 * 3600 * 1000
        yield* recorder.record(diag(NOW - week))
        yield* recorder.record(diag(NOW - week - 1))
        yield* recorder.record(diag(NOW - 1000))
        const purged = yield* recorder.enforceRetention()
        assert.strictEqual(purged, 1)
        assert.strictEqual((yield* recorder.list()).items.length, 2)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R18 pruning: old terminal jobs go, pinned never, the newest kept, non-terminal never", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const ids: Record<string, JobId> = {}
        for (const state of states) ids[state] = yield* jobIn(state)
        const pinned = yield* jobIn("completed")
        yield* jobs.pin(pinned)
        yield* TestClock.adjust(Duration.days(31))
        const newest = yield* jobIn("completed")
        const report = yield* Janitor.runOnce({ olderThan: Duration.days(30), keepNewest: 0 })
        const left = new Set((yield* jobs.list()).items.map((job) => job.job_id))
        for (const state of ["queued", "running", "stalled", "awaiting_validation", "awaiting_user"] as const) {
          assert.isTrue(left.has(ids[state]!), `${state} pruned`)
        }
        for (const state of ["completed", "completed_with_issues", "cancelled", "poisoned"] as const) {
          assert.isFalse(left.has(ids[state]!), `${state} kept`)
        }
        assert.isTrue(left.has(pinned))
        assert.isTrue(left.has(newest))
        assert.strictEqual(report.spared_pinned, 1)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R18 keepNewest keeps that many of the newest prunable jobs", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const made: Array<JobId> = []
        for (let i = 0; i < 5; i++) {
          made.push(yield* jobIn("completed"))
          yield* TestClock.adjust(Duration.seconds(1))
        }
        yield* TestClock.adjust(Duration.days(31))
        yield* Janitor.runOnce({ olderThan: Duration.days(30), keepNewest: 2 })
        const left = (yield* jobs.list()).items.map((job) => job.job_id)
        assert.deepStrictEqual(left, made.slice(3))
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R10/R12 invalid events are refused with HSK-400-INVALID-EVENT and nothing is stored", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const base = { event_id: crypto.randomUUID(), timestamp: new Date(NOW).toISOString() }
        const bad: ReadonlyArray<unknown> = [
          { ...base, actor: "system", type: "bogus" },
          { ...base, actor: "agent", type: "llm_inference", model_id: "m", token_usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
          { ...base, actor: "agent", type: "llm_inference", trace_id: crypto.randomUUID(), token_usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
          { ...base, actor: "agent", type: "workflow_recovery", workflow_run_id: crypto.randomUUID(), from_state: "running", to_state: "stalled", reason: "x", last_heartbeat_ts: base.timestamp, threshold_secs: 30 },
          { ...base, actor: "system", type: "workflow_recovery", workflow_run_id: crypto.randomUUID(), from_state: "queued", to_state: "stalled", reason: "x", last_heartbeat_ts: base.timestamp, threshold_secs: 30 },
          { ...base, actor: "system", type: "capability_action", capability_id: "fs.read", actor_id: "a", job_id: null, decision_outcome: "maybe" },
          { ...base, actor: "robot", type: "diagnostic", diagnostic_id: "d" },
          { ...base, timestamp: "yesterday", actor: "system", type: "diagnostic", diagnostic_id: "d" },
          { ...base, event_id: "nope", actor: "system", type: "diagnostic", diagnostic_id: "d" },
          { ...base, actor: "system", type: "terminal_command", command: "ls" },
          { ...base, actor: "system", type: "debug_bundle_export", bundle_id: crypto.randomUUID(), scope: "everything", redaction_mode: "SAFE_DEFAULT" },
          { ...base, actor: "system", type: "diagnostic", diagnostic_id: "d", severity: "critical" }
        ]
        for (const event of bad) {
          const result = yield* Effect.either(recorder.recordUntrusted(event))
          assert.isTrue(Either.isLeft(result), JSON.stringify(event))
          const error = (result as Either.Left<{ readonly _tag: string; readonly code?: string }, unknown>).left
          assert.strictEqual(error._tag, "InvalidEvent", JSON.stringify(event))
          assert.strictEqual(error.code, "HSK-400-INVALID-EVENT")
        }
        assert.strictEqual((yield* recorder.list()).items.length, 0)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R10 events are listed by event id, job id, trace id and time range", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        const trace = crypto.randomUUID()
        const mk = (ms: number, extra: Record<string, unknown>) => ({
          type: "diagnostic" as const,
          event_id: crypto.randomUUID(),
          timestamp: new Date(ms).toISOString(),
          actor: "system" as const,
          diagnostic_id: "d1",
          ...extra
        })
        const a = yield* recorder.record(mk(NOW - 5000, { trace_id: trace }))
        const b = yield* recorder.record(mk(NOW - 3000, { job_id: job.job_id }))
        const c = yield* recorder.record(mk(NOW - 1000, {}))
        assert.deepStrictEqual((yield* recorder.list({ event_id: a.event_id })).items.map((e) => e.event_id), [a.event_id])
        assert.include((yield* recorder.list({ job_id: job.job_id })).items.map((e) => e.event_id), b.event_id)
        assert.strictEqual((yield* recorder.list({ job_id: job.job_id })).items.every((e) => e.job_id === job.job_id), true)
        assert.deepStrictEqual((yield* recorder.list({ trace_id: trace as never })).items.map((e) => e.event_id), [a.event_id])
        assert.strictEqual(b.trace_id, job.trace_id)
        const ranged = (yield* recorder.list({
          since: DateTime.unsafeMake(NOW - 4000),
          until: DateTime.unsafeMake(NOW - 2000),
          types: ["diagnostic"]
        })).items.map((e) => e.event_id)
        assert.deepStrictEqual(ranged, [b.event_id])
        assert.notInclude(ranged, c.event_id)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R15 a denied submit is never queued and each decision is a capability_action deny event", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const widened = yield* Effect.either(jobs.submit({ ...summarize, capability_profile_id: "Coder" }))
        assert.isTrue(Either.isLeft(widened))
        assert.strictEqual((widened as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "EscalationDenied")
        const unknown = yield* Effect.either(jobs.submit({ ...summarize, capability_profile_id: "Wizard" }))
        assert.strictEqual((unknown as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "UnknownProfile")
        const narrowLacking = yield* Effect.either(jobs.submit({ ...summarize, job_kind: "terminal_exec", capability_profile_id: "Analyst" }))
        assert.isTrue(Either.isLeft(narrowLacking))
        assert.strictEqual((yield* jobs.list()).items.length, 0)
        const events = (yield* recorder.list()).items
        assert.isTrue(events.length > 0)
        for (const event of events) {
          assert.strictEqual(event.type, "capability_action")
          assert.strictEqual((event as { decision_outcome?: string }).decision_outcome, "deny")
        }
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R15 requireCapability: an unknown id is HSK-4001 UnknownCapability; a missing grant CapabilityDenied with a deny event", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        const outcome = yield* jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            const unknown = yield* Effect.either(ctx.requireCapability("magic.wand"))
            const denied = yield* Effect.either(ctx.requireCapability("terminal.exec"))
            const allowed = yield* Effect.either(ctx.requireCapability("fs.read:logs"))
            return {
              unknown: Either.isLeft(unknown) ? (unknown.left as { _tag: string; code?: string })._tag + ":" + String((unknown.left as { code?: string }).code) : "ok",
              denied: Either.isLeft(denied) ? (denied.left as { _tag: string })._tag : "ok",
              allowed: Either.isLeft(allowed) ? "refused" : "ok"
            }
          }))
        assert.deepStrictEqual(outcome, { unknown: "UnknownCapability:HSK-4001", denied: "CapabilityDenied", allowed: "ok" })
        const decisions = (yield* recorder.list({ job_id: job.job_id, types: ["capability_action"] })).items
          .map((e) => `${(e as { capability_id?: string }).capability_id}:${(e as { decision_outcome?: string }).decision_outcome}`)
        assert.include(decisions, "terminal.exec:deny")
        assert.include(decisions, "fs.read:logs:allow")
        assert.notInclude(decisions.join(" "), "magic.wand")
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R6b a job poisoned by a security violation is never retried, whatever its attempts left", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit({ ...summarize, max_attempts: 5 })
        yield* jobs.start(job.job_id)
        const result = yield* Effect.either(jobs.run(job.job_id, (ctx) => ctx.securityViolation({ violation: "prompt_injection" })))
        assert.isTrue(Either.isLeft(result))
        yield* TestClock.adjust(Duration.hours(2))
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "poisoned")
        assert.isNull(yield* jobs.claimNext())
        const retried = yield* Effect.either(jobs.retry(job.job_id))
        assert.strictEqual((retried as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "IllegalTransition")
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.runs.length, 1)
        assert.strictEqual(history.runs[0]!.run.status, "poisoned")
        const toQueued = history.events.filter((e) => e.type === "system" && e.body.to_state === "queued" && e.body.from_state !== null)
        assert.strictEqual(toQueued.length, 0)
      }).pipe(Effect.provide(appOver(backend)), Effect.provide(Layer.empty)))

    it.effect("R6c retry, resume and rework each make a new workflow run; the job id stays", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        const first = yield* jobs.start(job.job_id)
        yield* jobs.fail(job.job_id, "boom")
        yield* jobs.retry(job.job_id)
        const second = yield* jobs.start(job.job_id)
        assert.notStrictEqual(second.run.id, first.run.id)
        assert.strictEqual(second.job.job_id, job.job_id)
        assert.strictEqual(second.job.workflow_run_id, second.run.id)
        yield* TestClock.adjust(Duration.seconds(60))
        yield* Recovery.recoverStalledRuns()
        const third = yield* jobs.resume(job.job_id)
        assert.notStrictEqual(third.run.id, second.run.id)
        yield* jobs.awaitValidation(job.job_id)
        yield* jobs.awaitUser(job.job_id)
        const fourth = yield* jobs.rework(job.job_id)
        assert.notStrictEqual(fourth.run.id, third.run.id)
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.runs.length, 4)
        assert.deepStrictEqual(history.runs.map((r) => r.run.job_id), [job.job_id, job.job_id, job.job_id, job.job_id])
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R9 a job awaiting validation is not running: recovery leaves it and its run alone", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        yield* jobs.awaitValidation(job.job_id)
        const runs1 = (yield* jobs.history(job.job_id)).runs.map((r) => r.run.status)
        yield* TestClock.adjust(Duration.minutes(5))
        const report = yield* Recovery.recoverStalledRuns()
        const after = yield* jobs.get(job.job_id)
        const runs2 = (yield* jobs.history(job.job_id)).runs.map((r) => r.run.status)
        assert.deepStrictEqual({ runs1, recovered: report.recovered.length, state: after.state, runs2 }, {
          runs1: ["awaiting_validation"],
          recovered: 0,
          state: "awaiting_validation",
          runs2: ["awaiting_validation"]
        })
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R14 event strings are NFC-normalised and secrets redacted before they are stored", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const sql = yield* SqlClient.SqlClient
        const stored = yield* recorder.record({
          type: "diagnostic",
          event_id: crypto.randomUUID(),
          timestamp: new Date(NOW).toISOString(),
          actor: "system",
          diagnostic_id: "cafe\u0301",
          source: "token Bearer abcdefghijklmnopqrstuvwxyz0123"
        })
        const rows = yield* sql<{ readonly body: unknown }>`SELECT body FROM flight_recorder_events`
        const body = typeof rows[0]!.body === "string" ? JSON.parse(rows[0]!.body) : rows[0]!.body
        assert.strictEqual(body.diagnostic_id, "caf\u00e9")
        assert.notInclude(body.source, "abcdefghijklmnopqrstuvwxyz0123")
        assert.strictEqual((stored.body as { diagnostic_id: string }).diagnostic_id, "caf\u00e9")
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R14 an llm_inference's raw prompt is not kept outside debug mode; hashes are", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const sql = yield* SqlClient.SqlClient
        yield* recorder.record({
          type: "llm_inference",
          event_id: crypto.randomUUID(),
          timestamp: new Date(NOW).toISOString(),
          actor: "agent",
          trace_id: crypto.randomUUID(),
          model_id: "m1",
          token_usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
          prompt_text: "SECRET PROMPT TEXT",
          response_text: "SECRET RESPONSE TEXT"
        })
        const dump = JSON.stringify(yield* sql`SELECT * FROM flight_recorder_events`)
        assert.notInclude(dump, "SECRET PROMPT TEXT")
        assert.notInclude(dump, "SECRET RESPONSE TEXT")
        const body = (yield* recorder.list()).items[0] as unknown as Record<string, unknown>
        assert.deepStrictEqual(body.token_usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R12 every lifecycle change is one system event with from_state and to_state", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        yield* jobs.awaitValidation(job.job_id)
        yield* jobs.complete(job.job_id)
        const events = (yield* jobs.history(job.job_id)).events.filter((e) => e.type === "system")
        const moves = events.map((e) => `${String(e.body.from_state)}->${String(e.body.to_state)}`)
        assert.deepStrictEqual(moves, ["null->queued", "queued->running", "running->awaiting_validation", "awaiting_validation->completed"])
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R15 kinds are placed under the reference's profiles: debug_bundle_export under Analyst, governance export under Operator, terminal_exec under Coder", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const bundle = yield* jobs.submit({ ...summarize, job_kind: "debug_bundle_export" })
        assert.strictEqual(bundle.capability_profile_id, "Analyst")
        const gov = yield* jobs.submit({ ...summarize, job_kind: "workflow_run", protocol_id: "hsk.governance_pack.export.v0" })
        assert.strictEqual(gov.capability_profile_id, "Operator")
        const term = yield* jobs.submit({ ...summarize, job_kind: "terminal_exec" })
        assert.strictEqual(term.capability_profile_id, "Coder")
        const edit = yield* jobs.submit({ ...summarize, job_kind: "doc_edit" })
        assert.strictEqual(edit.capability_profile_id, "Coder")
        const wf = yield* jobs.submit({ ...summarize, job_kind: "workflow_run" })
        assert.strictEqual(wf.capability_profile_id, "Analyst")
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R11/R12 every event the library writes, on every path (submit, claim, template claim, eager dispatch, pool settle, retry, recovery, cancel, violation, pin, prune), is a valid event whose envelope matches its row", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore.JobStore
        const sql = yield* SqlClient.SqlClient
        // claimNext twice for one subject: the second goes through the admitted-claim template
        for (let i = 0; i < 3; i++) {
          const job = yield* jobs.submit(summarize)
          const claim = yield* jobs.claimNext()
          assert.strictEqual(claim!.job.job_id, job.job_id)
          yield* jobs.run(job.job_id, (ctx) => ctx.node({ node_id: "n", node_type: "t", input: { i } }, Effect.succeed({ ok: i })))
        }
        // a pool: eager dispatch, a failure retried, a violation
        yield* Effect.scoped(Effect.gen(function*() {
          const handlers: Jobs.Handlers<unknown, never> = {
              doc_summarize: (ctx) => ctx.job.protocol_id.endsWith("fail") ? Effect.fail("nope") : Effect.succeed({ done: true }),
            doc_ingest: (ctx) => ctx.securityViolation({ violation: "leak", detail: "d" })
          }
          yield* jobs.worker({ concurrency: 2, handlers })
          yield* TestClock.adjust(Duration.millis(10))
          const ok = yield* jobs.submit(summarize)
          const failing = yield* jobs.submit({ ...summarize, protocol_id: "hsk.spec-sweep.fail", max_attempts: 2 })
          const bad = yield* jobs.submit({ ...summarize, job_kind: "doc_ingest" })
          for (let i = 0; i < 200; i++) {
            const states = yield* Effect.all([ok, failing, bad].map((j) => Effect.map(jobs.get(j.job_id), (x) => x.state)))
            if (states[0] === "completed" && states[1] === "failed" && states[2] === "poisoned") break
            yield* TestClock.adjust(Duration.seconds(1))
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
          }
          const final = yield* Effect.all([ok, failing, bad].map((j) => Effect.map(jobs.get(j.job_id), (x) => `${x.state}/${x.attempt}`)))
          assert.deepStrictEqual(final, ["completed/1", "failed/2", "poisoned/1"])
        }))
        // recovery, cancel of a running job, pin, prune
        const stale = yield* jobs.submit(summarize)
        yield* jobs.start(stale.job_id)
        const cancelled = yield* jobs.submit(summarize)
        yield* jobs.start(cancelled.job_id)
        yield* jobs.cancel(cancelled.job_id, { reason: "operator" })
        yield* TestClock.adjust(Duration.seconds(60))
        yield* Recovery.recoverStalledRuns()
        yield* jobs.pin(stale.job_id)
        yield* TestClock.adjust(Duration.days(40))
        yield* Janitor.runOnce({ olderThan: Duration.days(30), keepNewest: 1 })

        const rows = yield* sql<Record<string, unknown>>`SELECT * FROM flight_recorder_events`
        const types = new Set<string>()
        const decode = Schema.decodeUnknownEither(FlightEvent, { onExcessProperty: "error" })
        const jobRows = yield* store.listJobs({ limit: 1000 })
        const traceOf = new Map(jobRows.items.map((j) => [j.job_id as string, j.trace_id as string]))
        for (const row of rows) {
          const body = (typeof row.body === "string" ? JSON.parse(row.body) : row.body) as Record<string, unknown>
          types.add(`${String(body.type)}${body.event_name === undefined ? "" : ":" + String(body.event_name)}`)
          const decoded = decode(body)
          assert.isTrue(Either.isRight(decoded), `${JSON.stringify(body)}: ${Either.isLeft(decoded) ? String(decoded.left) : ""}`)
          assert.strictEqual(body.event_id, row.event_id)
          assert.strictEqual(body.type, row.type)
          assert.strictEqual(body.actor, row.actor)
          assert.strictEqual(body.trace_id, row.trace_id, JSON.stringify(body))
          assert.strictEqual(body.job_id ?? null, row.job_id ?? null, JSON.stringify(body))
          assert.strictEqual(body.workflow_run_id ?? null, row.workflow_run_id ?? null, JSON.stringify(body))
          const ts = row.timestamp instanceof Date ? row.timestamp.toISOString() : String(row.timestamp)
          assert.strictEqual(new Date(body.timestamp as string).getTime(), new Date(ts.includes("T") ? ts : ts.replace(" ", "T") + "Z").getTime(), JSON.stringify({ body, ts }))
          const trace = typeof body.job_id === "string" ? traceOf.get(body.job_id) : undefined
          if (trace !== undefined) assert.strictEqual(body.trace_id, trace, JSON.stringify(body))
        }
        assert.includeMembers([...types], ["system", "capability_action", "workflow_recovery", "security_violation", "system:gc_summary"])
      }).pipe(Effect.provide(appOver(backend, { retention: Duration.days(365) }))), 60_000)

    it.effect("R11/R12 the spec's event shapes, every field given (nulls included), are stored and read back as given", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const sql = yield* SqlClient.SqlClient
        const ts = new Date(NOW).toISOString()
        const envelope = () => ({
          event_id: crypto.randomUUID(),
          timestamp: ts,
          trace_id: crypto.randomUUID(),
          model_id: "model-1",
          wsids: ["ws-1", "ws-2"],
          activity_span_id: "as-1",
          session_span_id: "ss-1",
          capability_id: "fs.read",
          policy_decision_id: "pd-1"
        })
        const full: ReadonlyArray<Record<string, unknown>> = [
          { ...envelope(), actor: "human", type: "terminal_command", session_id: "s1", cwd: null, command: "ls -la", args: ["-la"], exit_code: null, duration_ms: null, stdout_ref: null, stderr_ref: null, env_ref: null },
          { ...envelope(), actor: "human", type: "terminal_command", session_id: "s1", cwd: "/tmp", command: "false", args: [], exit_code: 1, duration_ms: 12.5, stdout_ref: "ref:1", stderr_ref: "ref:2", env_ref: "ref:3" },
          { ...envelope(), actor: "agent", type: "diagnostic", diagnostic_id: "diag-1", wsid: null, severity: "hint", source: "tsc" },
          { ...envelope(), actor: "agent", type: "diagnostic", diagnostic_id: "diag-1", wsid: "ws-1", severity: "fatal", source: "" },
          { ...envelope(), actor: "human", type: "debug_bundle_export", bundle_id: crypto.randomUUID(), scope: "time_window", redaction_mode: "FULL_LOCAL", included_job_ids: ["j1"], included_diagnostic_ids: ["d1"], included_wsids: ["w1"], event_count: 3, missing_evidence: [{ kind: "events", reason: "retention" }] },
          { ...envelope(), actor: "agent", type: "llm_inference", token_usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, latency_ms: null, prompt_hash: null, response_hash: null },
          { ...envelope(), actor: "agent", type: "llm_inference", token_usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, latency_ms: 250, prompt_hash: "sha256:abc", response_hash: "abc" },
          { ...envelope(), actor: "system", type: "workflow_recovery", workflow_run_id: crypto.randomUUID(), from_state: "running", to_state: "stalled", reason: "stale", last_heartbeat_ts: ts, threshold_secs: 30 },
          { ...envelope(), actor: "system", type: "workflow_recovery", job_id: crypto.randomUUID(), workflow_run_id: crypto.randomUUID(), from_state: "running", to_state: "stalled", reason: "stale", last_heartbeat_ts: ts, threshold_secs: 30 }
        ]
        for (const event of full) {
          const result = yield* Effect.either(recorder.recordUntrusted(event))
          assert.isTrue(Either.isRight(result), `${JSON.stringify(event)}: ${Either.isLeft(result) ? String(result.left) : ""}`)
          const rows = yield* sql<{ readonly body: unknown }>`SELECT body FROM flight_recorder_events WHERE event_id = ${event.event_id as string}`
          const body = typeof rows[0]!.body === "string" ? JSON.parse(rows[0]!.body) : rows[0]!.body
          assert.deepStrictEqual(body, event)
        }
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R11 the minimal spec shapes (only required fields) are accepted", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const ts = new Date(NOW).toISOString()
        const base = () => ({ event_id: crypto.randomUUID(), timestamp: ts })
        const minimal: ReadonlyArray<Record<string, unknown>> = [
          { ...base(), actor: "human", type: "terminal_command", session_id: "s1", command: "ls" },
          { ...base(), actor: "agent", type: "diagnostic", diagnostic_id: "d" },
          { ...base(), actor: "human", type: "debug_bundle_export", bundle_id: crypto.randomUUID(), scope: "job", redaction_mode: "SAFE_DEFAULT" },
          { ...base(), actor: "agent", type: "llm_inference", trace_id: crypto.randomUUID(), model_id: "m", token_usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } },
          { ...base(), actor: "system", type: "workflow_recovery", workflow_run_id: crypto.randomUUID(), from_state: "running", to_state: "stalled", reason: "", last_heartbeat_ts: ts, threshold_secs: 30 },
          { ...base(), actor: "agent", type: "capability_action", capability_id: "fs.read", actor_id: "agent-1", job_id: null, decision_outcome: "allow" },
          { ...base(), actor: "agent", timestamp: "2026-03-01T02:00:00+02:00", type: "diagnostic", diagnostic_id: "d" },
          { ...base(), actor: "agent", timestamp: "2026-03-01T00:00:00.123456Z", type: "diagnostic", diagnostic_id: "d" }
        ]
        for (const event of minimal) {
          const result = yield* Effect.either(recorder.recordUntrusted(event))
          assert.isTrue(Either.isRight(result), `${JSON.stringify(event)}: ${Either.isLeft(result) ? String(result.left) : ""}`)
        }
        assert.strictEqual((yield* recorder.list()).items.length, minimal.length)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R16 the database itself refuses invalid kinds (the alias too), states, modes and NULL or bad metrics", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const sql = yield* SqlClient.SqlClient
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        const id = job.job_id
        const attempts: ReadonlyArray<[string, Effect.Effect<unknown, unknown>]> = [
          ["kind alias", sql`UPDATE ai_jobs SET job_kind = 'term_exec' WHERE id = ${id}`],
          ["kind doc_test", sql`UPDATE ai_jobs SET job_kind = 'doc_test' WHERE id = ${id}`],
          ["kind gov", sql`UPDATE ai_jobs SET job_kind = 'governance_pack_export' WHERE id = ${id}`],
          ["kind case", sql`UPDATE ai_jobs SET job_kind = 'Doc_Edit' WHERE id = ${id}`],
          ["state", sql`UPDATE ai_jobs SET status = 'done' WHERE id = ${id}`],
          ["access", sql`UPDATE ai_jobs SET access_mode = 'root' WHERE id = ${id}`],
          ["safety", sql`UPDATE ai_jobs SET safety_mode = 'yolo' WHERE id = ${id}`],
          ["metrics null", sql`UPDATE ai_jobs SET metrics = NULL WHERE id = ${id}`],
          ["metrics negative", sql`UPDATE ai_jobs SET metrics = ${JSON.stringify({ duration_ms: 0, total_tokens: -1, input_tokens: 0, output_tokens: 0, tokens_planner: 0, tokens_executor: 0, entities_read: 0, entities_written: 0, validators_run_count: 0 })} WHERE id = ${id}`],
          ["metrics missing", sql`UPDATE ai_jobs SET metrics = ${JSON.stringify({ duration_ms: 0 })} WHERE id = ${id}`],
          ["run state", sql`UPDATE workflow_runs SET status = 'done' WHERE job_id = ${id}`]
        ]
        const accepted: Array<string> = []
        for (const [name, attempt] of attempts) {
          const result = yield* Effect.either(attempt)
          if (Either.isRight(result)) accepted.push(name)
        }
        assert.deepStrictEqual(accepted, [])
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R9 startup recovery runs once, as the layer starts: the first submit finds every stale run stalled, and each has one event (a submit racing recovery is forced with a latch in test/jobs/jobs.suite.ts)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const storeContext = yield* Layer.build(backend.makeStoreWithSql())
        const appWith = (gate: Layer.Layer<Recovery.RecoveryGate, never, JobStore.JobStore>) =>
          Jobs.layer().pipe(
            Layer.provideMerge(gate),
            Layer.provideMerge(WakeUp.layerPollOnly),
            Layer.provideMerge(FlightRecorder.layer()),
            Layer.provideMerge(Capabilities.layerDefault),
            Layer.provideMerge(Layer.succeedContext(storeContext))
          )
        const stale = yield* Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          const made = []
          for (let i = 0; i < 3; i++) {
            const job = yield* jobs.submit(summarize)
            yield* jobs.start(job.job_id)
            made.push(job.job_id)
          }
          return made
        }).pipe(Effect.provide(appWith(Recovery.layerNoStartupRecovery)))
        yield* TestClock.adjust(Duration.seconds(31))
        const fresh = yield* Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          const job = yield* jobs.submit(summarize)
          const states = yield* Effect.all(stale.map((id) => Effect.map(jobs.get(id), (j) => j.state)))
          return { job, states }
        }).pipe(Effect.provide(appWith(Recovery.layerStartup({ sweepEvery: Duration.seconds(5) }))))
        assert.deepStrictEqual(fresh.states, ["stalled", "stalled", "stalled"])
        assert.strictEqual(fresh.job.state, "queued")
        const events = yield* Effect.gen(function*() {
          const recorder = yield* FlightRecorder.FlightRecorder
          return (yield* recorder.list({ types: ["workflow_recovery"] })).items
        }).pipe(Effect.provide(appWith(Recovery.layerStartup())))
        assert.strictEqual(events.length, 3)
        assert.deepStrictEqual(events.map((e) => e.job_id).sort(), [...stale].sort())
      }).pipe(Effect.scoped))

    it.effect("R15 every id of the reference's registry is known to requireCapability; scoped full ids and unknown axes are HSK-4001", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        const known = [
          "doc.summarize", "terminal.exec", "export.debug_bundle", "export.governance_pack", "export.include_payloads", "fr.read",
          "diagnostics.read", "jobs.read", "terminal.attach_human", "CALENDAR_READ_BASIC", "CALENDAR_READ_DETAILS",
          "CALENDAR_READ_ANALYTICS", "CALENDAR_WRITE_LOCAL", "CALENDAR_WRITE_EXTERNAL", "CALENDAR_DELETE_LOCAL",
          "CALENDAR_DELETE_EXTERNAL", "CALENDAR_MOVE_EVENT", "CALENDAR_RESOLVE_CONFLICT", "CALENDAR_ACTIVITY_SUMMARY",
          "CALENDAR_COMPARE_ACTIVITY_WINDOWS", "fs.read", "fs.write", "proc.exec", "net.http", "device", "secrets.use", "creative",
          "fs.read:logs", "fs.write:/tmp", "proc.exec:git", "net.http:example.com", "device:camera", "secrets.use:db", "creative:img"
        ]
        const unknown = ["magic.wand", "fs.reads:logs", "doc.summarize:pdf", "FS.READ", "terminal.exec:bash", "calendar_read_basic"]
        const granted = new Set(["fs.read", "net.http", "doc.summarize", "export.debug_bundle", "fr.read", "diagnostics.read", "jobs.read", "export.include_payloads", "fs.read:logs", "net.http:example.com"])
        const answers = yield* jobs.run(job.job_id, (ctx) =>
          Effect.forEach([...known, ...unknown], (id) =>
            Effect.map(Effect.either(ctx.requireCapability(id)), (r) => [id, Either.isRight(r) ? "allow" : (r.left as { _tag: string })._tag] as const)))
        const expected = [
          ...known.map((id) => [id, granted.has(id) ? "allow" : "CapabilityDenied"] as const),
          ...unknown.map((id) => [id, "UnknownCapability"] as const)
        ]
        assert.deepStrictEqual(answers, expected)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R15 a stored job the policy refuses is never run: claimNext fails it with deny events, no run, and moves on", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore.JobStore
        const recorder = yield* FlightRecorder.FlightRecorder
        const escalated = yield* store.createJob({ ...summarize, capability_profile_id: "Coder" } as never)
        const lacking = yield* store.createJob({ ...summarize, job_kind: "terminal_exec", capability_profile_id: "Analyst" } as never)
        const unknown = yield* store.createJob({ ...summarize, capability_profile_id: "Wizard" } as never)
        yield* TestClock.adjust(Duration.millis(1))
        const good = yield* jobs.submit(summarize)
        // twice over: the second time through an admitted subject's template
        const claim = yield* jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, good.job_id)
        for (const bad of [escalated, lacking, unknown]) {
          const job = yield* jobs.get(bad.job_id)
          assert.strictEqual(job.state, "failed", bad.capability_profile_id)
          assert.isNull(job.workflow_run_id)
          assert.strictEqual((yield* store.listRuns(bad.job_id)).length, 0)
          const decisions = (yield* recorder.list({ job_id: bad.job_id, types: ["capability_action"] })).items
          assert.isTrue(decisions.some((e) => (e as { decision_outcome?: string }).decision_outcome === "deny"), bad.capability_profile_id)
        }
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R1a a refused term_exec request names terminal_exec: in the error and in its deny events", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const sql = yield* SqlClient.SqlClient
        const errors: Array<unknown> = []
        for (const profile of ["Analyst", "Operator", "Wizard"]) {
          const refused = yield* Effect.either(jobs.submitUntrusted({ ...summarize, job_kind: "term_exec", capability_profile_id: profile }))
          assert.isTrue(Either.isLeft(refused))
          errors.push((refused as Either.Left<unknown, unknown>).left)
          const many = yield* Effect.either(jobs.submitMany([{ ...summarize, job_kind: "term_exec" as "terminal_exec", capability_profile_id: profile }]))
          assert.isTrue(Either.isLeft(many))
          errors.push((many as Either.Left<unknown, unknown>).left)
        }
        const text = JSON.stringify(errors) + errors.map((e) => String((e as Error).message)).join("\n")
        assert.notInclude(text, "term_exec")
        const dump = JSON.stringify(yield* sql`SELECT * FROM flight_recorder_events`)
        assert.isTrue(dump.length > 10)
        assert.notInclude(dump, "term_exec")
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R6/R12 under a busy pool each job's system events form one unbroken chain of allowed moves, oldest first", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const handlers: Jobs.Handlers<unknown, never> = {
          doc_summarize: (ctx) =>
            ctx.job.protocol_id.endsWith("fail")
              ? Effect.fail("nope")
              : ctx.node({ node_id: "a", node_type: "t" }, Effect.succeed({ done: true })),
          doc_ingest: (ctx) => ctx.securityViolation({ violation: "leak" }),
          doc_edit: () => Effect.succeed({ edited: true })
        }
        const submitted = yield* Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({ concurrency: 4, handlers })
          const made = []
          for (let i = 0; i < 24; i++) {
            const kind = i % 6 === 0 ? "doc_ingest" : i % 3 === 0 ? "doc_edit" : "doc_summarize"
            made.push(yield* jobs.submit({ ...summarize, job_kind: kind, protocol_id: i % 4 === 1 ? "hsk.spec-sweep.fail" : summarize.protocol_id, max_attempts: 2 }))
          }
          for (let i = 0; i < 400; i++) {
            const states = yield* Effect.forEach(made, (j) => Effect.map(jobs.get(j.job_id), (x) => x.state))
            if (states.every((s) => s === "completed" || s === "failed" || s === "poisoned")) break
            yield* TestClock.adjust(Duration.seconds(1))
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
          }
          return made
        }))
        for (const job of submitted) {
          const history = yield* jobs.history(job.job_id)
          assert.oneOf(history.job.state, ["completed", "failed", "poisoned"], job.job_id)
          const moves = history.events.filter((e) => e.type === "system").map((e) => [e.body.from_state ?? null, e.body.to_state] as const)
          let at: unknown = null
          for (const [from, to] of moves) {
            assert.strictEqual(from, at, `${job.job_id}: ${JSON.stringify(moves)}`)
            if (from !== null && !(from === "running" && to === "queued")) {
              assert.isTrue(Lifecycle.canTransition(from as JobState, to as JobState), `${from} → ${to}`)
            }
            at = to
          }
          assert.strictEqual(at, history.job.state, JSON.stringify(moves))
          // each run ends in the state its job's move gave it
          for (const { run, nodes } of history.runs) {
            assert.notStrictEqual(run.status, "running")
            for (const node of nodes) assert.notStrictEqual(node.status, "running")
          }
        }
      }).pipe(Effect.provide(appOver(backend))), 60_000)

    it.effect("R4 addMetrics refuses an amount out of range or not whole, and changes nothing; at the bound a sum is held there", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        yield* jobs.addMetrics(job.job_id, { total_tokens: 4294967295, duration_ms: Number.MAX_SAFE_INTEGER })
        const before = yield* snapshot
        const bad: ReadonlyArray<Record<string, unknown>> = [
          { input_tokens: 1.5 }, { input_tokens: -1 }, { input_tokens: Number.NaN },
          { input_tokens: Number.POSITIVE_INFINITY }, { input_tokens: "1" }
        ]
        const accepted: Array<string> = []
        for (const delta of bad) {
          const result = yield* Effect.either(jobs.addMetrics(job.job_id, delta as never))
          if (Either.isRight(result)) accepted.push(JSON.stringify(delta))
          else assert.strictEqual((result.left as { _tag: string })._tag, "DecodeFailure", JSON.stringify(delta))
        }
        assert.deepStrictEqual(accepted, [])
        assert.strictEqual(yield* snapshot, before)
        // An amount in range on a sum at its bound: held there, as a settle's duration is.
        const held = yield* jobs.addMetrics(job.job_id, { total_tokens: 1, duration_ms: 1 })
        assert.deepStrictEqual([held.metrics.total_tokens, held.metrics.duration_ms], [4294967295, Number.MAX_SAFE_INTEGER])
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R8 a failed program's run, node and job keep their errors, payloads, sequence and times", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        const result = yield* Effect.either(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* ctx.node({ node_id: "first", node_type: "llm", input: { doc: "d1" } }, Effect.succeed({ ok: 1 }))
            yield* TestClock.adjust(Duration.seconds(2))
            return yield* ctx.node({ node_id: "second", node_type: "tool", input: { n: 2 } }, Effect.fail(new Error("tool broke")))
          })))
        assert.isTrue(Either.isLeft(result))
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.job.state, "failed")
        assert.isNotNull(history.job.error_message)
        const [{ nodes, run }] = history.runs as unknown as [{ run: Record<string, unknown>; nodes: ReadonlyArray<Record<string, unknown>> }]
        assert.strictEqual(run.status, "failed")
        assert.isString(run.error_message)
        assert.include(run.error_message as string, "tool broke")
        assert.deepStrictEqual(nodes.map((n) => [n.node_id, n.node_type, n.status, n.sequence]), [["first", "llm", "completed", 0], ["second", "tool", "failed", 1]])
        assert.deepStrictEqual(nodes[0]!.input_payload, { doc: "d1" })
        assert.deepStrictEqual(nodes[0]!.output_payload, { ok: 1 })
        assert.deepStrictEqual(nodes[1]!.input_payload, { n: 2 })
        assert.include(String(nodes[1]!.error_message), "tool broke")
        assert.isNotNull(nodes[1]!.finished_at)
        assert.isNotNull(nodes[0]!.started_at)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R6 R6a Jobs.run's onSuccess past the types (stalled, queued, awaiting_user, …) is a DecodeFailure before the run is taken: program not started, nothing written", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        for (const to of ["stalled", "queued", "awaiting_user", "running", "bogus"]) {
          const job = yield* jobs.submit(summarize)
          yield* jobs.start(job.job_id)
          const before = yield* snapshot
          let started = false
          const result = yield* Effect.either(jobs.run(job.job_id, () => Effect.sync(() => {
            started = true
            return { ok: true }
          }), { onSuccess: to as never }))
          assert.isTrue(Either.isLeft(result), to)
          assert.strictEqual((result as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "DecodeFailure", to)
          assert.isFalse(started, to)
          assert.strictEqual(yield* snapshot, before, to)
          // The run was not taken: it can still be run, and ends as a run should.
          const done = yield* jobs.run(job.job_id, () => Effect.succeed({ ok: true }), { onSuccess: "awaiting_validation" })
          assert.deepStrictEqual(done, { ok: true })
          assert.strictEqual((yield* jobs.get(job.job_id)).state, "awaiting_validation")
        }
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R6 R6a a worker pool given an onSuccess past the types refuses to start: no job is claimed", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const job = yield* jobs.submit(summarize)
        const exit = yield* Effect.exit(Effect.scoped(jobs.worker({
          concurrency: 1,
          handlers: { doc_summarize: () => Effect.succeed({ ok: true }) },
          run: { onSuccess: "queued" as never }
        })))
        assert.isTrue(exit._tag === "Failure")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")
        assert.strictEqual((yield* jobs.history(job.job_id)).runs.length, 0)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("bad input past the types is a DecodeFailure and changes nothing: a move's, pin's and begin's options, filters, requests, Janitor and recovery options", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const running = yield* jobs.submit(summarize)
        yield* jobs.start(running.job_id)
        const queued = yield* jobs.submit(summarize)
        const failed = yield* jobs.submit(summarize)
        yield* jobs.fail(failed.job_id, "x")
        const stalledJob = yield* jobs.submit(summarize)
        yield* jobs.start(stalledJob.job_id)
        yield* TestClock.adjust(Duration.seconds(60))
        yield* Recovery.recoverStalledRuns()
        const out: Record<string, string> = {}
        const attempt = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
          Effect.gen(function*() {
            const before = yield* snapshot
            const result = yield* Effect.either(Effect.catchAllDefect(effect, (d) => Effect.fail({ _tag: `defect ${String(d)}`.slice(0, 80) })))
            const after = yield* snapshot
            out[name] = `${Either.isLeft(result) ? (result.left as { _tag: string })._tag : "ok"}${after === before ? "" : " +wrote"}`
          })
        yield* attempt("cancel actor robot", jobs.cancel(queued.job_id, { actor: "robot" as never }))
        yield* attempt("cancel reason number", jobs.cancel(queued.job_id, { reason: 42 as never }))
        yield* attempt("complete reason nul", jobs.complete(running.job_id, { reason: "a\u0000b" }))
        yield* attempt("fail error number", jobs.fail(queued.job_id, 42 as never))
        yield* attempt("fail error nul", jobs.fail(queued.job_id, "a\u0000b"))
        yield* attempt("retry actor", jobs.retry(failed.job_id, { actor: "root" as never }))
        yield* attempt("resume handTo bogus", jobs.resume(stalledJob.job_id, { handTo: "nobody" as never }))
        yield* attempt("start actor", jobs.start(queued.job_id, { actor: "robot" as never }))
        yield* attempt("pin actor", jobs.pin(queued.job_id, { actor: "robot" as never }))
        yield* attempt("claimNext kinds bogus", jobs.claimNext({ kinds: ["bogus" as never] }))
        yield* attempt("list states bogus", jobs.list({ states: ["bogus" as never] }))
        yield* attempt("get bad id", jobs.get("not-a-uuid" as never))
        yield* attempt("submit run_after text", jobs.submitUntrusted({ ...summarize, run_after: "tomorrow" }))
        yield* attempt("submit priority", jobs.submitUntrusted({ ...summarize, priority: 1.5 }))
        yield* attempt("submit kind upper", jobs.submitUntrusted({ ...summarize, job_kind: "DOC_SUMMARIZE" }))
        yield* attempt("submit kind trailing space", jobs.submitUntrusted({ ...summarize, job_kind: "doc_summarize " }))
        yield* attempt("submit doc_test", jobs.submitUntrusted({ ...summarize, job_kind: "doc_test" }))
        yield* attempt("submit governance_pack_export", jobs.submitUntrusted({ ...summarize, job_kind: "governance_pack_export" }))
        yield* attempt("submit entity ref empty", jobs.submitUntrusted({ ...summarize, entity_refs: [{ entity_id: "", entity_kind: "doc" }] }))
        yield* attempt("submit op_type", jobs.submitUntrusted({ ...summarize, planned_operations: [{ op_type: "delete", target: { entity_id: "a", entity_kind: "doc" } }] }))
        yield* attempt("submit access", jobs.submitUntrusted({ ...summarize, access_mode: "ANALYSIS_ONLY" }))
        yield* attempt("submit safety", jobs.submitUntrusted({ ...summarize, safety_mode: "lenient" }))
        yield* attempt("submit job_id nil", jobs.submitUntrusted({ ...summarize, job_id: "00000000-0000-0000-0000-000000000000" }))
        yield* attempt("submit trace_id bad", jobs.submitUntrusted({ ...summarize, trace_id: "abc" }))
        yield* attempt("submit metrics given", jobs.submitUntrusted({ ...summarize, metrics: { total_tokens: 5 } }))
        yield* attempt("submit state given", jobs.submitUntrusted({ ...summarize, state: "running" }))
        yield* attempt("retention cutoff bad", Effect.flatMap(FlightRecorder.FlightRecorder, (r) => r.enforceRetention({ cutoff: "x" as never })))
        yield* attempt("janitor keepNewest", Janitor.runOnce({ keepNewest: -1 }))
        yield* attempt("janitor olderThan", Janitor.runOnce({ olderThan: "banana" as never }))
        yield* attempt("recovery threshold", Recovery.recoverStalledRuns({ threshold: Duration.millis(1500) }))
        for (const [name, outcome] of Object.entries(out)) assert.strictEqual(outcome, "DecodeFailure", name)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("bad input past the types inside a run, to the recorder's listing and to await: a typed error, nothing written", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const out: Record<string, string> = {}
        const tagOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.map(
            Effect.either(Effect.catchAllDefect(effect, (d) => Effect.fail({ _tag: `defect ${String(d)}`.slice(0, 80) }))),
            (r) => Either.isLeft(r) ? (r.left as { _tag: string })._tag : "ok"
          )
        out["list types"] = yield* tagOf(recorder.list({ types: ["bogus" as never] }))
        out["list since"] = yield* tagOf(recorder.list({ since: "yesterday" as never }))
        out["list limit"] = yield* tagOf(recorder.list({ limit: 0 }))
        const queued = yield* jobs.submit(summarize)
        out["await until"] = yield* tagOf(Effect.gen(function*() {
          const fiber = yield* Effect.fork(jobs.await(queued.job_id, { until: ["bogus" as never], timeout: Duration.seconds(1) }))
          yield* TestClock.adjust(Duration.seconds(2))
          return yield* Fiber.join(fiber)
        }))
        const job = yield* jobs.submit(summarize)
        yield* jobs.start(job.job_id)
        yield* jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            out["node id number"] = yield* tagOf(ctx.node({ node_id: 42 as never, node_type: "t" }, Effect.succeed(null)))
            out["node input a symbol"] = yield* tagOf(ctx.node({ node_id: "n", node_type: "t", input: { a: Symbol("x") } as never }, Effect.succeed(null)))
            out["capability number"] = yield* tagOf(ctx.requireCapability(42 as never))
          }).pipe(Effect.as(null)))
        for (const [name, outcome] of Object.entries(out)) assert.strictEqual(outcome, "DecodeFailure", name)
        // The refused calls wrote nothing: no node execution, no capability decision.
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.runs[0]!.nodes.length, 0)
        assert.deepStrictEqual(
          [...new Set(history.events.filter((e) => e.type === "capability_action").map((e) => e.body.capability_id))],
          ["doc.summarize"]
        )
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R6b a program that catches its own security violation and then fails or succeeds leaves its job poisoned, never retried (retry policy with attempts left)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const outcomes: Array<string> = []
        for (const after of ["fail", "succeed", "die"] as const) {
          const job = yield* jobs.submit(summarize)
          yield* jobs.start(job.job_id)
          const result = yield* Effect.either(jobs.run(job.job_id, (ctx) =>
            ctx.securityViolation({ violation: "leak" }).pipe(
              Effect.catchAll(() => after === "fail" ? Effect.fail("own error") : after === "die" ? Effect.dieMessage("boom") : Effect.succeed({ fine: true }))
            )))
          yield* TestClock.adjust(Duration.minutes(30))
          const claimed = yield* jobs.claimNext()
          const history = yield* jobs.history(job.job_id)
          outcomes.push(`${after}: ${Either.isLeft(result) ? (result.left as { _tag: string })._tag : "ok"} ${history.job.state} runs=${history.runs.length} claimed=${claimed === null ? "none" : claimed.job.job_id === job.job_id ? "it" : "other"}`)
        }
        assert.deepStrictEqual(outcomes, [
          "fail: SecurityViolation poisoned runs=1 claimed=none",
          "succeed: SecurityViolation poisoned runs=1 claimed=none",
          "die: SecurityViolation poisoned runs=1 claimed=none"
        ])
      }).pipe(Effect.provide(appOver(backend, {}, { retry: { default: { maxAttempts: 3, backoff: { initial: "1 second", factor: 1, max: "1 second", jitter: 0 } } } }))))

    it.effect("R6b a poisoned job is not retried by a pool with a retry policy, and a failed one is (until attempts run out)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const calls = new Map<string, number>()
        const handlers: Jobs.Handlers<unknown, never> = {
          doc_summarize: (ctx) => {
            calls.set(ctx.job.job_id, (calls.get(ctx.job.job_id) ?? 0) + 1)
            return ctx.job.protocol_id.endsWith("poison") ? ctx.securityViolation({ violation: "leak" }) : Effect.fail("nope")
          }
        }
        const [poisoned, failing] = yield* Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({ concurrency: 2, handlers })
          const a = yield* jobs.submit({ ...summarize, protocol_id: "hsk.spec-sweep.poison" })
          const b = yield* jobs.submit(summarize)
          for (let i = 0; i < 100; i++) {
            yield* TestClock.adjust(Duration.seconds(1))
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
          }
          return [a, b] as const
        }))
        assert.strictEqual((yield* jobs.get(poisoned.job_id)).state, "poisoned")
        assert.strictEqual(calls.get(poisoned.job_id), 1)
        assert.strictEqual((yield* jobs.get(failing.job_id)).state, "failed")
        assert.strictEqual(calls.get(failing.job_id), 3)
      }).pipe(Effect.provide(appOver(backend, {}, { retry: { default: { maxAttempts: 3, backoff: { initial: "1 second", factor: 1, max: "1 second", jitter: 0 } } } }))), 60_000)

    it.effect("R10 recordMany is all or nothing; a recorded event id is never overwritten (AlreadyExists)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const recorder = yield* FlightRecorder.FlightRecorder
        const sql = yield* SqlClient.SqlClient
        const diag = (extra: Record<string, unknown> = {}) => ({
          type: "diagnostic" as const,
          event_id: crypto.randomUUID(),
          timestamp: new Date(NOW).toISOString(),
          actor: "system" as const,
          diagnostic_id: "d1",
          ...extra
        })
        const invalid = yield* Effect.either(recorder.recordManyUntrusted([diag(), diag({ severity: "bad" }), diag()]))
        assert.strictEqual((invalid as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "InvalidEvent")
        const first = diag()
        yield* recorder.record(first)
        const again = yield* Effect.either(recorder.record({ ...first, diagnostic_id: "d2" }))
        assert.strictEqual((again as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "AlreadyExists")
        const upper = yield* Effect.either(recorder.record({ ...first, event_id: first.event_id.toUpperCase(), diagnostic_id: "d3" }))
        assert.strictEqual((upper as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "AlreadyExists")
        const dup = diag()
        const twice = yield* Effect.either(recorder.recordMany([diag(), dup, dup]))
        assert.strictEqual((twice as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "AlreadyExists")
        const withOld = yield* Effect.either(recorder.recordMany([diag(), { ...first, diagnostic_id: "d4" }]))
        assert.strictEqual((withOld as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "AlreadyExists")
        const rows = yield* sql<{ readonly body: unknown }>`SELECT body FROM flight_recorder_events`
        assert.strictEqual(rows.length, 1)
        const body = typeof rows[0]!.body === "string" ? JSON.parse(rows[0]!.body) : rows[0]!.body
        assert.strictEqual(body.diagnostic_id, "d1")
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R14 secrets in caller text never reach the database: a submit's status_reason, a cancel's reason, a node's error, a violation's detail, a run's error", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const sql = yield* SqlClient.SqlClient
        const secret = "sk-abc123def456ghi789jkl"
        const a = yield* jobs.submit({ ...summarize, status_reason: `submitted with ${secret}` })
        yield* jobs.cancel(a.job_id, { reason: `cancelled: Bearer ${secret}` })
        const b = yield* jobs.submit(summarize)
        yield* jobs.start(b.job_id)
        yield* Effect.either(jobs.run(b.job_id, (ctx) => ctx.node({ node_id: "n", node_type: "t" }, Effect.fail(new Error(`password=${secret}`)))))
        const c = yield* jobs.submit(summarize)
        yield* jobs.start(c.job_id)
        yield* Effect.either(jobs.run(c.job_id, (ctx) => ctx.securityViolation({ violation: "leak", detail: `api_key=${secret}` })))
        const d = yield* jobs.submit(summarize)
        yield* jobs.start(d.job_id)
        yield* jobs.awaitValidation(d.job_id, { reason: `token=${secret}` })
        yield* jobs.pin(d.job_id, { reason: `Bearer ${secret}` })
        const dump = JSON.stringify([
          yield* sql`SELECT * FROM ai_jobs`,
          yield* sql`SELECT * FROM workflow_runs`,
          yield* sql`SELECT * FROM workflow_node_executions`,
          yield* sql`SELECT * FROM flight_recorder_events`
        ])
        assert.notInclude(dump, secret)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R4 the store's updateJob refuses null or malformed metrics past the types, and writes nothing", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore.JobStore
        const job = yield* jobs.submit(summarize)
        const before = yield* snapshot
        for (const metrics of [null, { total_tokens: -1 }, { total_tokens: null }, "zero", []]) {
          const result = yield* Effect.either(store.updateJob(job.job_id, { metrics: metrics as never }))
          assert.isTrue(Either.isLeft(result), JSON.stringify(metrics))
          assert.strictEqual((result as Either.Left<{ readonly _tag: string }, unknown>).left._tag, "DecodeFailure", JSON.stringify(metrics))
        }
        assert.strictEqual(yield* snapshot, before)
      }).pipe(Effect.provide(appOver(backend))))

    it.effect("R6 leaving stalled is an operator's action only: a pool with a retry policy never picks up or moves a stalled job", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const ran: Array<string> = []
        const handlers: Jobs.Handlers<unknown, never> = {
          doc_summarize: (ctx) => Effect.sync(() => {
            ran.push(ctx.job.job_id)
            return { ok: true }
          })
        }
        const job = yield* jobs.submit({ ...summarize, max_attempts: 3 })
        yield* jobs.start(job.job_id)
        yield* Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({ concurrency: 2, handlers })
          yield* TestClock.adjust(Duration.seconds(45))
          yield* Recovery.recoverStalledRuns()
          for (let i = 0; i < 60; i++) {
            yield* TestClock.adjust(Duration.seconds(10))
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 3)))
          }
        }))
        assert.deepStrictEqual(ran, [])
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.job.state, "stalled")
        assert.strictEqual(history.runs.length, 1)
      }).pipe(Effect.provide(appOver(backend, {}, { retry: { default: { maxAttempts: 3 } } }))), 60_000)

    it.effect("R15 an admitted submit records one allow per requirement (debug_bundle_export: four), naming the job and the asking profile", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const jobs = yield* Jobs.Jobs
        const recorder = yield* FlightRecorder.FlightRecorder
        const job = yield* jobs.submit({ ...summarize, job_kind: "debug_bundle_export" })
        const events = (yield* recorder.list({ job_id: job.job_id, types: ["capability_action"] })).items as unknown as ReadonlyArray<Record<string, unknown>>
        assert.deepStrictEqual(
          events.map((e) => [e.capability_id, e.decision_outcome, e.actor_id, e.job_id]).sort(),
          [
            ["diagnostics.read", "allow", "tester", job.job_id],
            ["export.debug_bundle", "allow", "tester", job.job_id],
            ["fr.read", "allow", "tester", job.job_id],
            ["jobs.read", "allow", "tester", job.job_id]
          ]
        )
        const gov = yield* jobs.submit({ ...summarize, job_kind: "workflow_run", protocol_id: "hsk.governance_pack.export.v0" })
        const govEvents = (yield* recorder.list({ job_id: gov.job_id, types: ["capability_action"] })).items as unknown as ReadonlyArray<Record<string, unknown>>
        assert.deepStrictEqual(govEvents.map((e) => e.capability_id).sort(), ["export.governance_pack", "fs.read", "fs.write"])
      }).pipe(Effect.provide(appOver(backend))))
  })
